# sandgate-bootstrap: runs inside the sandbox, before the suggestion, under /usr/bin/python3 -I -S -B.
# It is shipped as the `-c` argument, so it must stay self-contained (stdlib only, no sandgate imports).
#
# Start: argv[1] names the supervisor's control connection ("fd:N", or "unix:PATH" in a container).
# The supervisor sends one JSON line {"bpf", "nr"}: the monitor filter (classic BPF) and seccomp(2)'s
# number. The bootstrap loads the filter with a listener, hands the listener to the supervisor, and
# proves it armed with one notified call; a bootstrap that cannot arm exits (status 4) before any
# program runs. It then waits for the program; if the control connection closes first (Sandgate is
# gone), it exits.
#
# Protocol: stdin carries one JSON header line, then the program's source until EOF.
# Header: {"relpath", "workspace", "scratch", "events_fd", "marker", "runtime"}, and "egress":
# {"unix", "port", "source"} when the run may reach allowed hosts through the egress proxy, and
# "end": true when the host wants an `exit` event on stdout and stderr after the program's output.
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

_FD = int(_hdr["events_fd"])
_MARK = _hdr["marker"].encode()
_WS = _hdr["workspace"].rstrip("/")
_SCRATCH = _hdr["scratch"].rstrip("/")
_RUNTIME = tuple(p.rstrip("/") for p in list(_hdr.get("runtime", ())) + [p for p in sys.path if p.startswith("/")])
_FILE = _WS + "/" + _hdr["relpath"].lstrip("/")
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
_state = {"n": 0, "busy": set(), "seen": set(), "egress": None}


def _under(path, roots):
    return any(path == r or path.startswith(r + "/") for r in roots)


def _emit(ev):
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

sys.addaudithook(_hook)
atexit.register(_at_exit)
_emit({"kind": "monitor", "state": "ready"})
sys.argv = [_FILE]
sys.path.insert(0, os.path.dirname(_FILE))
if os.path.isdir(_WS):
    os.chdir(_WS)
_g = {"__name__": "__main__", "__file__": _FILE, "__builtins__": __builtins__, "__doc__": None, "__package__": None}
try:
    exec(_compiled, _g)
except SystemExit as _e:
    _state["status"] = 0 if _e.code is None else (_e.code & 0xFF if isinstance(_e.code, int) else 1)
    raise
except BaseException:
    _state["status"] = 1
    raise
else:
    _state["status"] = 0
