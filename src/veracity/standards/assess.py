"""Clause-by-clause conformance from a scan's findings and the record of which checks ran.

Per clause:

* ``fail``: a finding at ``low`` severity or above supports the clause (the rule names the clause in its
  ``standards``, the clause names the rule, or the finding's category is one the clause lists). ``info``
  findings are evidence, never failures.
* ``pass``: no such finding, and every check that could have produced one ran (some may have said they
  were not applicable, as long as at least one ran). For a clause a static audit decides only in part,
  the ``reason`` says what remains to be shown.
* ``not-assessed``: the clause cannot be decided from an image, no check of this version supports it,
  or none of the supporting checks ran (not applicable, failed, not registered). The ``reason`` says which.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..findings import SEVERITY_RANK, Finding, Rule
from .profiles import Clause, Profile, resolve

_INCOMPLETE_AT = SEVERITY_RANK["medium"]


@dataclass(frozen=True, slots=True)
class RuleSource:
    """A rule and the id of the check that produces it."""

    rule: Rule
    check: str


def rule_sources(instances: Iterable[Any] | None = None) -> list[RuleSource]:
    """Every rule of the registered checks with its check id (``instances`` default: the registry's)."""
    if instances is None:
        from ..checks import registry

        instances = registry.checks()
    out = []
    for check in instances:
        for rule in getattr(check, "RULES", ()):
            out.append(RuleSource(rule, check.ID))
    return out


def _as_dict(f: Finding | Mapping[str, Any]) -> Mapping[str, Any]:
    return f.to_dict() if isinstance(f, Finding) else f


def _supports(clause: Clause, rule_id: str, category: str, standards: Iterable[str]) -> bool:
    return clause.id in standards or rule_id in clause.rules or category in clause.categories


def assess(
    findings: Iterable[Finding | Mapping[str, Any]],
    checks_ran: Iterable[Mapping[str, Any]],
    sources: Iterable[RuleSource],
    profiles: Iterable[Profile],
) -> list[dict[str, Any]]:
    """The conformance list (report section ``conformance``): pure function of its arguments."""
    found = [_as_dict(f) for f in findings]
    status_of = {c["id"]: c for c in checks_ran}
    sources = list(sources)
    incomplete = sum(
        1 for f in found if f["category"] == "analysis.incomplete" and SEVERITY_RANK[f["severity"]] <= _INCOMPLETE_AT
    )
    out: list[dict[str, Any]] = []
    for profile in profiles:
        for clause in profile.clauses:
            out.append(_clause(profile, clause, found, status_of, sources, incomplete))
    return out


def _clause(
    profile: Profile,
    clause: Clause,
    found: list[Mapping[str, Any]],
    status_of: Mapping[str, Mapping[str, Any]],
    sources: list[RuleSource],
    incomplete: int,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "standard": profile.id,
        "clause": clause.id,
        "title": clause.title,
        "static": clause.static,
        "status": "not-assessed",
        "findings": [],
        "reason": None,
        "checks": [],
    }
    failing = [
        f
        for f in found
        if f["severity"] != "info" and _supports(clause, f["rule"], f["category"], f.get("standards", ()))
    ]
    if failing:
        rules = sorted({f["rule"] for f in failing})
        row["status"] = "fail"
        row["findings"] = sorted({f["fingerprint"] for f in failing})
        row["reason"] = f"{len(row['findings'])} finding(s) of {', '.join(rules)}"
        row["checks"] = sorted({s.check for s in sources if s.rule.id in rules})
        return row
    if clause.static == "no":
        row["reason"] = f"not decidable from an image: {clause.reason or 'needs the running product or documents'}"
        return row
    checks = sorted({s.check for s in sources if _supports(clause, s.rule.id, s.rule.category, s.rule.standards)})
    row["checks"] = checks
    if not checks:
        row["reason"] = "no check of this version supports this clause"
        return row
    ran, inapplicable, broken, missing = [], [], [], []
    for cid in checks:
        rec = status_of.get(cid)
        status = rec.get("status") if rec else None
        if status == "ran":
            ran.append(cid)
        elif status == "not-applicable":
            why = rec.get("reason") if rec else None
            inapplicable.append(f"{cid} ({why})" if why else cid)
        elif status == "failed":
            broken.append(cid)
        else:
            missing.append(cid)
    if broken:
        row["reason"] = f"supporting check(s) failed: {', '.join(broken)}"
        return row
    if not ran:
        parts = []
        if inapplicable:
            parts.append(f"not applicable: {'; '.join(inapplicable)}")
        if missing:
            parts.append(f"did not run: {', '.join(missing)}")
        row["reason"] = "no supporting check ran (" + "; ".join(parts) + ")"
        return row
    row["status"] = "pass"
    notes = [f"no finding from {', '.join(ran)}"]
    if inapplicable:
        notes.append(f"not applicable: {'; '.join(inapplicable)}")
    if missing:
        notes.append(f"did not run: {', '.join(missing)}")
    if clause.static == "partly":
        notes.append(f"static part only: {clause.reason}" if clause.reason else "static part only")
    if incomplete:
        notes.append(f"{incomplete} part(s) of the image could not be analysed (analysis.incomplete)")
    row["reason"] = "; ".join(notes)
    return row


def conformance(
    findings: Iterable[Finding | Mapping[str, Any]],
    checks_ran: Iterable[Mapping[str, Any]],
    standards: tuple[str, ...] | list[str] = (),
    *,
    checks: Iterable[Any] | None = None,
) -> list[dict[str, Any]]:
    """The report's ``conformance`` section for the profiles ``standards`` names (empty: all).

    ``checks`` are the check instances of the scan (default: the registry's); raises
    :class:`~veracity.standards.profiles.UnknownStandard` for a name no profile answers to.
    """
    return assess(findings, checks_ran, rule_sources(checks), resolve(tuple(standards)))


def summary(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Counts of pass/fail/not-assessed per standard."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        counts = out.setdefault(r["standard"], {"pass": 0, "fail": 0, "not-assessed": 0})
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return out
