"""SARIF 2.1.0 (``--format sarif``) for GitHub code scanning, DefectDojo and other SARIF consumers.

* one rule per rule id that has a result, with help text, ``security-severity`` (GitHub's numeric scale),
  tags (``security``, the category, ``CWE-n`` and ``external/cwe/cwe-n``, the standard clauses);
* one result per finding with ``partialFingerprints`` (the finding's stable fingerprint), the inner path as
  the location's URI, the line or byte offset as its region, and the container chain both in
  ``location.properties.container`` and as nested ``artifacts`` (``parentIndex``, ``offset``);
* the conformance verdicts, the target and the triage record in ``run.properties``.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from ..findings import SEVERITY_RANK

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "veracity/v1"

LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub: >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low; info findings carry none.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}

# The CWE weaknesses each category is an instance of (https://cwe.mitre.org/data/definitions/<n>.html).
CWE = {
    "backdoor.known": (506, 912),
    "backdoor.magic-auth": (798, 912),
    "backdoor.bind-shell": (306, 912),
    "account.hidden": (912,),
    "credential.empty": (258, 521),
    "credential.default": (1392, 1393),
    "credential.hardcoded": (798, 259),
    "credential.authorized-key": (798,),
    "key.private": (321, 312),
    "key.known-compromised": (321, 1394),
    "service.remote-access": (1188, 306),
    "service.listener": (1188,),
    "code.reverse-shell": (506,),
    "code.download-exec": (494,),
    "code.obfuscated": (506,),
    "code.exfiltration": (359, 506),
    "code.malicious": (506,),
    "egress.endpoint": (),
    "egress.undeclared": (359,),
    "egress.cross-border": (359,),
    "component.vulnerable": (1395,),
    "component.end-of-life": (1104,),
    "binary.hardening": (693,),
    "config.insecure": (1188, 276),
    "update.insecure": (494, 319),
    "analysis.incomplete": (),
}

_OFFSET = re.compile(r"^(?P<fmt>.+)@0x(?P<off>[0-9a-fA-F]+)$")
_SAFE = "/-._~!$&'()*+,;=:@"


def _uri(text: str) -> str:
    """A relative URI reference for a path inside the image (no leading slash; everything else escaped)."""
    return quote(text.lstrip("/").encode("utf-8", "surrogateescape"), safe=_SAFE) or "."


def _text(value: Any) -> str:
    """A string safe to encode as UTF-8 (lone surrogates from undecodable bytes become \\udcxx)."""
    s = "" if value is None else str(value)
    return s.encode("utf-8", "backslashreplace").decode("utf-8")


def _rule_catalogue() -> dict[str, Any]:
    """Rule descriptions from this version's registry (metadata only; a missing rule falls back to the report)."""
    try:
        from ..checks import registry

        return {r.id: r for r in registry.all_rules()}
    except Exception:  # noqa: BLE001 - rendering must not depend on every check importing
        return {}


def _tags(category: str, standards: list[str]) -> list[str]:
    tags = ["security", category]
    for n in CWE.get(category, ()):
        tags += [f"CWE-{n}", f"external/cwe/cwe-{n}"]
    tags += list(standards)
    seen: list[str] = []
    for t in tags:
        if t not in seen:
            seen.append(t)
    return seen


def _rule(rule_id: str, sample: dict[str, Any], known: dict[str, Any], worst: str) -> dict[str, Any]:
    r = known.get(rule_id)
    title = _text(r.title if r else sample["title"])
    description = _text(r.description if r and r.description else title)
    severity = r.severity if r else sample["severity"]
    category = r.category if r else sample["category"]
    standards = list(r.standards if r else sample.get("standards", []))
    references = list(r.references if r else sample.get("references", []))
    cwes = CWE.get(category, ())
    text = [description, "", f"Category: {category}. Default severity: {severity}."]
    md = [description, "", f"**Category:** `{category}` &middot; **Default severity:** {severity}"]
    if cwes:
        text.append("Weaknesses: " + ", ".join(f"CWE-{n}" for n in cwes) + ".")
        md.append(
            "**Weaknesses:** "
            + ", ".join(f"[CWE-{n}](https://cwe.mitre.org/data/definitions/{n}.html)" for n in cwes)
        )
    if standards:
        text.append("Standards: " + ", ".join(standards) + ".")
        md.append("**Standards:** " + ", ".join(f"`{s}`" for s in standards))
    if references:
        text.append("References: " + " ".join(references))
        md.append("**References:**\n" + "\n".join(f"- <{_text(u)}>" for u in references))
    out: dict[str, Any] = {
        "id": rule_id,
        "name": re.sub(r"[^A-Za-z0-9]+", "", title.title()) or rule_id,
        "shortDescription": {"text": title},
        "fullDescription": {"text": description},
        "help": {"text": "\n".join(text), "markdown": "\n\n".join(md)},
        "defaultConfiguration": {"level": LEVEL[severity]},
        "properties": {
            "tags": _tags(category, standards),
            "category": category,
            "severity": severity,
            "precision": "high" if category.startswith(("backdoor.known", "key.known")) else "medium",
            "standards": standards,
        },
    }
    # GitHub rates every alert of a rule by the rule's security-severity: use the worst severity this report
    # has for the rule (a check may raise a finding above its rule's default), never less than the default.
    rated = min(severity, worst, key=SEVERITY_RANK.__getitem__)
    if rated in SECURITY_SEVERITY:
        out["properties"]["security-severity"] = SECURITY_SEVERITY[rated]
    if references:
        out["helpUri"] = _text(references[0])
    return out


class _Artifacts:
    """The target, every container on a finding's chain and every file with a finding, as nested artifacts."""

    def __init__(self, target: dict[str, Any]):
        self.items: list[dict[str, Any]] = []
        self.index: dict[tuple[str, ...], int] = {}
        self.target = target

    def get(self, chain: tuple[str, ...]) -> int:
        if chain in self.index:
            return self.index[chain]
        parent = self.get(chain[:-1]) if len(chain) > 1 else None
        name = chain[-1]
        art: dict[str, Any] = {}
        m = _OFFSET.match(name)
        if parent is None:
            art["location"] = {"uri": _uri(name)}
            art["roles"] = ["analysisTarget"]
            if name == self.target.get("name"):
                if self.target.get("sha256"):
                    art["hashes"] = {"sha-256": self.target["sha256"]}
                if isinstance(self.target.get("size"), int):
                    art["length"] = self.target["size"]
        elif m:
            art["location"] = {"uri": _uri(name)}
            art["offset"] = int(m.group("off"), 16)
            art["properties"] = {"format": _text(m.group("fmt"))}
        else:
            art["location"] = {"uri": _uri(name)}
        if name != _text(name):  # undecodable bytes: the URI keeps them percent-encoded, the name shows them
            art.setdefault("properties", {})["name"] = _text(name)
        if parent is not None:
            art["parentIndex"] = parent
        art["location"]["index"] = len(self.items)
        self.items.append(art)
        self.index[chain] = len(self.items) - 1
        return self.index[chain]


def _result(f: dict[str, Any], rule_index: int, arts: _Artifacts, target_name: str) -> dict[str, Any]:
    chain = tuple(str(c) for c in f.get("container") or ()) or (str(target_name),)
    path = f.get("path")
    evidence = _text(f.get("evidence"))
    where = _text(" > ".join(chain))
    message = _text(f["title"])
    if evidence:
        message += f": {evidence[:1000]}{'...' if len(evidence) > 1000 else ''}"
    if path:
        message += f" (in {where})"
        idx = arts.get((*chain, str(path)))
        loc_uri = _uri(str(path))
    else:
        message += f" ({where})"
        idx = arts.get(chain)
        loc_uri = arts.items[idx]["location"]["uri"]
    physical: dict[str, Any] = {"artifactLocation": {"uri": loc_uri, "index": idx}}
    region: dict[str, Any] = {}
    if isinstance(f.get("line"), int) and f["line"] >= 1:
        region["startLine"] = f["line"]
    if isinstance(f.get("offset"), int) and f["offset"] >= 0:
        region["byteOffset"] = f["offset"]
    if region:
        physical["region"] = region
    props: dict[str, Any] = {
        "category": f["category"],
        "severity": f["severity"],
        "container": [_text(c) for c in chain],
        "standards": list(f.get("standards") or []),
    }
    if f.get("backdoor_id"):
        props["backdoor_id"] = _text(f["backdoor_id"])
    if f["severity"] in SECURITY_SEVERITY:
        props["security-severity"] = SECURITY_SEVERITY[f["severity"]]
    return {
        "ruleId": f["rule"],
        "ruleIndex": rule_index,
        "level": LEVEL[f["severity"]],
        "message": {"text": message},
        "locations": [
            {
                "physicalLocation": physical,
                "properties": {"container": [_text(c) for c in chain], "path": _text(path) if path else None},
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: f["fingerprint"]},
        "fingerprints": {FINGERPRINT_KEY: f["fingerprint"]},
        "properties": props,
    }


def build(report: dict[str, Any]) -> dict[str, Any]:
    """The SARIF log as a dict."""
    tool, target = report.get("tool", {}), report.get("target", {})
    findings = report.get("findings", [])
    known = _rule_catalogue()
    rule_ids = sorted({f["rule"] for f in findings})
    first = {rid: next(f for f in findings if f["rule"] == rid) for rid in rule_ids}
    worst = {
        rid: min((f["severity"] for f in findings if f["rule"] == rid), key=SEVERITY_RANK.__getitem__) for rid in rule_ids
    }
    rules = [_rule(rid, first[rid], known, worst[rid]) for rid in rule_ids]
    rule_index = {rid: i for i, rid in enumerate(rule_ids)}
    arts = _Artifacts(target)
    arts.get((str(target.get("name") or "target"),))
    results = [_result(f, rule_index[f["rule"]], arts, target.get("name") or "target") for f in findings]
    driver: dict[str, Any] = {
        "name": "veracity",
        "fullName": "veracity static product-image audit",
        "version": tool.get("version", ""),
        "rules": rules,
        "properties": {"rules_version": tool.get("rules_version")},
    }
    if re.fullmatch(r"\d+\.\d+\.\d+(?:[-+].*)?", tool.get("version", "")):
        driver["semanticVersion"] = tool["version"]
    invocation: dict[str, Any] = {"executionSuccessful": True}
    if report.get("started_at"):
        invocation["startTimeUtc"] = report["started_at"]
    invocation["properties"] = {"duration_s": report.get("duration_s"), "checks": report.get("checks", [])}
    run_props: dict[str, Any] = {
        "target": target,
        "conformance": report.get("conformance", []),
        "summary": report.get("summary", {}),
    }
    if report.get("triage") is not None:
        run_props["triage"] = report["triage"]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "automationDetails": {"id": f"veracity/{_text(target.get('name') or 'target')}/"},
                "invocations": [invocation],
                "artifacts": arts.items,
                "results": results,
                "columnKind": "unicodeCodePoints",
                "properties": run_props,
            }
        ],
    }


def render(report: dict[str, Any]) -> str:
    return json.dumps(build(report), indent=2, ensure_ascii=True) + "\n"
