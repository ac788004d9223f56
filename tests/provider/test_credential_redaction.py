"""What Sandgate's own checks call a hard-coded credential never reaches the model (review30 3):
`checks.credential_values` through `checks.redaction.redact_context`, and the guard around it.
Values below are random (as a real key is); each test says which form it covers."""

from __future__ import annotations

import pytest

from sandgate.checks.credential_values import credential_values
from sandgate.checks.pack_rules import run_pack
from sandgate.checks.redaction import redact_context
from sandgate.checks.rule_pack import load_pack
from sandgate.lines import split_lines
from sandgate.policy.model import FilesPolicy
from sandgate.provider.guard import guard_completion, guard_document

PW = "6jVnkdCl3tCWzTOnQ8VNrgFpOGjvJMA1n1leiU16"
SK = "Q8VNrgFpOGjvJMA1n1leiU166jVnkdCl3tCWzTOn"
BEARER = "ZTOnQ8VNrgFpOGjvJMA1n1leiU166jVnkdCl3tCW"
REVIEW = (
    "import os\n"
    f'os.environ["DB_PASSWORD"] = "{PW}"\n'
    f'os.environ.setdefault("SECRET_KEY", "{SK}")\n'
    f'H = {{"Authorization": "Bearer {BEARER}"}}\n'
    "\n"
    "def add(a, b):\n"
    "    "
)


def test_the_reviews_credentials_are_redacted_in_place():
    text, count = redact_context(REVIEW)
    assert PW not in text and SK not in text and BEARER not in text
    assert 'os.environ["DB_PASSWORD"] = "<redacted:cred.hardcoded-password>"' in text
    assert 'os.environ.setdefault("SECRET_KEY", "<redacted:cred.hardcoded-password>")' in text
    assert 'H = {"Authorization": "Bearer <redacted:authorization-header>"}' in text
    assert count == 3
    # Lines are kept: what follows each value stays on its line.
    assert split_lines(text)[4:] == split_lines(REVIEW)[4:] and len(split_lines(text)) == len(split_lines(REVIEW))
    # Without the credential detectors (the old behaviour), all three went out whole.
    old, old_count = redact_context(REVIEW, credentials=False)
    assert (old, old_count) == (REVIEW, 0)


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("DB_PASSWORD=hunter22", "hunter22"),  # .env: a password needs no randomness
        ("export API_TOKEN=k8Xq2Lm9vZ4pQw7r", "k8Xq2Lm9vZ4pQw7r"),  # a random value under a name with "token"
        ("SIGNING_KEY=Zt7Hq1mWp4Ls9Xv2Rk8N", "Zt7Hq1mWp4Ls9Xv2Rk8N"),
        ("password: yamlpass1  # prod", "yamlpass1"),  # YAML, a comment after it
        ("  password: Hunter22", "Hunter22"),  # capitalised, but not a type
        ("DATABASE_URL=postgres://app:s3cretpw@db/app", "s3cretpw"),  # the pack's connection-string rule
        ('dsn = "dbname=app user=postgres password=pgpass77 host=db"', "pgpass77"),
        ('db_password = "admin123"', "admin123"),  # what `sandgate vet` calls cred.hardcoded-password
        ('connect(host="db", password="s3cret-Passw0rd")', "s3cret-Passw0rd"),
        ('config.set("auth", "password", "hunter2x")', "hunter2x"),  # a name and its value as arguments
        ('headers["Authorization"] = "Basic dXNlcjpwYXNzd29yZA=="', "dXNlcjpwYXNzd29yZA=="),
        ('curl -H "Authorization: Bearer abc123def456ghi789"', "abc123def456ghi789"),
        ("Authorization: token Zq9Xw8Lk7Mj6Nh5Bg4", "Zq9Xw8Lk7Mj6Nh5Bg4"),  # an HTTP header line
        ('AUTH = "Bearer Rk8NZt7Hq1mWp4Ls9Xv2"', "Rk8NZt7Hq1mWp4Ls9Xv2"),  # a string that starts with its scheme
        ('os.environ["API_TOKEN"] = "Lk7Mj6Nh5Bg4Zq9Xw8"', "Lk7Mj6Nh5Bg4Zq9Xw8"),
    ],
)
def test_credential_forms_are_redacted(line, secret):
    text = f"x = 1\n{line}\ny = 2\n"
    redacted, count = redact_context(text)
    assert secret not in redacted and count >= 1
    assert redacted.startswith("x = 1\n") and redacted.endswith("\ny = 2\n") and redacted.count("\n") == 3


@pytest.mark.parametrize(
    "line",
    [
        "password = get_password()",
        "password = os.environ['DB_PASSWORD']",
        "    conn = connect(password=password, token=token)",
        "    password=password,",
        'headers = {"Authorization": f"Bearer {token}"}',
        'headers = {"Authorization": "Bearer " + token}',
        "headers = {'Authorization': token}",
        'curl -H "Authorization: Bearer $TOKEN"',
        'sort_key = "created_at"',  # a name with "key", a value that is a word
        'cache_key = "user-profile"',
        'PASSWORD_FIELD = "password"',
        "api_key: SecretStr",  # a type, not a value
        "  token: userToken",  # a JavaScript property given a variable
        "password: bytes",
        "def login(password: str, token: Optional[str] = None):",
        'DB_PASSWORD = os.environ["DB_PASSWORD"]',
        "DB_PASSWORD=${DB_PASSWORD}",
        "Basic authentication is described in RFC 7617.",
    ],
)
def test_code_that_names_a_secret_but_holds_none_is_left_alone(line):
    text = f"{line}\n"
    assert redact_context(text) == (text, 0), list(credential_values(text))


def test_a_windows_env_file_is_redacted_too():
    text = "DEBUG=1\r\nDB_PASSWORD=hunter22\r\nexport API_TOKEN=k8Xq2Lm9vZ4pQw7r  # ci\r\n"
    redacted, count = redact_context(text)
    assert "hunter22" not in redacted and "k8Xq2Lm9vZ4pQw7r" not in redacted and count == 2
    assert redacted.count("\r\n") == 3


def _flagged_values(rule_id: str, code: str) -> list[str]:
    pack = load_pack()
    rules = tuple(r for r in pack.rules if r.id == rule_id)
    lines = code.splitlines()
    out = []
    for finding in run_pack(code, pack, rules):
        piece = lines[finding.line - 1][finding.col : finding.end_col]
        out.append(piece)
    return out


@pytest.mark.parametrize("rule_id", ["cred.hardcoded-password", "cred.connection-string"])
def test_whatever_the_pack_calls_a_credential_is_redacted(rule_id):
    """The pack's own examples: every `match` example's flagged literal loses its secret part."""
    (rule,) = [r for r in load_pack().rules if r.id == rule_id]
    assert rule.match
    for example in rule.match:
        flagged = _flagged_values(rule_id, example)
        assert flagged, example
        redacted, count = redact_context(example)
        assert count >= 1 and "<redacted:" in redacted, example
        for piece in flagged:
            assert piece not in redacted, (piece, example)


def test_the_cursor_inside_an_unquoted_secret_keeps_its_line_home():
    head, tail = "hunte", "r22"
    ctx = guard_completion("app.env", f"X=1\nDB_PASSWORD={head}", f"{tail}\nY=2\n", FilesPolicy())
    assert ctx.allowed and ctx.before == "X=1\n" and ctx.after == "\nY=2\n"
    assert ctx.redactions >= 1 and "hunter22" not in ctx.before + ctx.after


def test_the_cursor_right_after_the_equals_sign_keeps_its_line():
    ctx = guard_completion("app.env", "X=1\nAPI_TOKEN=", "\nY=2\n", FilesPolicy())
    assert (ctx.before, ctx.after, ctx.redactions) == ("X=1\nAPI_TOKEN=", "\nY=2\n", 0)


def test_the_cursor_stays_where_it_was_around_a_redacted_value():
    """FIM: the prefix ends at the cursor and keeps its lines; a value before it is replaced on its line."""
    before = f"{REVIEW}return a"
    after = ' + b\n\nTOKEN = "Zt7Hq1mWp4Ls9Xv2Rk8N"\n'
    ctx = guard_completion("calc.py", before, after, FilesPolicy())
    assert ctx.allowed and ctx.before.endswith("def add(a, b):\n    return a") and ctx.after.startswith(" + b\n")
    assert ctx.before.count("\n") == before.count("\n") and ctx.after.count("\n") == after.count("\n")
    assert PW not in ctx.before and "Zt7Hq1mWp4Ls9Xv2Rk8N" not in ctx.after


def test_a_fix_prompt_keeps_the_files_lines():
    doc = REVIEW + "return a + b\n\nDB_PASSWORD=hunter22\n"
    guarded = guard_document("calc.py", doc, FilesPolicy())
    assert guarded.text is not None and "hunter22" not in guarded.text and PW not in guarded.text
    assert len(split_lines(guarded.text)) == len(split_lines(doc)) and guarded.redactions == 4
