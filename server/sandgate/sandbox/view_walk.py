"""One walk of a folder for the workspace view (`workspace_view.py`): what to cover, what may be
copied, and the change time of every folder walked, so that a later walk can be skipped while none
of them changed (`dependency_view.py`).

Links are never followed: a linked folder is neither walked nor covered (inside a sandbox it
resolves in the sandbox's own file system, where the host's tree is not), and a link is never
copied.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from sandgate.workspace_globs import matching_glob

# A file name no pattern names on purpose: a folder whose probe is excluded is excluded whole.
PROBE = "\x00sandgate-probe"


@dataclass
class Walk:
    # (relative path, is_dir): excluded or hidden files and folders, to cover in a bind.
    hidden: list[tuple[str, bool]] = field(default_factory=list)
    # (relative path, permission bits, size): the regular files a copy may hold.
    files: list[tuple[str, int, int]] = field(default_factory=list)
    # Relative path → st_mtime_ns of every folder listed: a name added, removed or renamed in one
    # changes it, and nothing else changes what the walk found but permission bits and sizes.
    folders: dict[str, int] = field(default_factory=dict)
    # Folders named in `stop_at`, left for a walk of their own.
    stopped: list[str] = field(default_factory=list)
    entries: int = 0
    over: bool = False  # stopped at `limit`: the rest was not looked at


def walk(
    root: str,
    top: str,
    exclude: tuple[str, ...],
    limit: int,
    hide_dir: frozenset[str] | set[str],
    *,
    stop_at: frozenset[str] = frozenset(),
    show_dot: frozenset[str] = frozenset(),
) -> Walk:
    """Walk `root/top` (paths relative to `root`). A folder named in `hide_dir`, or starting with a
    dot (unless named in `show_dot`), or covered whole by `exclude`, is hidden and not walked."""
    out = Walk()
    pending = [top]
    while pending:
        rel_dir = pending.pop()
        here = os.path.join(root, rel_dir) if rel_dir else root
        try:
            # The change time before the listing: a change during it shows as a newer time later.
            st = os.lstat(here)
            if not stat.S_ISDIR(st.st_mode):
                continue  # replaced by a link since it was seen
            with os.scandir(here) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            continue
        out.folders[rel_dir] = st.st_mtime_ns
        below = []
        for entry in entries:
            out.entries += 1
            if out.entries > limit:
                out.over = True
                return out
            rel = os.path.join(rel_dir, entry.name)
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if (
                    entry.name in hide_dir
                    or (entry.name.startswith(".") and entry.name not in show_dot)
                    or matching_glob(os.path.join(rel, PROBE), exclude)
                ):
                    out.hidden.append((rel, True))
                elif entry.name in stop_at:
                    out.stopped.append(rel)
                else:
                    below.append(rel)
                continue
            if matching_glob(rel, exclude):
                if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                    out.hidden.append((rel, False))
                continue
            if stat.S_ISREG(st.st_mode):
                out.files.append((rel, stat.S_IMODE(st.st_mode), st.st_size))
        pending.extend(reversed(below))  # depth first, in name order
    return out


def unchanged(root: str, folders: dict[str, int]) -> bool:
    """Is every folder of a walk still a folder with the same change time?"""
    for rel, mtime in folders.items():
        try:
            st = os.lstat(os.path.join(root, rel) if rel else root)
        except OSError:
            return False
        if not stat.S_ISDIR(st.st_mode) or st.st_mtime_ns != mtime:
            return False
    return True
