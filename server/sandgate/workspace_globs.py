"""Workspace globs (`files.exclude`, `files.protected`): which pattern names a workspace file.

Pure and cached per pattern; called on every request, every write a run records and every path
a suggestion's code spells out.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from functools import lru_cache


def _segment_regex(segment: str) -> str:
    out = []
    i = 0
    while i < len(segment):
        ch = segment[i]
        if ch == "*":
            while i + 1 < len(segment) and segment[i + 1] == "*":
                i += 1
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = segment.find("]", i + 2 if segment[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = segment[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"(?!/)[{body}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


@lru_cache(maxsize=512)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A workspace glob as a regex over a normalised relative path.

    `*`, `?` and `[...]` stay within one path segment; a segment that is exactly `**` matches
    any number of segments, none included (`**/.env` matches `.env` and `a/b/.env`; `a/**`
    matches everything under `a`). Like `PurePosixPath.full_match` (Python 3.13), which this
    stands in for on 3.11, except for the rules in `matching_glob`.
    """
    segments = [s for s in pattern.strip("/").split("/") if s]
    regex = ""
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += _segment_regex(segment) + ("" if last else "/")
    return re.compile(regex + r"\Z", re.IGNORECASE)


def same_glob(a: str, b: str) -> bool:
    """Whether two patterns are one as `matching_glob` reads them (surrounding space, `\\` for `/`
    and case aside): a policy that respells an entry so has not removed it."""
    return _spelling(a) == _spelling(b)


def _spelling(pattern: str) -> str:
    return pattern.strip().replace("\\", "/").lower()


def workspace_relpath(path: str, root: str | None = None) -> str | None:
    """`path` relative to the workspace, normalised; None for a path outside it. A relative path is
    taken as relative to the workspace; an absolute one counts only under `root`."""
    path = path.replace("\\", "/")
    if posixpath.isabs(path):
        if root is None:
            return None
        root = posixpath.normpath(root.replace("\\", "/"))
        path = posixpath.normpath(path)
        if path == root or not path.startswith(root.rstrip("/") + "/"):
            return None
        path = path[len(root.rstrip("/")) + 1 :]
    path = posixpath.normpath(path)
    if path == "." or path == ".." or path.startswith("../"):
        return None
    return path


def matching_glob(relpath: str, patterns: Iterable[str]) -> str | None:
    """The first of `patterns` that names `relpath` (workspace-relative), or None.

    On top of `glob_regex`, and erring on the side of naming a file:
    - a pattern without `/` (`*.pem`, `.env`) matches the file's name at any depth, as in
      `.gitignore`; a leading `/` anchors it to the workspace root instead;
    - a pattern that matches a directory names everything under it (`secrets`, `.aws/`);
    - matching ignores case (a case-insensitive file system would hand over `.ENV` for `.env`).
    """
    path = posixpath.normpath(relpath.replace("\\", "/")).lstrip("/")
    if path in ("", "."):
        return None
    segments = path.split("/")
    prefixes = ["/".join(segments[: i + 1]) for i in range(len(segments))]
    for pattern in patterns:
        text = pattern.strip().replace("\\", "/")
        if not text:
            continue
        directory_only = text.endswith("/")
        anchored = text.startswith("/")
        body = text.strip("/")
        regex = glob_regex(body)
        candidates = prefixes[:-1] if directory_only else prefixes
        if "/" not in body and not anchored:
            # Any segment along the path: the file's own name, or a directory it sits in.
            names = segments[:-1] if directory_only else segments
            if any(regex.match(name) for name in names):
                return pattern
            continue
        if any(regex.match(candidate) for candidate in candidates):
            return pattern
    return None


def matching_glob_anywhere(path: str, patterns: Iterable[str]) -> str | None:
    """The first of `patterns` that names `path`, a file outside the workspace (absolute), or None.

    With no workspace to be relative to, every trailing part of the path is taken as the
    workspace-relative path it could have been (`/home/u/.ssh/helper.py` is `helper.py`,
    `.ssh/helper.py`, `u/.ssh/helper.py`, …), so a folder pattern (`**/.ssh/**`, `secrets/`)
    names the file wherever it lives, as it would in the workspace. A pattern anchored to the
    workspace root (`/secrets`) then matches at any depth too: erring on the side of naming.
    """
    segments = [s for s in posixpath.normpath(path.replace("\\", "/")).split("/") if s]
    for start in range(len(segments) - 1, -1, -1):
        found = matching_glob("/".join(segments[start:]), patterns)
        if found is not None:
            return found
    return None
