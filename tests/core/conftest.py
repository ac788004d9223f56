from __future__ import annotations

from pathlib import Path

import pytest

from sandgate.pipeline import Vetter
from sandgate.policy.load import load_effective

REPO = Path(__file__).resolve().parents[2]

# Static-only policy: no sandbox backend may be used and none is required, so these tests
# exercise the checks and the policy alone. The sandbox suites cover runs. A workspace's own file
# cannot turn the run off, and a managed policy's floor requires it: `static_workspace` installs
# this as the managed policy and as the user's own `--policy static.toml` (what `load_static`
# and the CLI tests name), the two layers that together may.
STATIC_POLICY = "static.toml"
STATIC_ONLY = """
version = 1
extends = "balanced"
[sandbox]
required = false
backends = []
"""


@pytest.fixture(autouse=True)
def no_managed_policy(monkeypatch, tmp_path):
    """Tests choose their managed policy explicitly; the machine's /etc never leaks in. The default
    one sets nothing, so its floor is the balanced preset (see `sandgate.policy.layers`)."""
    monkeypatch.setenv("SANDGATE_MANAGED_POLICY", str(tmp_path / "no-managed-policy.toml"))
    (tmp_path / "no-managed-policy.toml").write_text("version = 1\n")


@pytest.fixture
def workspace(tmp_path) -> Path:
    root = tmp_path / "ws"
    (root / ".sandgate").mkdir(parents=True)
    return root


@pytest.fixture
def static_workspace(workspace, monkeypatch, tmp_path) -> Path:
    (tmp_path / "static-managed.toml").write_text(STATIC_ONLY)
    monkeypatch.setenv("SANDGATE_MANAGED_POLICY", str(tmp_path / "static-managed.toml"))
    (workspace / STATIC_POLICY).write_text(STATIC_ONLY)
    return workspace


def load_static(workspace: Path):
    """The static-only policy for `workspace` (in a `static_workspace`)."""
    return load_effective(workspace, explicit=workspace / STATIC_POLICY)


def static_only_vetter(root: Path, own_extra: str = "") -> Vetter:
    """A vetter on the balanced preset's static checks alone, its managed and own policy in `root`
    (for the corpora: module-scoped, so no per-test fixtures); `own_extra` is added to the own one."""
    for name in ("managed.toml", "static.toml"):
        (root / name).write_text(STATIC_ONLY + (own_extra if name == "static.toml" else ""))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SANDGATE_MANAGED_POLICY", str(root / "managed.toml"))
        loaded = load_effective(root, explicit=root / "static.toml")
    assert loaded.preset == "balanced" and loaded.ok
    return Vetter(loaded, workspace=root)
