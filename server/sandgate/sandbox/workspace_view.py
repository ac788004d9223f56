"""What of the workspace a sandbox sees: its code, never its secrets.

A sandboxed run sees the workspace read-only so that the suggestion's imports work. It never
sees files that `files.exclude` keeps from the model (`.env`, keys, `secrets/`…), nor version
control, virtual environments or dependency folders (`.git` can hold credentials in its
config; none of them is needed to import the project's own code). Two ways to give that view:

- **bind** the workspace itself, with each hidden file covered by an empty file and each hidden
  folder by an empty folder (a local engine or bubblewrap, when the sandbox user may read the
  folder at all);
- **copy** the files it may see (a remote engine, or a private folder the sandbox user cannot
  read), each with its own permission bits: a file only its owner may read stays unreadable to
  the sandbox user, as it would be on the host.

The plan is made from one walk of the tree when a sandbox is made. A workspace too large to walk
in that budget is not shown at all (fail closed: its secrets cannot be found to be hidden).
"""

from __future__ import annotations

import io
import logging
import os
import stat
import tarfile
from dataclasses import dataclass, field

from sandgate.policy.model import FilesPolicy
from sandgate.workspace_globs import matching_glob

log = logging.getLogger(__name__)

# Never shown: version control, environments, dependency and cache folders.
HIDDEN_DIRS = {
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    ".venv",
    "venv",
    "node_modules",
    ".tox",
    ".mypy_cache",
    ".sandgate",
}
MAX_ENTRIES = 50_000
# A copied view: files larger than this are left out, and the whole stops at the total.
MAX_FILE = 1 << 20
MAX_TOTAL = 48 << 20
# A file name no pattern names on purpose: a folder whose probe is excluded is excluded whole.
_PROBE = "\x00sandgate-probe"


@dataclass
class View:
    root: str
    # bind: (relative path, is_dir) to cover; copy: (relative path, permission bits) to copy.
    hidden: list[tuple[str, bool]] = field(default_factory=list)
    files: list[tuple[str, int]] = field(default_factory=list)
    # Why nothing of the workspace is shown (too large to check), or None.
    withheld: str | None = None


def _hide_dir(name: str) -> bool:
    return name in HIDDEN_DIRS or name.startswith(".")


def plan(root: str, exclude: tuple[str, ...]) -> View:
    """One walk: what to cover (bind) and what may be copied (copy) — both are kept."""
    view = View(root)
    files_policy = FilesPolicy(exclude=exclude)
    entries = 0
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir
        keep = []
        for d in sorted(dirnames):
            rel = os.path.join(rel_dir, d)
            full = os.path.join(dirpath, d)
            if os.path.islink(full):
                continue  # a link resolves inside the sandbox, where the host's tree is not
            # A folder goes whole when a pattern covers everything in it (`secrets/`, `**/.aws/**`).
            if _hide_dir(d) or matching_glob(os.path.join(rel, _PROBE), files_policy.exclude):
                view.hidden.append((rel, True))
            else:
                keep.append(d)
        dirnames[:] = keep
        for fn in sorted(filenames):
            entries += 1
            rel = os.path.join(rel_dir, fn)
            full = os.path.join(dirpath, fn)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if matching_glob(rel, files_policy.exclude):
                if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                    view.hidden.append((rel, False))
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE or total + st.st_size > MAX_TOTAL:
                continue
            total += st.st_size
            view.files.append((rel, stat.S_IMODE(st.st_mode)))
        entries += len(dirnames)
        if entries > MAX_ENTRIES:
            return View(
                root,
                withheld=f"the workspace has more than {MAX_ENTRIES} entries; it is not shown "
                "to the sandbox (its excluded files could not all be found)",
            )
    return view


def reachable_by(path: str, uid: int, gid: int) -> bool:
    """Can `uid`/`gid` (no other groups) walk down to `path` and list it? bubblewrap opens the
    workspace by its path as the sandbox user, so every folder above it counts."""
    real = os.path.realpath(path)
    parts = real.split("/")
    try:
        for i in range(1, len(parts) + 1):
            here = "/".join(parts[:i]) or "/"
            st = os.stat(here)
            bits = (
                (st.st_mode >> 6) & 7
                if st.st_uid == uid
                else (st.st_mode >> 3) & 7
                if st.st_gid == gid
                else st.st_mode & 7
            )
            need = 0o5 if here == real else 0o1
            if bits & need != need:
                return False
    except OSError:
        return False
    return True


def readable_by_others(path: str) -> bool:
    """Can a user who is neither owner nor group list and enter `path`? The folders above it do
    not matter: a bind mount (or a descriptor) makes `path` the sandbox's /workspace."""
    try:
        return os.stat(os.path.realpath(path)).st_mode & 0o005 == 0o005
    except OSError:
        return False


def tar_bytes(view: View) -> bytes:
    """The copied view as a tar: root-owned files with their own permission bits."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for rel, mode in view.files:
            path = os.path.join(view.root, rel)
            try:
                info = tar.gettarinfo(path, arcname=rel)
                with open(path, "rb") as f:
                    info.uid = info.gid = 0
                    info.uname = info.gname = "root"
                    info.mode = mode
                    tar.addfile(info, f)
            except OSError:
                continue  # gone or unreadable since the walk
    return buf.getvalue()


def copy_into(view: View, target: str) -> None:
    """The copied view as a folder tree under `target` (bubblewrap, private workspaces)."""
    os.chmod(target, 0o755)
    for rel, mode in view.files:
        src = os.path.join(view.root, rel)
        dst = os.path.join(target, rel)
        os.makedirs(os.path.dirname(dst), mode=0o755, exist_ok=True)
        try:
            with open(src, "rb") as f, open(dst, "xb") as out:
                out.write(f.read())
            os.chmod(dst, mode)
        except OSError:
            continue
