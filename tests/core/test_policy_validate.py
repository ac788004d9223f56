"""Every validation message names the file, the line and the key, and says what is allowed."""

from __future__ import annotations

import pytest

from sandgate.policy.load import load_effective
from sandgate.policy.resources import PRESETS, preset_path
from sandgate.policy.validate import parse_policy


def errors_of(text: str) -> list[str]:
    return [str(e) for e in parse_policy(text, "p.toml")[1]]


@pytest.mark.parametrize("name", PRESETS)
def test_shipped_presets_are_valid(name):
    data, errors = parse_policy(preset_path(name).read_text(), name)
    assert errors == []
    assert data["version"] == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version = 2\n", "p.toml:1: version: must be 1, not 2"),
        (
            'version = 1\n[decision]\ndefault = "maybe"\n',
            'p.toml:3: decision.default: must be one of "allow", "review", "block", not "maybe"',
        ),
        ('version = 1\n[[rules]]\nid = "x"\n', "p.toml:2: rules[0]: missing required key 'decision'"),
        (
            'version = 1\n[[rules]]\nid = "x"\ndecision = "block"\nsevrity = "high"\n',
            "p.toml:5: rules[0].sevrity: unknown key 'sevrity'; allowed here: confidence, decision, description, id, rule, severity, source",
        ),
        (
            'version = 1\n[[rules]]\nid = "x"\ndecision = "block"\nseverity = "huge"\n',
            'p.toml:5: rules[0].severity: must be one of "info", "low", "medium", "high", not "huge"',
        ),
        (
            "version = 1\n[sandbox.limits]\nmemory_mb = 4\n",
            "p.toml:3: sandbox.limits.memory_mb: must be at least 16, not 4",
        ),
        ('version = 1\n[sandbox]\nrequired = "yes"\n', 'p.toml:3: sandbox.required: must be true or false, not "yes"'),
        (
            'version = 1\n[sandbox]\nbackends = ["docker", "firecracker"]\n',
            'p.toml:3: sandbox.backends[1]: must be one of "docker", "bwrap", not "firecracker"',
        ),
        (
            'version = 1\n[network]\nallow_hosts = ["*"]\n',
            'p.toml:3: network.allow_hosts[0]: "*" is not valid here; expected a host name such as "api.example.com" or "*.example.com", optionally with a port ("127.0.0.1:8080")',
        ),
        (
            'version = 1\n[network]\nallow_hosts = ["api.example.com:http"]\n',
            'p.toml:3: network.allow_hosts[0]: "api.example.com:http" is not valid here; expected a host name such as '
            '"api.example.com" or "*.example.com", optionally with a port ("127.0.0.1:8080")',
        ),
        (
            'version = 1\n[network]\nallow_hosts = ["127.0.0.1:70000"]\n',
            "p.toml:3: network.allow_hosts[0]: '127.0.0.1:70000': the port must be 1-65535",
        ),
        (
            'version = 1\n[network]\nallow_hosts = ["*.co.uk:443"]\n',
            "p.toml:3: network.allow_hosts[0]: '*.co.uk' covers a whole public suffix (co.uk); name a domain under it, "
            'e.g. "*.example.co.uk"',
        ),
        (
            'version = 1\n[network]\nallow_hosts = ["*.com"]\n',
            "p.toml:3: network.allow_hosts[0]: '*.com' covers a whole top-level domain; name the domain, e.g. \"*.example.com\"",
        ),
        (
            'version = 1\n[network]\nmodel_endpoints = ["api.openai.com"]\n',
            'p.toml:3: network.model_endpoints[0]: "api.openai.com" is not valid here',
        ),
        (
            'version = 1\n[[rules]]\nid = "a"\ndecision = "block"\n[[rules]]\nid = "a"\ndecision = "allow"\n',
            "p.toml:6: rules[1].id: rule id 'a' is already used by rules[0]; ids must be unique",
        ),
        (
            "version = 1\n[telemetry]\nexport_content = 1\n",
            "p.toml:3: telemetry.export_content: must be true or false, not 1",
        ),
        (
            "version = 1\nfrobnicate = true\n",
            "p.toml:2: frobnicate: unknown key 'frobnicate'; allowed here: code, decision, extends, files, languages, network, pack, rules, sandbox, telemetry, version",
        ),
        (
            "version = 1\n[sandbox.limits]\nwall_time_s = 0\n",
            "p.toml:3: sandbox.limits.wall_time_s: must be greater than 0, not 0",
        ),
        (
            'version = 1\n[network]\ndeny_hosts = ["a.example.com", "a.example.com"]\n',
            "p.toml:3: network.deny_hosts: lists each value once; remove the duplicate",
        ),
    ],
)
def test_each_validation_message(text, expected):
    errors = errors_of(text)
    assert any(e.startswith(expected) for e in errors), errors


def test_toml_syntax_error_names_the_line():
    errors = errors_of("version = 1\n[sandbox]\nrequired = tru\n")
    assert len(errors) == 1
    assert errors[0].startswith("p.toml:3: not valid TOML")


@pytest.mark.parametrize(
    "text, expected",
    [
        # tomllib names no line for what ends too early: the last line is named.
        ('version = 1\n[network]\nallow_hosts = ["a.example.com",\n', "p.toml:3: not valid TOML: Invalid value"),
        ('version = 1\nx = "abc', "p.toml:2: not valid TOML: Unterminated string"),
        ('version = 1\nx = """abc\n\n', "p.toml:3: not valid TOML: Unterminated string"),
        # Values of the wrong type where the semantic checks look (this crashed the loader).
        ("version = 1\nrules = 3\n", "p.toml:2: rules: must be a list, not 3"),
        ("version = 1\nnetwork = 3\n", "p.toml:2: network: must be a table, not 3"),
        ('version = 1\n[network]\nallow_hosts = "x"\n', "p.toml:3: network.allow_hosts: must be a list"),
    ],
)
def test_broken_toml_variants_each_name_a_line(text, expected):
    errors = parse_policy(text, "p.toml")[1]
    assert errors and all(e.line >= 1 for e in errors), errors
    assert any(str(e).startswith(expected) for e in errors), [str(e) for e in errors]


def test_a_message_is_not_repeated():
    errors = errors_of('version = 1\n[[rules]]\nsource = "bandit"\n')
    assert errors.count("p.toml:2: rules[0]: missing required key 'id'") == 1, errors


def test_dotted_keys_and_inline_tables_are_located():
    errors = errors_of("version = 1\n\n[sandbox]\nlimits.memory_mb = 1\n")
    assert errors == ["p.toml:4: sandbox.limits.memory_mb: must be at least 16, not 1"]


def test_keys_inside_a_multiline_list_are_not_mistaken_for_keys():
    text = 'version = 1\n[files]\nexclude = [\n  "a = b",\n]\n[sandbox.limits]\nmemory_mb = 2\n'
    assert errors_of(text) == ["p.toml:7: sandbox.limits.memory_mb: must be at least 16, not 2"]


def test_broken_workspace_policy_fails_closed_to_strict(workspace):
    (workspace / ".sandgate" / "policy.toml").write_text(
        'version = 1\nextends = "permissive"\n[decision]\ndefault = "nope"\n'
    )
    loaded = load_effective(workspace)
    assert not loaded.ok
    assert [e.line for e in loaded.errors] == [4]
    assert loaded.preset == "strict"  # never the permissive preset the broken file asked for
    assert loaded.policy.sandbox.limits.memory_mb == 128
