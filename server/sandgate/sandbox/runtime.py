"""The Python runtime a sandbox gets: Debian's /usr/bin/python3, its stdlib and the shared libraries
they load. Never the dev interpreter (it lives under /root, a home directory).

The same file list makes the Docker image and the bubblewrap binds, so both backends run the
same interpreter.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
# Large and never needed to run a suggestion.
STDLIB_SKIP = ("test", "idlelib", "tkinter", "turtledemo", "lib2to3/tests", "ensurepip")
_LDD_LINE = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x")
# Loaded at run time by dlopen, so ldd does not list them. glibc's pthread_exit needs libgcc_s
# to unwind: without it a Python process that still has threads at exit (the egress forwarder,
# or the program's own daemon threads) aborts with status 139.
DLOPENED = ("libgcc_s.so.1",)
# Where a runtime's files may come from (checked on every cached answer).
SYSTEM_PREFIXES = ("/usr/", "/lib/", "/lib64/", "/lib32/", "/libx32/")
_LDCONFIG_LINE = re.compile(r"^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(/\S+)$")


class RuntimeMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class PythonRuntime:
    """The interpreter a sandbox runs, with the files it needs bound in (bwrap) or copied (Docker image)."""

    python: str  # the real binary, e.g. /usr/bin/python3.11
    stdlib: str  # e.g. /usr/lib/python3.11
    # Shared objects incl. ld.so: (path inside the sandbox, real file on the host). Inside, every
    # library sits under /usr (merged-/usr layout: /lib and /lib64 are symlinks into it).
    libs: tuple[tuple[str, str], ...]


@lru_cache(maxsize=1)
def discover(python: str = SYSTEM_PYTHON) -> PythonRuntime:
    """The runtime, from the on-disk cache while the interpreter, its extension modules and the
    linker's cache are unchanged (finding it takes ldd on ~70 files: ~0.5 s, paid once a machine)."""
    if not os.path.exists(python):
        raise RuntimeMissing(f"{python} not found: install Debian's python3 (apt-get install python3)")
    real = os.path.realpath(python)
    path = _cache_path(real)
    cached = _load_cached(path) if path else None
    if cached is not None:
        return cached
    found = _discover(real)
    if path:
        _store(path, found)
    return found


def _cache_path(real: str) -> str | None:
    """A file named by everything the answer depends on, so a changed system misses it."""
    parts = [real]
    dynload = os.path.join(os.path.dirname(os.path.dirname(real)), "lib", os.path.basename(real), "lib-dynload")
    for p in (real, "/etc/ld.so.cache", dynload):
        try:
            st = os.stat(p)
            parts.append(f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append("-")
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    return os.path.join(_cache_dir(), f"runtime-{digest}.json")


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sandgate")


def _load_cached(path: str) -> PythonRuntime | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        rt = PythonRuntime(
            python=data["python"], stdlib=data["stdlib"], libs=tuple((str(a), str(b)) for a, b in data["libs"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    # Only system files may be bound into a sandbox, whatever the file says; all must still exist.
    hosts = [rt.python, rt.stdlib, *(h for _, h in rt.libs)]
    if not all(h.startswith(SYSTEM_PREFIXES) and os.path.exists(h) for h in hosts):
        return None
    if not all(inside.startswith("/usr/") for inside, _ in rt.libs):
        return None
    return rt


def _store(path: str, rt: PythonRuntime) -> None:
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".runtime-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"python": rt.python, "stdlib": rt.stdlib, "libs": [list(x) for x in rt.libs]}, f)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: discover again next time


def _discover(real: str) -> PythonRuntime:
    stdlib = subprocess.run(
        [real, "-I", "-S", "-c", "import os; print(os.path.dirname(os.__file__))"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
        env={},
    ).stdout.strip()
    if stdlib.startswith(("/root", "/home")):
        raise RuntimeMissing(f"{real}'s stdlib is under a home directory ({stdlib}); use the system python")
    objects = [real] + sorted(str(p) for p in Path(stdlib, "lib-dynload").glob("*.so"))
    libs = _ldd(objects) | _dlopened(DLOPENED)
    return PythonRuntime(python=real, stdlib=stdlib, libs=_mapped(libs))


def shared_libs(binary: str) -> tuple[tuple[str, str], ...]:
    """The shared objects `binary` loads, as PythonRuntime.libs lists them (inside, host)."""
    return _mapped(_ldd([binary]))


def _ldd(objects: list[str]) -> set[str]:
    libs: set[str] = set()
    for chunk in _chunks(objects, 40):
        out = subprocess.run(["ldd", *chunk], capture_output=True, text=True, timeout=30).stdout
        for line in out.splitlines():
            m = _LDD_LINE.search(line)
            if m:
                libs.add(m.group(1))
    return libs


def _mapped(libs: set[str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({_under_usr(lib): os.path.realpath(lib) for lib in libs}.items()))


def _dlopened(names: tuple[str, ...]) -> set[str]:
    """Where the dynamic linker finds `names` (native architecture only); missing ones are skipped."""
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    machine = os.uname().machine.replace("_", "-")  # x86_64 -> x86-64, as ldconfig writes it
    found: dict[str, str] = {}
    for line in out.splitlines():
        m = _LDCONFIG_LINE.match(line)
        if m and m.group(1) in names and m.group(1) not in found and (machine in m.group(2) or "," not in m.group(2)):
            found[m.group(1)] = m.group(3)
    for name in names:
        if name not in found:
            for d in (
                "/usr/lib/" + os.uname().machine + "-linux-gnu",
                "/lib/" + os.uname().machine + "-linux-gnu",
                "/usr/lib64",
                "/lib64",
            ):
                if os.path.exists(os.path.join(d, name)):
                    found[name] = os.path.join(d, name)
                    break
    return set(found.values())


def _under_usr(path: str) -> str:
    return path if path.startswith("/usr/") else "/usr" + path


def _chunks(items: list[str], n: int) -> list[list[str]]:
    return [items[i : i + n] for i in range(0, len(items), n)]


# Bound into every bubblewrap sandbox beside the /etc files: what hides a file or a folder.
EMPTY_FILE = "empty"
EMPTY_DIR = "void"


def sandbox_readable_dir() -> str:
    """Where files bound into sandboxes live. bubblewrap opens them as the sandbox user, who (when
    Sandgate runs as root) is not us and cannot enter root's home: a system folder then."""
    return "/var/cache/sandgate" if os.geteuid() == 0 else _cache_dir()


def sandbox_run_dir() -> str | None:
    """Where per-sandbox host folders go when the sandbox user is another user (Sandgate runs as
    root): a folder others may pass through but not list, so the random names inside stay
    unknown. None: the temporary folder will do (we are the sandbox user)."""
    if os.geteuid() != 0:
        return None
    path = os.path.join(sandbox_readable_dir(), "run")
    os.makedirs(path, mode=0o711, exist_ok=True)
    os.chmod(path, 0o711)
    return path


@lru_cache(maxsize=1)
def etc_dir() -> str:
    """A directory holding `etc_files()`, an empty file and an empty folder (bound read-only into
    bubblewrap sandboxes). Named by its content, so every process shares it and none leaves one
    behind; checked before use. Falls back to a temporary directory removed at exit where the
    cache is not writable."""
    files = {os.path.basename(rel): text for rel, text in etc_files().items()}
    files[EMPTY_FILE] = ""
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
    base = sandbox_readable_dir()
    path = os.path.join(base, f"etc-{digest}")
    if _holds(path, files):
        return path
    try:
        os.makedirs(base, mode=0o755 if os.geteuid() == 0 else 0o700, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=base, prefix=".etc-")
        _fill(tmp, files)
        try:
            os.rename(tmp, path)
        except OSError:  # another process made it first (or a stale one is in the way)
            shutil.rmtree(tmp, ignore_errors=True)
        if _holds(path, files):
            return path
    except OSError:
        pass
    tmp = tempfile.mkdtemp(prefix="sandgate-etc-")
    _fill(tmp, files)
    atexit.register(shutil.rmtree, tmp, True)
    return tmp


def _fill(directory: str, files: dict[str, str]) -> None:
    os.chmod(directory, 0o755)  # traversable by the sandbox user
    for name, text in files.items():
        with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(os.path.join(directory, name), 0o444)
    os.mkdir(os.path.join(directory, EMPTY_DIR), 0o555)


def _holds(directory: str, files: dict[str, str]) -> bool:
    try:
        for name, text in files.items():
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                if f.read() != text:
                    return False
        # Owned by us and not writable by others: nothing another user could swap in.
        st = os.stat(directory)
        return (
            os.path.isdir(os.path.join(directory, EMPTY_DIR))
            and st.st_uid == os.geteuid()
            and not st.st_mode & 0o022
            and not os.listdir(os.path.join(directory, EMPTY_DIR))
        )
    except OSError:
        return False


def etc_files() -> dict[str, str]:
    # A minimal /etc: enough for getpwuid(65534) and name lookups to fail fast (no resolver).
    return {
        "etc/passwd": "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        "etc/group": "root:x:0:\nnogroup:x:65534:\n",
        "etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
        "etc/hosts": "127.0.0.1 localhost\n::1 localhost\n",
    }
