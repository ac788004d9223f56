"""What of the workspace a sandbox sees: its code, never its secrets.

A sandboxed run sees the workspace read-only so that the suggestion's imports work. It never
sees files that `files.exclude` keeps from the model (`.env`, keys, `secrets/`…), nor version
control, virtual environments or caches (`.git` can hold credentials in its config; none of them
is needed to import the project's own code). Its `node_modules` are shown, with the same
exclusions inside (`dependency_view.py`). Only a trusted workspace is shown at all. Two ways to
give that view:

- **bind** the workspace itself, with each hidden file covered by an empty file and each hidden
  folder by an empty folder (a local engine or bubblewrap, when the sandbox user may read the
  folder at all);
- **copy** the files it may see (a remote engine, or a private folder the sandbox user cannot
  read), each with its own permission bits: a file only its owner may read stays unreadable to
  the sandbox user, as it would be on the host.

The plan is made from one walk of the tree when a sandbox is made (`view_walk.py`). A workspace too
large to walk in that budget is not shown at all (fail closed: its secrets cannot be found to be
hidden); a dependency folder too large for its own budget is covered whole.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from sandgate.policy.model import FilesPolicy
from sandgate.sandbox import dependency_view, view_walk

log = logging.getLogger(__name__)

# Never shown: version control, environments and caches. The dependency folders (`node_modules`)
# are shown, with their own budget (dependency_view.py); Python's environments are not.
HIDDEN_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".mypy_cache",
        ".sandgate",
    }
)
MAX_ENTRIES = 50_000
# A copied view: files larger than this are left out, and the whole stops at the total.
MAX_FILE = 1 << 20
MAX_TOTAL = 48 << 20
# A copied view holds a dependency folder only whole, and only when it is this small: a copy is
# made for every sandbox (a Docker container's tar of a few thousand files took seconds).
MAX_DEPENDENCY_COPY = 8 << 20


@dataclass
class View:
    root: str
    # bind: (relative path, is_dir) to cover; copy: (relative path, permission bits) to copy.
    hidden: list[tuple[str, bool]] = field(default_factory=list)
    files: list[tuple[str, int]] = field(default_factory=list)
    # Why nothing of the workspace is shown (too large to check), or None.
    withheld: str | None = None

    def coverable(self) -> list[tuple[str, bool]]:
        """The hidden paths a bind covers: all but links (a bind onto one lands on its target)."""
        return [(rel, is_dir) for rel, is_dir in self.hidden if not os.path.islink(os.path.join(self.root, rel))]


def plan(root: str, exclude: tuple[str, ...]) -> View:
    """One walk: what to cover (bind) and what may be copied (copy) — both are kept. The
    workspace's own files come first in a copy, then its dependency folders'."""
    patterns = FilesPolicy(exclude=exclude).exclude
    own = view_walk.walk(root, "", patterns, MAX_ENTRIES, HIDDEN_DIRS, stop_at=dependency_view.FOLDERS)
    if own.over:
        return View(
            root,
            withheld=f"the workspace has more than {MAX_ENTRIES} entries; it is not shown "
            "to the sandbox (its excluded files could not all be found)",
        )
    view = View(root, hidden=list(own.hidden))
    files = list(own.files)
    walked = 0
    for rel in own.stopped:
        if walked >= dependency_view.MAX_TOTAL_ENTRIES:
            view.hidden.append((rel, True))  # too many to check: covered whole
            continue
        deps = dependency_view.walk(root, rel, patterns, HIDDEN_DIRS)
        walked += deps.entries
        if deps.over or walked > dependency_view.MAX_TOTAL_ENTRIES:
            view.hidden.append((rel, True))
            continue
        view.hidden.extend(deps.hidden)
        if sum(size for _, _, size in deps.files) <= MAX_DEPENDENCY_COPY:
            files.extend(deps.files)
    total = 0
    for rel, mode, size in files:
        if size > MAX_FILE or total + size > MAX_TOTAL:
            continue
        total += size
        view.files.append((rel, mode))
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


def packed(view: View) -> bytes:
    """The copied view for `UNPACK` in a container: one JSON line `[[path, mode, size], ...]`, then
    the files' bytes in that order. Not a tar: unpacking runs under the container's CPU limit, and
    Python's tarfile took six times as long (30,000 files: 1.2 s against 0.2 s), which ran a large
    private workspace out of that limit."""
    index: list[list[object]] = []
    bodies: list[bytes] = []
    for rel, mode, body in copied_files(view):
        index.append([rel, mode, len(body)])
        bodies.append(body)
    return json.dumps(index, separators=(",", ":")).encode() + b"\n" + b"".join(bodies)


# Run as root in the container (python -I -S -c UNPACK ROOT) with `packed` on stdin. Relative paths
# only, no file twice, nothing followed: the view is ours, but the unpacker trusts no name in it.
UNPACK = (
    "import os,sys,json\n"
    "os.umask(0o022);made=set();src=sys.stdin.buffer;root=sys.argv[1]\n"
    "for rel,mode,size in json.loads(src.readline()):\n"
    " body=src.read(size)\n"
    " if rel.startswith('/') or '..' in rel.split('/'):continue\n"
    " p=root+'/'+rel;d=os.path.dirname(p)\n"
    " if d not in made:os.makedirs(d,exist_ok=True);made.add(d)\n"
    " fd=os.open(p,os.O_WRONLY|os.O_CREAT|os.O_EXCL|os.O_NOFOLLOW,0o600)\n"
    " os.fchmod(fd,mode&0o777)\n"
    " with open(fd,'wb') as f:f.write(body)\n"
)


def copy_into(view: View, target: str) -> None:
    """The copied view as a folder tree under `target` (bubblewrap, private workspaces)."""
    os.chmod(target, 0o755)
    for rel, mode, body in copied_files(view):
        dst = os.path.join(target, rel)
        try:
            os.makedirs(os.path.dirname(dst), mode=0o755, exist_ok=True)
            fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            os.fchmod(fd, mode)
            with open(fd, "wb") as out:
                out.write(body)
        except OSError:
            continue


def copied_files(view: View) -> Iterator[tuple[str, int, bytes]]:
    """What a copy of `view` holds, read now: (relative path, permission bits, bytes) of each file
    that is still a regular file of at most `MAX_FILE` (one replaced by a link, or grown, since the
    walk is left out). The bits are the walked ones ANDed with the current ones, so a file made
    private since the walk stays private, and never carry set-id or sticky bits: a copy made by
    root must not turn a user's set-id file into root's."""
    for rel, mode in view.files:
        try:
            with open(os.path.join(view.root, rel), "rb", opener=_no_follow) as f:
                now = os.fstat(f.fileno())
                if not stat.S_ISREG(now.st_mode) or now.st_size > MAX_FILE:
                    continue  # changed since the walk (which may be a kept one: dependency_view.py)
                body = f.read(MAX_FILE + 1)
        except OSError:
            continue  # gone or unreadable since the walk
        if len(body) > MAX_FILE:
            continue  # grew while being read
        yield rel, mode & stat.S_IMODE(now.st_mode) & 0o777, body


def _no_follow(path: str, flags: int) -> int:
    # A file replaced by a link since the walk is not followed out of the workspace.
    return os.open(path, flags | os.O_NOFOLLOW)
