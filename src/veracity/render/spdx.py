"""SPDX 2.3 JSON of a report: the image as the described package, one package per identified component with
its version, purl (PACKAGE-MANAGER reference), CPE and advisories of affected vulnerabilities (SECURITY
references), CONTAINS relationships from the image and DEPENDS_ON between components. A pure function of the
report; SPDX 2.3 has no vulnerability section, use the CycloneDX output for the analysis states."""

from __future__ import annotations

import json
import re
from typing import Any

_PURPOSE = {"library": "LIBRARY", "application": "APPLICATION", "operating-system": "OPERATING-SYSTEM",
            "firmware": "FIRMWARE", "framework": "FRAMEWORK", "container": "CONTAINER", "file": "FILE"}
_TARGET_PURPOSE = {"container-image": "CONTAINER", "package": "INSTALL", "directory": "FILE", "archive": "ARCHIVE"}
_NOT_AFFECTED = {"not_affected", "false_positive", "resolved", "resolved_with_pedigree"}


def _spdx_id(text: str) -> str:
    return "SPDXRef-" + (re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-") or "x")


def _created(report: dict[str, Any]) -> str:
    started = str(report.get("started_at") or "1970-01-01T00:00:00Z")
    return started.replace("+00:00", "Z")[:19] + "Z" if not started.endswith("Z") else started[:19] + "Z"


def render(report: dict[str, Any]) -> str:
    target = report["target"]
    tool = report.get("tool", {})
    root_id = "SPDXRef-Target"
    root: dict[str, Any] = {
        "SPDXID": root_id,
        "name": target.get("name") or "target",
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": False,
        "primaryPackagePurpose": _TARGET_PURPOSE.get(target.get("kind", ""), "FIRMWARE"),
        "copyrightText": "NOASSERTION",
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
    }
    if target.get("sha256"):
        root["checksums"] = [{"algorithm": "SHA256", "checksumValue": target["sha256"]}]
    packages = [root]
    relationships = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": root_id}]
    ids: dict[str, str] = {}
    used: set[str] = {root_id}
    for rec in report.get("components") or []:
        sid = _spdx_id(f"Package-{rec.get('id') or rec['name']}")
        n = 2
        while sid in used:
            sid = _spdx_id(f"Package-{rec.get('id') or rec['name']}-{n}")
            n += 1
        used.add(sid)
        ids[rec.get("id", rec["name"])] = sid
        refs = []
        if rec.get("purl"):
            refs.append({"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": rec["purl"]})
        if rec.get("cpe"):
            refs.append({"referenceCategory": "SECURITY", "referenceType": "cpe23Type", "referenceLocator": rec["cpe"]})
        for v in rec.get("vulnerabilities") or []:
            if v.get("state") in _NOT_AFFECTED:
                continue
            url = (f"https://nvd.nist.gov/vuln/detail/{v['id']}" if v["id"].startswith("CVE-")
                   else f"https://osv.dev/vulnerability/{v['id']}")
            refs.append({"referenceCategory": "SECURITY", "referenceType": "advisory", "referenceLocator": url,
                         "comment": f"{v['id']} matched with {v.get('confidence')} confidence ({v.get('affected_range')})"})
        paths = rec.get("paths") or []
        pkg: dict[str, Any] = {
            "SPDXID": sid,
            "name": rec["name"],
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "primaryPackagePurpose": _PURPOSE.get(rec.get("type", ""), "LIBRARY"),
            "copyrightText": "NOASSERTION",
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": rec.get("license") if _simple_license(rec.get("license")) else "NOASSERTION",
            "sourceInfo": f"identified by veracity ({rec.get('source')}, confidence {rec.get('confidence')}): "
                          f"{str(rec.get('evidence') or '')[:500]}",
            "comment": "found at: " + ", ".join(paths[:20]) + (" ..." if len(paths) > 20 else ""),
        }
        if rec.get("version"):
            pkg["versionInfo"] = rec["version"]
        if refs:
            pkg["externalRefs"] = refs
        locs = rec.get("locations") or []
        if rec.get("path_count", len(paths)) == 1 and locs and locs[0].get("sha256"):
            pkg["checksums"] = [{"algorithm": "SHA256", "checksumValue": locs[0]["sha256"]}]
        eol = rec.get("end_of_life")
        if eol and eol.get("date"):
            pkg["validUntilDate"] = f"{eol['date']}T00:00:00Z"
        packages.append(pkg)
        relationships.append({"spdxElementId": root_id, "relationshipType": "CONTAINS", "relatedSpdxElement": sid})
    for rec in report.get("components") or []:
        owner = ids.get(rec.get("id", rec["name"]))
        for dep in rec.get("depends_on") or []:
            if owner and dep in ids:
                relationships.append({"spdxElementId": owner, "relationshipType": "DEPENDS_ON", "relatedSpdxElement": ids[dep]})
    doc = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"veracity SBOM of {target.get('name') or 'target'}",
        "documentNamespace": f"https://spdx.org/spdxdocs/veracity-{target.get('sha256') or 'unknown'}-{tool.get('rules_version') or ''}",
        "creationInfo": {"created": _created(report), "creators": [f"Tool: veracity-{tool.get('version', '0')}"]},
        "packages": packages,
        "relationships": relationships,
    }
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"


def _simple_license(value) -> bool:
    return isinstance(value, str) and bool(re.fullmatch(r"[A-Za-z0-9.+-]+(?: (?:AND|OR|WITH) [A-Za-z0-9.+-]+)*", value))
