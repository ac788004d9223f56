"""What leaves for the model: allowed endpoints only, no excluded file, no secret."""

from __future__ import annotations

import json

import httpx
import pytest

from sandgate.checks.redaction import redact_context
from sandgate.checks.secrets import find_secrets
from sandgate.policy.model import FilesPolicy, NetworkPolicy
from sandgate.provider.guard import endpoint_allowed, guard_document, is_excluded
from sandgate.workspace_globs import glob_regex

AWS = "AKIAIOSFODNN7EXAMPLQ"
GITHUB = "ghp_1234567890abcdefghijABCDEFGHIJ123456"
PASSWORD = "Zx9#kq2LmP4v!Tr8"
STRIPE = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
PEM_BODY = "MIIEpAIBAAKCAQEA1234567890abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
SEEDED = f'''import boto3
AWS_KEY = "{AWS}"
gh = "{GITHUB}"
db_password = "{PASSWORD}"
again = AWS_KEY or "{AWS}"; twice = ("{AWS}", "{AWS}")
key = """-----BEGIN RSA PRIVATE KEY-----
{PEM_BODY}
bodylinebodylinebodyline
-----END RSA PRIVATE KEY-----"""
stripe = "{STRIPE}"
def f(x):
    return x + 1
'''
SECRETS = (AWS, GITHUB, PASSWORD, STRIPE, PEM_BODY, "bodylinebodylinebodyline")


# -- redaction ----------------------------------------------------------------------------------


def test_every_seeded_secret_is_redacted_with_a_named_placeholder():
    text, count = redact_context(SEEDED)
    for secret in SECRETS:
        assert secret not in text
    assert 'AWS_KEY = "<redacted:aws-access-key>"' in text
    assert 'gh = "<redacted:github-token>"' in text
    assert 'db_password = "<redacted:hardcoded-secret>"' in text
    assert 'key = """<redacted:private-key>"""' in text
    assert 'twice = ("<redacted:aws-access-key>", "<redacted:aws-access-key>")' in text
    # 4 AWS occurrences, GitHub, password, Stripe, the key block.
    assert count == 8
    # What is not a secret is untouched, and the checks find nothing left.
    assert "def f(x):\n    return x + 1\n" in text and text.startswith("import boto3\n")
    assert find_secrets(text) == []


def test_text_without_secrets_is_unchanged():
    text = 'password = "your-password"\nname = "AKIA"\nprint("hello")\n'
    assert redact_context(text) == (text, 0)


def test_an_unterminated_key_block_is_redacted_to_the_end():
    text, count = redact_context(f"x = 1\n-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}\nmore")
    assert text == "x = 1\n<redacted:private-key>" and count == 1


# -- exclusion ----------------------------------------------------------------------------------

BALANCED = FilesPolicy(
    exclude=("**/.env", "**/.env.*", "**/*.pem", "**/*.key", "**/id_rsa*", "**/.aws/**", "**/.ssh/**", "**/secrets/**")
)


@pytest.mark.parametrize(
    ("relpath", "pattern"),
    [
        (".env", "**/.env"),
        ("app/.env", "**/.env"),
        ("a/b/c/.env", "**/.env"),
        ("a/.env.local", "**/.env.*"),
        ("cert.pem", "**/*.pem"),
        ("deep/er/cert.PEM", "**/*.pem"),  # case does not let a file through
        ("home/.ssh/id_rsa", "**/id_rsa*"),
        (".aws/credentials", "**/.aws/**"),
        ("x/.aws/config", "**/.aws/**"),
        ("secrets/db.py", "**/secrets/**"),
        ("svc/secrets/sub/db.py", "**/secrets/**"),
        ("./app/../.env", "**/.env"),
        ("app\\.env", "**/.env"),
        (".env.py", "**/.env.*"),
        ("env/x.py", None),
        ("src/env.py", None),
        ("src/secrets.py", None),
        ("src/pem.py", None),
        ("notsecrets/x.py", None),
    ],
)
def test_preset_exclusions(relpath, pattern):
    assert is_excluded(relpath, BALANCED) == pattern


@pytest.mark.parametrize(
    ("exclude", "relpath", "excluded"),
    [
        ("*.pem", "a/b/c.pem", True),  # no slash: the name, at any depth
        ("/*.pem", "a/b/c.pem", False),  # anchored to the root
        ("/*.pem", "c.pem", True),
        ("config/*.yaml", "config/prod.yaml", True),
        ("config/*.yaml", "config/sub/prod.yaml", False),  # `*` stays within a segment
        ("config/**/*.yaml", "config/sub/deep/prod.yaml", True),
        ("config/**/*.yaml", "config/prod.yaml", True),  # `**` matches no segment too
        ("private", "private/notes.md", True),  # a matching directory excludes what is in it
        ("build/", "build/out.txt", True),
        ("build/", "build", False),  # trailing slash: directories only
        ("data/*/raw", "data/2024/raw/file.csv", True),
        ("key?.txt", "key1.txt", True),
        ("key?.txt", "key10.txt", False),
        ("[ab].txt", "a.txt", True),
        ("[!ab].txt", "a.txt", False),
        ("[!ab].txt", "c.txt", True),
    ],
)
def test_glob_semantics(exclude, relpath, excluded):
    assert (is_excluded(relpath, FilesPolicy(exclude=(exclude,))) == exclude) is excluded


def test_glob_regex_double_star_crosses_directories_and_single_star_does_not():
    assert glob_regex("**/x").match("a/b/c/x") and glob_regex("**/x").match("x")
    assert glob_regex("a/**").match("a/b/c")
    assert not glob_regex("*/x").match("a/b/x")
    assert glob_regex("a/**/b").match("a/b") and glob_regex("a/**/b").match("a/1/2/b")
    assert not glob_regex("a/**/b").match("ab")


def test_nothing_is_excluded_by_an_empty_list():
    assert is_excluded(".env", FilesPolicy()) is None


def test_guard_document_withholds_excluded_files_and_redacts_the_rest():
    held = guard_document("conf/.env", f"KEY={AWS}", BALANCED)
    assert held.text is None and held.excluded_by == "**/.env"
    assert held.status == "no suggestions here: files.exclude '**/.env' keeps this file from the model"
    sent = guard_document("app.py", SEEDED, BALANCED)
    assert sent.excluded_by is None and sent.redactions == 8 and AWS not in sent.text
    assert sent.status == "8 secrets redacted before the request left"
    assert guard_document("app.py", "x = 1\n", BALANCED).status is None


# -- endpoints ----------------------------------------------------------------------------------

PRESET = NetworkPolicy(
    model_endpoints=("https://api.openai.com/*", "http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")
)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.openai.com/v1", True),
        ("HTTPS://API.OPENAI.COM/v1", True),
        ("http://127.0.0.1:8080/v1", True),
        ("http://localhost:11434/v1", True),
        ("http://[::1]:8000/v1", True),  # fnmatch would read `[::1]` as a character class
        ("http://api.openai.com/v1", False),  # scheme matters
        ("https://api.openai.com:443/v1", True),  # https's own port, spelled out
        ("https://api.openai.com:443/v1#x", True),
        ("https://api.openai.com:8443/v1", False),
        ("https://api.openai.com:443@evil.example/v1", False),
        ("http://api.openai.com:443/v1", False),
        ("https://api.openai.com.evil.example/v1", False),
        ("https://evil.example/api.openai.com/v1", False),
        ("http://127.0.0.1:80@evil.example/v1", False),  # userinfo trick: the host is evil.example
        ("http://user:pw@127.0.0.1:8080/v1", False),  # credentials never in the URL
        ("http://127.0.0.1:8080.evil.example/v1", False),
        ("http://10.0.0.1:8080/v1", False),
        ("ftp://127.0.0.1:21/", False),
        ("not a url", False),
    ],
)
def test_endpoint_matching(url, allowed):
    ok, message = endpoint_allowed(url, PRESET)
    assert ok is allowed
    assert "network.model_endpoints" in message


def test_endpoint_messages_name_the_rule_and_hide_credentials():
    ok, message = endpoint_allowed("https://api.openai.com/v1", PRESET)
    assert (
        message
        == "model endpoint https://api.openai.com/v1 allowed by network.model_endpoints 'https://api.openai.com/*' (policy)"
    )
    pinned = NetworkPolicy(model_endpoints=("https://llm.corp.example/v1",))
    ok, message = endpoint_allowed("https://api.openai.com/v1", pinned, managed=True)
    assert not ok
    assert message == (
        "model endpoint https://api.openai.com/v1 refused by network.model_endpoints (managed policy); "
        "allowed: https://llm.corp.example/v1"
    )
    ok, message = endpoint_allowed("http://me:hunter22@127.0.0.1:1/v1", PRESET)
    assert not ok and "hunter22" not in message and "credentials" in message
    ok, message = endpoint_allowed("https://api.openai.com:443/v1", PRESET)
    assert ok and message.startswith("model endpoint https://api.openai.com:443/v1 allowed by")
    ok, message = endpoint_allowed("https://api.openai.com/v1", NetworkPolicy())
    assert not ok and "the list is empty" in message


# -- a loopback model server sees nothing it should not ------------------------------------------


def test_a_model_server_never_receives_a_secret_or_an_excluded_file(http_server):
    base_url = f"http://127.0.0.1:{http_server.port}/v1"
    network = NetworkPolicy(model_endpoints=("http://127.0.0.1:*",))
    excluded_text = "EXCLUDED-FILE-CONTENT-" + "7f3a9c"
    workspace = {
        "app.py": SEEDED,
        ".env": f"AWS={AWS}\n{excluded_text}",
        "secrets/db.py": excluded_text,
        "util.py": "def g():\n    return 2\n",
    }
    ok, _ = endpoint_allowed(base_url, network)
    assert ok
    with httpx.Client(trust_env=False) as client:
        for relpath, text in workspace.items():
            guarded = guard_document(relpath, text, BALANCED)
            if guarded.text is None:
                continue  # excluded: no request at all
            body = {"model": "m", "messages": [{"role": "user", "content": guarded.text}]}
            assert client.post(base_url + "/chat/completions", json=body).status_code == 200
    received = [entry["body"].decode() for entry in http_server.seen]
    assert len(received) == 2  # app.py and util.py only
    assert any("def f(x)" in json.loads(b)["messages"][0]["content"] for b in received)
    for raw in received:
        assert excluded_text not in raw
        for secret in SECRETS:
            assert secret not in raw


@pytest.mark.parametrize(
    ("where", "pattern"),
    [
        ("/home/u/.ssh/helper.py", "**/.ssh/**"),
        ("/srv/app/secrets/db.py", "**/secrets/**"),
        ("/home/u/.aws/sub/x.py", "**/.aws/**"),
        ("/tmp/x/proj/.env", "**/.env"),
        ("/tmp/x/server.pem", "**/*.pem"),
        ("C:\\Users\\u\\.ssh\\helper.py", "**/.ssh/**"),
        (("/tmp/tools/helper.py", "/home/u/.ssh/helper.py"), "**/.ssh/**"),  # a link and its target
        ("/srv/app/src/db.py", None),
        ("/srv/notsecrets/db.py", None),
        ("/srv/secrets.py", None),
    ],
)
def test_files_outside_the_workspace_are_matched_by_every_trailing_part(where, pattern):
    assert is_excluded(where, BALANCED) == pattern
    assert (guard_document(where, "x = 1\n", BALANCED).text is None) is (pattern is not None)


def test_a_folder_pattern_outside_the_workspace_matches_as_inside():
    files = FilesPolicy(exclude=("private/", "config/*.yaml"))
    assert is_excluded("/home/u/private/notes.md", files) == "private/"
    assert is_excluded("/home/u/config/prod.yaml", files) == "config/*.yaml"
    assert is_excluded("/home/u/config/sub/prod.yaml", files) is None  # `*` stays within a segment
    assert is_excluded("/home/u/private", files) is None  # directories only
