"""``veracity diff OLD NEW``: the subcommand. :func:`register` adds it to the main parser.

Exit status: 0 the diff completed and no ``--fail-on`` condition is met (by default: the update adds no way
in and no cross-border endpoint); 1 a condition is met; 2 usage error (a missing side, an invalid report);
3 the diff itself failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..findings import SEVERITIES
from .compare import fails, gate_tokens
from .files import visible
from .render import FORMATS, render, render_table

EXIT_OK, EXIT_CHANGED, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3
DEFAULT_FAIL_ON = ("way-in", "cross-border")
_FORMAT_ALIASES = {"md": "markdown", "htm": "html", "terminal": "table", "text": "table"}


def _fail_on(text: str) -> tuple[str, ...]:
    tokens = tuple(t.strip().lower() for t in text.replace(";", ",").split(",") if t.strip())
    bad = [t for t in tokens if t not in gate_tokens()]
    if bad or not tokens:
        raise argparse.ArgumentTypeError(
            f"{', '.join(bad) or text!r}: expected a comma-separated list of way-in, cross-border, change, never "
            f"or a severity ({', '.join(SEVERITIES)})")
    return tokens


def _format(text: str) -> str:
    name = _FORMAT_ALIASES.get(text.lower(), text.lower())
    if name not in FORMATS:
        raise argparse.ArgumentTypeError(f"unknown format {text!r} (choose from {', '.join(FORMATS)})")
    return name


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("old", type=Path, metavar="OLD", help="the old version: an image, a directory or a saved report (JSON)")
    p.add_argument("new", type=Path, metavar="NEW", help="the new version: an image, a directory or a saved report (JSON)")
    p.add_argument("-f", "--format", type=_format, default=None, metavar="FORMAT",
                   help=f"output format: {', '.join(FORMATS)} (default: table on a terminal, json otherwise)")
    p.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                   help="write the diff to this file instead of stdout (a summary still goes to stderr)")
    p.add_argument("--fail-on", type=_fail_on, default=DEFAULT_FAIL_ON, metavar="COND[,COND...]",
                   help="exit with status 1 when: way-in (the update adds an account, remote-access service, key, "
                        "backdoor or implant), cross-border (a new endpoint in another jurisdiction), change (any "
                        "security change), a severity (a new finding or change at or above it), or never "
                        "(default: way-in,cross-border)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress and no summary on stderr")
    p.add_argument("--workdir", type=Path, default=None, help="where to unpack images")
    p.add_argument("--cache", type=Path, default=None, help="inventory cache file (default: in the user cache dir)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the inventory cache")
    from ..components import cli as components_cli
    from ..egress import cli as egress_cli

    egress_cli.add_scan_arguments(p)
    components_cli.add_scan_arguments(p)


def register(subparsers: Any) -> Any:
    """Add ``diff`` to the main parser's subparsers; returns the handler (also set as ``args.handler``)."""
    p = subparsers.add_parser("diff", help="what an update changes, in security terms (images or saved reports)",
                              description="What an update changes in the ways in and out: accounts, services, "
                                          "endpoints, keys, components, vulnerabilities, findings, executables.")
    add_arguments(p)
    p.set_defaults(handler=run)
    return run


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..inventory import default_cache_path
    from ..options import ScanOptions
    from . import diff_paths
    from .load import DiffError

    err = Console(stderr=True)
    for label, path in (("OLD", args.old), ("NEW", args.new)):
        if not (path.exists() or path.is_symlink()):
            err.print(f"veracity: error: {label}: no such file or directory: {path}", markup=False, highlight=False)
            return EXIT_USAGE
    fmt = args.format or ("table" if args.output is None and sys.stdout.isatty() else "json")
    from ..components import cli as components_cli
    from ..egress import cli as egress_cli

    options = ScanOptions(**egress_cli.options_from(args), **components_cli.options_from(args))
    quiet = args.quiet or os.environ.get("VERACITY_NO_PROGRESS") == "1"
    status = None
    if not quiet and err.is_terminal:
        status = err.status("diff")
        status.start()

    def progress(message: str) -> None:
        if status is not None:
            status.update(message)

    try:
        diff = diff_paths(
            args.old, args.new, options=options, workdir=args.workdir,
            cache_path=None if args.no_cache else (args.cache or default_cache_path()), progress=progress,
        )
    except DiffError as exc:
        _stop(status)
        err.print(f"veracity: error: {exc}", markup=False, highlight=False)
        return EXIT_USAGE if exc.usage else EXIT_FAILED
    except KeyboardInterrupt:
        _stop(status)
        err.print("veracity: interrupted")
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - the CLI is the only place that exits
        _stop(status)
        err.print(f"veracity: diff failed: {type(exc).__name__}: {exc}", markup=False, highlight=False)
        return EXIT_FAILED
    _stop(status)
    try:
        if fmt == "table" and args.output is None:
            render_table(diff, Console())
        else:
            text = render(fmt, diff)
            if args.output is not None:
                args.output.write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
                sys.stdout.flush()
            if not quiet and (args.output is not None or not sys.stdout.isatty()):
                err.print(visible(diff["verdict"]["headline"]), markup=False, highlight=False)
    except OSError as exc:
        err.print(f"veracity: cannot write the diff: {exc}", markup=False, highlight=False)
        return EXIT_FAILED
    return EXIT_CHANGED if fails(diff, args.fail_on) else EXIT_OK


def _stop(status) -> None:
    if status is not None:
        status.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m veracity.diff.cli OLD NEW ...`` (the same as ``veracity diff``)."""
    parser = argparse.ArgumentParser(prog="veracity diff", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) and EXIT_USAGE
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
