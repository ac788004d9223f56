# sandgate-bootstrap: runs inside the sandbox, before the suggestion, under /usr/bin/python3 -I -S -B.
# It is shipped as the `-c` argument, so it must stay self-contained (stdlib only, no sandgate imports).
#
# Start: argv[1] names the supervisor's control connection ("fd:N", or "unix:PATH" in a container).
# The supervisor sends one JSON line {"bpf", "nr"}: the monitor filter (classic BPF) and seccomp(2)'s
# number, and "honey" when the sandbox is made with its honeytokens (planted at once, before the
# filter is loaded: not on the run's time, not in its record). The bootstrap loads the filter with a listener, hands the listener to the supervisor, and
# proves it armed with one notified call; a bootstrap that cannot arm exits (status 4) before any
# program runs. It then waits for the program; if the control connection closes first (Sandgate is
# gone), it exits.
#
# Protocol: stdin carries one JSON header line, then the program's source until EOF.
# Header: {"relpath", "workspace", "scratch", "events_fd", "marker", "runtime"}, and "egress":
# {"unix", "port", "source"} when the run may reach allowed hosts through the egress proxy, and
# "end": true when the host wants an `exit` event on stdout and stderr after the program's output;
# "honey": {"env", "files", "dirs"}, the run's honeytokens and an ordinary home around them, planted before the program
# (honeytokens.py); "span": [first, last], the suggestion's lines in the program; "exercise":
# {"targets": [{"qual", "line"}], "share_s"}, the functions and methods to call after the module
# body (exercise.py).
# Events are written to `events_fd` as lines `marker + json + "\n"`.
#
# The audit hooks here only REPORT, for detail. The sandbox around this process enforces every
# limit, and the supervisor outside records what the program does whatever it does to these hooks.
import atexit
import json
import os
import select
import socket
import sys
from _thread import allocate_lock as _lock
from _thread import get_ident as _get_ident
from _thread import start_new_thread as _start_thread

try:
    import resource as _resource  # loaded now, while a pooled sandbox waits, not on the run's time
except ImportError:
    _resource = None  # type: ignore[assignment]
_write, _dumps = os.write, json.dumps  # the program may replace os.write or json.dumps; not ours


def _plant(honey):
    """Plant honeytokens: one mkdir per folder and one open per file (the host takes exactly those
    out of the record when they are planted under the monitor)."""
    for d in honey.get("dirs", ()):
        try:
            os.mkdir(d, 0o700)
        except OSError:
            pass
    for p, text in honey.get("files", ()):
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
        except OSError:
            pass
    os.environ.update(honey.get("env") or {})


_PRE: dict = {}  # honeytokens planted when the sandbox was made


def _arm(where):
    """Load the monitor filter and hand its listener to the supervisor. Returns the control socket."""
    import ctypes

    if where.startswith("fd:"):
        ctl = socket.socket(fileno=int(where[3:]))
    else:
        ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ctl.connect(where[5:])
    line = b""
    while not line.endswith(b"\n"):
        chunk = ctl.recv(65536)
        if not chunk:
            raise OSError("the supervisor closed the connection")
        line += chunk
    hello = json.loads(line)
    if hello.get("honey"):
        _PRE.update(hello["honey"])
        _plant(_PRE)
    prog = bytes.fromhex(hello["bpf"])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")

    class _Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    code = ctypes.create_string_buffer(prog, len(prog))
    fprog = _Fprog(len(prog) // 8, ctypes.cast(code, ctypes.c_void_p))
    # A thread started before the filter is not under it: it passes the listener on with
    # sendmsg(2), which the filter would otherwise report to the listener still on its way.
    go, done, box = _lock(), _lock(), []
    go.acquire()
    done.acquire()

    def courier():
        go.acquire()
        try:
            socket.send_fds(ctl, [b"L"], [box[0]])
            box.append(None)
        except OSError as exc:
            box.append(exc)
        done.release()

    _start_thread(courier, ())
    listener = libc.syscall(int(hello["nr"]), 1, 8, ctypes.byref(fprog))  # SET_MODE_FILTER, NEW_LISTENER
    if listener < 0:
        raise OSError(ctypes.get_errno(), "seccomp(2) refused the monitor filter")
    box.append(listener)
    go.release()
    done.acquire()
    os.close(listener)
    if box[1] is not None:
        raise box[1]
    # The first notified call (openat(2), on every architecture): it waits until the supervisor
    # holds the listener (so nothing runs unrecorded), and fails with ENOSYS when no one does.
    os.close(os.open("/usr", os.O_RDONLY | os.O_DIRECTORY))
    return ctl


try:
    _ctl = _arm(sys.argv[1]) if len(sys.argv) > 1 else None
    if _ctl is None:
        raise OSError("no supervisor was named")
except Exception as _e:
    sys.stderr.write(f"sandgate: the sandbox monitor could not be armed: {type(_e).__name__}: {_e}\n")
    os._exit(4)

# Another runtime (Node): this process armed the monitor, the seccomp filter stays on across exec
# (no_new_privs is set), and the runtime's own bootstrap takes over the park and the run from here,
# told the control connection's descriptor (the supervisor drops this one launch from its record).
if len(sys.argv) > 2:
    try:
        os.set_inheritable(_ctl.fileno(), True)
        os.execv(sys.argv[2], sys.argv[2:] + [f"fd:{_ctl.fileno()}"])
    except OSError as _e:  # an image without Node, say: no run, and the host holds the suggestion
        sys.stderr.write(f"sandgate: the sandbox monitor could not be armed: {sys.argv[2]} cannot start: {_e}\n")
        os._exit(4)

# The monitor reports every look at a path by name (stat, access) to the supervisor, the record of
# probes for secrets; the import system makes most of them, of files under /usr (and a read-only
# workspace) that cannot change here. Those are remembered for the run, so an import pays for each
# once. Only a saving: the record does not depend on it (code that undoes it makes the supervisor
# busier), and every path is still looked at once, after the monitor is armed.
_STAT_ROOTS = ["/usr/"]
_STAT_SEEN: dict = {}
try:
    import _frozen_importlib_external as _fie

    _fie_stat = getattr(_fie, "_path_stat")  # noqa: B009 - a private name mypy does not know

    def _cached_stat(path):
        key = path if isinstance(path, str) else None
        if key is None or not any(key.startswith(r) or key + "/" == r for r in _STAT_ROOTS):
            return _fie_stat(path)
        hit = _STAT_SEEN.get(key)
        if hit is None:
            try:
                hit = _STAT_SEEN[key] = _fie_stat(path)
            except OSError as exc:
                hit = _STAT_SEEN[key] = exc
        if isinstance(hit, OSError):
            raise type(hit)(*hit.args)
        return hit

    setattr(_fie, "_path_stat", _cached_stat)  # noqa: B010
except Exception:
    pass

# Parked until a program arrives; the supervisor closing our line means Sandgate is gone.
while True:
    _r = select.select([0, _ctl], [], [])[0]
    if 0 in _r:
        break
    try:
        if not _ctl.recv(1):
            os._exit(0)
    except OSError:
        os._exit(0)
_raw = sys.stdin.buffer.read()  # a warm container waits here until a run is handed in
_nl = _raw.find(b"\n")
_hdr = json.loads(_raw[:_nl])
_code = _raw[_nl + 1 :].decode("utf-8", "replace")
del _raw
_ctl.close()
try:
    _dn = os.open("/dev/null", os.O_RDONLY)
    os.dup2(_dn, 0)
    os.close(_dn)
except OSError:
    pass

# Honeytokens: fake secrets carrying this run's marker, planted when the sandbox was made, or now
# by this (still trusted) code when the header brings them.
_HONEY = _hdr.get("honey") or _PRE
if _hdr.get("honey"):
    _plant(_HONEY)
_HONEY_NAMES = frozenset(_HONEY.get("env") or ())
_SPAN = _hdr.get("span")
_EXERCISE = _hdr.get("exercise")

_FD = int(_hdr["events_fd"])
_MARK = _hdr["marker"].encode()
if _hdr.get("end"):
    # The program reached a live sandbox (an engine's attach to a dead container reads nothing).
    try:
        _write(_FD, _MARK + b'{"kind": "started"}\n')
    except OSError:
        pass
_WS = _hdr["workspace"].rstrip("/")
_SCRATCH = _hdr["scratch"].rstrip("/")
_RUNTIME = tuple(p.rstrip("/") for p in list(_hdr.get("runtime", ())) + [p for p in sys.path if p.startswith("/")])
_FILE = _WS + "/" + _hdr["relpath"].lstrip("/")
try:
    if not os.access(_WS, os.W_OK):  # the program cannot change a read-only workspace either
        _STAT_ROOTS.append(_WS + "/")
except OSError:
    pass
_QUIET_READ = (
    "/dev/null",
    "/dev/urandom",
    "/dev/random",
    "/dev/zero",
    "/dev/tty",
    "/proc/self/",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/usr/share/zoneinfo/",
)
# Distinct reportable events (writes in scratch and quiet reads are not reported, so they
# cannot use the budget up); one past it is reported as `events-truncated`.
_MAX_EVENTS = 1000
_state = {"n": 0, "busy": set(), "seen": set(), "egress": None, "in": None, "calls": 0}
# Events worth saying where they happened: which exercised function, which line of the suggestion.
_PLACED = ("open-write", "open-read", "connect", "dns", "spawn", "exec", "native", "probe", "honey-env", "standin-call")
_getframe = sys._getframe


def _under(path, roots):
    return any(path == r or path.startswith(r + "/") for r in roots)


def _where(ev):
    if _state["in"] is not None:
        ev["in"] = _state["in"]
    if _SPAN:
        f = _getframe(2)
        while f is not None:
            if f.f_code.co_filename == _FILE and _SPAN[0] <= f.f_lineno <= _SPAN[1]:
                ev["line"] = f.f_lineno
                break
            f = f.f_back


def _emit(ev):
    if ev.get("kind") in _PLACED:
        try:
            _where(ev)
        except Exception:
            pass
    key = _dumps(ev, sort_keys=True, default=str)
    if key in _state["seen"]:
        return
    _state["seen"].add(key)
    _state["n"] += 1
    if _state["n"] > _MAX_EVENTS:
        if _state["n"] == _MAX_EVENTS + 1:
            ev, key = {"kind": "events-truncated"}, '{"kind": "events-truncated"}'
        else:
            return
    try:
        _write(_FD, _MARK + key.encode() + b"\n")
    except OSError:
        pass


def _abspath(p):
    try:
        if isinstance(p, int):
            return None
        p = os.fsdecode(p)
        return os.path.normpath(os.path.join(os.getcwd(), p))
    except Exception:
        return None


def _caller_is_runtime():
    # A stdlib frame calling exec/compile (dataclasses, namedtuple) is not the program's doing.
    f = sys._getframe(3)  # 0 this, 1 _handle, 2 _hook, 3 the audited call's caller
    fn = f.f_code.co_filename if f is not None else ""
    return _under(fn, _RUNTIME)


def _sockaddr(sock, addr):
    try:
        fam = getattr(sock.family, "name", str(sock.family))
    except Exception:
        fam = "?"
    if isinstance(addr, tuple) and len(addr) >= 2:
        return fam, str(addr[0]), addr[1]
    return fam, os.fsdecode(addr) if isinstance(addr, (str, bytes)) else repr(addr), None


def _is_numeric_host(host):
    try:
        import ipaddress

        ipaddress.ip_address(str(host).split("%")[0])
        return True
    except Exception:
        return False


def _hook(event, args):
    # Per thread: the hook must not see its own work, but a thread in the hook (the program's,
    # or the forwarder's) must not blind another.
    me = _get_ident()
    if me in _state["busy"]:
        return
    _state["busy"].add(me)
    try:
        _handle(event, args)
    except Exception:
        pass
    finally:
        _state["busy"].discard(me)


def _handle(event, args):
    if event == "open":
        path, mode, flags = args
        p = _abspath(path)
        if p is None:
            return
        writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (
            mode is None and flags is not None and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        )
        if writing:
            if not _under(p, (_SCRATCH,)):
                _emit({"kind": "open-write", "path": p, "in_scratch": False})
        elif not (_under(p, (_WS, _SCRATCH) + _RUNTIME) or any(p == q or p.startswith(q) for q in _QUIET_READ)):
            _emit({"kind": "open-read", "path": p})
    elif event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, addr = args[0], args[-1]
        if addr is None:
            return
        fam, host, port = _sockaddr(sock, addr)
        if _state["egress"] and port is None and host == _state["egress"][0]:
            return  # the forwarder relaying to the proxy, whose decisions are the record
        _emit({"kind": "connect", "family": fam, "host": host, "port": port, "via": event.split(".")[1]})
    elif event == "socket.getaddrinfo":
        host, port = args[0], args[1]
        if host is None or _is_numeric_host(host):
            return
        host = host.decode() if isinstance(host, bytes) else str(host)
        _emit({"kind": "dns", "host": host, "port": port})
    elif event in ("socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"):
        host = args[0]
        if not _is_numeric_host(host):
            _emit({"kind": "dns", "host": str(host), "port": None})
    elif event == "subprocess.Popen":
        _emit(
            {
                "kind": "spawn",
                "argv": [os.fsdecode(a) for a in (args[1] or [args[0]])]
                if not isinstance(args[1], (str, bytes))
                else [os.fsdecode(args[1])],
            }
        )
    elif event == "os.system":
        _emit({"kind": "spawn", "argv": ["/bin/sh", "-c", os.fsdecode(args[0])]})
    elif event in ("os.exec", "os.posix_spawn", "os.spawn"):
        argv = args[1] if event != "os.spawn" else args[2]
        _emit({"kind": "spawn", "argv": [os.fsdecode(a) for a in argv]})
    elif event in ("os.fork", "os.forkpty"):
        _emit({"kind": "spawn", "argv": ["<fork>"]})
    elif event == "compile":
        src, filename = args
        fn = os.fsdecode(filename) if isinstance(filename, (str, bytes)) else str(filename)
        if src is None or fn.startswith("<frozen") or _under(fn, _RUNTIME + (_WS,)) or _caller_is_runtime():
            return
        text = src.decode("utf-8", "replace") if isinstance(src, bytes) else str(src)
        _emit({"kind": "exec", "how": "compile", "filename": fn, "snippet": text[:120]})
    elif event == "exec":
        fn = getattr(args[0], "co_filename", "")
        if fn.startswith("<frozen") or _under(fn, _RUNTIME + (_WS,)) or _caller_is_runtime():
            return
        _emit({"kind": "exec", "how": "exec", "filename": fn})
    elif event in ("os.listdir", "os.scandir", "glob.glob", "glob.glob/2"):
        # A look at what is there (a secret's folder); exists() and stat() have no audit event.
        p = _abspath(args[0] if args and args[0] is not None else ".")
        if p is not None and not _under(p, (_WS, _SCRATCH) + _RUNTIME):
            _emit({"kind": "probe", "how": event, "path": p})
    elif event in ("ctypes.dlopen", "ctypes.cdata"):
        _emit({"kind": "native", "event": event, "what": str(args[0])[:120]})


def _at_exit():
    # Registered before the program runs, so it runs after the program's own exit handlers.
    try:
        me = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
        kids = _resource.getrusage(_resource.RUSAGE_CHILDREN).ru_maxrss
        _write(_FD, _MARK + _dumps({"kind": "rusage", "maxrss_kb": max(me, kids)}).encode() + b"\n")
    except Exception:
        pass
    if _hdr.get("end") and "status" in _state:
        # The program is done: say so on both streams, after its output, so the host can stop
        # reading here rather than wait for the engine to close the stream (~80 ms on Docker).
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        line = _MARK + _dumps({"kind": "exit", "status": _state["status"]}).encode() + b"\n"
        for fd in (1, 2):
            try:
                _write(fd, line)
            except OSError:
                pass


try:
    _compiled = compile(_code, _FILE, "exec", dont_inherit=True)
except (SyntaxError, ValueError) as _e:
    _emit(
        {
            "kind": "syntax-error",
            "msg": getattr(_e, "msg", str(_e)),
            "line": getattr(_e, "lineno", 0) or 0,
            "col": getattr(_e, "offset", 0) or 0,
        }
    )
    sys.exit(3)

# The way out, when there is one: the egress forwarder (stdlib source sent in the header) on this
# sandbox's own 127.0.0.1, relaying to the proxy's socket bound in by the backend. Started before
# the audit hooks, so its own start is not the program's doing. If it cannot start, the program
# runs with no network at all: the sandbox has no interface but lo.
_EG = _hdr.get("egress")
if _EG:
    try:
        _fwd: dict = {"__name__": "sandgate_egress_forwarder", "__builtins__": __builtins__}
        exec(_EG["source"], _fwd)
        _fwd["start"](_EG["unix"], port=int(_EG.get("port") or 3128))
        _state["egress"] = (_EG["unix"], int(_EG.get("port") or 3128))
    except Exception as _e:
        _emit({"kind": "egress-unavailable", "where": "sandbox", "reason": type(_e).__name__ + ": " + str(_e)[:200]})
    del _EG

# -- the exercise: after the module body, call what the suggestion adds or changes ----------------
# Inline suggestions are mostly function bodies nothing calls on import. Each target is called with
# stand-in arguments, in this process (the supervisor records it like the rest of the run), each
# with its share of the time limit; what it raises is caught and reported.
if _EXERCISE:
    import signal as _signal  # before the program, which may replace sys.modules["signal"]
_SCRATCH_ARGS = _SCRATCH + "/sandgate-exercise"
_STANDIN_HOST = "sandgate-standin.invalid"  # never resolves: a stand-in URL reaches nothing
_MAX_CALL_EVENTS = 100


class _Timeout(BaseException):
    pass


def _note_call(what, args, kwargs):
    if _state["calls"] >= _MAX_CALL_EVENTS:
        return
    _state["calls"] += 1
    try:
        named = [f"{k}={v!r}"[:400] for k, v in kwargs.items()]
        text = ", ".join([repr(a)[:400] for a in args] + named)
        # Credentials handed over as credentials (a header, auth=): the host tells use from a leak.
        auth = [f"{k}={v!r}"[:400] for k, v in kwargs.items() if k in ("headers", "auth")]
    except Exception:
        text, auth = "?", []
    ev = {"kind": "standin-call", "what": what, "args": text[:2000]}
    if auth:
        ev["auth"] = auth
    try:
        files = _peek_files((args, kwargs), [], 0)
    except Exception:
        files = []
    if files:
        ev["files"] = files
    _emit(ev)


_MAX_PEEKS, _PEEK_BYTES = 3, 4096


def _peek_files(value, out, depth):
    """The start of each file a stand-in network call was handed (an open file object, or the path of
    a file the run wrote in scratch), so that a secret staged in a file and then sent is seen where
    it goes. Bounded: three files, 4 KiB each, three levels into containers."""
    if len(out) >= _MAX_PEEKS or depth > 3:
        return out
    path = None
    if isinstance(value, (list, tuple, set, frozenset)):
        for item in list(value)[:16]:
            _peek_files(item, out, depth + 1)
        return out
    if isinstance(value, dict):
        for item in list(value.values())[:16]:
            _peek_files(item, out, depth + 1)
        return out
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        if isinstance(value, _Standin) or (isinstance(value, (str, bytes)) and len(value) > 4096):
            return out  # a stand-in, or data rather than a path
        try:
            p = _abspath(value)
        except Exception:
            p = None
        # Only what the run wrote: a path it merely names is not read on its behalf.
        if p and _under(p, (_SCRATCH,)) and not _under(p, (_SCRATCH_ARGS,)):
            path = p
    elif not isinstance(value, _Standin) and callable(getattr(type(value), "read", None)):
        name = getattr(value, "name", None)
        if isinstance(name, (str, bytes)):
            path = _abspath(name)
    if path is None:
        return out
    me = _get_ident()
    _state["busy"].add(me)  # the peek is ours, not the program's: no event of the audit hooks
    try:
        import stat as _st

        # Opened first, then looked at through the descriptor: a look by name would be a probe.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            data = os.read(fd, _PEEK_BYTES) if _st.S_ISREG(os.fstat(fd).st_mode) else None
        finally:
            os.close(fd)
        if data is None:
            return out
        out.append(path + ": " + data.decode("utf-8", "replace"))
    except OSError:
        pass
    finally:
        _state["busy"].discard(me)
    return out


def _sg_what(obj):
    return object.__getattribute__(obj, "_sg_what")


class _Standin:
    """Absorbs what code does to a value the sandbox could not give: attributes, calls, indexing,
    iteration (one item, so a loop's body runs once), arithmetic, with and await."""

    __slots__ = ("_sg_what",)

    def __init__(self, what="stand-in"):
        object.__setattr__(self, "_sg_what", what)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Standin(_sg_what(self) + "." + name)

    def __setattr__(self, name, value):
        pass

    def __delattr__(self, name):
        pass

    def __call__(self, *args, **kwargs):
        if len(args) == 1 and not kwargs and isinstance(args[0], (type, type(_note_call))):
            return args[0]  # a decorator of a module the sandbox lacks: keep the function
        _note_call(_sg_what(self), args, kwargs)
        return _Standin(_sg_what(self) + "()")

    def __getitem__(self, key):
        return _Standin(_sg_what(self) + "[]")

    def __setitem__(self, key, value):
        pass

    def __delitem__(self, key):
        pass

    def __iter__(self):
        return iter((_Standin(_sg_what(self) + "[0]"),))

    def __aiter__(self):
        return _AsyncOne(_Standin(_sg_what(self) + "[0]"))

    def __len__(self):
        return 1

    def __bool__(self):
        return True

    def __contains__(self, item):
        return False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False

    def __await__(self):
        return iter(())

    def __int__(self):
        return 1

    __index__ = __int__

    def __float__(self):
        return 1.0

    def __str__(self):
        return "sandgate-standin"

    def __repr__(self):
        return f"<stand-in {_sg_what(self)}>"

    def __fspath__(self):
        return _SCRATCH_ARGS + "/standin"

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    def __mro_entries__(self, bases):
        return (object,)  # a base class from a module the sandbox lacks

    def _same(self, *other):
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _same
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __pow__ = __or__ = __ror__ = __and__ = _same
    __rand__ = __xor__ = __neg__ = __pos__ = __abs__ = __invert__ = __matmul__ = _same

    def __lt__(self, other):
        return False

    __le__ = __gt__ = __ge__ = __lt__


class _AsyncOne:
    def __init__(self, item):
        self.item = [item]

    def __aiter__(self):
        return self

    async def __anext__(self):
        if not self.item:
            raise StopAsyncIteration
        return self.item.pop()


class _StandinFinder:
    """Last on sys.meta_path: a module the sandbox lacks (requests, httpx, boto3…) imports as a
    stand-in, so the code after the import runs, and what it calls on it is reported."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        return type(sys.__spec__)(name, cls, is_package=True)

    @staticmethod
    def create_module(spec):
        mod = type(sys)(spec.name)
        mod.__path__ = []
        mod.__getattr__ = lambda attr, _n=spec.name: _Standin(_n + "." + attr)
        return mod

    @staticmethod
    def exec_module(module):
        _emit({"kind": "standin-module", "name": module.__name__})


def _plain(ann):
    if ann is None:
        return ""
    text = ann if isinstance(ann, str) else getattr(ann, "__name__", None) or str(ann)
    text = text.replace(" ", "").replace("typing.", "").replace("pathlib.", "")
    if text.startswith("Optional[") and text.endswith("]"):
        text = text[9:-1]
    for part in text.split("|"):
        if part != "None":
            return part.split("[")[0]
    return "None"


def _scratch_path(name, folder=False):
    path = _SCRATCH_ARGS + "/" + (name or "arg")
    try:
        os.makedirs(path if folder else _SCRATCH_ARGS, exist_ok=True)
    except OSError:
        pass
    return path


_PATHY = ("path", "file", "dest", "src", "source", "target", "output", "out", "filename", "fname")
_FOLDERY = ("dir", "folder", "root", "directory", "cache")


def _value_for(name, ann, depth=0):
    low = (name or "").lower()
    kind = _plain(ann)
    folder = any(w in low for w in _FOLDERY)
    if kind in ("Path", "PurePath", "PosixPath", "PathLike"):
        import pathlib

        return pathlib.Path(_scratch_path(low, folder))
    if kind == "str" or (not kind and (folder or any(w in low for w in _PATHY + ("url", "uri", "host", "name")))):
        if "url" in low or "uri" in low or "endpoint" in low:
            return f"http://{_STANDIN_HOST}/{low}"
        if "host" in low or "domain" in low:
            return _STANDIN_HOST
        if folder or any(w in low for w in _PATHY):
            return _scratch_path(low, folder)
        return "sandgate-standin"
    simple = {
        "int": 1,
        "float": 1.0,
        "bool": False,
        "bytes": b"sandgate-standin",
        "bytearray": bytearray(b"sandgate-standin"),
        "None": None,
    }
    if kind in simple:
        return simple[kind]
    if kind in ("dict", "Dict", "Mapping", "MutableMapping"):
        return {}
    if kind in ("list", "List", "Sequence", "Iterable", "Iterator", "MutableSequence"):
        return []
    if kind in ("tuple", "Tuple"):
        return ()
    if kind in ("set", "Set", "frozenset"):
        return set()
    if isinstance(ann, type) and depth < 2 and getattr(ann, "__module__", "") == "__main__":
        made = _make(ann, depth + 1)
        if made is not None:
            return made
    if not kind and any(w in low for w in ("count", "size", "limit", "timeout", "retries", "port", "num", "n")):
        if low in ("n", "count", "size", "limit", "timeout", "retries", "num") or low.endswith(("_count", "_size")):
            return 1
    return _Standin(name or "arg")


def _unwrap(fn):
    for _ in range(5):
        inner = getattr(fn, "__wrapped__", None)
        if inner is None:
            break
        fn = inner
    return getattr(fn, "__func__", fn)


def _arguments(fn, bound, depth=0):
    code = getattr(_unwrap(fn), "__code__", None)
    if code is None:
        return [], {}
    inner = _unwrap(fn)
    names = code.co_varnames
    npos, nkw = code.co_argcount, code.co_kwonlyargcount
    defaults = getattr(inner, "__defaults__", None) or ()
    kwdefaults = getattr(inner, "__kwdefaults__", None) or {}
    ann = getattr(inner, "__annotations__", None) or {}
    first_default = npos - len(defaults)
    args = [_value_for(n, ann.get(n), depth) for i, n in enumerate(names[:npos]) if i >= bound and i < first_default]
    kwargs = {n: _value_for(n, ann.get(n), depth) for n in names[npos : npos + nkw] if n not in kwdefaults}
    return args, kwargs


def _make(cls, depth=0):
    """An instance of `cls`: through its __init__ with stand-ins, else without it."""
    try:
        init = cls.__init__
        args, kwargs = _arguments(init, 1, depth) if init is not object.__init__ else ([], {})
        return cls(*args, **kwargs)
    except _Timeout:
        raise
    except BaseException:
        try:
            return cls.__new__(cls)
        except Exception:
            return None


def _resolve(qual):
    """(callable, number of leading parameters bound) for "func" or "Class.method"."""
    parts = qual.split(".")
    obj = _g.get(parts[0])
    if len(parts) == 1:
        return obj, 0
    cls = obj
    if not isinstance(cls, type):
        return None, 0
    raw = next((k.__dict__[parts[1]] for k in cls.__mro__ if parts[1] in k.__dict__), None)
    if parts[1] == "__init__":
        return cls, 1
    if isinstance(raw, staticmethod):
        return raw.__func__, 0
    if isinstance(raw, classmethod):
        return getattr(cls, parts[1]), 1
    inst = _make(cls)
    if isinstance(raw, property):
        return (lambda: raw.fget(inst)) if raw.fget else None, 0
    return (getattr(inst, parts[1], None) if inst is not None else None), 1


def _drive(result):
    """Run what a call returned: a coroutine on an event loop, a generator a few steps."""
    if hasattr(result, "cr_frame") or hasattr(result, "ag_frame"):
        import asyncio

        async def steps(agen):
            n = 0
            async for _ in agen:
                n += 1
                if n >= 16:
                    break

        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(result if hasattr(result, "cr_frame") else steps(result))
        finally:
            try:
                loop.close()
            except Exception:
                pass
    elif hasattr(result, "gi_frame"):
        for _ in range(16):
            next(result)


def _on_alarm(signum, frame):
    raise _Timeout()


async def _no_sleep(delay=0, result=None):
    return result


def _span_lines(fn):
    """The lines of the suggestion in `fn`'s own body that have code (not its def line)."""
    inner = _unwrap(fn.__init__ if isinstance(fn, type) else fn)
    code = getattr(inner, "__code__", None)
    if code is None or not _SPAN:
        return set()
    return {
        line for _, _, line in code.co_lines() if line and _SPAN[0] <= line <= _SPAN[1] and line != code.co_firstlineno
    }


def _traced(fn, args, kwargs, hits):
    """Call `fn` with the lines of the suggestion it runs noted in `hits` (only frames of the program's
    file are traced, and only their lines within the suggestion)."""

    def local(frame, event, arg):
        if event == "line" and _SPAN[0] <= frame.f_lineno <= _SPAN[1]:
            hits.add(frame.f_lineno)
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code.co_filename == _FILE else None

    sys.settrace(tracer if _SPAN else None)
    try:
        _drive(fn(*args, **kwargs))
    finally:
        sys.settrace(None)


def _attempt(fn, args, kwargs, share, hits):
    _signal.signal(_signal.SIGALRM, _on_alarm)
    _signal.setitimer(_signal.ITIMER_REAL, share)
    try:
        _traced(fn, args, kwargs, hits)
        return {"state": "returned"}
    except StopIteration:
        return {"state": "returned"}
    except _Timeout:
        return {"state": "timed-out"}
    except SystemExit as e:
        return {"state": "exited", "error": f"SystemExit: {e.code}"[:200]}
    except BaseException as e:
        return {"state": "raised", "error": f"{type(e).__name__}: {e}"[:200]}
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0)


def _call(target, share):
    fn, bound = _resolve(target["qual"])
    if not callable(fn):
        return {"state": "missing"}
    args, kwargs = _arguments(fn, bound) if target["qual"].split(".")[-1] != "__init__" else ([], {})
    if isinstance(fn, type):
        args, kwargs = _arguments(fn.__init__, 1)
    wanted, hits = _span_lines(fn), set()
    outcome = _attempt(fn, args, kwargs, share, hits)
    if wanted and not (hits & wanted) and outcome["state"] in ("raised", "exited") and (args or kwargs):
        # The call ended before any line of the suggestion ran (the code before it failed on the
        # arguments given): once more with stand-ins for every argument, which absorb anything.
        first = outcome
        outcome = _attempt(
            fn, [_Standin(f"arg{i}") for i in range(len(args))], {k: _Standin(k) for k in kwargs}, share, hits
        )
        outcome["retried"] = first.get("error") or first["state"]
    if wanted:
        outcome["lines"] = len(wanted)
        outcome["reached"] = len(hits & wanted)
    return outcome


def _exercise():
    # Waiting is not what is being vetted: sleeps return at once while the targets run.
    tm = sys.modules.get("time")
    if tm is not None:
        tm.sleep = lambda seconds: None
    aio = sys.modules.get("asyncio")
    if aio is not None:
        aio.sleep = _no_sleep
    share = float(_EXERCISE.get("share_s") or 0.5)
    for target in _EXERCISE.get("targets") or ():
        qual = str(target.get("qual"))
        _state["in"] = qual
        _emit({"kind": "exercise", "qual": qual, "state": "call"})
        try:
            outcome = _call(target, share)
        except BaseException as e:  # a stand-in or resolution failed
            outcome = {"state": "raised", "error": f"{type(e).__name__}: {e}"[:200]}
        _state["in"] = None
        _emit({"kind": "exercise", "qual": qual, "line": target.get("line", 0), **outcome})
    _emit({"kind": "exercise-done", "n": len(_EXERCISE.get("targets") or ())})


def _runtime_reads():
    # The stdlib looking for its settings (urllib's proxy variables) is not the program's doing.
    # os and _collections_abc are frozen modules in Python 3.11+ (`<frozen os>`): their frames are
    # the mapping's own machinery (items(), get()), skipped to reach who asked.
    f = _getframe(2)
    while f is not None and f.f_code.co_filename.endswith(
        ("/os.py", "/_collections_abc.py", "<frozen os>", "<frozen _collections_abc>")
    ):
        f = f.f_back
    return f is not None and _under(f.f_code.co_filename, _RUNTIME)


if _HONEY_NAMES:

    class _HoneyEnviron(type(os.environ)):  # type: ignore[misc]
        """os.environ that says when a honey variable is read (getenv, get, [], dict(os.environ))."""

        def __getitem__(self, key):
            if key in _HONEY_NAMES and not _runtime_reads():
                _emit({"kind": "honey-env", "name": key})
            return super().__getitem__(key)

    os.environ.__class__ = _HoneyEnviron

if _EXERCISE:
    sys.meta_path.append(_StandinFinder)

sys.addaudithook(_hook)
atexit.register(_at_exit)
_emit({"kind": "monitor", "state": "ready"})
sys.argv = [_FILE]
sys.path.insert(0, os.path.dirname(_FILE))
if os.path.isdir(_WS):
    os.chdir(_WS)
_g = {"__name__": "__main__", "__file__": _FILE, "__builtins__": __builtins__, "__doc__": None, "__package__": None}
_exc: BaseException | None = None
try:
    exec(_compiled, _g)
    _state["status"] = 0
except SystemExit as _e:
    _state["status"] = 0 if _e.code is None else (_e.code & 0xFF if isinstance(_e.code, int) else 1)
    _exc = _e
except BaseException as _e:
    _state["status"] = 1
    _exc = _e
if _EXERCISE:
    # After a failed module body too: what it defined before it stopped can still be called.
    try:
        _exercise()
    except BaseException as _e:
        _emit({"kind": "exercise-failed", "error": f"{type(_e).__name__}: {_e}"[:200]})
if _exc is not None:
    raise _exc
