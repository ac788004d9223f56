"""Hard-coded credentials in any text, as values to keep from the model (`checks.redaction`).

The pack's credential rules are the vocabulary: `cred.hardcoded-password` (`credential-names`:
its names, ignored names and placeholders) and `cred.connection-string` (`credential-strings`:
its patterns). What they call a credential in code, this finds in text, plus the forms a prompt
carries that a finding on a suggestion does not need:

- a string given a name (`password = "…"`, `os.environ["DB_PASSWORD"] = "…"`): the rule's own
  text scan (`pack_rules.named_literals`);
- a name and its value as a call's two arguments (`os.environ.setdefault("SECRET_KEY", "…")`);
- an Authorization header's value (`{"Authorization": "Bearer …"}`, `Authorization: Basic …`);
- an unquoted `NAME=value` or `name: value` line (`.env`, INI, YAML);
- a password in a URL or a connection string.

A name the rule does not list but that says secret, token or key (`API_TOKEN`, `SIGNING_KEY`)
counts when its value looks random (the secrets check's entropy test), so `sort_key = "name"`
stays. Values never span lines: replacing them keeps the text's lines where they were.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from sandgate.checks.pack_rules import credential_literal, named_literals, rule_pattern
from sandgate.checks.rule_pack import PackRule, load_pack
from sandgate.checks.secrets import ENTROPY_THRESHOLD, shannon_entropy

NAMES_RULE = "cred.hardcoded-password"
STRINGS_RULE = "cred.connection-string"
HEADER_RULE = "authorization-header"

# A name that says it holds a secret, for values that look random.
_SECRET_WORD = re.compile(r"pass|pwd|secret|token|key|auth|credential|cookie|session|signature|salt", re.I)
# A value may not start with the guard's invisible cursor mark (U+2063): nothing is typed yet.
_START = "[^\\s\"'`{}<>$\u2063]"
# `"NAME", "value"`: a name and its value side by side, as a call's arguments (the value looked
# ahead at, so `"auth", "password", "…"` is read as two pairs).
_PAIR = re.compile(
    r"""(?P<q>["'])(?P<name>[A-Za-z_][\w.-]*)(?P=q)(?=\s*,\s*[rbuRBU]?(?P<r>["'])(?P<value>[^"'\n]+)(?P=r))"""
)
_AUTHORIZATION = re.compile("authoriz", re.I)
_SCHEME = r"(?:bearer|basic|token|digest|apikey|api-key|jwt)"
# An Authorization header's value: quoted (a dict, a keyword), or on a header line with its scheme.
_HEADER = re.compile(
    rf"""(?:proxy-)?authorization["']?\s*[:=,]\s*(?:[rbuRBUfF]?["']\s*(?:{_SCHEME}\s+)?|{_SCHEME}\s+)"""
    rf"""(?!{_SCHEME}\s)(?P<value>{_START}[^\s"']*)""",
    re.I,
)
# A string that starts with a scheme (`auth = "Bearer …"`): the value must look random.
_SCHEMED = re.compile(rf"""["'`](?:bearer|basic)\s+(?P<value>{_START}[^\s"'`]*)""", re.I)
# `NAME=value`, `export NAME=value`, `name: value` on a line of their own, unquoted.
_UNQUOTED = re.compile(
    rf"""^[ \t]*(?:export[ \t]+)?(?P<name>[A-Za-z_][\w.-]*)(?P<before>[ \t]*)(?P<op>[=:])(?P<after>[ \t]*)"""
    rf"""(?P<value>{_START}[^\s"'`]*?)[ \t]*(?:[ \t]#[^\r\n]*)?\r?$""",
    re.M,
)
_CODE = re.compile(r"[()\[\]{},;]|^\w+\.\w")  # a call, an index, a tuple, an attribute: code, not a value
_TYPES = frozenset(
    {"str", "bytes", "bytearray", "int", "float", "bool", "object", "string", "number", "boolean", "any"}
)
_QUOTED = re.compile(r""""([^"\n]*)"|'([^'\n]*)'""")


@lru_cache(maxsize=1)
def _rules() -> tuple[PackRule, PackRule]:
    rules = {rule.id: rule for rule in load_pack().rules}
    return rules[NAMES_RULE], rules[STRINGS_RULE]


def random_looking(value: str) -> bool:
    """A value that reads like a generated key, not a word: long, mixed, entropy of a random one."""
    return (
        len(value) >= 8
        and " " not in value
        and (len(value) >= 16 or any(c.isdigit() for c in value))
        and shannon_entropy(value) >= ENTROPY_THRESHOLD
    )


def _named(rule: PackRule, name: str, value: str) -> bool:
    """A value the rule calls a credential, or a random one under a name that says secret."""
    if credential_literal(rule, name, value):
        return True
    if rule_pattern(rule, "placeholders").search(value):
        return False
    return bool(_SECRET_WORD.search(name)) and random_looking(value)


def credential_values(text: str) -> Iterator[tuple[str, str]]:
    """(value, rule) for every hard-coded credential in `text`; a value may come more than once."""
    names = _rules()[0]
    if rule_pattern(names, "words").search(text) is not None:
        for _, name, value in named_literals(names, text):
            if _named(names, name, value):
                yield value, NAMES_RULE
        for match in _PAIR.finditer(text):
            if _named(names, match.group("name"), match.group("value")):
                yield match.group("value"), NAMES_RULE
        for match in _UNQUOTED.finditer(text):
            yield from _unquoted(names, match)
    if _AUTHORIZATION.search(text) is not None:
        for match in _HEADER.finditer(text):
            value = match.group("value")
            if not _CODE.search(value) or random_looking(value):
                yield value, HEADER_RULE
    for match in _SCHEMED.finditer(text):
        if random_looking(match.group("value")):
            yield match.group("value"), HEADER_RULE
    yield from _connection_strings(text)


def _unquoted(rule: PackRule, match: re.Match[str]) -> Iterator[tuple[str, str]]:
    name, value = match.group("name"), match.group("value")
    if _CODE.search(value) or value.endswith((",", ")")):
        return
    if random_looking(value) and _SECRET_WORD.search(name):
        yield value, NAMES_RULE
        return
    if match.group("op") == "=" and (match.group("before") or match.group("after")):
        return  # `password = other_name` is code; `.env` writes `PASSWORD=value`
    typed = value.isidentifier() and not any(c.isdigit() for c in value)
    if match.group("op") == ":" and typed and (value.lower() != value or value.lower() in _TYPES):
        return  # `password: SecretStr`, `token: str`: a type; `token: userToken`: a JavaScript property
    if credential_literal(rule, name, value):
        yield value, NAMES_RULE


@lru_cache(maxsize=1)
def _strings_patterns() -> tuple[list[re.Pattern[str]], re.Pattern[str]]:
    rule = _rules()[1]
    return [re.compile(p, re.I) for p in rule.params["patterns"]], re.compile(rule.params["placeholders"], re.I)


def _connection_strings(text: str) -> Iterator[tuple[str, str]]:
    """The rule's patterns, on each quoted string and each unquoted value (a `.env` URL)."""
    patterns, placeholders = _strings_patterns()
    if not any(pattern.search(text) for pattern in patterns):  # the whole text first: most has none
        return
    pieces = [m.group(1) if m.group(1) is not None else m.group(2) for m in _QUOTED.finditer(text)]
    pieces += [m.group("value") for m in _UNQUOTED.finditer(text)]
    for piece in pieces:
        for pattern in patterns:
            for found in pattern.finditer(piece):
                secret = found.group("secret")
                if not placeholders.search(secret):
                    yield secret, STRINGS_RULE
