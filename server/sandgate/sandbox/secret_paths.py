"""Where secrets live on a machine: the paths whose reads, listings and looks count as a search for
credentials. One pattern, read by the run's findings and sent to the supervisor (which records a
look at a path by name only where it matches: most such looks are the interpreter's own)."""

from __future__ import annotations

import re

SECRET_PATHS = re.compile(
    r"(/\.ssh(/|$)|/\.aws(/|$)|/\.gnupg(/|$)|/\.kube(/|$)|/\.docker/config\.json$|/\.netrc$|/\.git-credentials$"
    r"|/\.config/gcloud(/|$)|/\.pypirc$|/\.npmrc$|^/etc/shadow|^/etc/gshadow|^/etc/sudoers|/environ$"
    r"|/\.env$|/id_(rsa|dsa|ecdsa|ed25519)|/\.bash_history$)"
)


def is_secret_path(path: str) -> bool:
    return bool(SECRET_PATHS.search(path))
