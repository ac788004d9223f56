"""The built wheel, installed into a fresh virtual environment beside packages the user already
has (older releases of Sandgate's own dependencies), keeps them as they were and vets.

Slow (a wheel build and two installs from the package index, about a minute) but part of CI:
this is how users get Sandgate (pipx, uv tool, the VS Code extension's private environment).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# What a user's environment may already hold: releases older than the ones the lock pins, which
# Sandgate's ranges must accept as they are (exact pins would replace or refuse them).
UNRELATED = {
    "requests": "2.31.0",
    "rich": "13.7.1",
    "httpx": "0.27.2",
    "jsonschema": "4.21.1",
    "PyYAML": "6.0.1",
    "tabulate": "0.9.0",  # not Sandgate's at all
}
SECRET = 'AWS_KEY = "AKIAZ3MSJV7WQLPX4TQB"\n'

pytestmark = pytest.mark.timeout(900)


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def versions(python: Path) -> dict[str, str]:
    listed = run(python, "-m", "pip", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    return {p["name"].lower(): p["version"] for p in json.loads(listed.stdout)}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out, REPO)
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("sandgate-*.whl")
    return path


def test_the_wheel_installs_beside_other_packages_and_vets(wheel: Path, tmp_path: Path):
    env_dir = tmp_path / "user-env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    theirs = run(python, "-m", "pip", "install", "--quiet", *[f"{n}=={v}" for n, v in UNRELATED.items()])
    assert theirs.returncode == 0, theirs.stderr

    ours = run(python, "-m", "pip", "install", "--quiet", wheel)
    assert ours.returncode == 0, ours.stderr
    after = versions(python)
    assert {n.lower(): after.get(n.lower()) for n in UNRELATED} == {n.lower(): v for n, v in UNRELATED.items()}
    assert run(python, "-m", "pip", "check").returncode == 0
    # The extras stay out unless asked for.
    assert "docker" not in after and "opentelemetry-sdk" not in after

    (tmp_path / "leak.py").write_text(SECRET)
    vetted = run(env_dir / "bin" / "sandgate", "vet", "--format", "json", "leak.py", cwd=tmp_path)
    assert vetted.returncode == 1, vetted.stderr
    (result,) = json.loads(vetted.stdout)["results"]
    assert result["decision"] == "block"
    assert [f["rule"] for f in result["findings"] if f["source"] == "secrets"] == ["aws-access-key"]

    # Without the docker extra, the doctor says what to install rather than failing.
    doctor = run(env_dir / "bin" / "sandgate", "sandbox", "doctor", cwd=tmp_path)
    assert "sandgate[docker]" in doctor.stdout + doctor.stderr
