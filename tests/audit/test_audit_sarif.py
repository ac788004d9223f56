"""SARIF 2.1.0 export: valid against the vendored schema, with provenance in properties."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from sandgate.audit import AuditLog, verify
from sandgate.audit.sarif_export import to_sarif
from sandgate.findings import Level, Origin
from sandgate.report.sarif_report import build_sarif

# jsonschema checks "uri" and "uri-reference" only with an optional package installed;
# these RFC 3986 character-level checks stand in so that the formats are really enforced.
_URI_CHARS = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker()

    @checker.checks("uri-reference")
    def uri_reference(value) -> bool:
        return not isinstance(value, str) or bool(_URI_CHARS.fullmatch(value))

    @checker.checks("uri")
    def uri(value) -> bool:
        return not isinstance(value, str) or (bool(_SCHEME.match(value)) and uri_reference(value))

    return checker


@pytest.fixture
def validator(sarif_schema):
    jsonschema.Draft4Validator.check_schema(sarif_schema)
    return jsonschema.Draft4Validator(sarif_schema, format_checker=_format_checker())


@pytest.fixture
def audited(tmp_path, decision_record, make_finding):
    """A log with held, blocked, approved, discarded and allowed suggestions."""
    path = tmp_path / ".sandgate" / "audit.jsonl"
    log = AuditLog(path)
    secret = make_finding(
        "aws-access-key",
        source="secrets",
        severity=Level.HIGH,
        confidence=Level.MEDIUM,
        message="AWS access key",
        line=4,
        end_line=4,
        col=0,
        end_col=0,
        cwe=798,
        more_info=None,
    )
    runtime = make_finding(
        "network.denied",
        source="sandbox",
        severity=Level.MEDIUM,
        message="connect to example.com:443 denied",
        line=0,
        end_line=0,
        col=0,
        end_col=0,
        cwe=None,
        more_info="not a url",
    )
    mine = make_finding("B105", origin=Origin.DOCUMENT, message="hardcoded password in the user's own code")
    log.append(decision_record(1, "review", file="pkg/my file.py", findings=[make_finding(), secret, mine]))
    log.append(
        {
            "event": "approval",
            "request_id": "req-1",
            "content_sha256": f"{1:064x}",
            "decided_by": "user:alice",
            "decision": "allow",
            "file": "pkg/my file.py",
        }
    )
    log.append(decision_record(2, "block", findings=[runtime]))
    log.append(
        {
            "event": "discard",
            "request_id": "req-2",
            "content_sha256": f"{2:064x}",
            "decided_by": "user:bob",
            "file": "pkg/mod2.py",
        }
    )
    log.append(decision_record(3, "allow"))
    log.append(decision_record(4, "review", model="other-model"))
    return path


def test_export_is_valid_sarif(audited, validator):
    sarif = to_sarif(_records(audited), tool_version="0.1.0", verification=verify(audited).to_json())
    errors = sorted(validator.iter_errors(sarif), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")


def test_results_carry_provenance(audited):
    run = to_sarif(_records(audited), tool_version="0.1.0")["runs"][0]
    results = run["results"]
    # Suggestion 1: B602 and the secret (the user's own B105 is left out); 2: the runtime finding; 4: B602.
    assert [(r["ruleId"], r["properties"]["requestId"]) for r in results] == [
        ("bandit/B602", "req-1"),
        ("secrets/aws-access-key", "req-1"),
        ("sandbox/network.denied", "req-2"),
        ("bandit/B602", "req-4"),
    ]
    first = results[0]["properties"]
    assert first["model"] == "gpt-test" and first["contentSha256"] == f"{1:064x}"
    assert first["decision"] == "review" and first["decidedBy"] == "policy"
    assert first["approver"] == "user:alice" and first["outcome"] == "approved"
    assert first["policyDigest"] == "d" * 64 and first["auditSeq"] == 1 and len(first["auditHash"]) == 64
    blocked = results[2]["properties"]
    assert blocked["decision"] == "block" and blocked["outcome"] == "discarded" and blocked["approver"] is None
    assert results[3]["properties"]["outcome"] == "pending" and results[3]["properties"]["model"] == "other-model"

    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert [run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] for r in results] == [r["ruleId"] for r in results]
    assert "external/cwe/cwe-78" in rules["bandit/B602"]["properties"]["tags"]
    assert rules["bandit/B602"]["helpUri"].startswith("https://")
    assert "helpUri" not in rules["sandbox/network.denied"]  # "not a url" is not passed off as one


def test_locations_map_to_sarif_conventions(audited):
    results = to_sarif(_records(audited), tool_version="0.1.0")["runs"][0]["results"]
    location = results[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "pkg/my%20file.py", "uriBaseId": "%SRCROOT%"}
    # 0-based columns become 1-based.
    assert location["region"] == {"startLine": 2, "endLine": 2, "startColumn": 5, "endColumn": 32}
    assert "region" not in results[2]["locations"][0]["physicalLocation"]  # runtime: no line
    assert results[0]["level"] == "error" and results[2]["level"] == "warning"


def test_document_findings_on_request(audited, validator):
    sarif = to_sarif(_records(audited), tool_version="0.1.0", include_document=True)
    ids = [r["ruleId"] for r in sarif["runs"][0]["results"]]
    assert "bandit/B105" in ids
    assert not list(validator.iter_errors(sarif))


def test_empty_log_is_valid_sarif(tmp_path, validator):
    sarif = to_sarif([], tool_version="0.1.0")
    assert not list(validator.iter_errors(sarif)) and sarif["runs"][0]["results"] == []


def test_the_schema_really_rejects(validator, audited):
    # Guard against a validator that accepts anything.
    sarif = to_sarif(_records(audited), tool_version="0.1.0")
    sarif["runs"][0]["results"][0]["level"] = "fatal"
    assert list(validator.iter_errors(sarif))
    sarif["runs"][0]["results"][0]["level"] = "error"
    sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "pkg/my file.py"
    assert list(validator.iter_errors(sarif))  # an unencoded space is no URI reference
    del sarif["version"]
    assert list(validator.iter_errors(sarif))


def test_vet_and_audit_exports_write_a_finding_alike(make_finding, decision_record, validator):
    # A HIGH finding a policy let through, a runtime finding without a line, and a LOW one: the
    # level follows the severity in both, whatever was decided.
    findings = [
        make_finding(),
        make_finding(
            "network.denied",
            source="sandbox",
            severity=Level.MEDIUM,
            line=0,
            end_line=0,
            col=0,
            end_col=0,
            cwe=None,
            message="connect to example.com:443 denied",
        ),
        make_finding("B404", severity=Level.LOW, message="consider the security of subprocess", cwe=78),
    ]
    vet = build_sarif(
        [
            {
                "path": "pkg/my file.py",
                "decision": "allow",
                "reasons": [],
                "findings": [{**f, "decision": "allow"} for f in findings],
                "content_sha256": f"{1:064x}",
                "policy_digest": "d" * 64,
            }
        ]
    )
    audit = to_sarif([decision_record(1, "allow", file="pkg/my file.py", findings=findings)], tool_version="0.1.0")
    for sarif in (vet, audit):
        assert not list(validator.iter_errors(sarif))

    def alike(sarif):
        run = sarif["runs"][0]
        return (
            [
                (
                    r["ruleId"],
                    r["level"],
                    r["message"],
                    r["locations"],
                    r["partialFingerprints"],
                    run["tool"]["driver"]["rules"][r["ruleIndex"]],
                )
                for r in run["results"]
            ],
            run["tool"]["driver"]["name"],
        )

    assert alike(vet) == alike(audit)
    assert [r["level"] for r in vet["runs"][0]["results"]] == ["error", "warning", "note"]
    assert vet["runs"][0]["results"][0]["properties"]["decision"] == "allow"


def _records(path):
    return [json.loads(line) for line in path.read_bytes().splitlines()]
