"""`sandgate serve`: the language server, over stdio (default) or TCP.

stdout belongs to JSON-RPC: the server keeps a private copy of the real stdout for the protocol
and points fd 1 and `sys.stdout` at stderr, so a stray print anywhere (here, in a worker process,
in a C extension) cannot corrupt the stream. Logs go to
stderr or to `--log-file`.

Over TCP there is no authentication: whoever connects drives the server (vets run code in sandboxes,
approvals are recorded in the audit log under the client's name). So `--tcp` binds loopback only; an
address other machines or containers can reach (`0.0.0.0`, the docker0 bridge's) needs
`--tcp-allow-remote`, which says the user has put something else in front of it.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from typing import BinaryIO

from sandgate.terminal import safe

EXIT_OK, EXIT_USAGE = 0, 2


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1); a host name other than
    `localhost` is not judged by what it resolves to today."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the language server (stdio by default)",
        description="Run the Sandgate language server: vetted inline suggestions, diagnostics and approvals.",
    )
    parser.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        type=_host_port,
        default=None,
        help="listen on TCP instead of stdio, for one client; a loopback address (127.0.0.1, ::1, localhost) "
        "unless --tcp-allow-remote",
    )
    parser.add_argument(
        "--tcp-allow-remote",
        action="store_true",
        help="let --tcp listen on an address other machines or containers reach: the port has no "
        "authentication, whoever connects drives the server",
    )
    parser.add_argument(
        "--stdio", action="store_true", help="use stdio (the default; accepted for editors that pass it)"
    )
    parser.add_argument("--log-file", metavar="PATH", default=None, help="write logs here instead of stderr")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.set_defaults(func=run)


class _SafeFormatter(logging.Formatter):
    """Log lines quote what clients and suggestions sent (file names, messages, run output): each
    line is escaped by `terminal.safe`, as the CLI's output is, for a log read on a terminal."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = safe(record.message)
        return super().formatMessage(record)

    def formatException(self, ei) -> str:
        return "\n".join(safe(line) for line in super().formatException(ei).split("\n"))


class _QuietRefusals(logging.Filter):
    """An approval refused is an answer, not a server error: keep pygls from logging its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and type(exc).__name__ == "JsonRpcServerError" and getattr(exc, "code", None) == -32001:
            record.exc_info = None
            record.msg, record.args = "request refused: %s", (exc,)
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def _setup_logging(path: str | None, level: str) -> None:
    handler: logging.Handler
    if path:
        handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_QuietRefusals())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pygls logs every message at INFO: keep it quieter unless debugging.
    logging.getLogger("pygls").setLevel(logging.WARNING if level != "DEBUG" else logging.DEBUG)


def _protocol_stdout() -> BinaryIO:
    """Nothing but JSON-RPC reaches the real stdout: the protocol gets a private copy of it (not
    inherited: O_CLOEXEC), and fd 1 becomes stderr, for this process's prints and for every child's
    (offload workers, sandboxes, C extensions writing to fd 1)."""
    sys.stdout.flush()
    try:
        private = os.dup(1)
    except OSError:  # no fd 1 (an embedding that closed it): the Python-level redirection only
        out = sys.stdout.buffer
    else:
        out = os.fdopen(private, "wb")
        os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def _refuse_remote(args: argparse.Namespace) -> str | None:
    """Why `--tcp`'s address is refused, or None."""
    if args.tcp is None:
        return "--tcp-allow-remote goes with --tcp HOST:PORT" if args.tcp_allow_remote else None
    host, port = args.tcp
    if _loopback(host) or args.tcp_allow_remote:
        return None
    return (
        f"--tcp {host}:{port} would listen where other machines or containers can connect, and the "
        "language server has no authentication: whoever connects vets and approves as you. Use "
        f"--tcp 127.0.0.1:{port} (an editor on this machine), or pass --tcp-allow-remote if something "
        "else guards the port"
    )


def run(args: argparse.Namespace) -> int:
    refused = _refuse_remote(args)
    if refused is not None:
        print(f"sandgate: {refused}", file=sys.stderr)
        return EXIT_USAGE
    _setup_logging(args.log_file, args.log_level)
    protocol_in = sys.stdin.buffer
    protocol_out = _protocol_stdout()

    from sandgate.sandbox import lifecycle

    lifecycle.install()  # here, on the main thread: SIGTERM then removes the warm sandboxes too
    from sandgate.lsp.server import build_server
    from sandgate.lsp.stdio import serve_stdio
    from sandgate.lsp.tcp import serve_tcp

    server = build_server()
    if args.tcp is None:
        return serve_stdio(server, protocol_in, protocol_out)
    host, port = args.tcp
    if not _loopback(host):
        logging.getLogger(__name__).warning(
            "listening on %s:%d with --tcp-allow-remote: anyone who reaches the port drives the server", host, port
        )
    try:
        return serve_tcp(server, host, port)
    except OSError as exc:  # the address is taken or not this machine's
        print(f"sandgate: --tcp {host}:{port}: cannot listen there: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
