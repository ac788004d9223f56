"""`--format text`: a table a person reads at a glance; colour only where the terminal has it.

Every text that comes from the suggestion (its run's output and exit message, findings quoting its
code) or from the file system (file names) goes through `terminal.safe`: a control sequence in it
shows as `\\x1b[…`, it cannot rewrite the report on the terminal.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sandgate.terminal import safe
from sandgate.wording import plural

_STYLE = {"allow": "green", "review": "yellow", "block": "bold red", "existing": "dim"}


def _sandbox_line(sandbox: dict[str, Any] | None) -> str:
    if not sandbox or not sandbox.get("backend"):
        return f"sandbox: {safe((sandbox or {}).get('skipped') or 'not run')}"
    parts = [f"sandbox: {safe(sandbox['backend'])}", f"exit {sandbox['exit_code']}", f"{sandbox['duration_ms']:.0f} ms"]
    if sandbox.get("timed_out"):
        parts.append("timed out")
    if sandbox.get("killed"):
        parts.append(f"killed ({safe(sandbox['killed'])})")
    if sandbox.get("error"):
        parts.append(f"error: {safe(sandbox['error'])}")
    parts.append(plural(len(sandbox.get("events", [])), "event"))
    return ", ".join(parts)


def render_text(results: list[dict[str, Any]], color: bool) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=120, highlight=False, markup=False)
    for result in results:
        decision = result["decision"]
        console.print(Text.assemble((f"{decision.upper():7}", _STYLE[decision]), " ", (safe(result["path"]), "bold")))
        if result.get("summary"):  # what the suggestion can do, before why it was decided so
            console.print(f"  {safe(result['summary'])}")
        for reason in result["reasons"]:
            console.print(f"  because {safe(reason['text'])}")
        if result["findings"]:
            table = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 1))
            for column in ("decision", "rule", "sev/conf", "line", "finding"):
                table.add_column(column, overflow="fold")
            for finding in result["findings"]:
                verdict = finding["decision"]
                table.add_row(
                    Text(verdict, _STYLE[verdict]),
                    safe(f"{finding['source']}:{finding['rule']}"),
                    safe(f"{finding['severity']}/{finding['confidence']}"),
                    safe(finding["line"] or "-"),
                    safe(finding["message"] + (f" — fix: {finding['fix']}" if finding.get("fix") else "")),
                )
            console.print(table)
        console.print(f"  {_sandbox_line(result.get('sandbox'))}", style="dim")
        console.print()
    counts = {d: sum(r["decision"] == d for r in results) for d in ("allow", "review", "block")}
    console.print(", ".join(f"{n} {d}" for d, n in counts.items()))
    return buffer.getvalue()
