"""The bootstrap compiled once by the sandbox's interpreter: bubblewrap loads its code with `-c`, a
Docker container runs it as a .pyc named by a short command; an interpreter with other bytecode
refuses to start it (status 4, as a bootstrap that cannot arm). Real interpreters, the real engine."""

from __future__ import annotations

import subprocess
import time

import docker

from sandgate.sandbox import protocol
from sandgate.sandbox.docker_backend import LABEL_OWNER, DockerBackend
from sandgate.sandbox.docker_spec import BOOTSTRAP_FILE, CONTROL_ADDRESS, CONTROL_INSIDE, ContainerSpec, create_kwargs
from sandgate.sandbox.image import DEFAULT_IMAGE
from tests.sandbox.conftest import FAST

NOT_ARMED = "sandgate: the sandbox monitor could not be armed"


def _start(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, env={})


def test_the_loaded_bootstrap_is_the_bootstrap_and_needs_no_compile():
    compiled = protocol.compiled_bootstrap()
    assert compiled is not None, "the host's interpreter could not compile the bootstrap"
    command = protocol.bootstrap_command()
    assert "marshal.loads" in command and "def _arm" not in command  # code, not source
    # Without a supervisor named, the real bootstrap refuses to run anything: it did start.
    done = _start([protocol.PYTHON, "-I", "-S", "-B", "-c", command])
    assert done.returncode == 4 and NOT_ARMED in done.stderr and "no supervisor was named" in done.stderr


def test_other_bytecode_is_refused_not_run():
    magic, _ = protocol.compiled_bootstrap() or (b"", "")
    forged = protocol.bootstrap_command().replace(repr(magic), repr(b"\x00\x00\r\n"), 1)
    assert forged != protocol.bootstrap_command()
    done = _start([protocol.PYTHON, "-I", "-S", "-B", "-c", forged])
    assert done.returncode == 4 and "compiled for another Python" in done.stderr


def test_the_pyc_runs_by_name(tmp_path):
    pyc = protocol.bootstrap_pyc()
    assert pyc is not None and pyc[:4] == (protocol.compiled_bootstrap() or (b"", ""))[0]
    (tmp_path / BOOTSTRAP_FILE).write_bytes(pyc)
    done = _start([protocol.PYTHON, "-I", "-S", "-B", str(tmp_path / BOOTSTRAP_FILE)])
    assert done.returncode == 4 and "no supervisor was named" in done.stderr


def test_a_containers_command_is_short_and_runs_the_pyc_from_its_control_folder():
    spec = ContainerSpec(DEFAULT_IMAGE, FAST)
    kw = create_kwargs(spec, {}, control_dir="/run/x", bootstrap_file=True)
    assert kw["command"] == [protocol.PYTHON, "-I", "-S", "-B", f"{CONTROL_INSIDE}/{BOOTSTRAP_FILE}", CONTROL_ADDRESS]
    assert sum(len(a) for a in kw["command"]) < 200  # the engine stores and encodes every byte
    # A container per run (a nested container lives on: its agent's command is made once).
    b = DockerBackend(pool_size=1, nested=False)
    try:
        result = b.run(protocol_request())
        assert result.error is None and result.stdout == "ran\n", (result.error, result.stderr)
        # The containers this backend made (the pool refills after the run): the short command.
        deadline, made = time.monotonic() + 20, []
        while not made and time.monotonic() < deadline:
            listed = docker.from_env().containers.list(all=True, filters={"label": f"{LABEL_OWNER}={b._owner}"})
            # This backend's own: the process's other backends (nested ones) share its owner label.
            made = [c for c in listed if c.id in b._hosted]
            time.sleep(0.1)
        assert made
        for container in made:
            assert container.attrs["Config"]["Cmd"][4] == f"{CONTROL_INSIDE}/{BOOTSTRAP_FILE}"
    finally:
        b.close()


def protocol_request():
    from sandgate.sandbox.base import RunRequest

    return RunRequest(code="print('ran')", limits=FAST)
