"""The terminal summary (``--format table``)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}
MAX_ROWS = 60


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
    console.print(head)

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
