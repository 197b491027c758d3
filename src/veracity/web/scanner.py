"""Scans requested through the web run in a separate process pool (hostile images never share the server's
process); the server's thread that collects results is the one writer of their rows."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from ..batch import process_pool, scan_path


class Scanner:
    def __init__(self, store: Any, *, workers: int = 1, cache_path: Path | None = None, workdir: Path | None = None):
        self.store = store
        self.cache_path = cache_path
        self.workdir = workdir
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None
        self.lock = threading.Lock()
        self.pending: set[Future] = set()

    def _pool(self) -> ProcessPoolExecutor:
        with self.lock:
            if self.pool is None:
                self.pool = process_pool(self.workers, max_tasks_per_child=20)
            return self.pool

    def submit(self, scan_id: int, path: Path, meta: dict[str, Any], name: str | None = None) -> Future:
        """Scan ``path``; the report names the target ``name`` (what the user called it), not the blob path."""
        self.store.set_status(scan_id, "running")
        fut = self._pool().submit(
            scan_path, str(path), str(self.cache_path) if self.cache_path else None,
            str(self.workdir) if self.workdir else None,
        )
        self.pending.add(fut)

        def done(f: Future) -> None:
            try:
                report = f.result()
                if name:
                    report["target"] = {**report["target"], "name": name, "path": name}
                self.store.ingest(report, **meta)
            except BaseException as exc:  # noqa: BLE001 - recorded on the scan row
                self.store.set_status(scan_id, "failed", f"{type(exc).__name__}: {exc}"[:1000])
            finally:
                self.pending.discard(f)

        fut.add_done_callback(done)
        return fut

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
