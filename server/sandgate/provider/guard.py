"""What of the editor's text may join a request to the model. Pure functions over the model
guard (`sandgate.egress.model_guard`): an excluded file gives nothing, every secret the checks
would find is replaced by `<redacted:RULE>` before a request is built, and each message is
redacted once more just before it leaves (a secret in the file name or a finding's message).

A secret can straddle the cursor (`password = "abc|def"`): neither half alone looks like a
secret. So the whole text is redacted with a marker at the cursor and split there; if the
marker went with a secret, or the two halves joined still show one, the cursor's line is
left out of the context altogether.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandgate.egress.model_guard import GuardedText, guard_text, redact_context
from sandgate.policy.model import FilesPolicy

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


def guard_completion(relpath: str, before: str, after: str, files: FilesPolicy) -> GuardedContext:
    """The text before and after the cursor as it may be sent: excluded → None; else redacted."""
    guarded = guard_text(relpath, before + _CURSOR_MARK + after, files)
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
        return GuardedContext(None, None, None, count, "no suggestion: a secret around the cursor could not be redacted")
    return GuardedContext(head, tail, None, count)


def guard_document(relpath: str, text: str, files: FilesPolicy) -> GuardedText:
    """A whole document (for a fix): excluded → `text` None; else redacted."""
    return guard_text(relpath, text, files)


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
