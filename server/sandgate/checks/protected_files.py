"""Workspace files the policy protects (`files.protected`): a suggestion placed in one, and writes to
one that the suggestion's code spells out.

A write counts when the code spells its path whole (literals, constants, `+`, f-strings of known
parts, `Path(…) / …`); a path built at run time is the sandbox run's to see (`sandbox.report`
reads the same globs against the writes it records). Relative paths are the workspace's: a
document runs there. Findings are the policy's (source `policy`), HIGH, and every preset blocks
them (preset rule `protected-files`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from sandgate.checks.names import HOLE, Node, Scan
from sandgate.findings import Finding, Level, details
from sandgate.policy.model import FilesPolicy
from sandgate.workspace_globs import matching_glob, workspace_relpath

RULE_EDIT = "files.protected-edit"
RULE_WRITE = "files.protected-write"

_OPENERS = frozenset({"open", "builtins.open", "io.open", "codecs.open"})
_WRITE_MODE = frozenset("wax+")
_OS_WRITE_FLAGS = frozenset({"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"})
# Calls that write, replace or remove the paths at these argument positions (keyword names beside).
_WRITERS: dict[str, tuple[tuple[int, str], ...]] = {
    "shutil.copy": ((1, "dst"),),
    "shutil.copy2": ((1, "dst"),),
    "shutil.copyfile": ((1, "dst"),),
    "shutil.copytree": ((1, "dst"),),
    "shutil.move": ((0, "src"), (1, "dst")),
    "shutil.rmtree": ((0, "path"),),
    "os.rename": ((0, "src"), (1, "dst")),
    "os.renames": ((0, "old"), (1, "new")),
    "os.replace": ((0, "src"), (1, "dst")),
    "os.remove": ((0, "path"),),
    "os.unlink": ((0, "path"),),
    "os.rmdir": ((0, "path"),),
    "os.truncate": ((0, "path"),),
    "os.symlink": ((1, "dst"),),
    "os.link": ((1, "dst"),),
}
_PATH_TYPES = frozenset({"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.PurePosixPath"})
# Path methods that write or remove the path they are called on (`open` only with a write mode);
# `rename` and `replace` also write their target.
_PATH_WRITERS = frozenset({"write_text", "write_bytes", "touch", "unlink", "rmdir", "open", "rename", "replace"})
_MAX_DEPTH = 8


def protected_by(relpath: str, files: FilesPolicy) -> str | None:
    """The `files.protected` glob that names the workspace file `relpath`, or None."""
    return matching_glob(relpath, files.protected) if files.protected else None


def protected_edit(relpath: str, files: FilesPolicy, line: int = 0, end_line: int = 0) -> list[Finding]:
    """A suggestion placed in the document `relpath` (workspace-relative), when the policy protects it."""
    path = workspace_relpath(relpath)
    pattern = protected_by(path, files) if path else None
    if pattern is None:
        return []
    return [
        Finding(
            "policy",
            RULE_EDIT,
            Level.HIGH,
            Level.HIGH,
            f"the suggestion edits {path}, which the policy protects (files.protected: {pattern!r})",
            line=line,
            end_line=end_line,
            details=details(path=path, pattern=pattern),
        )
    ]


def check_protected_writes(scan: Scan, files: FilesPolicy, workspace: str | None = None) -> list[Finding]:
    """Writes to protected workspace files in one scanned module. `workspace`: the folder an absolute
    path must lie in to be the workspace's."""
    if not files.protected:
        return []
    found: list[Finding] = []
    for ref, call in scan.calls:
        for path in _written_paths(scan, ref.name if ref is not None else None, call):
            relpath = workspace_relpath(path, workspace)
            pattern = protected_by(relpath, files) if relpath else None
            if pattern is not None:
                found.append(
                    Finding(
                        "policy",
                        RULE_WRITE,
                        Level.HIGH,
                        Level.HIGH,
                        f"writes {relpath}, which the policy protects (files.protected: {pattern!r})",
                        line=call.lineno,
                        end_line=call.end_lineno or call.lineno,
                        col=call.col_offset,
                        end_col=call.end_col_offset or 0,
                        details=details(path=relpath, pattern=pattern),
                    )
                )
    return found


def _written_paths(scan: Scan, name: str | None, call: ast.Call) -> Iterable[str]:
    if name in _OPENERS:
        mode = _argument(call, 1, "mode")
        if mode is not None and _WRITE_MODE & set(scan.names.string(mode) or ""):
            yield from _known(scan, _argument(call, 0, "file"))
    elif name == "os.open":
        flags = _argument(call, 1, "flags")
        if flags is not None and any(_flag_name(node) in _OS_WRITE_FLAGS for node in ast.walk(flags)):
            yield from _known(scan, _argument(call, 0, "path"))
    elif name in _WRITERS:
        for index, keyword in _WRITERS[name]:
            yield from _known(scan, _argument(call, index, keyword))
    elif type(call.func) is ast.Attribute and call.func.attr in _PATH_WRITERS:
        receiver = _path(scan, call.func.value)
        if receiver is None:
            return
        method = call.func.attr
        if method == "open":
            mode = _argument(call, 0, "mode")
            if mode is None or not _WRITE_MODE & set(scan.names.string(mode) or ""):
                return
        yield receiver
        if method in ("rename", "replace"):
            yield from _known(scan, _argument(call, 0, "target"))


def _argument(call: ast.Call, index: int, keyword: str) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[index] if len(call.args) > index and type(call.args[index]) is not ast.Starred else None


def _flag_name(node: ast.AST) -> str | None:
    if type(node) is ast.Attribute:
        return node.attr
    return node.id if type(node) is ast.Name else None


def _known(scan: Scan, node: ast.AST | None) -> list[str]:
    """The whole path a `str` or `Path` expression spells, as a one-item list (empty when unknown)."""
    if node is None:
        return []
    path = _path(scan, node)
    if path is None:
        path = scan.names.string(node)
    return [path] if path and HOLE not in path else []


def _path(scan: Scan, node: Node, depth: int = 0) -> str | None:
    """The path a `pathlib.Path` expression spells (`Path("a", "b")`, `Path("a") / "b"`, a name bound
    to one); None when `node` is not such a path or a part is unknown."""
    if depth > _MAX_DEPTH:
        return None
    kind = type(node)
    if kind is ast.Call:
        ref = scan.names.ref(node.func)
        if ref is None or ref.name not in _PATH_TYPES or not node.args:
            return None
        parts = [scan.names.string(arg) for arg in node.args]
        return _join(parts)
    if kind is ast.BinOp and isinstance(node.op, ast.Div):
        left = _path(scan, node.left, depth + 1)
        if left is None:
            return None
        right = _path(scan, node.right, depth + 1) or scan.names.string(node.right)
        return _join([left, right])
    if kind is ast.Name:
        bound = scan.names.bindings.get(node.id)
        value = bound[-1][1] if bound else None
        return _path(scan, value, depth + 1) if isinstance(value, ast.AST) else None
    return None


def _join(parts: list[str | None]) -> str | None:
    known = [part for part in parts if part is not None and HOLE not in part]
    if len(known) != len(parts):
        return None
    path = ""
    for part in known:
        path = part if part.startswith("/") or not path else f"{path.rstrip('/')}/{part}"
    return path
