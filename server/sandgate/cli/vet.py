"""`sandgate vet`: vet files as suggestions, or one suggestion inserted into a document."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from sandgate.audit import DEFAULT_RELPATH, AuditError, workspace_log
from sandgate.audit.records import decision_record
from sandgate.cli.common import add_policy_options, load_for, report_policy_problems, warn, workspace_of
from sandgate.cli.main import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from sandgate.findings import Verdict
from sandgate.languages import unit_named
from sandgate.lines import LINE_BREAK, Lines
from sandgate.pipeline import Vetter
from sandgate.report.json_report import render_json
from sandgate.report.sarif_report import build_sarif
from sandgate.report.text_report import render_text
from sandgate.sandbox.select import close_all
from sandgate.suggestion import Suggestion
from sandgate.telemetry import configure
from sandgate.terminal import safe
from sandgate.wording import plural


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "vet",
        help="vet files as AI suggestions",
        description="Vet each FILE as one AI suggestion: static checks, a sandbox run, and the policy's decision. "
        "Exit status: 0 when every result is allow, 1 when any is review or block, 2 on bad usage, a broken "
        "policy or an audit log that cannot be written (nothing is reported that was not recorded).",
    )
    add_policy_options(parser)
    parser.add_argument(
        "--backend",
        choices=("auto", "docker", "bwrap"),
        default="auto",
        help="sandbox backend (default: auto, Docker when an engine answers, else bubblewrap)",
    )
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    parser.add_argument(
        "--into", metavar="DOC", type=Path, help="vet one suggestion (FILE) inserted into the document DOC"
    )
    parser.add_argument(
        "--at", metavar="LINE:COL", help="where the suggestion goes in DOC, 1-based (as editors show it)"
    )
    parser.add_argument(
        "--language",
        metavar="LANG",
        help="the language of every FILE (or of DOC): python, javascript, typescript, or an editor's language id "
        "(default: from the file name; a file without an extension is Python)",
    )
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    parser.add_argument(
        "--no-audit", action="store_true", help=f"do not append the decisions to the workspace's {DEFAULT_RELPATH}"
    )
    parser.add_argument("files", nargs="+", metavar="FILE", type=Path)
    parser.set_defaults(func=run)


def _position(text: str) -> tuple[int, int]:
    line, _, col = text.partition(":")
    if not line.isdigit() or not col.isdigit() or int(line) < 1 or int(col) < 1:
        raise ValueError(f"--at takes LINE:COL with both at least 1, e.g. 12:5 (got {text!r})")
    return int(line) - 1, int(col) - 1


def _line_break(document: str) -> str:
    """The line break DOC already uses (its first), else `\\n`."""
    found = LINE_BREAK.search(document)
    return found.group() if found else "\n"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc


def _language(path: Path, chosen: str | None = None) -> str | None:
    """`--language` when given (a unit's name is its language id too); else a file without an
    extension is vetted as Python (as always), and one with an extension by that extension."""
    if chosen:
        unit = unit_named(chosen)
        return sorted(unit.language_ids)[0] if unit is not None and chosen == unit.name else chosen
    return None if path.suffix else "python"


def _inside(path: Path, workspace: Path) -> str | None:
    """`path` relative to the workspace (`/`-separated), or None when it lies outside."""
    resolved = path.resolve()
    return resolved.relative_to(workspace).as_posix() if resolved.is_relative_to(workspace) else None


def _vetted_as(path: Path, workspace: Path) -> str:
    """The name the pipeline vets a file under (the sandboxed run's file, the protected-file and
    language checks): workspace-relative, as the editor's server names documents; a file outside
    the workspace by its name alone, as the server does too."""
    return _inside(path, workspace) or path.name


def _shown_path(path: Path, workspace: Path) -> str:
    """The path a report names a file by: workspace-relative inside the workspace, else absolute
    (as given, made absolute: two `m.py` from different folders stay apart)."""
    return _inside(path, workspace) or os.path.abspath(path)


def _suggestions(args: argparse.Namespace, workspace: Path) -> list[Suggestion]:
    if args.into is None:
        if args.at:
            raise ValueError("--at needs --into DOC")
        return [
            Suggestion(_read(path), path=_vetted_as(path, workspace), language=_language(path, args.language))
            for path in args.files
        ]
    if len(args.files) != 1 or not args.at:
        raise ValueError("--into DOC takes exactly one FILE (the suggestion) and --at LINE:COL")
    line, col = _position(args.at)
    document = _read(args.into)
    count = Lines.of(document).count
    # A column past a line's end is an error, not clamped as the server clamps an editor's
    # position: a mistyped position would vet elsewhere.
    if line > count:
        raise ValueError(f"--at {args.at} is past the end of {args.into} ({plural(count, 'line')})")
    width = len(Lines.of(document).line_text(line)) if line < count else 0
    if col > width:
        raise ValueError(
            f"--at {args.at} is past the end of line {line + 1} of {args.into}: "
            f"it has {plural(width, 'character')}, so COL is at most {width + 1}"
        )
    if line == count:
        # The line after the last is a new line, as an editor has one there: without the break the
        # suggestion would be glued onto DOC's last line (`x = 1print(x)`).
        document += _line_break(document)
    return [
        Suggestion(
            _read(args.files[0]),
            document=document,
            line=line,
            character=col,
            path=_vetted_as(args.into, workspace),
            language=_language(args.into, args.language),
        )
    ]


def _audit_failed(exc: Exception) -> int:
    # Fail closed: a decision that could not be recorded is not reported either.
    warn(f"error: the audit log cannot be written: {exc}")
    warn("nothing was reported: every decision is recorded first (pass --no-audit to vet without recording)")
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    try:
        workspace = workspace_of(args)
        suggestions = _suggestions(args, workspace)
    except ValueError as exc:
        warn(str(exc))
        return EXIT_USAGE
    loaded = load_for(args)
    if report_policy_problems(loaded):
        return EXIT_USAGE
    audit = None if args.no_audit else workspace_log(workspace)
    if audit is not None:
        try:
            audit.check()  # before any vet: a log that cannot take the records stops us now
        except (AuditError, OSError) as exc:
            return _audit_failed(exc)
    telemetry = configure(export_content=loaded.policy.telemetry.export_content)
    vetter = Vetter(loaded, backend=args.backend, workspace=workspace, telemetry=telemetry)
    results = []
    shown = [_shown_path(path, workspace) for path in ([args.into] if args.into is not None else args.files)]
    unrecorded: Exception | None = None
    try:
        for number, (suggestion, name) in enumerate(zip(suggestions, shown, strict=True), start=1):
            if len(suggestions) > 1:
                print(f"[{number}/{len(suggestions)}] vetting {safe(name)}", file=sys.stderr, flush=True)
            result = vetter.vet(suggestion)
            # Reported (and recorded) under the path that finds the file, not the name it was vetted as.
            result = dataclasses.replace(result, suggestion=dataclasses.replace(result.suggestion, path=name))
            results.append(result)
            if audit is not None:
                try:
                    audit.append(decision_record(result, client="sandgate-cli"))
                except (AuditError, OSError) as exc:
                    unrecorded = exc
                    break
    finally:
        vetter.close()
        close_all()  # a one-shot command: stop the pools filling
        telemetry.shutdown()
    if unrecorded is not None:
        return _audit_failed(unrecorded)
    data = [r.to_json() for r in results]
    if args.format == "json":
        print(render_json(data))
    elif args.format == "sarif":
        print(json.dumps(build_sarif(data), indent=2))
    else:
        color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
        sys.stdout.write(render_text(data, color))
    return EXIT_FINDINGS if any(r.verdict > Verdict.ALLOW for r in results) else EXIT_OK
