"""One scan: target -> unpack -> inventory -> checks -> report. Nothing from the image is ever executed."""

from __future__ import annotations

import datetime as dt
import gc
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import inventory as inventory_mod
from . import report as report_mod
from .ahead import Ahead
from .checks import registry
from .checks.runner import run_checks
from .findings import Finding
from .limits import Limits
from .options import ScanOptions
from .unpack import rules
from .unpack.engine import Engine, Unpacked


def scan(
    target: Path,
    *,
    limits: Limits | None = None,
    workdir: Path | None = None,
    cache_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
    options: ScanOptions | None = None,
) -> dict[str, Any]:
    """Scan ``target`` and return the report (a JSON-ready dict). Never raises for a bad target."""
    limits = limits or Limits()
    say = progress or (lambda _m: None)
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    t0 = time.monotonic()
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="veracity-", dir=workdir))
    # a terminated scan still cleans up; signal handlers can only be set from the main thread (the web UI and
    # batch run scans in worker threads, where the owner of the process decides what SIGTERM does)
    own_signal = threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
        signal.SIG_DFL, None)
    if own_signal:
        signal.signal(signal.SIGTERM, _terminate)
    cache = inventory_mod.Cache(cache_path)
    engine: Engine | None = None
    ahead: Ahead | None = None
    try:
        instances = registry.checks(options)
        warming = _warm(instances)
        digest = _Digest(target)  # the image hashed for the report meanwhile
        patterns = registry.patterns(instances)
        cache.salt = inventory_mod.facts_salt(patterns)  # known before unpacking: lazily recorded files need it
        # the files of the first large tree are worked on while what it holds is unpacked (see veracity.ahead)
        ahead = Ahead(cache, patterns, instances, deadline=t0 + limits.timeout_s)
        engine = Engine(tmp, limits, say, cache=cache, ahead=ahead)
        try:
            unpacked = engine.run(target)
        except Exception as exc:  # noqa: BLE001 - a bug in one extractor must not lose the scan
            unpacked = engine.out or Unpacked("firmware")
            unpacked.findings.append(
                rules.EXTRACT_FAILED.finding(
                    path=None, container=(target.name,), evidence=f"internal error while unpacking: {exc!r}"
                )
            )
        ahead.close()  # a child still working on a tree unpacking never finished (an error in an extractor)
        say("reading files")
        inv = inventory_mod.build(unpacked.trees, cache, lambda n, total: say(f"reading files {n}/{total}"), patterns,
                                  known=ahead.facts)
        ahead.keep()
        inv.prefetched.update(ahead.results)
        say("checks " + ", ".join(c.ID for c in instances))
        # the checks have the scan's time limit, and at least a minute when unpacking used it up
        deadline = max(t0 + limits.timeout_s, time.monotonic() + 60)
        for thread in warming:
            thread.join()
        found, ran, sections = run_checks(instances, inv, target.name, deadline)
        findings: list[Finding] = [*unpacked.findings, *inv.findings, *found]
        sections["checks"] = ran
        from .standards import conformance

        sections["conformance"] = conformance(findings, ran, options.standards if options else (), checks=instances)
        return report_mod.build(
            target=target,
            unpacked=unpacked,
            inventory=inv,
            findings=findings,
            started_at=started_at,
            duration_s=time.monotonic() - t0,
            digest=digest.result(),
            **sections,
        )
    finally:
        if ahead is not None:
            ahead.close()
        if engine is not None:
            engine.close()
        cache.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if own_signal:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _warm(instances: tuple | list) -> list[threading.Thread]:
    """The checks' data (``warm()``), read in the background while the image is unpacked: mostly decompression,
    which runs beside the unpacker's own work. A failure is left to the check, which meets it again and says so."""

    def warm(check: Any) -> None:
        try:
            check.warm()
        except Exception:  # noqa: BLE001, S110 - the check's own run reads the data again and reports
            pass

    threads = [threading.Thread(target=warm, args=(c,), name=f"warm-{c.ID}", daemon=True)
               for c in instances if callable(getattr(c, "warm", None))]
    for thread in threads:
        thread.start()
    return threads


class _Digest:
    """The sha256 and size of a file target, worked out in a thread (hashing runs without the GIL)."""

    def __init__(self, target: Path):
        self.value: tuple[str, int] | None = None
        self.thread: threading.Thread | None = None
        if target.is_file() and not target.is_symlink():
            self.thread = threading.Thread(target=self._run, args=(target,), name="digest", daemon=True)
            self.thread.start()

    def _run(self, target: Path) -> None:
        try:
            self.value = report_mod.file_digest(target)
        except OSError:
            self.value = None  # the report hashes it again and meets the problem itself

    def result(self) -> tuple[str, int] | None:
        if self.thread is not None:
            self.thread.join()
        return self.value


GC_THRESHOLDS = (50_000, 20, 100)
"""Garbage collection in a process that runs scans: a scan allocates millions of short-lived containers (match
tuples, candidates, facts), and Python's default (a collection every 700) cost about 5% of a scan's time. Memory is
freed by reference counting either way; only cycles wait a little longer."""


def tune_process() -> None:
    """Set what suits a process whose work is scans (the CLI, a batch worker); not a library's host process."""
    gc.set_threshold(*GC_THRESHOLDS)


def _terminate(signum, frame):
    raise SystemExit(128 + signum)
