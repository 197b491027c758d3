"""The two sides of a diff: an image (scanned here, its inventory kept alive while the diff is made) or a
saved report (JSON, validated against the report schema).

An image side keeps its unpacked files on disk until the diff is done: strings of changed binaries are
extracted on demand (``Inventory.strings``), and only for the files that differ between the versions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import inventory as inventory_mod
from .. import report as report_mod
from ..findings import Finding
from ..inventory import Inventory, Item
from ..limits import Limits
from ..options import ScanOptions

_OFFSET = re.compile(r"@0x[0-9a-f]+$")
REPORT_LIMIT = 1 << 30
"""A saved report larger than this is not read."""


class DiffError(Exception):
    """A side cannot be used (not a report and not a scannable target, or an invalid report)."""

    def __init__(self, message: str, *, usage: bool = True):
        super().__init__(message)
        self.usage = usage


def chain_of(container: list[str] | tuple[str, ...]) -> str:
    """The container chain below the target, without offsets: the same for two versions of one image (the
    way fingerprints see it)."""
    return "/".join(_OFFSET.sub("", c) for c in list(container)[1:])


@dataclass
class Side:
    """One version: its report, and for an image its live inventory."""

    label: str
    """``OLD`` or ``NEW``."""
    path: Path
    source: str
    """``image`` or ``report``."""
    report: dict[str, Any]
    inventory: Inventory | None = None
    _items: dict[tuple[str, str], Item] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return str((self.report.get("target") or {}).get("name") or self.path.name)

    def describe(self) -> dict[str, Any]:
        t = self.report.get("target") or {}
        tool = self.report.get("tool") or {}
        return {
            "label": self.label,
            "source": self.source,
            "path": str(self.path),
            "name": t.get("name"),
            "kind": t.get("kind"),
            "sha256": t.get("sha256"),
            "size": t.get("size"),
            "tool_version": tool.get("version"),
            "rules_version": tool.get("rules_version"),
        }

    def item(self, chain: str, path: str) -> Item | None:
        """The inventory item of a file (image sides only)."""
        if self.inventory is None:
            return None
        if self._items is None:
            self._items = {(chain_of(i.tree.container), i.node.path): i for i in self.inventory.items}
        return self._items.get((chain, path))

    def resolve(self, chain: str, path: str) -> Item | None:
        """The file at ``path`` of the tree with this chain, links followed inside that tree (image sides)."""
        if self.inventory is None:
            return None
        for tree in self.inventory.trees:
            if chain_of(tree.container) == chain:
                hit = self.inventory.item(tree, path)
                if hit is not None:
                    return hit
        return None


def is_report(path: Path) -> bool:
    """Whether ``path`` is a saved veracity report (a JSON object with ``schema_version`` and ``findings``)."""
    if not path.is_file():
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(4096).lstrip()
    except OSError:
        return False
    if not head.startswith(b"{"):
        return False
    return b'"schema_version"' in head or (b'"findings"' in head and path.suffix.lower() == ".json")


def load_report(path: Path, label: str) -> Side:
    """A saved report, validated; :class:`DiffError` when it is not a valid veracity report."""
    try:
        if path.stat().st_size > REPORT_LIMIT:
            raise DiffError(f"{label} {path}: report larger than {REPORT_LIMIT} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DiffError(f"{label} {path}: cannot read the report: {exc}") from None
    if not isinstance(data, dict):
        raise DiffError(f"{label} {path}: not a veracity report (a JSON object was expected)")
    problems = report_mod.validate(data)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise DiffError(f"{label} {path}: not a valid veracity report: {shown}")
    return Side(label, path, "report", data)


@contextlib.contextmanager
def open_side(
    path: Path,
    label: str,
    *,
    options: ScanOptions | None = None,
    limits: Limits | None = None,
    workdir: Path | None = None,
    cache_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Iterator[Side]:
    """A side, open for the duration of the ``with`` block (an image's unpacked files are removed after)."""
    if not (path.exists() or path.is_symlink()):
        raise DiffError(f"{label}: no such file or directory: {path}")
    if path.is_symlink():
        path = path.resolve()
    if is_report(path):
        yield load_report(path, label)
        return
    with scan_kept(path, options=options, limits=limits, workdir=workdir, cache_path=cache_path,
                   progress=progress) as (report, inv):
        yield Side(label, path, "image", report, inv)


@contextlib.contextmanager
def scan_kept(
    target: Path,
    *,
    options: ScanOptions | None = None,
    limits: Limits | None = None,
    workdir: Path | None = None,
    cache_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Iterator[tuple[dict[str, Any], Inventory]]:
    """The scan of :func:`veracity.scan.scan` (same stages, same report), with the inventory and its unpacked
    files kept until the ``with`` block ends."""
    from ..checks import registry
    from ..checks.runner import run_one
    from ..standards import conformance
    from ..unpack import rules
    from ..unpack.engine import Engine, Unpacked

    limits = limits or Limits()
    say = progress or (lambda _m: None)
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    t0 = time.monotonic()
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="veracity-diff-", dir=workdir))
    cache = inventory_mod.Cache(cache_path)
    try:
        engine = Engine(tmp, limits, say)
        try:
            unpacked = engine.run(target)
        except Exception as exc:  # noqa: BLE001 - a bug in one extractor must not lose the diff
            unpacked = engine.out or Unpacked("firmware")
            unpacked.findings.append(rules.EXTRACT_FAILED.finding(
                path=None, container=(target.name,), evidence=f"internal error while unpacking: {exc!r}"))
        instances = registry.checks(options)
        say(f"reading files of {target.name}")
        inv = inventory_mod.build(unpacked.trees, cache, None, registry.patterns(instances))
        findings: list[Finding] = [*unpacked.findings, *inv.findings]
        sections: dict[str, Any] = {}
        ran: list[dict] = []
        for check in instances:
            say(f"{target.name}: check {check.ID}")
            found, entry = run_one(check, inv, sections, target.name)
            findings.extend(found)
            ran.append(entry)
        sections["checks"] = ran
        sections["conformance"] = conformance(findings, ran, options.standards if options else (), checks=instances)
        report = report_mod.build(
            target=target, unpacked=unpacked, inventory=inv, findings=findings, started_at=started_at,
            duration_s=time.monotonic() - t0, **sections,
        )
        yield report, inv
    finally:
        cache.close()
        shutil.rmtree(tmp, ignore_errors=True)
