"""Docker-only promises: remote-engine transfer, orphan reaping, pool hygiene, a missing image."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from sandgate.findings import Verdict
from sandgate.policy.model import SandboxLimits
from sandgate.sandbox import lifecycle
from sandgate.sandbox.base import RunRequest
from sandgate.sandbox.docker_backend import LABEL_OWNER, DockerBackend
from sandgate.sandbox.docker_spec import ContainerSpec, create_kwargs
from sandgate.sandbox.image import DEFAULT_IMAGE
from sandgate.sandbox.run_findings import findings_from_run


def decision_of(findings) -> Verdict:
    from sandgate.policy.evaluate import decide
    from sandgate.policy.load import load_effective

    return decide(load_effective(None, preset="balanced").policy, findings).verdict


FAST = SandboxLimits(wall_time_s=3.0)


def test_a_private_workspace_goes_over_the_api_with_its_modes_and_without_excluded_files(tmp_path):
    ws = tmp_path / "proj"
    ws.mkdir()
    ws.chmod(0o700)  # the sandbox user could not read a bind of it: the view is copied in
    (ws / "helper.py").write_text("VALUE = 'from the tar'\n")
    (ws / "private.py").write_text("TOKEN = 'only the owner reads this'\n")
    (ws / "private.py").chmod(0o600)
    (ws / ".env").write_text("API_KEY=sk-live-0123456789abcdef\n")
    (ws / ".env").chmod(0o644)
    (ws / "secrets").mkdir()
    (ws / "secrets" / "db.txt").write_text("hunter2\n")
    (ws / "pkg" / "sub").mkdir(parents=True)
    (ws / "pkg" / "sub" / "deep.py").write_text("DEPTH = 2\n")
    b = DockerBackend(pool_size=1)
    try:
        req = RunRequest(
            code=textwrap.dedent("""
            import helper, os
            from pkg.sub import deep
            print(helper.VALUE, deep.DEPTH, oct(os.stat("/workspace/pkg/sub").st_mode & 0o777))
            print(sorted(os.listdir("/workspace")))
            try:
                open("/workspace/private.py").read(); print("READ private")
            except OSError as e:
                print("private", e.errno)
            try:
                open("/workspace/helper.py", "a")
            except OSError as e:
                print("ro", e.errno)
        """),
            workspace=ws,
            limits=FAST,
            exclude=("**/.env", "**/secrets/**"),
        )
        spec = b.spec_for(req)
        assert spec.workspace is None and spec.workspace_tmpfs  # no bind of the private folder
        result = b.run(req)
        assert result.error is None, result.error
        assert result.stdout == "from the tar 2 0o755\n['helper.py', 'pkg', 'private.py']\nprivate 13\nro 13\n", (
            result.stdout,
            result.stderr,
        )
        assert "fs.write-outside-scratch" in {f.rule for f in findings_from_run(result, req)}
    finally:
        b.close()


def test_a_remote_engine_cannot_be_supervised_so_runs_fail_closed(tmp_path):
    b = DockerBackend(remote=True, pool_size=1)
    try:
        req = RunRequest(code="print('ran')", limits=FAST)
        result = b.run(req)
        assert result.error is None and "ran" not in result.stdout  # the bootstrap ran nothing
        findings = findings_from_run(result, req)
        lost = [f for f in findings if f.rule == "monitor.lost"]
        assert lost and lost[0].severity.name == "HIGH" and "remote" in lost[0].message
        assert decision_of(findings) is Verdict.REVIEW
    finally:
        b.close()


def test_runs_share_no_state():
    b = DockerBackend(pool_size=2)
    try:
        first = b.run(RunRequest(code="open('/tmp/mark','w').write('x'); import os; print(os.getpid())", limits=FAST))
        second = b.run(RunRequest(code="import os; print(os.path.exists('/tmp/mark'))", limits=FAST))
        assert first.error is None and second.stdout == "False\n"
    finally:
        b.close()
    mine = b.client.api.containers(all=True, filters={"label": f"{LABEL_OWNER}={b._owner}"})
    # Only containers other live backends of this process hold (their pools) may remain.
    assert all(lifecycle.is_live(f"docker:{c['Id']}") for c in mine)


def test_orphans_of_a_killed_sandgate_are_reaped():
    # A child Sandgate starts a pooled container, then dies by SIGKILL with its supervisor (which
    # would otherwise remove the container itself): no cleanup at all.
    script = textwrap.dedent("""
        import os, signal
        from sandgate.sandbox import supervision
        from sandgate.sandbox.docker_backend import DockerBackend
        from sandgate.sandbox.base import RunRequest
        b = DockerBackend(pool_size=1)
        c = b._start_container(b.spec_for(RunRequest(code="")))
        print(c.id, flush=True)
        os.kill(supervision.shared().pid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    cid = out.stdout.strip()
    assert cid, out.stderr
    b = DockerBackend(pool_size=1)
    try:
        assert cid in {c["Id"] for c in b.client.api.containers(all=True, filters={"label": "sandgate"})}
        assert b.reap_orphans() >= 1
        assert cid not in {c["Id"] for c in b.client.api.containers(all=True, filters={"label": "sandgate"})}
    finally:
        b.close()


def test_sigterm_cleans_up_live_containers():
    script = textwrap.dedent("""
        import os, signal, time
        from sandgate.sandbox.docker_backend import DockerBackend
        from sandgate.sandbox.base import RunRequest
        b = DockerBackend(pool_size=1)
        c = b._start_container(b.spec_for(RunRequest(code="")))
        print(c.id, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    cid = proc.stdout.readline().strip()
    proc.terminate()
    proc.wait(timeout=30)
    b = DockerBackend()
    assert cid and cid not in {c["Id"] for c in b.client.api.containers(all=True, filters={"label": "sandgate"})}


def test_missing_image_gives_a_clear_error():
    b = DockerBackend(image="sandgate-no-such-image:0", pool_size=1)
    try:
        result = b.run(RunRequest(code="print(1)", limits=FAST))
        assert result.error and "sandgate-no-such-image" in result.error
        assert [f.rule for f in findings_from_run(result, RunRequest(code=""))] == ["backend.error"]
    finally:
        b.close()


def test_image_is_built_from_this_machine():
    b = DockerBackend()
    img = b.client.images.get(DEFAULT_IMAGE)
    assert img.labels.get("sandgate.runtime")
    kwargs = create_kwargs(ContainerSpec(DEFAULT_IMAGE, FAST), {}, control_dir="/run/x")
    assert not any(p.startswith("/root") for p in kwargs["command"][:1])
    assert os.path.exists("/usr/bin/python3")


def test_a_project_in_a_private_folder_is_bind_mounted(tmp_path):
    # tmp_path is 0700, like a home directory; the project folder in it is 0755.
    assert tmp_path.stat().st_mode & 0o077 == 0
    ws = tmp_path / "project"
    ws.mkdir(mode=0o755)
    ws.chmod(0o755)
    (ws / "helper.py").write_text("VALUE = 41\n")
    (ws / "helper.py").chmod(0o644)
    b = DockerBackend(pool_size=0)
    try:
        request = RunRequest(code="import helper\nprint(helper.VALUE + 1)\n", workspace=ws, limits=FAST)
        assert b.spec_for(request).workspace_tmpfs is False  # bound, not copied on every run
        result = b.run(request)
        assert result.error is None and result.stdout == "42\n", (result.error, result.stderr)
    finally:
        b.close()
