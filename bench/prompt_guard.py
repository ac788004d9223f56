"""The model guard's cost per inline request: redacting the context before it leaves.

Every inline request redacts the whole document once with a cursor mark in it
(`provider.guard.guard_completion`), checks the two halves joined once more, and redacts each
chat message (`guard_messages`): three `checks.redaction.redact_context` calls on the typing
path. The contenders run that same sequence with the secrets detector alone (`credentials=False`,
what the guard did before `checks.credential_values`) and with both detectors (now), round-robin
on the same documents: Sandgate's own modules as real code, and one with the review's
credentials in it.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import REPO, Context, Section, Target, fmt, interleaved
from sandgate.checks.redaction import redact_context
from sandgate.policy.model import FilesPolicy
from sandgate.provider.guard import guard_completion, guard_messages
from sandgate.provider.prompt import CompletionContext, completion_messages

_CREDENTIALS = (
    "import os\n"
    'os.environ["DB_PASSWORD"] = "6jVnkdCl3tCWzTOnQ8VNrgFpOGjvJMA1n1leiU16"\n'
    'os.environ.setdefault("SECRET_KEY", "Q8VNrgFpOGjvJMA1n1leiU166jVnkdCl3tCWzTOn")\n'
    'H = {"Authorization": "Bearer ZTOnQ8VNrgFpOGjvJMA1n1leiU166jVnkdCl3tCW"}\n'
    'ENV = """\nDB_PASSWORD=hunter22-prod\n"""\n'
)


def _documents() -> dict[str, str]:
    src = REPO / "server" / "sandgate"
    small = (src / "lsp" / "flows" / "inline.py").read_text()
    large = (src / "checks" / "pack_rules.py").read_text()
    return {
        f"lsp/flows/inline.py ({len(small) // 1000} KB)": small,
        f"checks/pack_rules.py ({len(large) // 1000} KB)": large,
        f"inline.py + 5 credentials ({(len(small) + len(_CREDENTIALS)) // 1000} KB)": _CREDENTIALS + small,
    }


def _request(text: str, credentials: bool) -> None:
    """The three redactions one request makes, as `guard_completion` and `guard_messages` make them."""
    cut = len(text) // 2
    redact_context(text[:cut] + "\u2063\u2063sandgate cursor\u2063\u2063" + text[cut:], credentials=credentials)
    redact_context(text, credentials=credentials)
    ctx = CompletionContext(text[:cut], text[cut:], "python", "calc.py")
    for message in completion_messages(ctx):
        redact_context(message["content"], credentials=credentials)


def _guarded(text: str) -> None:
    """The guard itself, end to end (after): what the request handler calls."""
    cut = len(text) // 2
    guarded = guard_completion("calc.py", text[:cut], text[cut:], FilesPolicy())
    assert guarded.before is not None and guarded.after is not None
    guard_messages(completion_messages(CompletionContext(guarded.before, guarded.after, "python", "calc.py")))


def run(ctx: Context) -> list[Section]:
    n = ctx.n(60, 5)
    rows, raw, targets = [], {}, []
    for label, text in _documents().items():
        series = interleaved(
            {
                "secrets only (before)": lambda t=text: _request(t, False),
                "secrets + credentials (now)": lambda t=text: _request(t, True),
                "guard_completion + guard_messages (now)": lambda t=text: _guarded(t),
            },
            n,
        )
        before, now, guard = series.values()
        ratio = now.p50 / before.p50
        rows.append(
            [
                label,
                f"{fmt(before.p50)} / {fmt(before.p95)}",
                f"{fmt(now.p50)} / {fmt(now.p95)}",
                f"{ratio:.2f}×",
                f"{fmt(guard.p50)} / {fmt(guard.p95)}",
            ]
        )
        raw[label] = {s.label: s.to_json() for s in series.values()}
        targets.append(Target(f"credential redaction ÷ secrets only, {label}", ratio, 1.5, "×"))
    return [
        Section(
            key="prompt_guard",
            title="Model guard: redacting an inline request's context",
            header=[
                "document",
                "secrets only p50 / p95 (ms)",
                "secrets + credentials p50 / p95 (ms)",
                "now ÷ before (p50)",
                "guard end to end p50 / p95 (ms)",
            ],
            rows=rows,
            targets=targets,
            notes=[
                "Per inline request (three `redact_context` calls: the marked document, the halves joined, the "
                "prompt's messages), in a worker thread off the event loop. *Before* is the secrets detector alone "
                "(`credentials=False`); *now* adds `checks.credential_values` (the pack's `cred.*` rules read as "
                "text, Authorization headers, `.env` lines). Ratios are of contenders timed round-robin in one run.",
            ],
            raw=raw,
        )
    ]


if __name__ == "__main__":  # a quick look without the report: python -m bench.prompt_guard
    for section in run(Context(quick=False, out_dir=Path("/tmp"), backends=[])):
        print(" | ".join(section.header))
        for row in section.rows:
            print(" | ".join(row))
