"""VEX documents: statements that a vulnerability does not affect (or does affect) the product.

Read: CycloneDX VEX/BOM JSON (``vulnerabilities[].analysis``) and OpenVEX JSON (``statements[]``). A
statement applies to the components its ``affects`` / ``products`` name (by SBOM reference, purl, with or
without version, or ``name@version``); a statement that names none of this product's components applies to
every component with that vulnerability (VEX is written about a product).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

NOT_AFFECTED = frozenset({"not_affected", "false_positive", "resolved", "resolved_with_pedigree"})
_OPENVEX_STATE = {"not_affected": "not_affected", "affected": "exploitable", "fixed": "resolved",
                  "under_investigation": "in_triage"}


class VexError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Statement:
    vuln: str
    state: str
    """CycloneDX vocabulary: not_affected, false_positive, resolved, exploitable, in_triage, ..."""
    justification: str | None
    detail: str
    refs: tuple[str, ...]
    source: str

    def applies(self, ids: set[str], known: set[str]) -> bool:
        """Whether it applies to a component known as ``ids`` (id, purl, purl without version, name@version);
        ``known`` holds every name of every component of the product."""
        if not self.refs or not (set(self.refs) & known):
            return True
        return bool(set(self.refs) & ids)


def load(paths) -> list[Statement]:
    out: list[Statement] = []
    for path in paths:
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VexError(f"{path}: cannot read VEX document: {exc}") from None
        if isinstance(doc, dict) and doc.get("bomFormat") == "CycloneDX":
            out.extend(_cyclonedx(doc, path.name))
        elif isinstance(doc, dict) and isinstance(doc.get("statements"), list):
            out.extend(_openvex(doc, path.name))
        else:
            raise VexError(f"{path}: not a CycloneDX or OpenVEX JSON document")
    return out


def _cyclonedx(doc: dict, source: str) -> list[Statement]:
    out = []
    for v in doc.get("vulnerabilities") or []:
        if not isinstance(v, dict) or not v.get("id"):
            continue
        analysis = v.get("analysis") or {}
        state = analysis.get("state")
        if not state:
            continue
        refs = tuple(str(a["ref"]) for a in v.get("affects") or [] if isinstance(a, dict) and a.get("ref"))
        out.append(Statement(v["id"], state, analysis.get("justification"), analysis.get("detail") or "", refs, source))
    return out


def _openvex(doc: dict, source: str) -> list[Statement]:
    out = []
    for s in doc["statements"]:
        if not isinstance(s, dict):
            continue
        vuln = s.get("vulnerability")
        name = vuln.get("name") if isinstance(vuln, dict) else vuln
        state = _OPENVEX_STATE.get(s.get("status", ""))
        if not name or not state:
            continue
        refs = []
        for p in s.get("products") or []:
            ref = p.get("@id") if isinstance(p, dict) else p
            if isinstance(ref, str):
                refs.append(ref)
        detail = s.get("impact_statement") or s.get("status_notes") or ""
        out.append(Statement(name, state, s.get("justification"), detail, tuple(refs), source))
    return out


def names_of(comp) -> set[str]:
    """Every name a VEX document may use for a component."""
    names = {comp.id, f"{comp.name}@{comp.version}", comp.name}
    if comp.purl:
        names.add(comp.purl)
        names.add(comp.purl.split("?")[0])
        names.add(comp.purl.split("@")[0])
    return names
