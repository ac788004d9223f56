"""Wildcards over a public suffix are refused when the policy loads (`policy/validate.py`)."""

from __future__ import annotations

import pytest

from sandgate.policy.validate import parse_policy


def errors_for(host: str, key: str = "allow_hosts") -> list[str]:
    _, errors = parse_policy(f'version = 1\n[network]\n{key} = ["{host}"]\n', "p.toml")
    return [str(e) for e in errors]


@pytest.mark.parametrize(
    ("host", "suffix"),
    [("*.co.uk", "co.uk"), ("*.com.au", "com.au"), ("*.github.io", "github.io"), ("*.CO.UK", "co.uk")],
)
def test_a_wildcard_over_a_two_level_public_suffix_is_refused(host, suffix):
    assert errors_for(host) == [
        f"p.toml:3: network.allow_hosts[0]: {host!r} covers a whole public suffix ({suffix}); "
        f'name a domain under it, e.g. "*.example.{suffix}"'
    ]
    assert len(errors_for(host, "deny_hosts")) == 1


def test_the_top_level_domain_message_is_unchanged():
    assert errors_for("*.com") == [
        "p.toml:3: network.allow_hosts[0]: '*.com' covers a whole top-level domain; name the domain, e.g. \"*.example.com\""
    ]


@pytest.mark.parametrize(
    "host", ["*.example.co.uk", "*.example.com", "*.corp.example", "api.co.uk", "co.uk", "*.bbc.co.uk", "127.0.0.1"]
)
def test_domains_under_a_suffix_are_fine(host):
    assert errors_for(host) == []
