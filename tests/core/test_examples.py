"""`sandgate vet` on the shipped examples gives the right decision on each backend, with the
finding that explains it (issue 3's definition of done)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import REPO

# example -> (decision, the finding "source:rule" that must decide it)
EXPECTED = {
    "benign_fib.py": ("allow", None),
    "benign_parse_csv.py": ("allow", None),
    "review_endless_loop.py": ("review", "sandbox:limit.time"),
    "review_pickle_load.py": ("review", "bandit:B301"),
    "risky_download_and_run.py": ("block", "rules:shell.download-and-run"),
    # Seen before it runs: a secret read flowing into a connection (the static checks block, so it never runs).
    "risky_exfiltrate.py": ("block", "capability:capability.secret-to-network"),
    "risky_hardcoded_key.py": ("block", "secrets:aws-access-key"),
    "risky_shell_injection.py": ("block", "bandit:B602"),
    # Seen before it runs: a write to a shell start-up file is persistence.
    "risky_write_bashrc.py": ("block", "capability:capability.persistence"),
}


def test_every_example_is_covered():
    assert sorted(p.name for p in (REPO / "examples").glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("backend", ["docker", "bwrap"])
def test_examples_decisions(backend, tmp_path):
    files = [str(REPO / "examples" / name) for name in sorted(EXPECTED)]
    (tmp_path / "none.toml").write_text("version = 1\n")
    done = subprocess.run(
        [sys.executable, "-m", "sandgate", "vet", "--backend", backend, "--format", "json", *files],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env={
            "PATH": "/usr/bin:/bin",
            "SANDGATE_MANAGED_POLICY": str(tmp_path / "none.toml"),
            "DOCKER_HOST": "unix:///var/run/docker.sock",
        },
    )
    assert done.returncode == 1, done.stderr
    results = {r["path"].rsplit("/", 1)[-1]: r for r in json.loads(done.stdout)["results"]}
    for name, (decision, decider) in EXPECTED.items():
        result = results[name]
        assert result["decision"] == decision, (
            name,
            result["reasons"],
            result["sandbox"],
            [f["message"] for f in result["findings"]],
        )
        if decider:
            assert result["reasons"][0]["finding"] == decider, (name, result["reasons"])
        ran = result["sandbox"]["backend"]
        if result["sandbox"].get("skipped") is None:
            assert ran == backend, (name, result["sandbox"])
        assert result["sandbox"].get("error") is None, (name, result["sandbox"])
