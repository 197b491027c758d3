"""What the benchmarks share: measuring a command as a child process, and writing one section of RESULTS.md.

RESULTS.md holds one section per benchmark between ``<!-- NAME -->`` and ``<!-- /NAME -->``; a run replaces its
own section and leaves the others (each section says when it ran: compare ratios within a section only).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TITLE = "# Benchmark results\n"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a measured command: veracity as installed, its modules compiled once beforehand. A
    shell that sets PYTHONDONTWRITEBYTECODE would otherwise have every run compile veracity's own sources again
    (a third of a second per process), which no installed copy does."""
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "src"), quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    venv = Path(__file__).resolve().parents[1] / ".venv" / "bin"
    env.update(PATH=f"{venv}:{os.environ['PATH']}", VERACITY_NO_PROGRESS="1", **extra)
    return env


def measure(argv: list[str], env: dict | None = None) -> dict:
    """Wall time, CPU time (user + system, children included) and peak RSS of one command. Its error output goes
    to a file: read from a pipe only after the command ended, more than a pipe holds (64 KiB, a scan's summary
    table can be that) would block the command for ever."""
    with tempfile.TemporaryFile() as errfile:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errfile, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        errfile.seek(0)
        err = errfile.read().decode(errors="replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {err[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024,
            "rc": proc.returncode, "err": err}


def write_section(name: str, heading: str, intro: str, body: str, path: Path = RESULTS) -> None:
    """Replace section ``name`` of RESULTS.md (appended when absent)."""
    text = path.read_text(encoding="utf-8") if path.exists() else TITLE
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n## {heading}\n\n{intro}\n\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
