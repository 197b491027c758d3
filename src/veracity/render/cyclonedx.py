"""CycloneDX 1.6 JSON of a report: the image as the metadata component, every identified component with its
purl, CPE, evidence (where it was found, how, how sure), hashes where one file is the component, the
dependencies known (package databases, ELF ``NEEDED``), and the vulnerabilities matched, each with its
impact analysis (``in_triage`` for a match nobody analysed, ``not_affected`` with a justification for what
the BusyBox applet filter or a VEX document ruled out). A pure function of the report."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

_CONFIDENCE = {"high": Decimal("0.9"), "medium": Decimal("0.7"), "low": Decimal("0.4")}
_TARGET_TYPE = {"container-image": "container", "package": "application", "directory": "file",
                "archive": "file", "filesystem": "firmware", "firmware": "firmware"}


def render(report: dict[str, Any]) -> str:
    from cyclonedx.model import HashAlgorithm, HashType, Property, XsUri
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.component_evidence import (
        AnalysisTechnique,
        ComponentEvidence,
        Identity,
        IdentityField,
        Method,
        Occurrence,
    )
    from cyclonedx.model.tool import ToolRepository
    from cyclonedx.model.vulnerability import (
        BomTarget,
        ImpactAnalysisJustification,
        ImpactAnalysisState,
        Vulnerability,
        VulnerabilityAnalysis,
        VulnerabilityRating,
        VulnerabilityReference,
        VulnerabilityScoreSource,
        VulnerabilitySeverity,
        VulnerabilitySource,
    )
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    target = report["target"]
    tool = report.get("tool", {})
    root = Component(
        name=target.get("name") or "target",
        type=ComponentType(_TARGET_TYPE.get(target.get("kind", ""), "firmware")),
        bom_ref="veracity:target",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=target["sha256"])] if target.get("sha256") else None,
        properties=[Property(name="veracity:target-kind", value=str(target.get("kind", "")))],
    )
    started = report.get("started_at")
    timestamp = (dt.datetime.fromisoformat(started) if started
                 else dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
    bom = Bom(
        serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"veracity:{target.get('sha256')}:{tool.get('rules_version')}"),
        metadata=BomMetaData(
            component=root,
            timestamp=timestamp,
            tools=ToolRepository(components=[Component(
                type=ComponentType.APPLICATION, name=tool.get("name", "veracity"), version=tool.get("version"),
                bom_ref="veracity:tool")]),
        ),
    )
    by_id: dict[str, Component] = {}
    records = report.get("components") or []
    for rec in records:
        technique = {
            "package-db": AnalysisTechnique.MANIFEST_ANALYSIS, "os-release": AnalysisTechnique.MANIFEST_ANALYSIS,
            "filename": AnalysisTechnique.FILENAME,
        }.get(str(rec.get("source", "")).split(":")[0], AnalysisTechnique.BINARY_ANALYSIS)
        confidence = _CONFIDENCE.get(rec.get("confidence", "low"), Decimal("0.4"))
        evidence_text = str(rec.get("evidence") or "")[:1000]
        identity = [Identity(field=IdentityField.NAME, confidence=confidence,
                             methods=[Method(technique=technique, confidence=confidence, value=evidence_text or None)])]
        if rec.get("version"):
            identity.append(Identity(field=IdentityField.VERSION, confidence=confidence,
                                     methods=[Method(technique=technique, confidence=confidence,
                                                     value=evidence_text or None)]))
        occurrences = [
            Occurrence(location=_location(loc), offset=loc.get("offset"))
            for loc in rec.get("locations") or [{"path": p} for p in rec.get("paths", [])]
        ]
        hashes = None
        locations = rec.get("locations") or []
        if rec.get("path_count", len(rec.get("paths", []))) == 1 and locations and locations[0].get("sha256"):
            hashes = [HashType(alg=HashAlgorithm.SHA_256, content=locations[0]["sha256"])]
        props = [Property(name="veracity:source", value=str(rec.get("source", ""))),
                 Property(name="veracity:confidence", value=str(rec.get("confidence", "")))]
        if rec.get("applets") is not None:
            props.append(Property(name="veracity:busybox-applets", value=" ".join(rec["applets"])))
        eol = rec.get("end_of_life")
        if eol:
            props.append(Property(name="veracity:end-of-life", value=f"{eol['branch']} {eol.get('date') or ''}".strip()))
        purl = None
        if rec.get("purl"):
            try:
                purl = PackageURL.from_string(rec["purl"])
            except ValueError:
                purl = None
        comp = Component(
            name=rec["name"],
            version=rec.get("version"),
            type=_component_type(rec.get("type"), ComponentType),
            bom_ref=rec.get("id") or f"{rec['name']}@{rec.get('version')}",
            purl=purl,
            cpe=rec.get("cpe"),
            hashes=hashes,
            evidence=ComponentEvidence(identity=identity, occurrences=occurrences),
            properties=props,
        )
        bom.components.add(comp)
        by_id[str(comp.bom_ref.value)] = comp
    bom.register_dependency(root, list(by_id.values()))
    for rec in records:
        owner = by_id.get(rec.get("id", ""))
        deps = [by_id[d] for d in rec.get("depends_on") or [] if d in by_id]
        if owner is not None:
            bom.register_dependency(owner, deps)
    for rec in records:
        affected = by_id.get(rec.get("id", ""))
        if affected is None:
            continue
        comp = affected
        for v in rec.get("vulnerabilities") or []:
            source = (VulnerabilitySource(name="NVD", url=XsUri(f"https://nvd.nist.gov/vuln/detail/{v['id']}"))
                      if v.get("source") == "nvd" else VulnerabilitySource(name="OSV", url=XsUri(f"https://osv.dev/vulnerability/{v['id']}")))
            ratings = []
            if v.get("score") is not None or v.get("severity"):
                ratings.append(VulnerabilityRating(
                    source=source,
                    score=Decimal(str(v["score"])) if v.get("score") is not None else None,
                    severity=_severity(v.get("severity"), VulnerabilitySeverity),
                    method=_method(v.get("method"), VulnerabilityScoreSource),
                    vector=v.get("vector"),
                ))
            state = ImpactAnalysisState(v.get("state") or "in_triage")
            justification = None
            if v.get("justification"):
                try:
                    justification = ImpactAnalysisJustification(v["justification"])
                except ValueError:
                    justification = None
            props = [Property(name="veracity:match-confidence", value=str(v.get("confidence", ""))),
                     Property(name="veracity:affected-range", value=str(v.get("affected_range", "")))]
            if v.get("kev"):
                props.append(Property(name="veracity:cisa-kev", value=f"true {v.get('kev_date_added') or ''}".strip()))
            refs = [VulnerabilityReference(id=a, source=VulnerabilitySource(name="OSV" if not a.startswith("CVE-") else "NVD"))
                    for a in v.get("aliases") or [] if a != v["id"]]
            bom.vulnerabilities.add(Vulnerability(
                bom_ref=f"{v['id']}/{comp.bom_ref.value}",
                id=v["id"],
                source=source,
                references=refs or None,
                ratings=ratings or None,
                description=(v.get("description") or None),
                detail=v.get("detail") or None,
                analysis=VulnerabilityAnalysis(state=state, justification=justification, detail=v.get("detail") or None),
                affects=[BomTarget(ref=str(comp.bom_ref.value))],
                properties=props,
            ))
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def _location(loc: dict[str, Any]) -> str:
    container = [c for c in loc.get("container") or []][1:]
    chain = "!".join(container)
    return f"{chain}!{loc['path']}" if chain else loc["path"]


def _component_type(kind, ComponentType):
    try:
        return ComponentType(kind or "library")
    except ValueError:
        return ComponentType.LIBRARY


def _severity(value, enum):
    try:
        return enum(str(value).lower()) if value else None
    except ValueError:
        return enum.UNKNOWN


def _method(value, enum):
    return {"CVSSv2": enum.CVSS_V2, "CVSSv3": enum.CVSS_V3, "CVSSv31": enum.CVSS_V3_1, "CVSSv4": enum.CVSS_V4}.get(
        value or "", enum.OTHER if value else None)
