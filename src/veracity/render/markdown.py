"""A Markdown summary (``--format markdown``) for tickets and pull-request comments.

Strings from the image are escaped so that they cannot become links, images (which a viewer would fetch),
mentions, HTML or table breaks: Markdown punctuation is backslash-escaped, ``<``, ``>``, ``&`` and ``@`` become
entities, and line breaks become spaces.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from ..findings import SEVERITIES
from .html import verdict

MAX_FINDINGS = 50
MAX_CELL = 160
_PUNCT = re.compile(r"([\\`*_{}\[\]()!|~])")  # inline syntax; every escaped value follows other text on its line
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
_ICON = {"fail": ":x:", "review": ":warning:", "pass": ":white_check_mark:"}


def md(value: Any, limit: int = MAX_CELL) -> str:
    """Text from the report, inert inside a Markdown table cell."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub(lambda m: " " if m.group(0) in "\r\n\t" else f"\\u{ord(m.group(0)):04x}", text)
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _PUNCT.sub(r"\\\1", text)
    return text.replace("@", "&#64;")


def _code(value: Any, limit: int = MAX_CELL) -> str:
    """An identifier-like value (rule id, path) shown in monospace, still escaped."""
    return f"<code>{md(value, limit)}</code>"


def render(report: dict[str, Any]) -> str:
    kind, head, details = verdict(report)
    t = report.get("target", {})
    tool = report.get("tool", {})
    by_sev = (report.get("summary") or {}).get("by_severity") or {}
    out = [f"## {_ICON[kind]} veracity: {md(head, 300)}", ""]
    out.append(
        f"**Target:** {_code(t.get('name'))} ({md(t.get('kind'))}, {int(t.get('size') or 0):,} bytes), "
        f"sha256 <code>{md(t.get('sha256'))}</code>"
    )
    out.append("")
    for d in details:
        out.append(f"- {md(d, 400)}")
    if details:
        out.append("")
    out.append("| " + " | ".join(SEVERITIES) + " |")
    out.append("|" + "---:|" * len(SEVERITIES))
    out.append("| " + " | ".join(str(int(by_sev.get(s, 0))) for s in SEVERITIES) + " |")
    out.append("")
    findings = report.get("findings", [])
    shown = [f for f in findings if f["severity"] != "info"][:MAX_FINDINGS]
    if shown:
        out.append("### Findings")
        out.append("")
        out.append("| Severity | Rule | Finding | Where | Evidence |")
        out.append("|---|---|---|---|---|")
        for f in shown:
            where = _code(f.get("path")) if f.get("path") else md(" > ".join(f.get("container") or []))
            if f.get("path") and f.get("line") is not None:
                where += f":{int(f['line'])}"
            out.append(
                f"| {f['severity']} | {_code(f['rule'])} | {md(f['title'])} | {where} | {md(f.get('evidence'), 120)} |"
            )
        rest = len([f for f in findings if f["severity"] != "info"]) - len(shown)
        info = len(findings) - len([f for f in findings if f["severity"] != "info"])
        notes = []
        if rest > 0:
            notes.append(f"{rest} more")
        if info:
            notes.append(f"{info} informational")
        if notes:
            out.append("")
            out.append(f"_{', '.join(notes)} finding(s) in the full report._")
        out.append("")
    conf = report.get("conformance", [])
    if conf:
        per: dict[str, dict[str, int]] = defaultdict(lambda: {"pass": 0, "fail": 0, "not-assessed": 0})
        for r in conf:
            per[r["standard"]][r["status"]] += 1
        out.append("### Conformance")
        out.append("")
        out.append("| Standard | fail | pass | not assessed |")
        out.append("|---|---:|---:|---:|")
        for std, c in per.items():
            out.append(f"| {md(std)} | {c['fail']} | {c['pass']} | {c['not-assessed']} |")
        failing = [r for r in conf if r["status"] == "fail"]
        if failing:
            out.append("")
            out.append("<details><summary>Failing clauses</summary>")
            out.append("")
            out.append("| Clause | Title | Findings |")
            out.append("|---|---|---:|")
            for r in failing:
                out.append(f"| {_code(r['clause'])} | {md(r.get('title'))} | {len(r.get('findings') or [])} |")
            out.append("")
            out.append("</details>")
        out.append("")
    tri = report.get("triage") or {}
    warnings = tri.get("warnings") or []
    if warnings:
        out.append("### Triage warnings")
        out.append("")
        out.extend(f"- {md(w, 400)}" for w in warnings)
        out.append("")
    out.append(
        f"<sub>veracity {md(tool.get('version'))}, rules {md(tool.get('rules_version'))}; "
        f"nothing from the image was executed.</sub>"
    )
    return "\n".join(out) + "\n"
