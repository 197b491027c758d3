"""The terminal summary (``--format table``)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}
MAX_ROWS = 60


def _conformance_line(rows: list[dict[str, Any]]) -> Text:
    from ..standards.assess import summary

    line = Text()
    for standard, counts in summary(rows).items():
        line.append(f"{standard}: ")
        line.append(f"{counts.get('fail', 0)} fail", style="bold red" if counts.get("fail") else "dim")
        line.append(f", {counts.get('pass', 0)} pass, {counts.get('not-assessed', 0)} not assessed   ")
    return line


def render(report: dict[str, Any], console: Console) -> None:
    t, x = report["target"], report["extraction"]
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("Target", escape(f"{t['name']}  ({t['kind']}, {t['size']:,} bytes)"))
    head.add_row("sha256", t["sha256"])
    head.add_row(
        "Unpacked",
        f"{x['files']:,} entries, {x['bytes']:,} bytes, {len(x['containers'])} containers, depth {x['depth']}",
    )
    head.add_row("Tool", f"veracity {report['tool']['version']} (rules {report['tool']['rules_version']})")
    head.add_row("Duration", f"{report['duration_s']:.2f} s")
    sev = report["summary"]["by_severity"]
    counts = Text()
    for name, n in sev.items():
        counts.append(f"{name} {n}  ", style=_STYLE[name] if n else "dim")
    head.add_row("Findings", counts)
    from ..checks.egress import dataflow_text

    flow = dataflow_text(report)
    if flow:
        head.add_row("Data flow", Text(flow))
    verdicts = _conformance_line(report.get("conformance", []))
    if verdicts:
        head.add_row("Standards", verdicts)
    console.print(head)

    services = [s for s in report.get("services", []) if s.get("ports")]
    if services:
        exposure = Table(title="Started at boot and reachable", title_justify="left")
        exposure.add_column("Service")
        exposure.add_column("Ports")
        exposure.add_column("Auth")
        exposure.add_column("Started by", overflow="fold")
        for svc in services[:MAX_ROWS]:
            ports = ", ".join(f"{p['port']}/{p['proto']}" for p in svc["ports"])
            exposure.add_row(Text(svc["name"]), ports, Text(svc["auth"]), Text(" > ".join(svc["started_by"])))
        console.print(exposure)

    findings = report["findings"]
    if findings:
        table = Table(show_lines=False, expand=False, title="Findings", title_justify="left")
        table.add_column("Severity")
        table.add_column("Rule")
        table.add_column("Title", overflow="fold")
        table.add_column("Where", overflow="fold")
        table.add_column("Evidence", overflow="fold", max_width=60)
        for f in findings[:MAX_ROWS]:
            where = f["path"] or ""
            inner = [c for c in f["container"][1:]]
            if inner:
                where = f"{where}  [{' > '.join(inner)}]" if where else " > ".join(inner)
            table.add_row(
                Text(f["severity"], style=_STYLE[f["severity"]]),
                f["rule"],
                Text(f["title"]),
                Text(where),
                Text(f["evidence"][:300]),
            )
        console.print(table)
        if len(findings) > MAX_ROWS:
            console.print(f"... and {len(findings) - MAX_ROWS} more findings in the JSON report")
    if x["errors"]:
        console.print(Text(f"{len(x['errors'])} extraction problem(s); see extraction.errors", style="yellow"))
