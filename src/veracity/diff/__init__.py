"""``veracity diff OLD NEW``: what an update changes, in security terms.

Each side is an image (scanned here, its inventory kept while the diff is made, so startup scripts can be
shown as text diffs and changed executables examined) or a saved report (JSON). The result lists the
changes that matter, each with evidence on both sides: accounts, services and listeners, endpoints, keys,
components and vulnerabilities, findings, executables that gained suspicious capabilities, startup scripts;
files that differ only in build stamps are counted, renamed files matched by content.

- :func:`diff_paths` - the diff of two paths (images or reports);
- :func:`veracity.diff.compare.compare` - the diff of two loaded sides;
- :mod:`veracity.diff.render` - terminal, JSON, Markdown and HTML renderers;
- :func:`veracity.diff.cli.register` - the ``diff`` subcommand.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..limits import Limits
from ..options import ScanOptions
from .compare import compare, fails
from .load import DiffError, Side, open_side
from .model import DIFF_SCHEMA


def diff_paths(
    old: Path,
    new: Path,
    *,
    options: ScanOptions | None = None,
    limits: Limits | None = None,
    workdir: Path | None = None,
    cache_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
    allow_countries: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The diff of two versions, each an image or a saved report. Raises :class:`DiffError` for a side that
    cannot be used."""
    allow = tuple(allow_countries) or (tuple(options.allow_countries) if options else ())
    with contextlib.ExitStack() as stack:
        a, b = (
            stack.enter_context(open_side(Path(path), label, options=options, limits=limits, workdir=workdir,
                                          cache_path=cache_path, progress=progress))
            for path, label in ((old, "OLD"), (new, "NEW"))
        )
        return compare(a, b, allow_countries=allow)


__all__ = ["DIFF_SCHEMA", "DiffError", "Side", "compare", "diff_paths", "fails", "open_side"]
