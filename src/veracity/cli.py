"""Command line: ``veracity scan TARGET``.

Exit status: 0 scan completed and nothing at or above ``--fail-on``; 1 scan completed and a finding is at
or above ``--fail-on``; 2 usage error; 3 the scan itself failed. A hostile or broken target is a completed
scan with ``analysis.incomplete`` findings, not a failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import __version__
from .findings import SEVERITIES
from .limits import GiB, Limits
from .options import ScanOptions

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


def _size(text: str) -> int:
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 4G, 500M, 1048576)") from None


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="veracity",
        description="Check an ICT product's security pledge from its image. Nothing from the image is executed.",
    )
    p.add_argument("--version", action="version", version=f"veracity {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    s = sub.add_parser("scan", help="unpack a product image safely and report on it")
    s.add_argument("target", type=Path, help="firmware image, filesystem image, archive, container image, package or directory")
    s.add_argument("-o", "--output", type=Path, help="write the report to this file instead of stdout")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress display and no summary on stderr")
    s.add_argument("--fail-on", choices=SEVERITIES, default=None,
                   help="exit with status 1 when a finding is at or above this severity")
    d = Limits()
    s.add_argument("--max-bytes", type=_size, default=d.max_bytes,
                   help=f"total bytes the scan may unpack (default {d.max_bytes // GiB}G)")
    s.add_argument("--max-files", type=_positive(int), default=d.max_files,
                   help=f"total entries the scan may unpack (default {d.max_files})")
    s.add_argument("--max-depth", type=_positive(int), default=d.max_depth,
                   help=f"how many containers deep to open (default {d.max_depth})")
    s.add_argument("--max-ratio", type=_positive(float), default=d.max_ratio,
                   help=f"largest unpacked:packed ratio of one container (default {d.max_ratio:g})")
    s.add_argument("--timeout", type=_positive(float), default=d.timeout_s,
                   help=f"wall-clock limit of the scan in seconds (default {d.timeout_s:g})")
    s.add_argument("--workdir", type=Path, default=None,
                   help="where to unpack (a fresh directory is made inside it and removed afterwards)")
    s.add_argument("--cache", type=Path, default=None, help="inventory cache file (default: in the user cache dir)")
    s.add_argument("--no-cache", action="store_true", help="do not read or write the inventory cache")
    from . import attest, batch, standards, triage, web
    from .checks import egress
    from .components import cli as components_cli
    from .diff import cli as diff_cli

    triage.add_scan_arguments(s)
    components_cli.add_scan_arguments(s)
    egress.add_scan_arguments(s)
    standards.register(sub)
    attest.register(sub)
    components_cli.register(sub)
    diff_cli.register(sub)
    batch.register(sub)
    web.register(sub)
    web.register_token(sub)
    s.add_argument("--checks", default=None, metavar="LIST",
                   help="comma-separated ids of the checks to run (default: all; 'none': unpack and inventory only)")
    s.add_argument("--yara-rules", type=Path, default=None, metavar="DIR",
                   help="also match the YARA rules (*.yar, *.yara) in DIR (needs yara-x)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    if args.command == "scan":
        from .triage import UsageError, options_from

        try:
            args.triage = options_from(args, argv)
        except UsageError as exc:
            print(f"veracity: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return _scan(args)
    if hasattr(args, "handler"):
        return args.handler(args)
    parser().print_help(sys.stderr)
    return EXIT_USAGE


def _scan(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .inventory import default_cache_path
    from .render import table
    from .scan import scan

    err = Console(stderr=True)
    target: Path = args.target
    if not (target.exists() or target.is_symlink()):
        err.print(f"veracity: error: no such file or directory: {target}")
        return EXIT_USAGE
    if target.is_symlink():
        target = target.resolve()
    limits = Limits(
        max_bytes=args.max_bytes,
        max_files=args.max_files,
        max_depth=args.max_depth,
        max_ratio=args.max_ratio,
        timeout_s=args.timeout,
        extractor_timeout_s=min(Limits().extractor_timeout_s, args.timeout),
    )
    from . import triage as triage_mod
    from .checks.egress import options_from as egress_options
    from .components import cli as components_cli

    try:
        targets = triage_mod.outputs(args.triage["formats"], args.output, tty=sys.stdout.isatty())
    except triage_mod.UsageError as exc:
        err.print(f"veracity: error: {exc}")
        return EXIT_USAGE
    checks = None
    if args.checks is not None:
        from .checks import registry

        wanted = tuple(c.strip() for c in args.checks.split(",") if c.strip() and c.strip() != "none")
        unknown = sorted(set(wanted) - set(registry.ids()))
        if unknown:
            err.print(f"veracity: error: unknown checks {', '.join(unknown)} (known: {', '.join(registry.ids())})")
            return EXIT_USAGE
        checks = wanted
    progress = _Progress(err, quiet=args.quiet)
    try:
        report = scan(
            target,
            limits=limits,
            workdir=args.workdir,
            cache_path=None if args.no_cache else (args.cache or default_cache_path()),
            progress=progress.update,
            options=ScanOptions(
                checks=checks,
                yara_rules=args.yara_rules,
                standards=args.triage["standards"],
                **components_cli.options_from(args),
                **egress_options(args),
            ),
        )
    except KeyboardInterrupt:
        progress.stop()
        err.print("veracity: interrupted")
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - the CLI is the only place that exits
        progress.stop()
        err.print(f"veracity: scan failed: {type(exc).__name__}: {exc}")
        return EXIT_FAILED
    progress.stop()
    try:
        report = triage_mod.triage(report, args.triage)
    except triage_mod.UsageError as exc:
        err.print(f"veracity: error: {exc}")
        return EXIT_USAGE
    for w in report["triage"]["warnings"]:
        err.print(f"veracity: warning: {w}", markup=False, highlight=False)
    try:
        for name, path in targets:
            if name == "table" and path is None:
                table.render(report, Console())
                continue
            text = triage_mod.render(name, report)
            if path is not None:
                path.write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
        if not args.quiet and all(n != "table" or p is not None for n, p in targets) and (
            any(p is not None for _, p in targets) or not sys.stdout.isatty()
        ):
            table.render(report, err)
    except OSError as exc:
        err.print(f"veracity: cannot write the report: {exc}")
        return EXIT_FAILED
    if triage_mod.exceeds(report, args.fail_on):
        return EXIT_FINDINGS
    return EXIT_OK


class _Progress:
    """A status line on stderr, shown only once a scan has run for more than a second."""

    def __init__(self, console, *, quiet: bool):
        self.console = console
        self.quiet = quiet or os.environ.get("VERACITY_NO_PROGRESS") == "1"
        self.t0 = time.monotonic()
        self.status = None

    def update(self, message: str) -> None:
        if self.quiet:
            return
        if self.status is None:
            if time.monotonic() - self.t0 < 1.0 or not self.console.is_terminal:
                return
            self.status = self.console.status(message)
            self.status.start()
        else:
            self.status.update(message)

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


def entry() -> None:
    """The ``veracity`` program: :func:`main`, then an exit that skips freeing every object one by one (a large
    scan's data took half a second of it). Everything is written and closed by then; only the buffered output
    is left to flush."""
    from .scan import tune_process

    tune_process()
    code = main()
    code = code if isinstance(code, int) else EXIT_OK
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: nothing more can be said
        code = code or EXIT_FAILED
    os._exit(code)


if __name__ == "__main__":
    entry()
