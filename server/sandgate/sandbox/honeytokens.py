"""Honeytokens: fake values for the secrets code goes looking for, new for every run.

Each run gets environment variables (cloud keys, tokens, passwords) and files at the usual places
under the sandbox's home (~/.aws/credentials, ~/.ssh/id_*, ~/.netrc, ~/.docker/config.json,
~/.config/gcloud…), every value carrying one random marker. Around them the home looks lived in
(`ORDINARY_DIRS`, `ORDINARY_FILES`: ~/.cache, ~/.local/share, a ~/.bashrc…), so code that checks it
is on a real developer's machine before it looks for secrets finds one; those are not honeytokens
(reading them is no finding of this module). A pooled sandbox gets its own when it
is made: the supervisor hands them to the bootstrap with the monitor's filter, and the bootstrap
plants them before it arms the monitor, so none of it is on the run's time or in its record
(`preplanted`). A sandbox made without a supervisor (a remote engine) plants them when the
program arrives (header "honey"). Either way each sandbox, and so each marker, serves one run. After the run the marker is looked for on the host side,
wherever the code could have sent it: the supervisor's record (a process's arguments, a path
written outside scratch), the egress proxy's decisions (a host) and the in-process events (a name
looked up, a call of a stand-in network client). The record and the proxy are out of the
program's reach; the in-process events add what only Python sees (name look-ups go nowhere).

Pure, apart from `new()`'s randomness. Findings never carry a value, only its name.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass, replace
from typing import Any

from sandgate.sandbox import protocol

# Environment variables code reads for credentials; each value is built around the marker.
ENV_NAMES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "SLACK_BOT_TOKEN",
    "STRIPE_SECRET_KEY",
    "NPM_TOKEN",
    "DATABASE_URL",
    "DB_PASSWORD",
    "SECRET_KEY",
    "API_KEY",
    "API_TOKEN",
    "GOOGLE_API_KEY",
    "AZURE_CLIENT_SECRET",
)
# Files under the sandbox's home.
FILE_NAMES = (
    ".aws/credentials",
    ".aws/config",
    ".ssh/id_rsa",
    ".ssh/id_ed25519",
    ".netrc",
    ".git-credentials",
    ".docker/config.json",
    ".config/gcloud/application_default_credentials.json",
    ".pypirc",
    ".kube/config",
    ".npmrc",
)
# What any developer's home has, planted with the honeytokens (cheap: empty folders and a few short
# files), so `if not (Path.home() / ".cache").exists(): return` does not tell the sandbox apart.
ORDINARY_DIRS = (".cache", ".config", ".local", ".local/bin", ".local/share", ".local/state")
ORDINARY_FILES = {
    ".bashrc": "# ~/.bashrc\ncase $- in *i*) ;; *) return;; esac\nHISTCONTROL=ignoreboth\nalias ll='ls -alF'\n",
    ".profile": '# ~/.profile\nif [ -d "$HOME/.local/bin" ]; then PATH="$HOME/.local/bin:$PATH"; fi\n',
    ".gitconfig": "[user]\n\tname = Dev\n\temail = dev@example.com\n[init]\n\tdefaultBranch = main\n",
}


@dataclass(frozen=True)
class Honey:
    """One run's honeytokens. `marker`: 16 lowercase hex digits, in every value."""

    marker: str
    env: tuple[tuple[str, str], ...]
    # (absolute path inside the sandbox, content), in the order the bootstrap writes them: the
    # honeyfiles, then the ordinary files (`ordinary`).
    files: tuple[tuple[str, str], ...]
    # Folders the bootstrap makes first (each with one mkdir), parents before children.
    dirs: tuple[str, ...]
    # Planted when the sandbox was made, before its monitor was armed: nothing of the planting is
    # in the run's record.
    preplanted: bool = False
    # The absolute paths of `files` that are an ordinary home's, not honeytokens.
    ordinary: frozenset[str] = frozenset()

    def header(self) -> dict[str, Any]:
        return {"env": dict(self.env), "files": [list(f) for f in self.files], "dirs": list(self.dirs)}

    @property
    def paths(self) -> frozenset[str]:
        """The honeyfiles' paths (not the ordinary files')."""
        return frozenset(path for path, _ in self.files if path not in self.ordinary)

    def needles(self) -> list[str]:
        """What to look for, lowercase: the marker, and each value as base64 and hex (code that
        encodes a secret before it sends it)."""
        # Half the marker (40 random bits) is enough: code often cuts a value short (a DNS label).
        out = {self.marker, self.marker[:10], self.marker[-10:]}
        for _, value in self.env:
            raw = value.encode()
            out.add(base64.b64encode(raw).decode().rstrip("=").lower())
            out.add(base64.urlsafe_b64encode(raw).decode().rstrip("=").lower())
            out.add(raw.hex())
        return sorted(out)

    def name_of(self, text: str) -> str | None:
        """The honeytoken `text` carries (a variable's or file's name), or None."""
        low = text.lower()
        for name, value in self.env:
            raw = value.encode()
            forms = (value.lower(), base64.b64encode(raw).decode().rstrip("=").lower(), raw.hex())
            if any(f in low for f in forms):
                return name
        return "a planted secret" if any(n in low for n in self.needles()) else None


def _values(m: str) -> dict[str, str]:
    up = m.upper()
    return {
        "AWS_ACCESS_KEY_ID": "AKIA" + up,
        "AWS_SECRET_ACCESS_KEY": f"wJalrXUt{m}nFEMI/K7MDENG/bPxRfiCY{up[:8]}",
        "AWS_SESSION_TOKEN": f"IQoJb3JpZ2luX2Vj{m}EJ7//////////wEaCXVzLWVhc3QtMSJH",
        "GITHUB_TOKEN": f"ghp_{m}Zx9Qk3Lm0PaRt7Wv2",
        "GH_TOKEN": f"gho_{m}Hq4Tn8Bv6Jc1Xy5Ds",
        "OPENAI_API_KEY": f"sk-proj-{m}T3BlbkFJ{up}",
        "ANTHROPIC_API_KEY": f"sk-ant-api03-{m}-Qw8RtY2uI",
        "SLACK_BOT_TOKEN": f"xoxb-2049-{m}-Kp3Vd8Rw",
        "STRIPE_SECRET_KEY": f"sk_live_{m}51HqLwQ",
        "NPM_TOKEN": f"npm_{m}Rk2Wq8Lz0Tn5Vx",
        "DATABASE_URL": f"postgresql://app:pw{m}@db.internal:5432/app",
        "DB_PASSWORD": f"pw{m}!Qz",
        "SECRET_KEY": f"django-insecure-{m}-k3w9",
        "API_KEY": f"key_{m}Lq7",
        "API_TOKEN": f"tok_{m}Vn2",
        "GOOGLE_API_KEY": f"AIzaSy{m}Dw3Kq9Lp0Xz7Rt5Vn",
        "AZURE_CLIENT_SECRET": f"Az8Q~{m}.Kd3Lw",
    }


def _files(m: str, v: dict[str, str]) -> dict[str, str]:
    # The marker in the key's text itself (hex is base64's alphabet): any slice of a line holds it.
    body = ("b3BlbnNzaC1r" + m + "ZXktdjEAAAAA") * 12
    lines = [body[i : i + 70] for i in range(0, len(body), 70)]
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END OPENSSH PRIVATE KEY-----\n"
    return {
        ".aws/credentials": (
            f"[default]\naws_access_key_id = {v['AWS_ACCESS_KEY_ID']}\n"
            f"aws_secret_access_key = {v['AWS_SECRET_ACCESS_KEY']}\n"
        ),
        ".aws/config": f"[default]\nregion = us-east-1\n# {m}\n",
        ".ssh/id_rsa": pem,
        ".ssh/id_ed25519": pem,
        ".netrc": f"machine api.github.com\n  login deploy\n  password {v['GITHUB_TOKEN']}\n",
        ".git-credentials": f"https://deploy:{v['GH_TOKEN']}@github.com\n",
        ".docker/config.json": json.dumps(
            {"auths": {"registry.example.com": {"auth": base64.b64encode(f"ci:{m}".encode()).decode()}}}
        ),
        ".config/gcloud/application_default_credentials.json": json.dumps(
            {"type": "authorized_user", "client_id": f"{m}.apps", "client_secret": f"GOCSPX-{m}", "refresh_token": m}
        ),
        ".pypirc": f"[pypi]\nusername = __token__\npassword = pypi-{m}\n",
        ".kube/config": f"apiVersion: v1\nusers:\n- name: admin\n  user:\n    token: {m}\n",
        ".npmrc": f"//registry.npmjs.org/:_authToken={v['NPM_TOKEN']}\nalways-auth=true\n",
    }


def new(preplanted: bool = False) -> Honey:
    marker = secrets.token_hex(8)
    values = _values(marker)
    contents = _files(marker, values)
    files = tuple((f"{protocol.HOME}/{name}", contents[name]) for name in FILE_NAMES)
    ordinary = tuple((f"{protocol.HOME}/{name}", text) for name, text in ORDINARY_FILES.items())
    dirs: list[str] = []
    for name in (*FILE_NAMES, *(f"{d}/" for d in ORDINARY_DIRS)):
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = f"{protocol.HOME}/" + "/".join(parts[:i])
            if d not in dirs:
                dirs.append(d)
    return Honey(
        marker,
        tuple((n, values[n]) for n in ENV_NAMES),
        files + ordinary,
        tuple(dirs),
        preplanted,
        frozenset(path for path, _ in ordinary),
    )


def _planted(honey: Honey) -> dict[tuple[str, str], int]:
    """What the bootstrap's planting leaves in the supervisor's record: (kind/op, path) -> count."""
    out: dict[tuple[str, str], int] = {}
    if honey.preplanted:
        return out  # planted before the monitor was armed: nothing to take out
    for d in honey.dirs:
        out[("mkdir", d)] = 1
    for path, _ in honey.files:  # the ordinary files too: the same planting
        out[("open-write", path)] = 1
    return out


def without_planting(outside: Any, honey: Honey | None) -> Any:
    """The supervisor's record less the bootstrap's own planting (one mkdir per folder, one open
    per file; the record counts repeats, so the program's own writes to the same paths stay)."""
    if honey is None or outside is None or getattr(outside, "lost", True):
        return outside
    planted = _planted(honey)
    events = []
    for ev in outside.events:
        kind = ev.get("kind")
        key = (str(ev.get("op")) if kind == "fs-change" else str(kind), str(ev.get("path")))
        take = planted.pop(key, 0)
        if take:
            count = int(ev.get("count") or 1) - take
            if count <= 0:
                continue
            ev = {**ev, "count": count}
        events.append(ev)
    return replace(outside, events=events)


# The hosts each service's credentials are made for. A honeytoken named for a service that reaches
# only that service's hosts, and only as a credential (a header or `auth=` of a network client's
# call), is the code using its key (`secret.use`); anywhere else, or in a URL or body, it leaves.
SERVICE_HOSTS: dict[str, tuple[str, ...]] = {
    "AWS_ACCESS_KEY_ID": ("amazonaws.com", "aws.amazon.com"),
    "AWS_SECRET_ACCESS_KEY": ("amazonaws.com", "aws.amazon.com"),
    "AWS_SESSION_TOKEN": ("amazonaws.com", "aws.amazon.com"),
    "GITHUB_TOKEN": ("github.com", "githubusercontent.com"),
    "GH_TOKEN": ("github.com", "githubusercontent.com"),
    "OPENAI_API_KEY": ("openai.com",),
    "ANTHROPIC_API_KEY": ("anthropic.com",),
    "SLACK_BOT_TOKEN": ("slack.com",),
    "STRIPE_SECRET_KEY": ("stripe.com",),
    "NPM_TOKEN": ("npmjs.org", "npmjs.com"),
    "GOOGLE_API_KEY": ("googleapis.com",),
    "AZURE_CLIENT_SECRET": ("microsoftonline.com", "azure.com", "windows.net"),
}


def belongs(token: str, host: str) -> bool:
    """Whether `host` is one of the hosts the service `token` is named for serves (the domain or
    a name under it)."""
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in SERVICE_HOSTS.get(token, ()))


def _used(ev: dict[str, Any], text: str, token: str, honey: Honey) -> bool:
    """A stand-in network call that carries `token` only as a credential, to its own service's hosts."""
    auth = [str(a) for a in ev.get("auth") or ()]
    hosts = url_hosts(text)
    if not auth or not hosts or not all(belongs(token, h) for h in hosts):
        return False
    rest = text
    for part in auth:
        rest = rest.replace(part, "")
    return honey.name_of(rest) is None and any(honey.name_of(part) == token for part in auth)


# Modules whose stand-in calls (bootstrap.py, node_bootstrap.js) would have gone to the network.
NETWORK_CLIENTS = frozenset(
    ("requests", "httpx", "aiohttp", "urllib3", "boto3", "botocore", "paramiko", "websocket", "websockets", "pycurl")
    + ("axios", "node-fetch", "got", "superagent", "request", "needle", "undici", "ws", "ssh2", "cross-fetch")
    + ("isomorphic-fetch", "ky", "phin", "socket.io-client", "nodemailer", "mqtt")
)
# npm scopes whose every package is a network client (the AWS SDK's per-service clients).
NETWORK_SCOPES = ("@aws-sdk/", "@google-cloud/", "@azure/")


def network_client(what: str) -> bool:
    """Whether a stand-in call (`axios.post`, `new ws.WebSocket`, `got`) is of a network client's module."""
    name = what[4:] if what.startswith("new ") else what
    if name.startswith(NETWORK_SCOPES) or name.split(".")[0] in NETWORK_CLIENTS:
        return True
    return any(name.startswith((c + ".", c + "(")) or name == c for c in NETWORK_CLIENTS if "." in c)


_URLISH = re.compile(r"[a-z][a-z0-9+.-]*://([^/\s'\"?#:@]+@)?([^/\s'\"?#:]+)", re.IGNORECASE)


def _where(ev: dict[str, Any], outside: bool) -> tuple[str, str] | None:
    """(what the sink is, the text to search) of an event the marker could leave through."""
    kind = ev.get("kind")
    if kind in ("connect", "dns"):
        return ("a connection to" if kind == "connect" else "a name look-up of") + " a host", str(ev.get("host", ""))
    if kind in ("spawn", "execve"):
        return "a process's arguments", " ".join(str(a) for a in ev.get("argv") or []) + " " + str(ev.get("path", ""))
    if kind in ("open-write", "fs-change") and not ev.get("in_scratch"):
        return "a path written outside scratch", str(ev.get("path", ""))
    if kind == "egress":
        return "the egress proxy", f"{ev.get('host', '')} {ev.get('path', '')} {ev.get('target', '')}"
    if kind == "standin-call" and network_client(str(ev.get("what", ""))):
        # With the start of each file it was handed: a secret staged in a file, then sent.
        files = " ".join(str(f) for f in ev.get("files") or ())
        return f"{ev.get('what')}() (a network client the sandbox stood in for)", f"{ev.get('args', '')} {files}"
    del outside
    return None


def hits(events: list[dict[str, Any]], outside_events: list[dict[str, Any]], honey: Honey | None) -> list[dict]:
    """Where a honeytoken left the run: [{"token", "sink", "seen_by", "in", "line"}], one per
    (token, sink); "use": True (and "hosts") where it went only as a credential to its own service's
    hosts (`SERVICE_HOSTS`). Run on the events before they are redacted."""
    if honey is None:
        return []
    found: dict[tuple[str, str], dict] = {}
    for seen_by, evs in (("the program", events), ("the supervisor", outside_events)):
        for ev in evs:
            where = _where(ev, seen_by == "the supervisor")
            if where is None:
                continue
            sink, text = where
            token = honey.name_of(text)
            if token is None:
                continue
            use = ev.get("kind") == "standin-call" and _used(ev, text, token, honey)
            hit = {"token": token, "sink": sink, "seen_by": seen_by, "in": ev.get("in"), "line": ev.get("line") or 0}
            if use:
                hit["use"] = True
                hit["hosts"] = sorted(set(url_hosts(text)))
            key = (token, sink)
            # One per (token, sink); a leak outranks a use of the same token through the same sink.
            if key not in found or (found[key].get("use") and not use):
                found[key] = hit
    return list(found.values())


def reads(events: list[dict[str, Any]], outside_events: list[dict[str, Any]], honey: Honey | None) -> list[dict]:
    """Honeyfiles opened for reading (either account) and honey variables read (in-process):
    [{"token", "kind", "in", "line"}]."""
    if honey is None:
        return []
    out: dict[str, dict] = {}
    paths = honey.paths
    for ev in [*events, *outside_events]:
        kind = ev.get("kind")
        if kind == "open-read" and str(ev.get("path")) in paths:
            name = "~/" + str(ev["path"])[len(protocol.HOME) + 1 :]
            out.setdefault(name, {"token": name, "kind": "file", "in": ev.get("in"), "line": ev.get("line") or 0})
        elif kind == "honey-env":
            name = "$" + str(ev.get("name"))
            out.setdefault(name, {"token": name, "kind": "env", "in": ev.get("in"), "line": ev.get("line") or 0})
    return list(out.values())


def url_hosts(text: str) -> list[str]:
    """Hosts of the URLs in `text` (a stand-in call's arguments)."""
    return [m.group(2).lower() for m in _URLISH.finditer(text)]


def of(result: Any, request: Any) -> Honey | None:
    """The honeytokens a run had: those its sandbox was made with, else those it asked for."""
    planted = getattr(result, "honey", None)
    return planted if planted is not None else getattr(request, "honey", None)


def with_hits(result: Any, honey: Honey | None) -> Any:
    """`result` (a RunResult) with `honey_hits` filled in; call before redacting it."""
    outside = without_planting(result.outside, honey)
    events = list(outside.events) if outside is not None and not outside.lost else []
    return replace(result, honey_hits=hits(result.events, events, honey))
