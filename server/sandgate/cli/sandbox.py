"""`sandgate sandbox init|doctor`: prepare and check the sandbox backends.

What a probe or a run inside a sandbox says is printed through `terminal.safe`, as all CLI output is.
"""

from __future__ import annotations

import argparse
import logging
import sys

from sandgate.terminal import safe

EXIT_OK, EXIT_FAIL = 0, 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sandbox", help="prepare and check the sandboxes suggestions run in")
    sub = parser.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(sys.stderr), 2)[1])

    init = sub.add_parser("init", help="build the Docker image from this machine's Python (no registry needed)")
    init.add_argument("--force", action="store_true", help="rebuild even if the image is there")
    init.set_defaults(func=cmd_init)

    doctor = sub.add_parser("doctor", help="say which backends work and what to do where one does not")
    doctor.add_argument("--image", help="the Docker image the policy names (default: the one init builds)")
    doctor.set_defaults(func=cmd_doctor)


def cmd_init(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        import docker  # the optional `docker` extra: its absence is said below like a missing engine

        client = docker.from_env(timeout=120)
        client.ping()
    except ImportError as exc:
        print(
            f"sandgate: the Docker SDK for Python is not installed ({exc.name}): install Sandgate with its "
            "`docker` extra (pip install 'sandgate[docker]'), or use the bwrap backend",
            file=sys.stderr,
        )
        return EXIT_FAIL
    except Exception as exc:  # noqa: BLE001
        from sandgate.sandbox.engine_access import diagnose

        trouble = diagnose(exc)
        print(f"sandgate: {safe(trouble.detail)}\nfix: {safe(trouble.remedy)}", file=sys.stderr)
        return EXIT_FAIL
    from sandgate.sandbox.image import ensure_image

    try:
        tag, built = ensure_image(client, force=getattr(args, "force", False))
    except Exception as exc:  # noqa: BLE001
        print(f"sandgate: building the sandbox image failed: {safe(exc)}", file=sys.stderr)
        return EXIT_FAIL
    print(f"{'built' if built else 'up to date'}: {safe(tag)} (also tagged sandgate-sandbox:latest)")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from sandgate.policy.model import BACKENDS, SandboxPolicy
    from sandgate.sandbox.confinement import describe
    from sandgate.sandbox.select import close_all, open_backend

    policy = SandboxPolicy(image=getattr(args, "image", None))
    node_ok, node_detail = node_installed()
    print(f"{'ok ' if node_ok else 'no '} node    {safe(node_detail)}")
    if not node_ok:
        print("            fix: scripts/setup-sandbox.sh (JavaScript and TypeScript suggestions are held until then)")
    working = 0
    try:
        for name in BACKENDS:
            backend, probes = open_backend(name, policy)
            for probe in probes:
                mark = "ok " if probe.available else "no "
                print(f"{mark} {probe.name:7} {safe(probe.detail)}")
                if not probe.available and probe.remedy:
                    print(f"            fix: {safe(probe.remedy)}")
            if backend is not None:
                # How it confines a run, measured from inside one (and whether the supervisor saw it).
                confined, lines = describe(backend)
                for line in lines:
                    print(f"            {safe(line)}")
                working += confined
                print(f"            {safe(node_check(backend))}")
        chosen, _ = open_backend("auto", policy)
        print(f"auto -> {chosen.name if chosen else 'nothing: suggestions that need a run are held for review'}")
    finally:
        close_all()
    return EXIT_OK if working else EXIT_FAIL


def node_installed() -> tuple[bool, str]:
    """Whether the project's Node (the JavaScript/TypeScript runtime) is installed, and where."""
    from sandgate.sandbox import node_runtime
    from sandgate.sandbox.runtime import RuntimeMissing

    try:
        node = node_runtime.discover()
    except (RuntimeMissing, OSError) as exc:
        return False, f"no Node runtime: {exc}"
    ts = "default" if not node.strip_types_flags() else " ".join(node.strip_types_flags())
    return True, f"Node {node.version_text} at {node.node} (TypeScript: type stripping, {ts})"


def node_check(backend: object) -> str:
    """One Node run on `backend`: does its sandbox have Node (the image has it since `sandbox init`)?"""
    from sandgate.policy.model import SandboxLimits
    from sandgate.sandbox.base import RunRequest
    from sandgate.sandbox.run_output import error_line

    run = getattr(backend, "run")  # noqa: B009 - any backend
    result = run(
        RunRequest(
            code="const n: number = 1; console.log('node', process.version, n)",
            relpath="check.ts",
            runtime="node",
            limits=SandboxLimits(wall_time_s=10, cpu_time_s=5),
        )
    )
    if result.error is None and result.exit_code == 0 and result.stdout.startswith("node v"):
        return f"runs Node: {result.stdout.split()[1]} ({result.duration_ms:.0f} ms a TypeScript run)"
    why = result.error or error_line(result.stderr, "node") or f"exit {result.exit_code}"
    return f"does NOT run Node ({why[:160]}): JavaScript and TypeScript suggestions are held"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sandgate")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sandbox", *(argv if argv is not None else sys.argv[1:])])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
