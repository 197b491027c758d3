"""Renderers of a diff: terminal (rich), JSON, Markdown and one self-contained HTML page.

All are pure functions of the diff value. Everything that comes from an image (paths, names, evidence,
script lines) is hostile text: the terminal output escapes rich markup, Markdown goes through
:func:`veracity.render.markdown.md`, HTML through :func:`veracity.render.html.esc`, and the page loads
nothing (its Content-Security-Policy allows only its own inline stylesheet, by hash; there is no script).
"""

from __future__ import annotations

import io
import json
from typing import Any

from ..findings import SEVERITIES
from ..render.html import CSS as REPORT_CSS
from ..render.html import _csp_hash, esc
from ..render.markdown import md
from .files import visible
from .model import is_security

FORMATS = ("table", "json", "markdown", "html")
MAX_ROWS = 80
MAX_EVIDENCE = 300
_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}
_SKIP_EVIDENCE = {"capabilities", "gained", "summary", "evidence", "findings", "container", "fingerprint"}


def render(name: str, diff: dict[str, Any]) -> str:
    """The diff in format ``name`` (``table`` gives the terminal text without colours)."""
    if name == "json":
        return render_json(diff)
    if name == "markdown":
        return render_markdown(diff)
    if name == "html":
        return render_html(diff)
    if name == "table":
        return render_text(diff)
    raise ValueError(f"unknown diff format {name!r}")


def render_json(diff: dict[str, Any]) -> str:
    return json.dumps(diff, indent=2, ensure_ascii=True) + "\n"


# -- shared pieces ------------------------------------------------------------------------------------------


def _groups(diff: dict[str, Any]) -> tuple[list[dict], list[dict], list[dict]]:
    """(changes that matter, notable things that did not change, other changes)."""
    top = [c for c in diff["changes"] if is_security(c)]
    notable = [c for c in diff["changes"] if not is_security(c) and c.get("notable")]
    rest = [c for c in diff["changes"] if not is_security(c) and not c.get("notable")]
    return top, notable, rest


def _flags(c: dict[str, Any]) -> list[str]:
    out = []
    if c["way_in"]:
        out.append("WAY IN")
    if c["cross_border"]:
        out.append("CROSS-BORDER")
    return out


def evidence_text(ev: Any, limit: int = MAX_EVIDENCE) -> str:
    """One line of a side's evidence: ``key=value`` pairs, lists joined, long values cut."""
    if ev is None:
        return "(absent)"
    if not isinstance(ev, dict):
        text = str(ev)
    else:
        parts = []
        for k, v in ev.items():
            if v is None or v == [] or v == {} or k in _SKIP_EVIDENCE:
                continue
            if isinstance(v, list):
                v = ", ".join(str(x) for x in v[:8]) + (f" (+{len(v) - 8})" if len(v) > 8 else "")
            elif isinstance(v, dict):
                v = "; ".join(f"{a}: {b}" for a, b in list(v.items())[:6])
            parts.append(f"{k}={v}")
        text = "; ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _side(d: dict[str, Any]) -> str:
    sha = (d.get("sha256") or "")[:16]
    return f"{d.get('name')} ({d.get('source')}, {d.get('kind')}, sha256 {sha}\u2026)"


def _files_lines(diff: dict[str, Any]) -> list[str]:
    f = diff["files"]
    lines = [
        (f"compared by {f['compared']}: {f['unchanged']} unchanged, {f['added_count']} added, "
         f"{f['removed_count']} removed, {len(f['renamed'])} renamed"),
        f"{f['stamp_only']['count']} differ only in build stamps or version strings"
        + (f" (e.g. {', '.join(f['stamp_only']['examples'][:5])})" if f["stamp_only"]["examples"] else ""),
        f"{f['changed_without_new_capabilities']['count']} binaries or data files changed without new capabilities",
    ]
    if f["changed_text"]:
        lines.append("text files changed: " + ", ".join(
            f"{t['path']} (+{t['added_lines']} -{t['removed_lines']})" for t in f["changed_text"][:20]))
    if f["changed_not_compared"]:
        lines.append(f"{len(f['changed_not_compared'])} changed files not compared (contents need both images)")
    for r in f["renamed"][:20]:
        lines.append(f"renamed: {r['old_path']} -> {r['new_path']}")
    links = f.get("links") or {}
    n = {k: len(v) for k, v in links.items() if v}
    if n:
        lines.append("links: " + ", ".join(f"{v} {k}" for k, v in n.items()))
    return lines


# -- terminal -----------------------------------------------------------------------------------------------


def render_table(diff: dict[str, Any], console) -> None:
    """The terminal summary, on a rich console."""
    from rich.table import Table
    from rich.text import Text as _Text

    def Text(value: Any = "", style: str = "") -> _Text:
        return _Text(visible(str(value)), style=style)

    v = diff["verdict"]
    style = "bold white on red" if v["way_in"] or v["cross_border"] else "bold yellow" if v["security_change"] \
        else "bold green"
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("Verdict", Text(v["headline"], style=style))
    head.add_row("OLD", Text(_side(diff["old"])))
    head.add_row("NEW", Text(_side(diff["new"])))
    counts = Text()
    for s in SEVERITIES:
        n = diff["summary"]["by_severity"].get(s, 0)
        counts.append(f"{s} {n}  ", style=_STYLE[s] if n else "dim")
    head.add_row("Changes", counts)
    head.add_row("Ways in", Text(f"{v['ways_in']}   cross-border endpoints: {v['cross_border_endpoints']}"))
    console.print(head)
    top, notable, rest = _groups(diff)
    if top:
        t = Table(title="Changes that matter", title_justify="left", show_lines=True)
        t.add_column("Severity")
        t.add_column("Area")
        t.add_column("Change", overflow="fold")
        t.add_column("Evidence (OLD / NEW)", overflow="fold", max_width=70)
        for c in top[:MAX_ROWS]:
            sev = Text(c["severity"], style=_STYLE[c["severity"]])
            for flag in _flags(c):
                sev.append(f"\n{flag}", style="bold red")
            what = Text(c["title"])
            for d in c["details"][:8]:
                if d:
                    what.append(visible(f"\n  - {d}"), style="dim")
            for f in c["findings"][:6]:
                what.append(visible(f"\n  [{f['side']} {f['rule']} {f['severity']}] {f['title']}"), style="dim")
            ev = Text(f"OLD: {evidence_text(c['old'])}\nNEW: {evidence_text(c['new'])}")
            t.add_row(sev, Text(f"{c['area']}\n{c['change']}"), what, ev)
        console.print(t)
        if len(top) > MAX_ROWS:
            console.print(Text(f"... {len(top) - MAX_ROWS} more changes in the JSON output"))
    scripts = [c for c in diff["changes"] if c["area"] == "scripts" and c.get("diff")]
    for c in scripts[:20]:
        console.print(Text(f"\n{c['title']}", style="bold"))
        for line in c["diff"].splitlines():
            st = "green" if line.startswith("+") and not line.startswith("+++") else \
                "red" if line.startswith("-") and not line.startswith("---") else "dim" if line.startswith("@@") else ""
            console.print(Text(line, style=st), soft_wrap=True)
    if notable:
        console.print(Text("\nNot changed, but notable", style="bold"))
        for c in notable:
            console.print(Text(f"  - {c['title']}"))
    if rest:
        console.print(Text(f"\nOther changes ({len(rest)})", style="bold"))
        for c in rest[:MAX_ROWS]:
            console.print(Text(f"  - [{c['area']} {c['change']}] {c['title']}"))
        if len(rest) > MAX_ROWS:
            console.print(Text(f"  ... {len(rest) - MAX_ROWS} more"))
    console.print(Text("\nFiles", style="bold"))
    for line in _files_lines(diff):
        console.print(Text(f"  {line}"))
    for note in diff["notes"]:
        console.print(Text(f"note: {note}", style="dim"))


def render_text(diff: dict[str, Any], width: int = 140) -> str:
    """The terminal summary as plain text (for ``--output`` files)."""
    from rich.console import Console

    buf = io.StringIO()
    render_table(diff, Console(file=buf, width=width, no_color=True, color_system=None, highlight=False,
                               emoji=False, markup=False))
    return buf.getvalue()


# -- Markdown -----------------------------------------------------------------------------------------------


def render_markdown(diff: dict[str, Any]) -> str:
    v = diff["verdict"]
    icon = ":x:" if v["way_in"] or v["cross_border"] else ":warning:" if v["security_change"] \
        else ":white_check_mark:"
    out = [f"## {icon} veracity diff: {md(v['headline'], 400)}", ""]
    out.append(f"**OLD:** {md(_side(diff['old']), 300)}  ")
    out.append(f"**NEW:** {md(_side(diff['new']), 300)}")
    out.append("")
    out.append("| " + " | ".join(SEVERITIES) + " | ways in | cross-border |")
    out.append("|" + "---:|" * (len(SEVERITIES) + 2))
    out.append("| " + " | ".join(str(int(diff["summary"]["by_severity"].get(s, 0))) for s in SEVERITIES)
               + f" | {int(v['ways_in'])} | {int(v['cross_border_endpoints'])} |")
    out.append("")
    top, notable, rest = _groups(diff)
    if top:
        out.append("### Changes that matter")
        out.append("")
        out.append("| Severity | Area | Change | OLD | NEW |")
        out.append("|---|---|---|---|---|")
        for c in top[:MAX_ROWS]:
            sev = c["severity"] + "".join(f" **{f}**" for f in _flags(c))
            what = md(c["title"], 300)
            extra = [md(d, 200) for d in c["details"][:6] if d]
            if extra:
                what += "<br>" + "<br>".join(f"\u2022 {d}" for d in extra)
            out.append(f"| {sev} | {c['area']} {c['change']} | {what} | {md(evidence_text(c['old']), 200)} | "
                       f"{md(evidence_text(c['new']), 200)} |")
        out.append("")
    scripts = [c for c in diff["changes"] if c["area"] == "scripts" and c.get("diff")]
    if scripts:
        out.append("### Startup scripts")
        out.append("")
        for c in scripts[:20]:
            out.append(f"<details><summary>{md(c['title'], 300)}</summary>")
            out.append("")
            out.append(_fence(c["diff"]))
            out.append("")
            out.append("</details>")
            out.append("")
    if notable:
        out.append("### Not changed, but notable")
        out.append("")
        out.extend(f"- {md(c['title'], 400)}" for c in notable)
        out.append("")
    if rest:
        out.append(f"<details><summary>Other changes ({len(rest)})</summary>")
        out.append("")
        out.extend(f"- {c['area']} {c['change']}: {md(c['title'], 300)}" for c in rest[:MAX_ROWS])
        out.append("")
        out.append("</details>")
        out.append("")
    out.append("### Files")
    out.append("")
    out.extend(f"- {md(line, 600)}" for line in _files_lines(diff))
    out.append("")
    if diff["notes"]:
        out.extend(f"> {md(n, 600)}" for n in diff["notes"])
        out.append("")
    out.append(f"<sub>veracity {md(diff['tool']['version'])}; nothing from either image was executed.</sub>")
    return "\n".join(out) + "\n"


def _fence(text: str) -> str:
    """A diff as a fenced code block that the text cannot close (the fence is longer than any backtick run)."""
    longest = max((len(run) for run in text.replace("\r", "").split("\n") for run in _runs(run)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}diff\n{text}\n{fence}"


def _runs(line: str) -> list[str]:
    out, cur = [], ""
    for ch in line:
        if ch == "`":
            cur += ch
        else:
            if cur:
                out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


# -- HTML ---------------------------------------------------------------------------------------------------

CSS = REPORT_CSS + """
.flag{display:inline-block;margin:2px 0;padding:0 6px;border-radius:4px;background:#7f1d1d;color:#fff;font-weight:700;font-size:11px}
.ev-old{color:#7f1d1d}.ev-new{color:#14532d}
pre.diff{margin:4px 0;padding:6px 8px;background:#0f172a;color:#e2e8f0;border-radius:4px;white-space:pre-wrap;word-break:break-all;max-height:32em;overflow:auto}
pre.diff .add{color:#86efac}pre.diff .del{color:#fca5a5}pre.diff .hunk{color:#93c5fd}
ul.details{margin:4px 0 0 16px;padding:0}
footer{text-align:center;color:#475569;padding:16px}
"""


def render_html(diff: dict[str, Any]) -> str:
    v = diff["verdict"]
    kind = "fail" if v["way_in"] or v["cross_border"] else "review" if v["security_change"] else "pass"
    csp = ("default-src 'none'; img-src data:; " f"style-src {_csp_hash(CSS)}; script-src 'none'; "
           "base-uri 'none'; form-action 'none'; connect-src 'none'; frame-src 'none'")
    top, notable, rest = _groups(diff)
    body = [
        f'<header class="verdict v-{kind}"><h1>{esc(v["headline"])}</h1>',
        f"<p>OLD: {esc(_side(diff['old']))}</p><p>NEW: {esc(_side(diff['new']))}</p>",
        '<div class="chips">'
        + "".join(f'<span class="chip">{esc(s)} {int(diff["summary"]["by_severity"].get(s, 0))}</span>'
                  for s in SEVERITIES)
        + f'<span class="chip">ways in {int(v["ways_in"])}</span>'
        f'<span class="chip">cross-border {int(v["cross_border_endpoints"])}</span></div></header><main>',
    ]
    body.append('<section id="changes"><h2>Changes that matter</h2>')
    if top:
        body.append("<table><thead><tr><th>Severity</th><th>Area</th><th>Change</th><th>OLD</th><th>NEW</th>"
                    "</tr></thead><tbody>")
        for c in top:
            sev = c["severity"] if c["severity"] in SEVERITIES else "info"
            flags = "".join(f'<div class="flag">{esc(f)}</div>' for f in _flags(c))
            details = "".join(f"<li>{esc(d)}</li>" for d in c["details"] if d)
            found = "".join(f"<li>{esc(f['side'])} <code>{esc(f['rule'])}</code> {esc(f['severity'])}: "
                            f"{esc(f['title'])}</li>" for f in c["findings"])
            body.append(
                f'<tr><td><span class="sev sev-{sev}">{sev}</span>{flags}</td>'
                f"<td>{esc(c['area'])}<div class=\"meta\">{esc(c['change'])}</div></td>"
                f"<td>{esc(c['title'])}"
                + (f'<ul class="details">{details}{found}</ul>' if details or found else "")
                + f'</td><td class="ev-old"><code>{esc(evidence_text(c["old"], 600))}</code></td>'
                f'<td class="ev-new"><code>{esc(evidence_text(c["new"], 600))}</code></td></tr>'
            )
        body.append("</tbody></table>")
    else:
        body.append("<p>None.</p>")
    body.append("</section>")
    scripts = [c for c in diff["changes"] if c["area"] == "scripts" and c.get("diff")]
    if scripts:
        body.append('<section id="scripts"><h2>Startup scripts</h2>')
        for c in scripts:
            body.append(f"<h3>{esc(c['title'])}</h3><pre class=\"diff\">{_html_diff(c['diff'])}</pre>")
        body.append("</section>")
    if notable:
        body.append('<section id="notable"><h2>Not changed, but notable</h2><ul>'
                    + "".join(f"<li>{esc(c['title'])}</li>" for c in notable) + "</ul></section>")
    if rest:
        body.append(f'<section id="other"><h2>Other changes ({len(rest)})</h2><table><thead><tr><th>Area</th>'
                    "<th>Change</th><th>What</th></tr></thead><tbody>"
                    + "".join(f"<tr><td>{esc(c['area'])}</td><td>{esc(c['change'])}</td><td>{esc(c['title'])}</td>"
                              "</tr>" for c in rest)
                    + "</tbody></table></section>")
    body.append('<section id="files"><h2>Files</h2><ul>'
                + "".join(f"<li>{esc(line)}</li>" for line in _files_lines(diff)) + "</ul></section>")
    if diff["notes"]:
        body.append('<section id="notes"><h2>Notes</h2><ul>'
                    + "".join(f"<li>{esc(n)}</li>" for n in diff["notes"]) + "</ul></section>")
    body.append(f"</main><footer>veracity {esc(diff['tool']['version'])} &middot; nothing from either image was "
                "executed</footer>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>veracity diff: {esc(diff['old'].get('name'))} -&gt; {esc(diff['new'].get('name'))}</title>"
        f"<style>{CSS}</style></head><body>" + "".join(body) + "</body></html>\n"
    )


def _html_diff(text: str) -> str:
    out = []
    for line in text.splitlines():
        cls = "add" if line.startswith("+") and not line.startswith("+++") else \
            "del" if line.startswith("-") and not line.startswith("---") else "hunk" if line.startswith("@@") else ""
        out.append(f'<span class="{cls}">{esc(line)}</span>' if cls else esc(line))
    return "\n".join(out)
