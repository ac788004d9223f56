"""Without the `docker` and `otel` extras the code degrades cleanly: the Docker backend's probe
says what to install, and telemetry exports nothing with a warning that says why."""

from __future__ import annotations

import logging
import sys

from sandgate.sandbox.docker_backend import DockerBackend
from sandgate.telemetry.core import DISABLED
from sandgate.telemetry.setup import configure


def test_without_the_docker_sdk_the_probe_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "docker", None)  # import docker → ImportError
    probe = DockerBackend().probe()
    assert probe.available is False
    assert "Docker SDK for Python is not installed" in probe.detail and "sandgate[docker]" in probe.remedy


def test_without_the_opentelemetry_sdk_nothing_is_exported(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.resources", None)
    with caplog.at_level(logging.WARNING, logger="sandgate.telemetry"):
        assert configure(endpoint="http://127.0.0.1:4318") is DISABLED
    assert "sandgate[otel]" in caplog.text
