"""The workspace's dependency folders (`node_modules`) in a sandbox's view.

A suggestion that requires a workspace dependency (`require('left-pad')`, an ESM import of a
workspace package) must run against the real package, so a trusted workspace's `node_modules` is
shown read-only like the rest of it (an untrusted workspace shows nothing at all). The same
exclusions apply inside it (`.env`, `.npmrc`, keys…), and links are not followed on the host.

Such folders are large (thousands of files) and change seldom, while a sandbox is made for every
run: each one's walk is kept and reused while every folder in it has the change time it had (a
file added, removed or renamed anywhere in it changes its folder's). Each has an entry budget of its
own, so that a large one never withholds the workspace: over it, the folder is covered whole, as
before it was shown.
"""

from __future__ import annotations

import logging
import threading

from sandgate.sandbox import view_walk

log = logging.getLogger(__name__)

FOLDERS = frozenset({"node_modules"})
# Shown although their names start with a dot: pnpm's package store, which its links point into.
SHOWN_DOT = frozenset({".pnpm"})
MAX_ENTRIES = 100_000
# All of a workspace's dependency folders together (a monorepo has one per package): past this,
# the rest are covered whole, unwalked.
MAX_TOTAL_ENTRIES = 200_000
_KEPT = 64

_lock = threading.Lock()
_walks: dict[tuple[str, str, tuple[str, ...]], view_walk.Walk] = {}


def walk(root: str, rel: str, exclude: tuple[str, ...], hide_dir: frozenset[str] | set[str]) -> view_walk.Walk:
    """The walk of `root/rel`: the kept one while nothing in it changed, else a new one."""
    key = (root, rel, tuple(exclude))
    with _lock:
        kept = _walks.get(key)
    if kept is not None and view_walk.unchanged(root, kept.folders):
        return kept
    found = view_walk.walk(root, rel, exclude, MAX_ENTRIES, hide_dir, show_dot=SHOWN_DOT)
    if found.over:
        log.info("%s/%s has more than %d entries: covered whole, not shown to the sandbox", root, rel, MAX_ENTRIES)
    with _lock:
        _walks.pop(key, None)
        _walks[key] = found
        while len(_walks) > _KEPT:
            _walks.pop(next(iter(_walks)))
    return found


def forget() -> None:
    """Drop every kept walk (tests)."""
    with _lock:
        _walks.clear()
