"""Command-line glue: the ``veracity db`` subcommand and the ``veracity scan`` options of this area.

Exit status of ``veracity db``: 0 done; 2 usage error (no such file, nothing to import); 3 failed (no
network for ``update``, unreadable database).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from . import update as update_mod
from . import vulndb

EXIT_OK, EXIT_USAGE, EXIT_FAILED = 0, 2, 3


def register(subparsers) -> Callable[[argparse.Namespace], int]:
    """Add ``db`` to ``veracity``'s subparsers; returns the handler ``run(args) -> int``."""
    p = subparsers.add_parser("db", help="the local vulnerability database (import, update, status)",
                              description="Keep the local vulnerability database that scans use offline.")
    p.add_argument("--db", type=Path, default=None, metavar="PATH",
                   help=f"database file (default: {vulndb.default_path()})")
    sub = p.add_subparsers(dest="db_command", metavar="ACTION")
    imp = sub.add_parser("import", help="import NVD CVE 2.0 JSON, OSV records and the CISA KEV catalogue")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE",
                     help="JSON files (also .gz, .xz, .bz2, .zip): NVD records, API pages or feeds; OSV records; KEV")
    upd = sub.add_parser("update", help="download the NVD feeds and the KEV catalogue (needs a network)")
    upd.add_argument("--year", type=int, action="append", dest="years", metavar="YEAR",
                     help="only this NVD feed year (repeatable; default: every year and the modified feed)")
    upd.add_argument("--no-kev", action="store_true", help="do not fetch the CISA KEV catalogue")
    upd.add_argument("--osv", action="append", default=[], metavar="ECOSYSTEM",
                     help="also fetch an OSV ecosystem's records, e.g. PyPI, npm, Debian (repeatable)")
    upd.add_argument("--feeds-dir", type=Path, default=None,
                     help="where downloads are kept (default: next to the database)")
    st = sub.add_parser("status", help="what the database holds and how old it is")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)
    return run


def run(args: argparse.Namespace) -> int:
    path = args.db or vulndb.default_path()
    command = getattr(args, "db_command", None)
    if command == "import":
        return _import(path, args.files)
    if command == "update":
        return _update(path, args)
    if command == "status":
        return _status(path, args.json)
    print("veracity db: choose an action: import, update or status", file=sys.stderr)
    return EXIT_USAGE


def _import(path: Path, files: list[Path]) -> int:
    missing = [f for f in files if not f.is_file()]
    if missing:
        print(f"veracity db import: no such file: {', '.join(map(str, missing))}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with vulndb.VulnDB(path) as db:
            report = db.import_files(files)
    except vulndb.VulnDBError as exc:
        print(f"veracity db import: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for name, reason in report.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    print(f"imported {report.nvd} NVD records, {report.osv} OSV records, {report.kev} KEV entries into {path}",
          file=sys.stderr)
    return EXIT_OK if report.total or not report.skipped else EXIT_USAGE


def _update(path: Path, args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    feeds = args.feeds_dir or path.parent / "feeds"
    tasks: dict = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  transient=True, disable=not sys.stderr.isatty()) as bar:
        def progress(name: str, done: int, total: int | None) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, total=total)

        try:
            report = update_mod.update(path, feeds, years=args.years, kev=not args.no_kev, osv=tuple(args.osv),
                                       progress=progress)
        except update_mod.UpdateError as exc:
            bar.stop()
            print(f"veracity db update: {exc}", file=sys.stderr)
            return EXIT_FAILED
        except vulndb.VulnDBError as exc:
            bar.stop()
            print(f"veracity db update: {exc}", file=sys.stderr)
            return EXIT_FAILED
    r = report.imported
    print(f"downloaded {len(report.fetched)} files; imported {r.nvd} NVD records, {r.osv} OSV records, "
          f"{r.kev} KEV entries into {path}", file=sys.stderr)
    return EXIT_OK


def _status(path: Path, as_json: bool) -> int:
    if not path.exists():
        msg = {"path": str(path), "exists": False}
        print(json.dumps(msg) if as_json else f"no vulnerability database at {path}; run `veracity db update` or "
              "`veracity db import FILES...`")
        return EXIT_OK
    try:
        with vulndb.VulnDB(path, readonly=True) as db:
            st = db.status()
    except vulndb.VulnDBError as exc:
        print(f"veracity db status: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if as_json:
        print(json.dumps({"exists": True, **st}, indent=2))
        return EXIT_OK
    age = f"{st['age_days']} days old" if st["age_days"] is not None else "age unknown"
    print(f"{st['path']}: {st['vulnerabilities']} vulnerabilities ({st['cpe_ranges']} CPE ranges, "
          f"{st['osv_ranges']} OSV ranges), {st['kev']} known exploited (KEV {st['kev_catalog'] or 'not imported'})")
    print(f"updated {st['updated_at'] or 'never'} ({age}); newest record {st['newest_record'] or '-'}")
    for s in st["sources"]:
        print(f"  {s['name']}: {s['kind']}, {s['records']} records, imported {s['imported_at']}")
    return EXIT_OK


def add_scan_arguments(parser: argparse.ArgumentParser) -> None:
    """``veracity scan`` options of this area: ``--vulndb`` and ``--vex``."""
    parser.add_argument("--vulndb", type=Path, default=None, metavar="PATH",
                        help=f"vulnerability database (default: {vulndb.default_path()})")
    parser.add_argument("--vex", type=Path, action="append", default=[], metavar="FILE",
                        help="VEX document (CycloneDX or OpenVEX JSON) marking vulnerabilities not affected "
                             "(repeatable)")


def options_from(args: argparse.Namespace) -> dict:
    """ScanOptions fields from the parsed ``scan`` arguments."""
    return {"vulndb": getattr(args, "vulndb", None), "vex": tuple(getattr(args, "vex", None) or ())}
