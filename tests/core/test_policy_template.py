"""The workspace policy template that "Sandgate: Open Workspace Policy" writes
(editor-client/media/policy-template.toml): as written it changes nothing and loads cleanly, every
example it shows is valid when uncommented, it names the schema it ships beside, and it explains
every key the schema has."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sandgate.policy.load import load_effective

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "editor-client" / "media" / "policy-template.toml"
SCHEMA = ROOT / "policies" / "policy.schema.json"


def load(tmp_path: Path, text: str):
    (tmp_path / ".sandgate").mkdir(exist_ok=True)
    (tmp_path / ".sandgate" / "policy.toml").write_text(text)
    return load_effective(tmp_path)


def test_the_template_as_written_is_the_preset(tmp_path: Path):
    loaded = load(tmp_path, TEMPLATE.read_text())
    assert loaded.errors == []
    assert loaded.digest == load_effective(tmp_path / "nothing").digest  # no change to the default preset
    assert TEMPLATE.read_text().startswith("#:schema ./policy.schema.json\n")


def test_every_example_is_valid_when_uncommented(tmp_path: Path):
    text = re.sub(r"^# (\[\[rules\]\]|[a-z_]+ = .*)$", r"\1", TEMPLATE.read_text(), flags=re.MULTILINE)
    assert text.count("\n# ") < TEMPLATE.read_text().count("\n# ")  # something was uncommented
    loaded = load(tmp_path, text)
    assert loaded.errors == [], loaded.errors
    assert any(rule.id == "no-pickle" for rule in loaded.policy.rules)


def test_every_schema_key_is_explained(tmp_path: Path):
    schema = json.loads(SCHEMA.read_text())
    text = TEMPLATE.read_text()

    def keys(node: dict, prefix: str = ""):
        for name, sub in node.get("properties", {}).items():
            yield prefix + name, name
            yield from keys(sub, f"{prefix}{name}.")

    missing = [
        dotted
        for dotted, name in keys(schema)
        if not re.search(rf"^(# )?{name} = |^\[{re.escape(dotted)}\]|^# \[\[{name}\]\]", text, re.MULTILINE)
        and name not in ("user",)  # a managed policy's key only
    ]
    assert missing == []
