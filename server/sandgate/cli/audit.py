"""`sandgate audit verify|show|export`: check, read and export the workspace's audit log.

A log's records are anyone's text (a file name, a model's name): `show` writes them through
`terminal.safe`, so none can act on the terminal; `--json` and `export` escape as JSON does.

Thin handlers: each parses its arguments, calls `sandgate.audit`, prints, and returns
the exit code (0 ok, 1 a broken chain, 2 bad usage).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sandgate import __version__
from sandgate.audit import DEFAULT_RELPATH, AuditError, verify
from sandgate.audit.query import (
    EVENT_KINDS,
    RecordFilter,
    event_problem,
    iter_records,
    parse_time,
    select,
    summary_line,
)
from sandgate.audit.sarif_export import to_sarif
from sandgate.terminal import safe

EXIT_OK, EXIT_BAD, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser("audit", help="verify, show or export the audit log")
    commands = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    audit.set_defaults(func=lambda args: (audit.print_help(sys.stderr), EXIT_USAGE)[1])

    path_help = f"the log (default: {DEFAULT_RELPATH}; no folder of it below the current one is read through a link)"

    p = commands.add_parser("verify", help="check the hash chain; exit 1 naming the first bad record")
    p.add_argument("path", nargs="?", type=Path, default=None, help=path_help)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_verify)

    p = commands.add_parser("show", help="list records, filtered")
    p.add_argument("path", nargs="?", type=Path, default=None, help=path_help)
    p.add_argument("--decision", choices=("allow", "review", "block"))
    p.add_argument("--event", metavar="EVENT", help=f"records of this event: {', '.join(EVENT_KINDS)}")
    p.add_argument("--since", metavar="ISO", help="records at or after this UTC time (2025-01-31 or 2025-01-31T12:00)")
    p.add_argument("--file", metavar="GLOB", help="records whose workspace-relative file matches")
    p.add_argument("--json", action="store_true", help="print the records as JSON lines")
    p.set_defaults(func=cmd_show)

    p = commands.add_parser("export", help="export findings as SARIF 2.1.0, or records as JSON")
    p.add_argument("path", nargs="?", type=Path, default=None, help=path_help)
    p.add_argument("--format", choices=("sarif", "json"), default="sarif")
    p.add_argument("-o", "--output", type=Path, help="write here instead of standard output")
    p.add_argument("--include-document", action="store_true", help="SARIF: also findings on code the user already had")
    p.set_defaults(func=cmd_export)


def _where(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """The log, and the root below which no folder of it may be a link: the current folder for the
    default log (it may be a repository someone else wrote); none for a PATH the user named."""
    if args.path is None:
        return Path(DEFAULT_RELPATH), Path(".")
    return args.path, None


def cmd_verify(args: argparse.Namespace) -> int:
    args.path, root = _where(args)
    report = verify(args.path, root)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(("ok: " if report.ok else "FAILED: ") + safe(report.message))
    return EXIT_OK if report.ok else EXIT_BAD


def cmd_show(args: argparse.Namespace) -> int:
    try:
        since = parse_time(args.since) if args.since else None
    except ValueError:
        print(f"sandgate: --since: not an ISO-8601 date or time: {safe(args.since)}", file=sys.stderr)
        return EXIT_USAGE
    problem = event_problem(args.event) if args.event is not None else None
    if problem is not None:  # a mistyped event would show nothing and look like an empty log
        print(f"sandgate: --event: {safe(problem)}", file=sys.stderr)
        return EXIT_USAGE
    record_filter = RecordFilter(decision=args.decision, since=since, file_glob=args.file, event=args.event)
    args.path, root = _where(args)
    try:
        for record in select(iter_records(args.path, root), record_filter):
            print(json.dumps(record, sort_keys=True) if args.json else safe(summary_line(record)))
    except AuditError as exc:
        print(f"sandgate: error: {safe(exc)}", file=sys.stderr)
        return EXIT_USAGE
    report = verify(args.path, root)
    if not report.ok:
        # Showing is still useful on a broken log; trusting it is not.
        print(f"sandgate: warning: the audit chain is broken: {safe(report.message)}", file=sys.stderr)
        return EXIT_BAD
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    args.path, root = _where(args)
    report = verify(args.path, root)
    try:
        records = list(iter_records(args.path, root))
    except AuditError as exc:
        print(f"sandgate: error: {safe(exc)}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "sarif":
        document = to_sarif(
            records,
            tool_version=__version__,
            verification=report.to_json(),
            include_document=args.include_document,
        )
    else:
        document = {"verification": report.to_json(), "records": records}
    text = json.dumps(document, indent=2, sort_keys=False) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if not report.ok:
        print(f"sandgate: warning: the audit chain is broken: {safe(report.message)}", file=sys.stderr)
        return EXIT_BAD
    return EXIT_OK
