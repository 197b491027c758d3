"""Fleet scanning: many images, one store. ``veracity batch PATHS... [--workers N] [--db URL] [--scheduler URL]``.

Scans run on a local process pool (default) or on a Dask distributed cluster (``--scheduler tcp://host:8786``;
the paths must be readable by the workers). The parent process is the only writer of the store: every
finished scan is ingested in one transaction as soon as it arrives, so killing a batch loses at most the scans
in flight, and running it again skips every image whose sha256 and rules version are already stored (unless
``--force``). The inventory's per-file content-hash cache (one SQLite file, shared by the workers of one
machine) makes files unchanged between versions cost nothing. At most ``2 * workers`` scans are in flight.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_USAGE, EXIT_FAILED = 0, 2, 3


@dataclass
class Outcome:
    path: str
    sha256: str
    status: str  # stored, skipped, failed
    scan_id: int | None = None
    by_severity: dict[str, int] = field(default_factory=dict)
    duration_s: float | None = None
    error: str | None = None


def sha256_of(path: Path) -> str:
    from .report import file_digest

    return file_digest(path)[0]


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files named, and the regular files under directories named (sorted); symlinks are not followed."""
    out: list[Path] = []
    seen: set[Path] = set()
    for p in paths:
        items = sorted(x for x in p.rglob("*") if x.is_file() and not x.is_symlink()) if p.is_dir() else [p]
        for x in items:
            r = x.resolve()
            if r not in seen:
                seen.add(r)
                out.append(x)
    return out


def scan_path(path: str, cache_path: str | None = None, workdir: str | None = None,
              fork: bool = True) -> dict[str, Any]:
    """Scan one image and return its report (runs in a worker process or a Dask worker).

    On a worker thread of a process that has no SIGTERM handler of its own (a Dask worker), the scan runs in a
    child ``veracity scan`` process: a terminated scan still cleans up its work directory, the worker's own
    threads (heartbeats, transfers) are not slowed by the scan's GIL-bound work, and a scan that dies takes
    no worker with it.
    """
    import signal as _signal

    if threading.current_thread() is not threading.main_thread() and _signal.getsignal(_signal.SIGTERM) in (
        _signal.SIG_DFL, None
    ):
        return _scan_in_child(path, cache_path, workdir)
    from .inventory import remember
    from .scan import scan, tune_process

    tune_process()  # a pool worker's work is scans
    remember()  # and the next image is most often the next version of this one: its files are read from memory
    # the checks of one scan fork a second process only when a core is free for it (see checks.runner)
    previous = os.environ.get("VERACITY_NO_FORK")
    os.environ["VERACITY_NO_FORK"] = previous if fork and previous else ("0" if fork else "1")
    try:
        return scan(Path(path), cache_path=Path(cache_path) if cache_path else None,
                    workdir=Path(workdir) if workdir else None)
    finally:
        if previous is None:
            os.environ.pop("VERACITY_NO_FORK", None)
        else:
            os.environ["VERACITY_NO_FORK"] = previous


PRELOAD = ("veracity.scan", "veracity.checks.registry", "veracity.report", "lief", "pyperscan", "veracity.warmup")
"""What the fork server imports once, before it forks workers: a new worker (the pool's first, or one that
replaces a worker past ``max_tasks_per_child``) starts scanning at once instead of importing for a second, with
the patterns compiled and the checks' data read (``veracity.warmup``).
unblob is not among them: only a scan that carves needs it (``unblobber.import_unblob``)."""


def start_fork_server() -> None:
    """Start the pool's fork server now, in the background: importing what scans need takes it a second or two,
    spent while this process opens the store and hashes the images instead of before the first scan."""
    from multiprocessing import forkserver

    _fork_server_context()
    # ensure_running holds a lock: the pool's first worker waits for this start instead of making a second one
    threading.Thread(target=forkserver.ensure_running, name="veracity-fork-server", daemon=True).start()


def process_pool(workers: int, max_tasks_per_child: int) -> ProcessPoolExecutor:
    """A local pool of scan workers, forked from a fork server that has imported what scans need."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=_fork_server_context(),
                               max_tasks_per_child=max_tasks_per_child)


def _fork_server_context() -> Any:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))  # read when the fork server starts; later calls change nothing
    return context


def _scan_in_child(path: str, cache_path: str | None, workdir: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="veracity-batch-", dir=workdir) as tmp:
        out = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "veracity.cli", "scan", path, "--format", "json", "-o", str(out), "--quiet"]
        cmd += ["--cache", cache_path] if cache_path else ["--no-cache"]
        if workdir:
            cmd += ["--workdir", workdir]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "VERACITY_NO_PROGRESS": "1"},
                              check=False)
        if proc.returncode >= 2 or not out.exists():
            raise RuntimeError(f"veracity scan exited with {proc.returncode}: {proc.stderr.strip()[-500:]}")
        return json.loads(out.read_text(encoding="utf-8"))


class _Executor:
    """submit(fn, *args) -> future; wait_some(futures) -> (done, pending); result(f)."""

    def __init__(self, workers: int, scheduler: str | None, client: Any = None):
        self.dask = scheduler is not None or client is not None
        self.owned_client = False
        if self.dask:
            if client is None:
                from distributed import Client

                client = Client(scheduler)
                self.owned_client = True
            self.client = client
        else:
            self.pool = process_pool(workers, max_tasks_per_child=50)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.dask:
            return self.client.submit(fn, *args, pure=False)
        return self.pool.submit(fn, *args)

    def wait_some(self, futures: set[Any]) -> tuple[set[Any], set[Any]]:
        if self.dask:
            from distributed import wait as dwait

            res = dwait(list(futures), return_when="FIRST_COMPLETED")
            return set(res.done), set(res.not_done)
        done, pending = wait(futures, return_when=FIRST_COMPLETED)
        return set(done), set(pending)

    def close(self, cancel: bool = False) -> None:
        if self.dask:
            if self.owned_client:
                self.client.close()
        else:
            self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


def run_batch(
    paths: Sequence[Path],
    *,
    store: Any,
    workers: int = 0,
    scheduler: str | None = None,
    client: Any = None,
    force: bool = False,
    cache_path: Path | None = None,
    workdir: Path | None = None,
    meta: Callable[[Path], dict[str, Any]] | None = None,
    on_event: Callable[[str, Outcome | None, int], None] | None = None,
    on_stored: Callable[[Outcome], None] | None = None,
    sign: Callable[[dict[str, Any]], str] | None = None,
) -> list[Outcome]:
    """Scan ``paths`` into ``store``; return one Outcome per path, in the order given. ``sign`` turns a report
    into a signed attestation (a DSSE envelope as JSON), stored with it."""
    from .report import rules_version

    rules = rules_version()
    workers = workers or max(1, min(os.cpu_count() or 1, 8))
    event = on_event or (lambda *_: None)
    outcomes: dict[str, Outcome] = {}
    # the images are hashed in the background, in order: the first scan starts once the first image is hashed
    # (300 MB of images take a third of a second to hash, which the fleet's first scan would otherwise wait for)
    hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veracity-hash")
    digests = [hasher.submit(sha256_of, p) for p in paths]
    # one scan per distinct content: duplicates (same bytes under two names) wait for the first
    first: dict[str, Path] = {}
    dupes: list[tuple[Path, str]] = []

    def images() -> Iterator[tuple[Path, str]]:
        """The images to scan, in order: those already stored and the duplicates are set aside on the way."""
        for p, digest in zip(paths, digests, strict=True):
            try:
                sha = digest.result()
            except OSError as exc:
                outcomes[str(p)] = Outcome(str(p), "", "failed", error=f"cannot read: {exc.strerror or exc}")
                event("done", outcomes[str(p)], len(paths))
                continue
            scan_id = None if force else store.stored(sha, rules)
            if scan_id is not None:
                outcomes[str(p)] = Outcome(str(p), sha, "skipped", scan_id)
                event("done", outcomes[str(p)], len(paths))
            elif sha in first:
                dupes.append((p, sha))
            else:
                first[sha] = p
                yield p, sha

    ex = _Executor(workers, scheduler, client)
    inflight: dict[Any, tuple[Path, str, float]] = {}
    it = images()
    cancel = False
    # the workers keep the cores busy: a scan forks for its checks only when there are more cores than workers
    local = scheduler is None and client is None
    spare_core = local and workers < (os.cpu_count() or 1)
    # With a shared cache, the first image seeds it: scanned alone (its checks on a core of their own), it
    # leaves every file it shares with the next images known, and versions of one product share most of their
    # files. Two versions scanned cold side by side would each pay for everything.
    seeding = local and cache_path is not None and len(paths) > 1
    try:
        while True:
            while len(inflight) < (1 if seeding else 2 * workers):
                nxt = next(it, None)
                if nxt is None:
                    break
                fut = ex.submit(scan_path, str(nxt[0].resolve()), str(cache_path) if cache_path else None,
                                str(workdir) if workdir else None, spare_core or seeding)
                inflight[fut] = (nxt[0], nxt[1], time.monotonic())
                event("start", None, len(paths))
            if not inflight:
                break
            done, _ = ex.wait_some(set(inflight))
            seeding = False
            for fut in done:
                p, sha, t0 = inflight.pop(fut)
                try:
                    report = fut.result()
                    info = store.ingest(report, force=force, parameters={"batch": True},
                                        attestation=sign(report) if sign else None, **(meta(p) if meta else {}))
                    sev = (report.get("summary") or {}).get("by_severity") or {}
                    out = Outcome(str(p), sha, "stored" if info.created else "skipped", info.scan_id, dict(sev),
                                  report.get("duration_s"))
                    if on_stored:
                        on_stored(out)
                except Exception as exc:  # noqa: BLE001 - one bad image never stops the fleet
                    out = Outcome(str(p), sha, "failed", error=f"{type(exc).__name__}: {exc}"[:1000],
                                  duration_s=time.monotonic() - t0)
                    try:
                        scan_id, _ = store.enqueue(sha256=sha, name=p.name, rules_version=rules, tool_version="",
                                                   **(meta(p) if meta else {}))
                        store.set_status(scan_id, "failed", out.error)
                        out.scan_id = scan_id
                    except Exception:  # noqa: BLE001, S110 - the outcome already says it failed
                        pass
                outcomes[str(p)] = out
                event("done", out, len(paths))
    except BaseException:
        cancel = True
        raise
    finally:
        ex.close(cancel=cancel)
        hasher.shutdown(wait=True, cancel_futures=cancel)
    for p, sha in dupes:
        scan_id = store.stored(sha, rules)
        src = outcomes.get(str(first[sha]))
        outcomes[str(p)] = Outcome(str(p), sha, "skipped" if scan_id else "failed", scan_id,
                                   dict(src.by_severity) if src else {}, error=None if scan_id else "duplicate of a failed scan")
        event("done", outcomes[str(p)], len(paths))
    return [outcomes[str(p)] for p in paths]


def summary_table(outcomes: Sequence[Outcome], console: Any) -> None:
    from rich.table import Table

    table = Table(title="veracity batch")
    for col in ("Image", "Status", "Scan", "Critical", "High", "Medium", "Low", "Info", "Seconds"):
        table.add_column(col, justify="right" if col not in ("Image", "Status") else "left")
    for o in outcomes:
        sev = o.by_severity
        table.add_row(
            o.path, o.status if not o.error else f"{o.status}: {o.error[:80]}", str(o.scan_id or ""),
            *(str(sev.get(k, "")) for k in ("critical", "high", "medium", "low", "info")),
            f"{o.duration_s:.1f}" if o.duration_s is not None else "",
            style="red" if o.status == "failed" else None,
        )
    console.print(table)
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("stored", "skipped", "failed")}
    console.print(f"{len(outcomes)} images: {counts['stored']} scanned, {counts['skipped']} already stored, "
                  f"{counts['failed']} failed", markup=False, highlight=False)


def register(subparsers) -> Callable[[argparse.Namespace], int]:
    """Add ``batch`` to ``veracity``'s subparsers; returns the handler ``run(args) -> int``."""
    p = subparsers.add_parser(
        "batch", help="scan many images into the store (process pool or Dask cluster), resumable",
        description="Scan many images into the store. Images already stored with the current rules version are "
                    "skipped, so a killed batch resumes where it stopped.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files, or directories of images")
    p.add_argument("--workers", type=int, default=0, help="parallel scans (default: CPUs, at most 8)")
    p.add_argument("--db", default=None, metavar="URL",
                   help="store: sqlite:///file, a file path or postgresql://... (default: the user data dir)")
    p.add_argument("--scheduler", default=None, metavar="URL",
                   help="Dask distributed scheduler, e.g. tcp://host:8786 (paths must be readable by the workers)")
    p.add_argument("--force", action="store_true", help="scan again even when already stored")
    p.add_argument("--vendor", default=None, help="vendor of every image")
    p.add_argument("--product", default=None, help="product of every image (the version is the file name)")
    p.add_argument("--cache", type=Path, default=None, help="inventory cache file shared by the workers")
    p.add_argument("--no-cache", action="store_true", help="no inventory cache")
    p.add_argument("--workdir", type=Path, default=None, help="where images are unpacked")
    p.add_argument("--json", action="store_true", help="print the outcomes as JSON instead of a table")
    p.add_argument("--sign", type=Path, default=None, metavar="KEY",
                   help="sign every new report with this ed25519 key (veracity keygen; password from "
                        "$VERACITY_KEY_PASSWORD) and store the attestation with it")
    p.set_defaults(handler=run)
    return run


def run(args: argparse.Namespace) -> int:
    from . import extras

    if not extras.require("batch", ("sqlalchemy", "alembic") + (("distributed",) if args.scheduler else ())):
        return 3
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .inventory import default_cache_path
    from .store import Store

    err = Console(stderr=True)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        err.print(f"veracity: error: no such file or directory: {', '.join(missing)}", markup=False)
        return EXIT_USAGE
    if args.workers < 0:
        err.print("veracity: error: --workers must be positive")
        return EXIT_USAGE
    if args.scheduler is None:
        start_fork_server()
    paths = expand(args.paths)
    sign = None
    if args.sign is not None:
        from . import attest

        try:
            key = attest.load_private_key(args.sign, os.environ.get("VERACITY_KEY_PASSWORD"))
        except attest.AttestError as exc:
            err.print(f"veracity: error: {exc}", markup=False)
            return EXIT_USAGE

        def sign(report: dict[str, Any]) -> str:
            envelope, _ = attest.attest_report(report, key, f"{(report.get('target') or {}).get('name')}.json")
            return json.dumps(envelope, sort_keys=True)
    try:
        store = Store(args.db)
    except Exception as exc:  # noqa: BLE001
        err.print(f"veracity: cannot open the store: {type(exc).__name__}: {exc}", markup=False)
        return EXIT_FAILED

    def meta(p: Path) -> dict[str, Any]:
        m: dict[str, Any] = {}
        if args.vendor:
            m["vendor"] = args.vendor
        if args.product:
            m["product"] = args.product
            m["version"] = p.name
        return m

    previous = signal.signal(signal.SIGTERM, _sigterm)
    quiet = os.environ.get("VERACITY_NO_PROGRESS") == "1"
    progress = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.description}"), console=err, disable=quiet, transient=True)
    task = progress.add_task("", total=len(paths))

    def on_event(kind: str, outcome: Outcome | None, total: int) -> None:
        if kind == "done" and outcome is not None:
            progress.update(task, advance=1, description=Path(outcome.path).name)

    try:
        with progress:
            outcomes = run_batch(
                paths, store=store, workers=args.workers, scheduler=args.scheduler, force=args.force,
                cache_path=None if args.no_cache else (args.cache or default_cache_path()),
                workdir=args.workdir, meta=meta, on_event=on_event, sign=sign,
            )
    except KeyboardInterrupt:
        err.print("veracity: batch interrupted; run it again to resume")
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
        store.close()
    if args.json:
        sys.stdout.write(json.dumps([o.__dict__ for o in outcomes], indent=2) + "\n")
    else:
        summary_table(outcomes, Console())
    return EXIT_OK if all(o.status != "failed" for o in outcomes) else EXIT_FAILED


def _sigterm(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    _p = argparse.ArgumentParser(prog="veracity")
    _run = register(_p.add_subparsers(dest="command"))
    _a = _p.parse_args()
    raise SystemExit(_run(_a))
