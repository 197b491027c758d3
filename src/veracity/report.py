"""The report: one JSON value per scan, as specified in shared/spec/REPORT.md (schema version 1).

Deterministic: lists are sorted, no dictionary order depends on the run, and only ``started_at`` and
``duration_s`` change between two scans of the same target with the same tool and rules version.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from . import __version__
from .findings import Finding
from .inventory import Inventory
from .unpack.engine import Unpacked

SCHEMA_VERSION = "1"


def rules_version() -> str:
    """A digest of every rule and knowledge file shipped with this version."""
    from .checks import registry

    h = hashlib.sha256()
    for rule in sorted(registry.all_rules(), key=lambda r: r.id):
        h.update(repr(rule).encode())
    return f"{__version__}+{h.hexdigest()[:12]}"


def file_digest(path: Path) -> tuple[str, int]:
    """sha256 and size of a file."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)  # without the GIL: a scan hashes its image in a thread while it unpacks
    return h.hexdigest(), path.stat().st_size


def target_digest(path: Path, unpacked: Unpacked, inventory: Inventory) -> tuple[str, int]:
    """sha256 and size of a file target; for a directory, a digest of its sorted listing and contents."""
    if path.is_file():
        return file_digest(path)
    h = hashlib.sha256()
    size = 0
    top = unpacked.trees[0] if unpacked.trees else None
    if top is not None:
        for node in top:
            h.update(f"{node.path}\x00{node.kind}\x00{node.sha256 or node.link_target or ''}\n".encode(
                "utf-8", "surrogateescape"))
            size += node.size if node.kind == "file" else 0
    return h.hexdigest(), size


def build(
    *,
    target: Path,
    unpacked: Unpacked,
    inventory: Inventory,
    findings: list[Finding],
    started_at: str,
    duration_s: float,
    accounts: list[dict] | None = None,
    services: list[dict] | None = None,
    endpoints: list[dict] | None = None,
    components: list[dict] | None = None,
    conformance: list[dict] | None = None,
    checks: list[dict] | None = None,
    digest: tuple[str, int] | None = None,
    **extra: list[dict] | dict,
) -> dict[str, Any]:
    """The report. ``digest``: the target's (sha256, size) when already known (see :func:`file_digest`).
    ``extra`` holds sections checks add beyond the contract (``dataflow``, ``declaration``, ...); they go in under
    their own names, after the contract's."""
    sha, size = digest or target_digest(target, unpacked, inventory)
    entries = [n for t in unpacked.trees for n in t.nodes.values() if n.path != "/"]
    files = []
    for item in sorted(inventory.items, key=lambda i: (i.tree.container, i.node.path)):
        n, f = item.node, item.facts
        files.append(
            {
                "path": n.path,
                "container": list(item.tree.container),
                "size": n.size,
                "mode": f"{n.mode:04o}",
                "uid": n.uid,
                "gid": n.gid,
                "sha256": f.sha256,
                "type": f.detail or f.kind,
                "kind": f.kind,
            }
        )
    links = sorted(
        (
            {"path": n.path, "container": list(t.container), "kind": n.kind, "target": n.link_target}
            for t in unpacked.trees
            for n in t.nodes.values()
            if n.kind == "symlink"
        ),
        key=lambda d: (d["container"], d["path"]),
    )
    specials = sorted(
        (
            {"path": n.path, "container": list(t.container), "kind": n.kind, "rdev": list(n.rdev) if n.rdev else None,
             "mode": f"{n.mode:04o}"}
            for t in unpacked.trees
            for n in t.nodes.values()
            if n.kind not in ("file", "dir", "symlink")
        ),
        key=lambda d: (d["container"], d["path"]),
    )
    unique = {}
    for f in findings:
        unique.setdefault((f.fingerprint, f.rule), f)
    ordered = sorted(unique.values(), key=Finding.sort_key)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "veracity", "version": __version__, "rules_version": rules_version()},
        "target": {"name": target.name or str(target), "path": str(target), "sha256": sha, "size": size,
                   "kind": unpacked.target_kind},
        "started_at": started_at,
        "duration_s": round(duration_s, 3),
        "extraction": {
            "files": len(entries),
            "bytes": sum(n.size for n in entries if n.kind == "file" and n.link_target is None),
            "depth": unpacked.depth,
            "containers": sorted(unpacked.containers, key=lambda c: (c["path"], c["offset"], c["format"])),
            "errors": sorted(unpacked.errors, key=lambda e: (e["path"], e["message"])),
            "trees": sorted(
                ({"container": list(t.container), "format": t.format, "entries": len(t) - 1} for t in unpacked.trees),
                key=lambda d: d["container"],
            ),
        },
        "findings": [f.to_dict() for f in ordered],
        "accounts": accounts or [],
        "services": services or [],
        "endpoints": endpoints or [],
        "components": components or [],
        "conformance": conformance or [],
        "checks": checks or [],
        **{name: extra[name] for name in sorted(extra)},
        "files": files,
        "links": links,
        "specials": specials,
        "summary": _summary(ordered),
    }


def _summary(findings: list[Finding]) -> dict[str, Any]:
    from .findings import SEVERITIES

    by_sev = {s: 0 for s in SEVERITIES}
    by_cat: dict[str, int] = {}
    for f in findings:
        by_sev[f.severity] += 1
        by_cat[f.category] = by_cat.get(f.category, 0) + 1
    return {"by_severity": by_sev, "by_category": dict(sorted(by_cat.items()))}


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=True) + "\n"


@cache
def schema() -> dict[str, Any]:
    return json.loads(resources.files("veracity").joinpath("schema/report.schema.json").read_text())


def validate(report: dict[str, Any]) -> list[str]:
    """Schema violations of ``report`` (empty when valid)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(report)]

