# sandgate egress forwarder: runs INSIDE the sandbox, so it is stdlib-only and self-contained
# (no sandgate imports): a sandbox bootstrap may ship `forwarder_source()` as text and exec it.
#
# It listens on a loopback TCP port inside the sandbox's own network namespace (where `lo` is
# the only interface) and relays every connection, byte for byte, to the egress proxy's Unix
# socket bound into the sandbox. HTTP clients find it through HTTP(S)_PROXY. It is not a trust
# boundary: the proxy behind the socket decides everything, and code that kills or bypasses
# the forwarder only loses its own way out.
"""TCP (inside the sandbox) → Unix socket (the egress proxy) relay. See docs/network.md."""

import os
import socket
import sys
import threading

DEFAULT_PORT = 3128
_CHUNK = 65536


def _copy(src, dst):
    try:
        while True:
            data = src.recv(_CHUNK)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _relay(client, unix_path):
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(unix_path)
    except OSError:
        upstream.close()
        client.close()
        return
    back = threading.Thread(target=_copy, args=(upstream, client), daemon=True)
    back.start()
    _copy(client, upstream)
    back.join()
    upstream.close()
    client.close()


def _serve(listener, unix_path):
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return  # listener closed
        threading.Thread(target=_relay, args=(client, unix_path), daemon=True).start()


def start(unix_path, host="127.0.0.1", port=DEFAULT_PORT):
    """Bind now (so a client started next cannot race it), serve on a daemon thread.

    Returns the listening socket (close it to stop) and the port bound (useful with port=0).
    Raises OSError when the proxy's socket is not there: the caller then runs without network.
    """
    if not os.path.exists(unix_path):
        raise FileNotFoundError("egress proxy socket missing: " + unix_path)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(64)
    threading.Thread(target=_serve, args=(listener, unix_path), name="sandgate-egress-forwarder", daemon=True).start()
    return listener, listener.getsockname()[1]


def forwarder_source():
    """This file's functions as text, without the command line, for a bootstrap that must
    stay self-contained: exec it, then call `start(unix_path, port=...)`."""
    with open(__file__, encoding="utf-8") as handle:
        return handle.read().split(_CLI_MARK, 1)[0]


_CLI_MARK = "# -- command line " + "-" * 20


# -- command line --------------------


def main(argv=None):
    """`python -m sandgate.egress.forwarder UNIX_PATH [PORT]`: relay until killed."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stderr.write("usage: forwarder UNIX_PATH [PORT]\n")
        return 2
    listener, _port = start(args[0], port=int(args[1]) if len(args) > 1 else DEFAULT_PORT)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
