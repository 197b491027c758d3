"""unblob as a library: carving chunks out of blobs, and running its extractors in a jail.

Carving runs in-process (it only reads). Extraction by an unblob handler (which may call 7z, debugfs,
jefferson, ubireader...) runs in a child process that:
  * starts its own process group, so a timeout kills the extractor and everything it spawned;
  * has RLIMIT_FSIZE set to the bytes the scan may still write, and no core dumps;
  * enters a Landlock sandbox that allows writes only below its output directory (where the kernel
    supports it);
while the parent watches its output size and the time, and kills it when a limit is hit.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import signal
import sys
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..limits import Budget, LimitExceeded


def quiet_unblob() -> None:
    """unblob logs through structlog at debug level by default, which costs ~25x in speed."""
    import structlog

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
        cache_logger_on_first_use=True,
    )
    logging.getLogger("unblob").setLevel(logging.CRITICAL)


@cache
def handlers() -> tuple:
    quiet_unblob()
    import_unblob()
    from unblob.handlers import BUILTIN_HANDLERS

    return tuple(BUILTIN_HANDLERS)


@dataclass(frozen=True, slots=True)
class Chunk:
    start: int
    end: int
    handler: str | None
    """unblob handler name; None for data no handler recognised."""

    @property
    def format(self) -> str:
        return self.handler or "unknown"


# Filesystems whose extractor reads the whole file anyway and whose chunk calculation in unblob is a slow
# walk over every node: when the file starts with one, carving is skipped.
_WHOLE_FILE = ((b"\x85\x19", "jffs2_new"), (b"\x19\x85", "jffs2_new"))


def import_unblob() -> None:
    """Import unblob without letting it break the host program: on import it sets the process-wide
    multiprocessing start method, which raises ("context has already been set") when something else already
    chose one (a process pool, Dask, a web server). veracity forks its own sandboxed children explicitly, so
    the host's choice is kept."""
    if "unblob.pool" in sys.modules:
        return
    original = multiprocessing.set_start_method

    def tolerant(method: str | None, force: bool = False) -> None:
        try:
            original(method, force=force)
        except RuntimeError:
            pass  # already chosen by the host program: keep it

    multiprocessing.set_start_method = tolerant  # type: ignore[assignment]
    try:
        import unblob.pool  # noqa: F401
    finally:
        multiprocessing.set_start_method = original  # type: ignore[assignment]


def carve(path: Path) -> list[Chunk]:
    """Known chunks of the blob at ``path`` and the unknown gaps between them, in offset order."""
    with path.open("rb") as fh:
        head = fh.read(16)
    for magic, name in _WHOLE_FILE:
        if head.startswith(magic):
            return [Chunk(0, path.stat().st_size, name)]
    import_unblob()
    from unblob.finder import search_chunks
    from unblob.models import File, PaddingChunk, TaskResult
    from unblob.processing import calculate_unknown_chunks, remove_inner_chunks

    size = path.stat().st_size
    if size == 0:
        return []
    hs = handlers()
    result = TaskResult(task=_task(path))
    with File.from_path(path) as file:
        found = remove_inner_chunks(search_chunks(file, size, hs, result))
        unknown = calculate_unknown_chunks(found, size)
        chunks = [Chunk(c.start_offset, c.end_offset, c.handler.NAME) for c in found]
        for u in unknown:
            if isinstance(u, PaddingChunk) or _is_padding(file, u.start_offset, u.end_offset):
                continue
            chunks.append(Chunk(u.start_offset, u.end_offset, None))
    return sorted(chunks, key=lambda c: c.start)


def _task(path: Path):
    from unblob.models import Task

    return Task(path=path, depth=0, blob_id="")


def _is_padding(file, start: int, end: int) -> bool:
    data = file[start:end]
    return len(set(data[:65536])) <= 1 and len(set(data)) <= 1


# -- sandboxed extraction ---------------------------------------------------------------------------


def _context():
    # fork: unblob is already imported here, so the child starts at once (a forkserver costs ~1 s per
    # scan). The child only runs the extractor; it never touches the parent's console or locks.
    return multiprocessing.get_context("fork")


def _worker(handler_name: str, inpath: str, outdir: str, max_file: int, conn) -> None:
    os.setsid()
    # the extractor commands unblob calls (jefferson, ubireader, ...) live beside this interpreter
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_file, max_file))
    quiet_unblob()
    message = ""
    try:
        from unblob._rust.sandbox import AccessFS, SandboxError, restrict_access

        try:
            out = Path(outdir)
            restrict_access(
                AccessFS.read("/"),
                AccessFS.read_write("/dev/shm"),
                AccessFS.read_write(out.parent),
                AccessFS.remove_dir(out.parent),
                AccessFS.remove_file(out.parent),
                AccessFS.make_dir(out.parent),
            )
        except SandboxError:
            pass  # kernel without Landlock: the writer-side checks still hold
        from unblob.models import ExtractError

        handler = next(h for h in handlers() if h.NAME == handler_name)()
        _adjust(handler)
        try:
            result = handler.extract(Path(inpath), Path(outdir))
            reports = result.reports if result else []
        except ExtractError as exc:
            reports = list(exc.reports) or [exc]
        if handler_name in _SIDECARS:  # also after a partial extraction: 7z fails on the links it refuses
            _SIDECARS[handler_name](Path(inpath), Path(outdir))
        errors = [r for r in reports if getattr(r, "severity", None) is not None and str(r.severity).endswith("ERROR")]
        message = "; ".join(_describe(r) for r in errors)
    except BaseException as exc:  # noqa: BLE001 - everything must reach the parent as a message
        message = f"{type(exc).__name__}: {exc}"
    conn.send(message)
    conn.close()


def _adjust(handler) -> None:
    """Extractor options unblob does not pass and an auditor needs."""
    from unblob.extractors import Command

    if handler.NAME == "ubifs":
        # keep modes (setuid bits) and owners as stored; device nodes it creates are recorded and removed
        handler.EXTRACTOR = Command("ubireader_extract_files", "{inpath}", "-k", "-w", "-o", "{outdir}")


def sidecar_path(outdir: Path) -> Path:
    """Where an extractor leaves the metadata its output cannot carry (beside, not inside, the tree)."""
    return outdir.parent / "veracity-meta.json"


def _sevenzip_meta(inpath: Path, outdir: Path) -> None:
    """7z drops symbolic links that climb with '..', rewrites absolute ones into its output directory and
    writes no setuid bits. Its listing has the real modes; the link targets are the members' data."""
    import json
    import subprocess

    listing = subprocess.run(
        ["7z", "l", "-slt", "-p", "-y", str(inpath)], capture_output=True, timeout=120, check=False
    ).stdout.decode("utf-8", "surrogateescape")
    entries: list[dict] = []
    current: dict = {}
    for line in listing.splitlines():
        if not line.strip():
            if "Path" in current:
                entries.append(current)
            current = {}
            continue
        key, sep, value = line.partition(" = ")
        if sep:
            current[key] = value
    if "Path" in current:
        entries.append(current)
    meta: dict[str, dict] = {}
    links: list[tuple[str, int]] = []
    for e in entries[1:] if entries and "Type" in entries[0] else entries:
        attrs = e.get("Attributes", "").split()
        unix = next((a for a in attrs if len(a) == 10 and a[0] in "-dlcbps"), None)
        if unix is None:
            continue
        meta[e["Path"]] = {"mode": _mode_bits(unix), "type": unix[0]}
        if unix[0] == "l":
            links.append((e["Path"], int(e.get("Size") or 0)))
    if links:
        data = subprocess.run(
            ["7z", "x", "-so", "-p", "-y", str(inpath), *(f"-i!{p}" for p, _ in links)],
            capture_output=True, timeout=120, check=False,
        ).stdout
        pos = 0
        for p, size in links:  # members come out in archive order, which is the listing order
            meta[p]["link"] = data[pos : pos + size].decode("utf-8", "surrogateescape")
            pos += size
    sidecar_path(outdir).write_text(json.dumps(meta))


def _mode_bits(text: str) -> int:
    bits = 0
    for i, (ch, on) in enumerate(zip(text[1:], "rwxrwxrwx", strict=True)):
        if ch in (on, "s", "t"):
            bits |= 1 << (8 - i)
    if text[3] in "sS":
        bits |= 0o4000
    if text[6] in "sS":
        bits |= 0o2000
    if text[9] in "tT":
        bits |= 0o1000
    return bits


_SIDECARS = {"sevenzip": _sevenzip_meta}


def _describe(report) -> str:
    for attr in ("command", "stderr", "exception", "dependencies"):
        value = getattr(report, attr, None)
        if value:
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            return f"{type(report).__name__}: {attr}={text[:300]}"
    return type(report).__name__


def _disk_usage(root: Path) -> tuple[int, int]:
    total = files = 0
    stack = [str(root)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    files += 1
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        try:
                            total += entry.stat(follow_symlinks=False).st_size
                        except OSError:
                            pass
        except OSError:
            pass
    return total, files


def extract(handler: str, inpath: Path, outdir: Path, budget: Budget, packed: int) -> str:
    """Run unblob's ``handler`` on ``inpath`` into ``outdir``. Returns an error message ('' on success).

    Raises LimitExceeded when the extractor had to be stopped.
    """
    limits = budget.limits
    ctx = _context()
    parent, child = ctx.Pipe(duplex=False)
    max_file = max(1, budget.remaining_bytes())
    proc = ctx.Process(target=_worker, args=(handler, str(inpath), str(outdir), max_file, child), daemon=True)
    proc.start()
    child.close()
    started = time.monotonic()
    deadline = min(started + limits.extractor_timeout_s, budget.deadline)
    ratio_cap = max(limits.ratio_floor, int(limits.max_ratio * max(packed, 1)))
    exceeded: LimitExceeded | None = None
    next_check = started + 0.5
    try:
        while proc.is_alive():
            proc.join(0.05)
            now = time.monotonic()
            if now > deadline:
                which = "timeout" if now > budget.deadline else "extractor_timeout"
                exceeded = LimitExceeded(which, f"{handler} extractor stopped after {now - started:.0f} s")
                break
            if now >= next_check:
                next_check = now + 1.0
                used, files = _disk_usage(outdir)
                if used > budget.remaining_bytes():
                    exceeded = LimitExceeded("max_bytes", f"{handler} output passed the unpacked size limit")
                elif used > ratio_cap:
                    exceeded = LimitExceeded(
                        "max_ratio", f"{handler} output passed the {limits.max_ratio:g}:1 compression ratio limit"
                    )
                elif budget.files + files > limits.max_files:
                    exceeded = LimitExceeded("max_files", f"{handler} output passed the file count limit")
                if exceeded:
                    break
    finally:
        if proc.is_alive():
            _kill(proc)
    if exceeded:
        raise exceeded
    message = parent.recv() if parent.poll() else ""
    parent.close()
    if proc.exitcode not in (0, None) and not message:
        message = f"{handler} extractor exited with status {proc.exitcode}"
        if proc.exitcode == -signal.SIGXFSZ:
            raise LimitExceeded("max_bytes", f"{handler} tried to write a file past the unpacked size limit")
    return message


def _kill(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.kill()
    proc.join(5)
