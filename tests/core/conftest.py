from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Static-only policy: no sandbox backend may be used and none is required, so these tests
# exercise the checks and the policy alone. The sandbox suites cover runs. It is the user's own
# file (`--policy`): a repository's `.sandgate/policy.toml` may not turn the run off.
STATIC_POLICY = "static-policy.toml"
STATIC_ONLY = """
version = 1
extends = "balanced"
[sandbox]
required = false
backends = []
"""


@pytest.fixture(autouse=True)
def no_managed_policy(monkeypatch, tmp_path):
    """Tests choose their managed policy explicitly; the machine's /etc never leaks in."""
    monkeypatch.setenv("SANDGATE_MANAGED_POLICY", str(tmp_path / "no-managed-policy.toml"))
    (tmp_path / "no-managed-policy.toml").write_text("version = 1\n")


@pytest.fixture
def workspace(tmp_path) -> Path:
    root = tmp_path / "ws"
    (root / ".sandgate").mkdir(parents=True)
    return root


@pytest.fixture
def static_workspace(workspace) -> Path:
    (workspace / STATIC_POLICY).write_text(STATIC_ONLY)
    return workspace


def static_policy(workspace: Path):
    from sandgate.policy.load import load_effective

    return load_effective(workspace, explicit=workspace / STATIC_POLICY)
