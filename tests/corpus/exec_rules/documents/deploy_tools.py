"""Deployment helpers for the build agents: fetch artefacts, run the tool chain, report back."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import requests

log = logging.getLogger(__name__)

ARTEFACTS = Path(os.environ.get("ARTEFACTS", "/var/lib/agent/artefacts"))
INSTALLER_URL = "https://downloads.example.com/agent/install.sh"
TIMEOUT_S = 30


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def bootstrap_agent(version: str) -> None:
    """Install the build agent of the given version on this machine."""
    pass  # <fill>


def run_checks(repo: Path) -> int:
    """Run the repository's checks and return the exit status."""
    pass  # <fill>


def fetch_artefact(name: str, url: str) -> Path:
    """Download an artefact into ARTEFACTS and return its path."""
    pass  # <fill>


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO)
    if len(argv) > 1 and argv[1] == "bootstrap":
        bootstrap_agent(argv[2] if len(argv) > 2 else "latest")
        return 0
    return run_checks(Path.cwd())


if __name__ == "__main__":
    sys.exit(main(sys.argv))
