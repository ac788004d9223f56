"""`host:port` entries in [network]: the schema admits them, the managed layer compares them by
what they allow, and the static host check matches a literal host whatever the entry's port."""

from __future__ import annotations

import pytest

from sandgate.policy.hosts import covers, host_allowed
from sandgate.policy.load import load_effective
from sandgate.policy.model import NetworkPolicy


def managed(monkeypatch, tmp_path, text: str) -> None:
    path = tmp_path / "managed.toml"
    path.write_text(text)
    monkeypatch.setenv("SANDGATE_MANAGED_POLICY", str(path))


def test_policy_files_may_name_ports(workspace):
    (workspace / ".sandgate" / "policy.toml").write_text(
        'version = 1\n[network]\nallow_hosts = ["127.0.0.1:8080", "api.example.com"]\ndeny_hosts = ["api.example.com:8443"]\n'
    )
    loaded = load_effective(workspace)
    assert loaded.ok, loaded.errors
    assert loaded.policy.network.allow_hosts == ("127.0.0.1:8080", "api.example.com")
    assert loaded.policy.network.deny_hosts == ("api.example.com:8443",)


@pytest.mark.parametrize(
    ("managed_entry", "lower", "covered"),
    [
        ("*.corp.example", "api.corp.example", True),
        ("*.corp.example", "api.corp.example:443", True),  # a bare entry allows 80 and 443
        ("*.corp.example", "api.corp.example:8080", False),  # ...and no other port
        ("*.corp.example", "*.eu.corp.example", True),
        ("*.corp.example", "corp.example", False),  # *.domain covers subdomains only
        ("api.corp.example", "api.corp.example:80", True),
        ("api.corp.example:8080", "api.corp.example:8080", True),
        ("api.corp.example:8080", "api.corp.example", False),  # 80 and 443 are not 8080
        ("api.corp.example:8080", "api.corp.example:9090", False),
        ("127.0.0.1:8080", "127.0.0.1:8080", True),
        ("127.0.0.1", "127.0.0.1:99999", False),  # a malformed port never widens anything
    ],
)
def test_managed_host_coverage_understands_ports(managed_entry, lower, covered):
    assert covers(managed_entry, lower) is covered


def test_managed_layer_keeps_only_covered_host_port_entries(monkeypatch, tmp_path, workspace):
    managed(monkeypatch, tmp_path, 'version = 1\n[network]\nallow_hosts = ["*.corp.example", "127.0.0.1:8080"]\n')
    (workspace / ".sandgate" / "policy.toml").write_text(
        'version = 1\n[network]\nallow_hosts = ["api.corp.example:443", "api.corp.example:8080", '
        '"127.0.0.1:8080", "127.0.0.1:9090"]\n'
    )
    loaded = load_effective(workspace)
    assert loaded.policy.network.allow_hosts == ("api.corp.example:443", "127.0.0.1:8080")
    refused = {r.key: r.message for r in loaded.refusals}
    assert refused["network.allow_hosts"].startswith('["api.corp.example:8080", "127.0.0.1:9090"] is looser')


def test_model_endpoints_still_compare_as_url_patterns(monkeypatch, tmp_path, workspace):
    managed(monkeypatch, tmp_path, 'version = 1\n[network]\nmodel_endpoints = ["http://127.0.0.1:*"]\n')
    (workspace / ".sandgate" / "policy.toml").write_text(
        'version = 1\n[network]\nmodel_endpoints = ["http://127.0.0.1:11434/v1"]\n'
    )
    assert load_effective(workspace).policy.network.model_endpoints == ("http://127.0.0.1:11434/v1",)


def test_static_host_check_matches_a_literal_whatever_the_port():
    network = NetworkPolicy(
        allow_hosts=("127.0.0.1:8080", "*.corp.example:8443", "api.example.com"),
        deny_hosts=("bad.corp.example", "api.example.com:8443"),
    )
    assert host_allowed("127.0.0.1", network)
    assert host_allowed("x.corp.example", network)
    assert not host_allowed("bad.corp.example", network)  # deny without a port: every port
    assert host_allowed("api.example.com", network)  # deny with a port leaves the others open
    assert not host_allowed("10.0.0.1", network)
