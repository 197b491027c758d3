"""Components against the vulnerability database.

CPE matching uses every vendor:product pair the knowledge gives a component and the NVD's version ranges,
compared with :mod:`.versions`. OSV records match package-database components by ecosystem and name.
Care taken:

- a component without a version (or with only a branch, like Python ``3.7`` from a directory name) is never
  matched: every range would match it;
- BusyBox: a CVE about one applet is *not affected* (code not present) when the binary's applet table lacks
  that applet; when the table could not be read the match stays, at lower confidence;
- Linux kernel: matches are *low* confidence (configuration and vendor back-ports are unknown);
- a CPE that is vulnerable only together with a platform (NVD ``AND`` configuration) is *low* confidence;
- distribution packages (dpkg, apk) matched through upstream CPEs are *low* (back-ported fixes); OSV data of
  the distribution is used as is;
- an OSV record that aliases a CVE already matched is folded into it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import busybox, versions
from .identify import Component
from .vulndb import Vuln, VulnDB

_RANK = {"high": 3, "medium": 2, "low": 1}
_NAME = {3: "high", 2: "medium", 1: "low"}


@dataclass(slots=True)
class Match:
    vuln: Vuln
    confidence: str
    criteria: str
    via: str
    kev: dict[str, Any] | None = None
    state: str = "in_triage"
    """CycloneDX impact analysis state: in_triage (a match nobody has analysed), not_affected, ..."""
    justification: str | None = None
    detail: str = ""
    aliases: list[str] = field(default_factory=list)

    @property
    def affected(self) -> bool:
        return self.state not in ("not_affected", "false_positive", "resolved", "resolved_with_pedigree")


def _lower(conf: str, to: str | None = None) -> str:
    rank = _RANK[conf] - 1 if to is None else min(_RANK[conf], _RANK[to])
    return _NAME[max(1, rank)]


def describe_range(name: str, row: dict[str, Any]) -> str:
    if row.get("version"):
        return f"{name} {row['version']}{row.get('update') or ''}"
    parts = []
    if row.get("start_incl"):
        parts.append(f">= {row['start_incl']}")
    if row.get("start_excl"):
        parts.append(f"> {row['start_excl']}")
    if row.get("end_incl"):
        parts.append(f"<= {row['end_incl']}")
    if row.get("end_excl"):
        parts.append(f"< {row['end_excl']}")
    return f"{name} {', '.join(parts) or 'all versions'}"


def _cpe_hit(version: str, row: dict[str, Any]) -> bool:
    if row["version"]:
        return versions.compare(version, row["version"] + (row["update"] or "")) == 0
    return versions.in_range(version, start_incl=row["start_incl"], start_excl=row["start_excl"],
                             end_incl=row["end_incl"], end_excl=row["end_excl"])


def _osv_hit(version: str, row: dict[str, Any]) -> bool:
    if row["exact"] is not None:
        return versions.compare(version, row["exact"]) == 0
    introduced = row["introduced"]
    start = None if introduced in (None, "0") else introduced
    return versions.in_range(version, start_incl=start, end_excl=row["fixed"], end_incl=row["last_affected"])


def match(db: VulnDB, comp: Component) -> list[Match]:
    version = comp.match_version
    if version is None:
        return []
    out: dict[str, Match] = {}
    base = comp.confidence
    if comp.key == "linux":
        base = "low"
    distro_pkg = comp.manager in ("dpkg", "apk")
    for part, vendor, product in comp.cpes:
        for row in db.cpe_candidates(vendor, product):
            if row["vuln"] in out or not _cpe_hit(version, row):
                continue
            vuln = db.vuln(row["vuln"])
            if vuln is None:
                continue
            conf = base
            notes = []
            if row["in_and"]:
                conf = "low"
                notes.append("vulnerable only on the platforms the NVD configuration names")
            if distro_pkg:
                conf = "low"
                notes.append("distribution package: fixes may be back-ported")
            if comp.key == "linux":
                notes.append("kernel configuration and vendor back-ports not verified")
            m = Match(vuln, conf, describe_range(product, row), "nvd-cpe", db.kev(vuln.id), detail="; ".join(notes))
            out[vuln.id] = m
    if comp.ecosystem:
        name = comp.name
        for row in db.osv_candidates(comp.ecosystem, name):
            if row["vuln"] in out or not _osv_hit(comp.version or version, row):
                continue
            vuln = db.vuln(row["vuln"])
            if vuln is None:
                continue
            known = next((out[a] for a in vuln.aliases if a in out), None)
            if known is not None:
                if vuln.id not in known.aliases:
                    known.aliases.append(vuln.id)
                known.confidence = "high" if comp.confidence == "high" else known.confidence
                continue
            kev = next((k for k in (db.kev(a) for a in (vuln.id, *vuln.aliases)) if k), None)
            crit = f"{name} {'introduced ' + row['introduced'] if row['introduced'] not in (None, '0') else ''}".strip()
            if row["fixed"]:
                crit += f" fixed {row['fixed']}"
            if row["exact"]:
                crit += f" {row['exact']}"
            out[vuln.id] = Match(vuln, comp.confidence, crit, "osv", kev, aliases=list(vuln.aliases))
    if comp.key == "busybox":
        for m in out.values():
            _busybox_filter(comp, m)
    return sorted(out.values(), key=lambda m: m.vuln.id)


def _busybox_filter(comp: Component, m: Match) -> None:
    wanted = busybox.cve_applets(m.vuln.id, m.vuln.description)
    if not wanted:
        return
    if comp.applets is None:
        m.confidence = _lower(m.confidence)
        m.detail = _join(m.detail, f"affects the {'/'.join(wanted)} applet; the applet list could not be read")
        return
    present = [a for a in wanted if a in comp.applets]
    if present:
        m.detail = _join(m.detail, f"applet {'/'.join(present)} compiled in ({comp.applet_source})")
    else:
        m.state = "not_affected"
        m.justification = "code_not_present"
        m.detail = _join(m.detail, f"applet {'/'.join(wanted)} not compiled in ({comp.applet_source})")


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b
