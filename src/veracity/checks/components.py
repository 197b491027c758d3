"""Components: what third-party software the image ships, which of it is known-vulnerable or past its end of
life.

Most firmware software is not installed by any package manager, so besides the package databases (opkg,
dpkg, apk, Python, npm) this check identifies programs and libraries by version signatures (banners, version
literals, library file names: ``data/signatures.json``, one Hyperscan pass with the rest of the inventory).
It fills the report's ``components`` section (the SBOM renderers read it) and matches each versioned
component against the local vulnerability database (``veracity db``), offline.

Decisions:
- Confidence: package-database evidence is ``high``, a version banner ``medium``, a version literal found
  next to a program's own text or a version-less identification ``low``. A match inherits it, lowered for
  the Linux kernel (configuration and back-ports unknown), platform-bound NVD configurations and
  distribution packages.
- BusyBox CVEs about one applet are reported only when the binary's applet table has that applet; the
  others are kept in the section (and in the CycloneDX output) as *not affected, code not present*.
- Linux kernel CVEs are many and mostly about drivers a device does not build: only those known exploited
  (CISA KEV) or rated critical become findings one by one; the rest are counted in one finding and listed
  with the component.
- With no vulnerability database, one ``info`` finding says so; the SBOM is complete all the same.
- VEX documents (``--vex``) mark vulnerabilities not affected: they stay listed with their analysis, and
  raise no finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any, ClassVar

from ..components import eol, identify, matching, signatures, vex, vulndb
from ..components.identify import Component
from ..findings import Finding, Rule
from ..inventory import Inventory
from ..options import ScanOptions
from ..patterns import Pattern
from .base import NotApplicable

_NVD = "https://nvd.nist.gov/vuln/detail/"
_KEV = "https://www.cisa.gov/known-exploited-vulnerabilities-catalog"
_CWE1104 = "https://cwe.mitre.org/data/definitions/1104.html"
_CWE1395 = "https://cwe.mitre.org/data/definitions/1395.html"
_VULN_STANDARDS = ("EN303645:5.3-2", "TS33117:4.4.3")

VULNERABLE = Rule(
    "VER-CMP-001",
    "component.vulnerable",
    "high",
    "Component with a known vulnerability",
    "A component's identified version lies in the affected range of a published vulnerability (NVD CPE "
    "configuration or OSV record). The evidence names the component, the matched range, the CVSS rating, "
    "whether CISA lists it as known exploited, and how sure the match is.",
    _VULN_STANDARDS,
    (_CWE1395, _KEV),
)
KERNEL_SUMMARY = Rule(
    "VER-CMP-002",
    "component.vulnerable",
    "low",
    "Further Linux kernel vulnerabilities match the kernel version",
    "Kernel CVEs that match the kernel's version but are neither known exploited nor critical are counted "
    "here rather than listed one by one: most concern drivers or options a device may not build, and "
    "vendors back-port fixes. They are listed with the kernel component in the report and the SBOM.",
    _VULN_STANDARDS,
    ("https://www.kernel.org/category/releases.html",),
)
END_OF_LIFE = Rule(
    "VER-CMP-003",
    "component.end-of-life",
    "medium",
    "Component past its end of life",
    "The component's release branch no longer receives security fixes from its maintainers (the evidence "
    "names the branch, the date and the source of that knowledge).",
    ("TS33117:4.3.2.5", "EN303645:5.3-13"),
    (_CWE1104,),
)
NO_DATABASE = Rule(
    "VER-CMP-004",
    "analysis.incomplete",
    "info",
    "No vulnerability database: components were not checked for known vulnerabilities",
    "The local vulnerability database is missing. Run `veracity db update` (with a network) or "
    "`veracity db import FILES...` (NVD CVE 2.0 JSON, OSV, CISA KEV), then scan again.",
)
MANIFEST_BROKEN = Rule(
    "VER-CMP-005",
    "analysis.incomplete",
    "low",
    "A package database or manifest could not be parsed",
    "A package database (opkg, dpkg, apk) or manifest (Python metadata, package.json) is malformed; the "
    "components it lists are missing from the report.",
)
VEX_BROKEN = Rule(
    "VER-CMP-006",
    "analysis.incomplete",
    "low",
    "A VEX document could not be read",
    "A VEX document given with --vex is unreadable or of an unknown format; its statements were not applied.",
)
DATABASE_BROKEN = Rule(
    "VER-CMP-007",
    "analysis.incomplete",
    "low",
    "The vulnerability database could not be read",
    "The vulnerability database exists but cannot be opened (corrupt, or of another schema); components were "
    "not checked for known vulnerabilities.",
)

_SEVERITY = {"CRITICAL": "critical", "HIGH": "high", "MEDIUM": "medium", "LOW": "low", "NONE": "info"}
_ORDER = ("info", "low", "medium", "high", "critical")
MAX_PATHS = 50


class ComponentsCheck:
    ID: ClassVar[str] = "components"
    TITLE: ClassVar[str] = "Components, SBOM and known vulnerabilities"
    RULES: ClassVar[tuple[Rule, ...]] = (
        VULNERABLE, KERNEL_SUMMARY, END_OF_LIFE, NO_DATABASE, MANIFEST_BROKEN, VEX_BROKEN, DATABASE_BROKEN,
    )
    PATTERNS: ClassVar[tuple[Pattern, ...]] = signatures.patterns()

    def __init__(self, options: ScanOptions | None = None):
        self.options = options or ScanOptions()

    @staticmethod
    def warm() -> None:
        """Compile the path signatures now (a scan does it in the background while it unpacks)."""
        signatures.path_signatures_ready()

    def run(self, inv: Inventory, sections: dict[str, list[dict]]) -> Iterable[Finding]:
        if not inv.items:
            raise NotApplicable("no files to identify components in")
        found = identify.identify(inv)
        findings: list[Finding] = []
        for problem in found.problems:
            findings.append(MANIFEST_BROKEN.finding(path=problem.item.node.path, container=problem.item.tree.container,
                                                    evidence=problem.message))
        statements: list[vex.Statement] = []
        if self.options.vex:
            try:
                statements = vex.load(self.options.vex)
            except vex.VexError as exc:
                findings.append(VEX_BROKEN.finding(path=None, evidence=str(exc)))
        matches: dict[str, list[matching.Match]] = {}
        db_state = "absent"
        db_path = self.options.vulndb or vulndb.default_path()
        if found.components:
            if not db_path.exists():
                findings.append(NO_DATABASE.finding(path=None, evidence=f"no database at {db_path}"))
            else:
                try:
                    with vulndb.VulnDB(db_path, readonly=True) as db:
                        for comp in found.components:
                            matches[comp.id] = matching.match(db, comp)
                    db_state = "used"
                except (vulndb.VulnDBError, Exception) as exc:  # noqa: BLE001 - a broken DB must not lose the SBOM
                    findings.append(DATABASE_BROKEN.finding(path=None, evidence=str(exc)))
                    matches = {}
        _apply_vex(found.components, matches, statements)
        section = []
        for comp in found.components:
            comp_matches = matches.get(comp.id, [])
            end = eol.check(comp.key, comp.version if comp.branch_only or not comp.manager else comp.match_version)
            section.append(_record(comp, comp_matches, end, db_state))
            findings.extend(_findings(comp, comp_matches, end))
        sections["components"] = section
        return findings


def _apply_vex(comps: list[Component], matches: dict[str, list[matching.Match]], statements) -> None:
    if not statements:
        return
    known: set[str] = set()
    for comp in comps:
        known |= vex.names_of(comp)
    for comp in comps:
        names = vex.names_of(comp)
        for m in matches.get(comp.id, []):
            ids = {m.vuln.id, *m.aliases, *m.vuln.aliases}
            for st in statements:
                if st.vuln in ids and st.applies(names, known):
                    m.state = st.state
                    m.justification = st.justification or m.justification
                    m.detail = f"VEX {st.source}: {st.detail}".rstrip(": ")


def _severity(m: matching.Match) -> str:
    sev = _SEVERITY.get((m.vuln.severity or "").upper(), "medium")
    if m.kev and _ORDER.index(sev) < _ORDER.index("high"):
        sev = "high"
    if m.confidence == "low" and not m.kev and sev != "info":
        sev = _ORDER[max(1, _ORDER.index(sev) - 1)]
    return sev


def _where(comp: Component) -> tuple[str | None, tuple[str, ...]]:
    loc = comp.locations[0] if comp.locations else None
    return (loc.path, loc.container) if loc else (None, ())


def _findings(comp: Component, comp_matches: list[matching.Match], end) -> Iterator[Finding]:
    path, container = _where(comp)
    version = comp.version or "(version unknown)"
    label = f"{comp.name} {version}"
    summarised = []
    for m in comp_matches:
        if not m.affected:
            continue
        v = m.vuln
        critical = (v.score or 0) >= 9.0
        if comp.key == "linux" and not m.kev and not critical:
            summarised.append(v.id)
            continue
        rating = f"CVSS {v.score:g} ({v.method})" if v.score is not None else "no CVSS rating"
        kev = f"; known exploited (CISA KEV, added {m.kev['date_added']})" if m.kev else ""
        detail = f"; {m.detail}" if m.detail else ""
        evidence = (f"{label}: {v.id} {rating}{kev}; affected: {m.criteria}; match confidence {m.confidence}"
                    f"{detail}; identified by: {comp.evidence[0] if comp.evidence else comp.source}")
        title = f"{label}: {v.id}" + (" (known exploited)" if m.kev else "")
        f = VULNERABLE.finding(path=path, container=container, evidence=evidence[:1000], title=title,
                               severity=_severity(m), key=f"{comp.name}@{comp.version}:{v.id}")
        refs = (_NVD + v.id if v.id.startswith("CVE-") else None, *(v.references[:3]), *( (_KEV,) if m.kev else ()))
        yield replace(f, references=tuple(dict.fromkeys(r for r in (*refs, *f.references) if r)))
    if summarised:
        yield KERNEL_SUMMARY.finding(
            path=path, container=container, key=f"{comp.name}@{comp.version}",
            evidence=f"{label}: {len(summarised)} more matching CVEs, e.g. {', '.join(summarised[:10])}",
            title=f"{len(summarised)} further Linux kernel vulnerabilities match {comp.version}",
        )
    if end is not None:
        when = f"since {end.date}" if end.date else "date not documented"
        yield END_OF_LIFE.finding(
            path=path, container=container, key=f"{comp.name}@{comp.version}",
            title=f"{label} is past its end of life",
            evidence=f"{label}: branch {end.branch} end of life ({when}, knowledge as of {end.as_of}); source: {end.source}",
        )


def _record(comp: Component, comp_matches: list[matching.Match], end, db_state: str) -> dict[str, Any]:
    paths = [loc.path for loc in comp.locations]
    rec: dict[str, Any] = {
        "name": comp.name,
        "version": comp.version,
        "purl": comp.purl,
        "cpe": comp.cpe,
        "paths": paths[:MAX_PATHS],
        "evidence": "; ".join(comp.evidence) or comp.source,
        "id": comp.id,
        "type": comp.type,
        "source": comp.source,
        "confidence": comp.confidence,
        "container": list(comp.locations[0].container) if comp.locations else [],
        "locations": [
            {"path": loc.path, "container": list(loc.container), "sha256": loc.sha256, "offset": loc.offset}
            for loc in comp.locations[:MAX_PATHS]
        ],
        "path_count": len(paths),
        "depends_on": sorted(comp.depends),
        "vulnerabilities_checked": db_state == "used" and comp.match_version is not None,
        "vulnerabilities": [_vuln_record(m) for m in comp_matches],
        "end_of_life": (
            {"branch": end.branch, "date": end.date, "source": end.source, "as_of": end.as_of} if end else None
        ),
    }
    if comp.manager and comp.version:
        rec["upstream_version"] = comp.match_version
    if comp.key and comp.key != comp.name:
        rec["knowledge"] = comp.key
    if comp.license:
        rec["license"] = comp.license
    if comp.applets is not None:
        rec["applets"] = comp.applets
        rec["applets_source"] = comp.applet_source
    if comp.branch_only:
        rec["version_precision"] = "branch"
    return rec


def _vuln_record(m: matching.Match) -> dict[str, Any]:
    v = m.vuln
    return {
        "id": v.id,
        "aliases": sorted(set(m.aliases) | set(v.aliases)),
        "source": v.origin,
        "description": v.description[:1000],
        "score": v.score,
        "severity": (v.severity or "").lower() or None,
        "vector": v.vector,
        "method": v.method,
        "kev": m.kev is not None,
        "kev_date_added": m.kev["date_added"] if m.kev else None,
        "references": list(v.references[:5]) or ([_NVD + v.id] if v.id.startswith("CVE-") else []),
        "affected_range": m.criteria,
        "confidence": m.confidence,
        "state": m.state,
        "justification": m.justification,
        "detail": m.detail,
        "published": v.published,
        "modified": v.modified,
    }
