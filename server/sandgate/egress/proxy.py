"""The egress proxy: the only way out of a sandbox that may reach the network.

An HTTP proxy (absolute-form `GET http://host/...` requests, and `CONNECT host:port` tunnels
for HTTPS or anything else over TCP) that listens on a Unix socket and/or a loopback TCP port,
decides every request against the policy's `NetworkPolicy`, and records each decision.

    proxy = EgressProxy(policy.network, on_decision=decisions.append)
    endpoints = proxy.start()          # runs its own asyncio loop in a daemon thread
    ...                                # the sandbox reaches endpoints.unix_path / .tcp_port
    proxy.stop()

Order of a decision (see `sandgate.egress.rules`):
1. The policy's word on the host and port, before any look-up: a denied name is never
   resolved, so a name cannot carry data out through DNS.
2. The proxy resolves the name itself (the sandbox has no resolver), once, and checks every
   address; one private or otherwise non-public address refuses the request unless the
   policy names it exactly.
3. It connects to a checked address, never to the name: there is no second look-up that a
   rebinding DNS server could answer differently.

Request heads are capped (`header_limit` bytes, `MAX_HEADER_LINES` lines); a tunnel or
request that moves no byte in either direction for `idle_timeout` seconds is closed. Nothing
is printed: decisions go to the caller and to `logging`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import stat
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sandgate.egress import rules
from sandgate.policy.hosts import normalise_host
from sandgate.policy.model import NetworkPolicy

log = logging.getLogger(__name__)

MAX_HEADER_LINES = 100
# Hop-by-hop headers (RFC 9110 §7.6.1) and the proxy's own: never forwarded.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "upgrade",
}

Resolver = Callable[[str, int], Iterable[str]]


@dataclass(frozen=True)
class ProxyDecision:
    """One request the proxy decided. `rule` names what decided it (`network.allow_hosts:<entry>`,
    `network.deny_hosts:<entry>`, or one of the `rules.RULE_*` ids); `address` is the address
    connected to (allowed) or the one refused (private address), else None."""

    host: str
    port: int
    allowed: bool
    rule: str
    reason: str
    address: str | None = None


@dataclass(frozen=True)
class ProxyEndpoints:
    unix_path: str | None
    tcp_host: str | None
    tcp_port: int | None

    @property
    def tcp_url(self) -> str | None:
        if self.tcp_port is None or self.tcp_host is None:
            return None
        host = f"[{self.tcp_host}]" if ":" in self.tcp_host else self.tcp_host
        return f"http://{host}:{self.tcp_port}"


def proxy_environment(url: str) -> dict[str, str]:
    """The variables that send HTTP clients (urllib, requests, httpx, curl, pip) through `url`."""
    env = {}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = url
        env[name.lower()] = url
    env["NO_PROXY"] = env["no_proxy"] = ""
    return env


def default_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order, each once."""
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if address not in seen:
            seen.append(address)
    return seen


class _Closed(Exception):
    """The client went away without asking anything: nothing to decide."""


class _BadRequest(Exception):
    def __init__(self, status: int, reason: str, host: str = "", port: int = 0) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.host = host
        self.port = port


_STATUS_TEXT = {
    400: "Bad Request",
    403: "Forbidden",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _split_authority(authority: str, default_port: int | None) -> tuple[str, int]:
    """`host:port`, `[v6]:port`, or `host` with a default port."""
    authority = authority.strip()
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise _BadRequest(400, f"malformed authority {authority!r}")
        host, rest = authority[1:end], authority[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise _BadRequest(400, f"malformed authority {authority!r}")
    elif authority.count(":") == 1:
        host, _, port_text = authority.partition(":")
    else:
        host, port_text = authority, ""
    if not host:
        raise _BadRequest(400, f"no host in {authority!r}")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise _BadRequest(400, f"bad port in {authority!r}", host)
        return host, int(port_text)
    if default_port is None:
        raise _BadRequest(400, f"CONNECT needs host:port, not {authority!r}", host)
    return host, default_port


def _safe(text: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)


class EgressProxy:
    """See the module docstring. One instance serves one sandbox run (or one warm sandbox);
    `decisions()` lists what it decided, `on_decision` hears each as it happens (called on
    the proxy's thread; an exception there is logged and ignored)."""

    def __init__(
        self,
        policy: NetworkPolicy,
        on_decision: Callable[[ProxyDecision], None] | None = None,
        *,
        unix_path: str | os.PathLike[str] | None = None,
        unix_mode: int = 0o600,
        tcp_host: str = "127.0.0.1",
        tcp_port: int | None = 0,
        resolver: Resolver | None = None,
        header_limit: int = 32 * 1024,
        idle_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        max_connections: int = 64,
    ) -> None:
        if unix_path is None and tcp_port is None:
            raise ValueError("EgressProxy needs a unix_path, a tcp_port (0: any free port), or both")
        self.policy = policy
        self.on_decision = on_decision
        self.unix_path = os.fspath(unix_path) if unix_path is not None else None
        # 0o600 when the sandbox runs as this user (bubblewrap); a container running as
        # another uid needs 0o666, with the socket's directory the only thing mounted.
        self.unix_mode = unix_mode
        self.tcp_host = tcp_host
        self.tcp_port = tcp_port
        self.resolver: Resolver = resolver or default_resolver
        self.header_limit = header_limit
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self._decisions: list[ProxyDecision] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._tasks: set[asyncio.Task] = set()
        self._active = 0
        self.endpoints: ProxyEndpoints | None = None

    # -- lifecycle (any thread) ------------------------------------------------------------

    def start(self) -> ProxyEndpoints:
        """Bind and serve; returns once listening. Raises (OSError, ...) if it cannot: the
        caller must then give the sandbox no network at all."""
        if self._thread is not None:
            raise RuntimeError("EgressProxy already started")
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._bind())
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="sandgate-egress", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            self._cleanup_socket()
            raise failure[0]
        assert self.endpoints is not None
        log.info("egress proxy listening: unix=%s tcp=%s", self.endpoints.unix_path, self.endpoints.tcp_url)
        return self.endpoints

    def stop(self) -> None:
        """Close the listeners and every open connection; idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            try:
                future.result(timeout=10)
            except Exception:
                log.exception("egress proxy shutdown")
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None
        self._cleanup_socket()

    def __enter__(self) -> EgressProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def decisions(self) -> list[ProxyDecision]:
        with self._lock:
            return list(self._decisions)

    def drain_decisions(self) -> list[ProxyDecision]:
        """The decisions so far, and forget them (a warm proxy reused across runs)."""
        with self._lock:
            out, self._decisions = self._decisions, []
            return out

    # -- inside the loop --------------------------------------------------------------------

    async def _bind(self) -> None:
        unix_path = tcp_host = tcp_port = None
        if self.unix_path is not None:
            self._cleanup_socket(stale_only=True)
            server = await asyncio.start_unix_server(self._accept, path=self.unix_path, limit=self.header_limit)
            os.chmod(self.unix_path, self.unix_mode)
            self._servers.append(server)
            unix_path = self.unix_path
        if self.tcp_port is not None:
            server = await asyncio.start_server(
                self._accept, host=self.tcp_host, port=self.tcp_port, limit=self.header_limit, reuse_address=True
            )
            self._servers.append(server)
            sockname = server.sockets[0].getsockname()
            tcp_host, tcp_port = str(sockname[0]), int(sockname[1])
        self.endpoints = ProxyEndpoints(unix_path, tcp_host, tcp_port)

    async def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            try:
                await asyncio.wait_for(server.wait_closed(), 2)
            except (TimeoutError, Exception):
                pass
        self._servers.clear()

    def _cleanup_socket(self, stale_only: bool = False) -> None:
        if self.unix_path is None:
            return
        try:
            mode = os.lstat(self.unix_path).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            if stale_only:
                raise FileExistsError(f"{self.unix_path} exists and is not a socket")
            return
        try:
            os.unlink(self.unix_path)
        except FileNotFoundError:
            pass

    def _record(self, decision: ProxyDecision) -> None:
        with self._lock:
            self._decisions.append(decision)
        log.log(
            logging.INFO if decision.allowed else logging.WARNING,
            "egress %s %s:%s (%s): %s",
            "allowed" if decision.allowed else "denied",
            decision.host,
            decision.port,
            decision.rule,
            decision.reason,
        )
        if self.on_decision is not None:
            try:
                self.on_decision(decision)
            except Exception:
                log.exception("egress on_decision callback failed")

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._active += 1
        try:
            if self._active > self.max_connections:
                await self._respond(writer, 503, "too many connections through the egress proxy")
                return
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("egress proxy connection failed")
        finally:
            self._active -= 1
            self._tasks.discard(task)
            writer.close()

    async def _respond(self, writer: asyncio.StreamWriter, status: int, reason: str, rule: str | None = None) -> None:
        body = (reason + "\n").encode("utf-8", "replace")
        head = f"HTTP/1.1 {status} {_STATUS_TEXT.get(status, 'Error')}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        if rule:
            head += f"X-Sandgate-Rule: {_safe(rule)}\r\n"
        head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        try:
            writer.write(head.encode("ascii") + body)
            await asyncio.wait_for(writer.drain(), 5)
        except (TimeoutError, OSError):
            pass

    async def _read_head(self, reader: asyncio.StreamReader) -> tuple[str, str, str, list[tuple[str, str]]]:
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle_timeout)
        except asyncio.LimitOverrunError:
            raise _BadRequest(431, f"request head longer than {self.header_limit} bytes") from None
        except asyncio.IncompleteReadError as exc:
            if not exc.partial.strip():
                raise _Closed() from None
            if len(exc.partial) >= self.header_limit:
                raise _BadRequest(431, f"request head longer than {self.header_limit} bytes") from None
            raise _BadRequest(400, "connection closed before a complete request head") from None
        except TimeoutError:
            raise _BadRequest(400, "no complete request head in time") from None
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise _BadRequest(400, "request head is not ASCII") from None
        lines = text.split("\r\n")[:-2]
        if len(lines) - 1 > MAX_HEADER_LINES:
            raise _BadRequest(431, f"more than {MAX_HEADER_LINES} header lines")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(400, "malformed request line")
        method, target, version = parts
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip() or any(c in name for c in " \t"):
                raise _BadRequest(400, "malformed header line")
            headers.append((name, value.strip()))
        return method.upper(), target, version, headers

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            method, target, version, headers = await self._read_head(reader)
            if method == "CONNECT":
                host, port = _split_authority(target, None)
                path = None
            else:
                url = urlsplit(target)
                if url.scheme.lower() != "http" or not url.netloc:
                    if url.scheme.lower() == "https":
                        raise _BadRequest(400, "send https:// requests through CONNECT")
                    raise _BadRequest(
                        400, f"the egress proxy serves absolute http:// URLs and CONNECT, not {_safe(target[:100])!r}"
                    )
                host, port = _split_authority(url.netloc.rpartition("@")[2], 80)
                path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        except _Closed:
            return
        except _BadRequest as bad:
            self._record(ProxyDecision(bad.host, bad.port, False, rules.RULE_BAD_REQUEST, bad.reason))
            await self._respond(writer, bad.status, bad.reason, rules.RULE_BAD_REQUEST)
            return

        decision, addresses = await self._decide(host, port)
        if not decision.allowed:
            self._record(decision)
            await self._respond(writer, 403, f"sandgate egress: {decision.reason}", decision.rule)
            return
        upstream = None
        connected = None
        last_error: BaseException | None = None
        for address in addresses:
            try:
                upstream = await asyncio.wait_for(
                    asyncio.open_connection(str(address), port, limit=self.header_limit), self.connect_timeout
                )
                connected = str(address)
                break
            except (TimeoutError, OSError) as exc:
                last_error = exc
        decision = ProxyDecision(
            decision.host,
            decision.port,
            True,
            decision.rule,
            decision.reason,
            connected or (str(addresses[0]) if addresses else None),
        )
        self._record(decision)
        if upstream is None:
            log.info("egress connect to %s:%s failed: %s", host, port, last_error)
            await self._respond(writer, 502, f"sandgate egress: could not connect to {host}:{port}: {last_error}")
            return
        up_reader, up_writer = upstream
        try:
            if path is None:
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
            else:
                up_writer.write(_origin_request(method, path, version, host, port, headers))
                await up_writer.drain()
            await self._pipe(reader, writer, up_reader, up_writer)
        finally:
            up_writer.close()

    async def _decide(self, host: str, port: int) -> tuple[ProxyDecision, list[rules.IPAddress]]:
        name = normalise_host(host)
        verdict = rules.decide_host(name, port, self.policy)
        if not verdict.allowed:
            return ProxyDecision(name, port, False, verdict.rule, verdict.reason), []
        literal = rules.ip_literal(name)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                loop = asyncio.get_running_loop()
                found = await asyncio.wait_for(
                    loop.run_in_executor(None, self.resolver, name, port), self.connect_timeout
                )
                addresses = []
                for text in found:
                    address = ipaddress.ip_address(str(text).split("%", 1)[0])
                    if address not in addresses:
                        addresses.append(address)
            except (TimeoutError, OSError, ValueError, UnicodeError) as exc:
                return ProxyDecision(
                    name, port, False, rules.RULE_UNRESOLVED, f"{name} could not be resolved: {exc}"
                ), []
        problem = rules.check_addresses(name, addresses, verdict.pattern)
        if problem:
            bad = next((a for a in addresses if rules.address_problem(a)), None)
            return ProxyDecision(name, port, False, rules.RULE_ADDRESS, problem, str(bad) if bad else None), []
        return ProxyDecision(name, port, True, verdict.rule, verdict.reason), addresses

    async def _pipe(
        self,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        loop = asyncio.get_running_loop()
        last = [loop.time()]

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while True:
                    data = await src.read(65536)
                    if not data:
                        break
                    last[0] = loop.time()
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                return
            try:
                if dst.can_write_eof():
                    dst.write_eof()
            except OSError:
                pass

        upward = asyncio.create_task(copy(client_reader, up_writer))
        downward = asyncio.create_task(copy(up_reader, client_writer))
        try:
            # Done when the upstream side has said all it will (the client may have half-closed
            # long before), or when nothing has moved for idle_timeout seconds.
            while not downward.done():
                remaining = self.idle_timeout - (loop.time() - last[0])
                if remaining <= 0:
                    log.info("egress tunnel idle for %.0fs; closed", self.idle_timeout)
                    break
                await asyncio.wait({downward}, timeout=remaining)
        finally:
            for task in (upward, downward):
                task.cancel()
            await asyncio.gather(upward, downward, return_exceptions=True)


def _origin_request(
    method: str, path: str, version: str, host: str, port: int, headers: list[tuple[str, str]]
) -> bytes:
    """The request as the origin server should see it: origin-form target, no hop-by-hop or
    proxy headers, the Host of the checked target, and one request per connection."""
    listed = {h.strip().lower() for name, value in headers if name.lower() == "connection" for h in value.split(",")}
    authority = f"[{host}]" if ":" in host else host
    if port != 80:
        authority += f":{port}"
    out = [f"{method} {path} {version}", f"Host: {authority}"]
    for name, value in headers:
        lower = name.lower()
        if lower in _HOP_BY_HOP or lower in listed or lower == "host":
            continue
        out.append(f"{name}: {value}")
    out.append("Connection: close")
    return ("\r\n".join(out) + "\r\n\r\n").encode("ascii")
