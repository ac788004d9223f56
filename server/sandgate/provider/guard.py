"""What may go to the model, and where: the one guard before a request leaves.

- `endpoint_allowed`: the provider's URL against `network.model_endpoints` (`policy.endpoints`).
- `guard_document`, `guard_completion`: an excluded file (`files.exclude`, `is_excluded`, which
  matches a file outside the workspace by every trailing part of its path) gives nothing; every
  secret and hard-coded credential the checks would find is replaced by `<redacted:RULE>`
  (`checks.redaction`) before a request is built.
- `guard_messages`: each message redacted once more just before it leaves (a secret in the file
  name or a finding's message).

A secret can straddle the cursor (`password = "abc|def"`): neither half alone looks like a
secret. So the whole text is redacted with a marker at the cursor and split there; if the
marker went with a secret, or the two halves joined still show one, the cursor's line is
left out of the context altogether.

All pure, and cheap enough to call on every request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandgate.checks.redaction import redact_context
from sandgate.policy import endpoints
from sandgate.policy.model import FilesPolicy, NetworkPolicy
from sandgate.wording import plural
from sandgate.workspace_globs import matching_glob, matching_glob_anywhere


def endpoint_allowed(url: str, network: NetworkPolicy, *, managed: bool = False) -> tuple[bool, str]:
    """Whether the model endpoint `url` (the provider's base URL) matches one of
    `network.model_endpoints`, and a message that names the rule either way. `managed` only
    changes the wording (the managed policy pinned the list)."""
    layer = "managed policy" if managed else "policy"
    shown = endpoints.shown(url)
    target = endpoints.endpoint(url)
    if isinstance(target, str):
        return False, f"model endpoint {shown} refused by network.model_endpoints ({layer}): {target}"
    for pattern in network.model_endpoints:
        if endpoints.matches(pattern, target):
            return True, f"model endpoint {shown} allowed by network.model_endpoints {pattern!r} ({layer})"
    if not network.model_endpoints:
        return (
            False,
            f"model endpoint {shown} refused by network.model_endpoints ({layer}): the list is empty, no model is allowed",
        )
    allowed = ", ".join(network.model_endpoints)
    return False, f"model endpoint {shown} refused by network.model_endpoints ({layer}); allowed: {allowed}"


_DRIVE = re.compile(r"[A-Za-z]:[\\/]")  # a Windows path is absolute too


def is_excluded(where: str | tuple[str, ...], files: FilesPolicy) -> str | None:
    """The `files.exclude` glob that keeps a file from any model, or None. `where` is its
    workspace-relative path (matched as `sandgate.workspace_globs.matching_glob` reads a workspace
    glob) or, for a file outside the workspace, its absolute path, matched at every depth
    (`matching_glob_anywhere`: `**/.ssh/**` keeps `/home/u/.ssh/x.py` too); a tuple of such
    paths (`lsp.documents.located`) is excluded when any of them is."""
    for path in (where,) if isinstance(where, str) else where:
        absolute = path.startswith(("/", "\\")) or _DRIVE.match(path) is not None
        found = (matching_glob_anywhere if absolute else matching_glob)(path, files.exclude)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class GuardedText:
    """What of one file may go to the model: `text` is None when the file is excluded."""

    text: str | None
    excluded_by: str | None  # the `files.exclude` glob
    redactions: int

    @property
    def status(self) -> str | None:
        """A line for the editor's status when something was held back; None otherwise."""
        if self.excluded_by is not None:
            return f"no suggestions here: files.exclude {self.excluded_by!r} keeps this file from the model"
        if self.redactions:
            return f"{plural(self.redactions, 'secret')} redacted before the request left"
        return None


def guard_document(where: str | tuple[str, ...], text: str, files: FilesPolicy) -> GuardedText:
    """A file's text before it joins a request: excluded (`is_excluded(where)`) → `text` None;
    else redacted."""
    pattern = is_excluded(where, files)
    if pattern is not None:
        return GuardedText(None, pattern, 0)
    redacted, count = redact_context(text)
    return GuardedText(redacted, None, count)


# Invisible separators around a name no detector flags: never typed, never a secret.
_CURSOR_MARK = "\u2063\u2063sandgate cursor\u2063\u2063"


@dataclass(frozen=True)
class GuardedContext:
    """The context that may go to the model; `before`/`after` are None when nothing may."""

    before: str | None
    after: str | None
    excluded_by: str | None  # the `files.exclude` glob that keeps the file home
    redactions: int
    refused: str | None = None  # why nothing goes although the file is not excluded

    @property
    def allowed(self) -> bool:
        return self.before is not None and self.after is not None

    @property
    def status(self) -> str | None:
        """A line for the editor's status when something was held back; None otherwise."""
        if self.refused:
            return self.refused
        return GuardedText(self.before, self.excluded_by, self.redactions).status


def _clean(text: str) -> bool:
    return redact_context(text)[1] == 0


def guard_completion(where: str | tuple[str, ...], before: str, after: str, files: FilesPolicy) -> GuardedContext:
    """The text before and after the cursor as it may be sent: excluded (`is_excluded(where)`) →
    None; else redacted."""
    guarded = guard_document(where, before + _CURSOR_MARK + after, files)
    if guarded.text is None:
        return GuardedContext(None, None, guarded.excluded_by, 0)
    parts = guarded.text.split(_CURSOR_MARK)
    if len(parts) == 2 and _clean(parts[0] + parts[1]):
        return GuardedContext(parts[0], parts[1], None, guarded.redactions)
    # The cursor sits inside a secret: leave its line out, redact the rest.
    head = before[: before.rfind("\n") + 1]
    cut = after.find("\n")
    tail = after[cut:] if cut >= 0 else ""
    head, n_head = redact_context(head)
    tail, n_tail = redact_context(tail)
    count = max(guarded.redactions, n_head + n_tail + 1)
    if not _clean(head + tail):  # nothing should reach this; if it does, nothing leaves
        return GuardedContext(
            None, None, None, count, "no suggestion: a secret around the cursor could not be redacted"
        )
    return GuardedContext(head, tail, None, count)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _encodable(text: str) -> str:
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def guard_messages(messages: list[dict[str, str]]) -> tuple[list[dict[str, str]], int]:
    """Every message's content redacted once more, just before the request leaves (a lone surrogate,
    which no request can carry, as U+FFFD)."""
    out: list[dict[str, str]] = []
    total = 0
    for message in messages:
        content, count = redact_context(_encodable(message.get("content", "")))
        total += count
        out.append({**message, "content": content})
    return out, total
