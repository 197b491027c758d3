"""One self-contained HTML page (``--format html``): verdict, exposure map, findings by category, data flow by
country, conformance matrix, SBOM, accounts, checks.

Everything that comes from the image is hostile text: every value goes through :func:`esc` (HTML escaping,
plus visible escapes for control, bidirectional-override and undecodable characters). The page fetches
nothing: the stylesheet and script are inline, and its Content-Security-Policy allows only those two (by
hash), so even a string that slipped past escaping could not run or load anything.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from ..findings import CATEGORIES, SEVERITIES, SEVERITY_RANK
from .html_assets import CSS, JS

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
MAX_EVIDENCE = 4000

CATEGORY_TITLES = {
    "backdoor": "Backdoors",
    "account": "Accounts",
    "credential": "Credentials",
    "key": "Keys",
    "service": "Services",
    "code": "Malicious code",
    "egress": "Outbound endpoints",
    "component": "Components",
    "binary": "Binary hardening",
    "config": "Configuration",
    "update": "Updates",
    "analysis": "Analysis",
}


def _visible(m: re.Match[str]) -> str:
    ch = m.group(0)
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def esc(value: Any) -> str:
    """Text from the report, safe as HTML element content and as a quoted attribute value."""
    text = "" if value is None else str(value)
    return html.escape(_CONTROL.sub(_visible, text), quote=True)


def _search_text(*parts: Any) -> str:
    return esc(" ".join("" if p is None else str(p) for p in parts).lower())


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _sev(s: str) -> str:
    s = s if s in SEVERITY_RANK else "info"
    return f'<span class="sev sev-{s}">{s}</span>'


def _status(s: str) -> str:
    s = s if s in ("pass", "fail", "not-assessed") else "not-assessed"
    return f'<span class="st st-{s}">{s}</span>'


def _where(f: Mapping[str, Any]) -> str:
    chain = [str(c) for c in f.get("container") or []]
    path = f.get("path")
    inner = " &gt; ".join(esc(c) for c in chain)
    if path:
        where = f'<code>{esc(path)}</code>'
        if f.get("line") is not None:
            where += f":{int(f['line'])}"
        elif f.get("offset") is not None:
            where += f" @0x{int(f['offset']):x}"
        return where + (f'<div class="meta">in {inner}</div>' if inner else "")
    return f'<div class="meta">{inner}</div>' if inner else '<span class="muted">whole image</span>'


# -- verdict -------------------------------------------------------------------------------------------------


def verdict(report: Mapping[str, Any]) -> tuple[str, str, list[str]]:
    """``(kind, headline, details)``: kind is ``fail`` (a critical or high finding), ``review`` (medium/low
    findings, or parts of the image not analysed) or ``pass``."""
    findings = report.get("findings", [])
    by_sev = {s: 0 for s in SEVERITIES}
    for f in findings:
        by_sev[f["severity"]] = by_sev.get(f["severity"], 0) + 1
    cats = sorted({f["category"] for f in findings if f["severity"] in ("critical", "high")})
    incomplete = [
        f for f in findings if f["category"] == "analysis.incomplete" and SEVERITY_RANK[f["severity"]] <= 2
    ]
    details = []
    conf = report.get("conformance", [])
    if conf:
        per: dict[str, dict[str, int]] = defaultdict(lambda: {"pass": 0, "fail": 0, "not-assessed": 0})
        for row in conf:
            per[row["standard"]][row["status"]] += 1
        details.append(
            "Conformance: "
            + "; ".join(f"{std} {c['fail']} fail, {c['pass']} pass, {c['not-assessed']} not assessed" for std, c in per.items())
        )
    tri = report.get("triage") or {}
    hidden = len(tri.get("ignored") or []) + int(tri.get("hidden_by_severity") or 0) + int(
        (tri.get("baseline") or {}).get("known") or 0
    )
    if hidden:
        details.append(f"{hidden} finding(s) hidden by triage (ignore file, baseline, severity filter): see Checks")
    if by_sev["critical"] or by_sev["high"]:
        n = [f"{by_sev[s]} {s}" for s in ("critical", "high") if by_sev[s]]
        return "fail", f"Pledge not met: {' and '.join(n)} finding(s)", [f"In: {', '.join(cats)}", *details]
    rest = sum(by_sev[s] for s in ("medium", "low"))
    if rest or incomplete:
        head = f"Needs review: {rest} medium/low finding(s)" if rest else "Needs review"
        if incomplete:
            details.insert(0, f"{len(incomplete)} part(s) of the image could not be analysed")
        return "review", head, details
    return "pass", "No problem found at low severity or above", details


# -- sections ------------------------------------------------------------------------------------------------


def _header(report: Mapping[str, Any]) -> str:
    kind, head, details = verdict(report)
    t = report.get("target", {})
    by_sev = (report.get("summary") or {}).get("by_severity") or {}
    chips = "".join(f'<span class="chip">{esc(s)} {int(by_sev.get(s, 0))}</span>' for s in SEVERITIES)
    lines = "".join(f"<p>{esc(d)}</p>" for d in details)
    return (
        f'<header class="verdict v-{kind}" id="verdict"><h1>{esc(head)}</h1>'
        f'<p><strong>{esc(t.get("name"))}</strong> &middot; {esc(t.get("kind"))} &middot; '
        f'{int(t.get("size") or 0):,} bytes &middot; sha256 <span class="mono">{esc(t.get("sha256"))}</span></p>'
        f'{lines}<div class="chips">{chips}</div></header>'
    )


def _toc() -> str:
    links = [
        ("exposure", "Exposure"),
        ("findings", "Findings"),
        ("dataflow", "Data flow"),
        ("conformance", "Conformance"),
        ("sbom", "SBOM"),
        ("accounts", "Accounts"),
        ("checks", "Checks"),
    ]
    return '<nav class="toc">' + "".join(f'<a href="#{i}">{t}</a>' for i, t in links) + "</nav>"


def _cred(c: Mapping[str, Any]) -> str:
    state = str(c.get("password_state") or "unknown")
    cls = "bad" if state in ("empty", "cracked", "plaintext") else ""
    hint = f" ({esc(c['password_hint'])})" if c.get("password_hint") else ""
    return f'<div><code>{esc(c.get("name"))}</code>: <span class="{cls}">{esc(state)}</span>{hint}</div>'


def _exposure(report: Mapping[str, Any]) -> str:
    services = report.get("services", [])
    accounts = report.get("accounts", [])
    out = ['<section id="exposure"><h2>Exposure map</h2>',
           '<p class="muted">What listens at boot, on which port, and which credentials open it.</p>']
    networked = [s for s in services if s.get("ports")]
    local = [s for s in services if not s.get("ports")]
    if not services:
        svc_check = next((c for c in report.get("checks", []) if c.get("id") == "services"), None)
        if svc_check and svc_check.get("status") != "ran":
            out.append(f'<p class="muted">Services were not analysed ({esc(svc_check.get("status"))}: '
                       f'{esc(svc_check.get("reason"))}).</p>')
        else:
            out.append('<p class="muted">No service started at boot was found.</p>')
    if networked:
        out.append('<div class="svc"><strong>Service</strong><strong>Port</strong><strong>Credential</strong></div>')
    for s in networked + local:
        ports = s.get("ports") or []
        port_txt = "<br>".join(f"{esc(p.get('proto'))}/{int(p.get('port') or 0)}" for p in ports) or (
            '<span class="muted">no network port</span>'
        )
        auth = str(s.get("auth") or "unknown")
        creds = s.get("credentials")
        if creds:
            cred_txt = "".join(_cred(c) for c in creds)
        elif auth == "none":
            cred_txt = '<div class="bad">no login required</div>'
        else:
            cred_txt = '<div class="muted">no credential known</div>'
        started = ", ".join(str(x) for x in s.get("started_by") or [])
        summary = s.get("summary")
        out.append(
            f'<div class="svc"><div><strong>{esc(s.get("name"))}</strong>'
            f'<div class="meta mono">{esc(s.get("binary"))}</div>'
            + (f'<div class="meta">{esc(summary)}</div>' if summary else "")
            + (f'<div class="meta">started by {esc(started)}</div>' if started and not summary else "")
            + f'</div><div><span class="arrow">&rarr;</span> {port_txt}</div>'
            f'<div><span class="arrow">&rarr;</span> auth {esc(auth)}{cred_txt}</div></div>'
        )
    login = [a for a in accounts if a.get("login") or a.get("password_state") in ("empty", "cracked", "plaintext")]
    if login:
        out.append("<h3>Login-capable accounts</h3><div>" + "".join(_cred(a) for a in login) + "</div>")
    out.append("</section>")
    return "".join(out)


def _findings(report: Mapping[str, Any]) -> str:
    findings = report.get("findings", [])
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for f in findings:
        groups[f["category"]].append(f)
    order = sorted(
        groups,
        key=lambda c: (min(SEVERITY_RANK[f["severity"]] for f in groups[c]),
                       CATEGORIES.index(c) if c in CATEGORIES else len(CATEGORIES)),
    )
    sev_boxes = "".join(
        f'<label><input type="checkbox" data-sev-filter="{s}" checked> {s}</label>' for s in SEVERITIES
    )
    cat_opts = '<option value="">all categories</option>' + "".join(
        f'<option value="{esc(c)}">{esc(c)} ({len(groups[c])})</option>' for c in order
    )
    out = [
        '<section id="findings"><h2>Findings</h2>',
        ('<div class="controls"><input type="search" id="f-search" placeholder="search rule, path, evidence..." '
        f'aria-label="search findings">{sev_boxes}<select id="f-category" aria-label="category">{cat_opts}</select>'
        '<button type="button" id="f-expand">expand all</button><button type="button" id="f-collapse">collapse all'
        f'</button><span class="counter" id="f-counter">{len(findings)} findings</span></div>'),
    ]
    if not findings:
        out.append('<p class="ok">No finding.</p>')
    for c in order:
        items = groups[c]
        family = CATEGORY_TITLES.get(c.split(".")[0], c)
        worst = min(items, key=lambda f: SEVERITY_RANK[f["severity"]])["severity"]
        out.append(
            f'<details class="group" open data-cat="{esc(c)}"><summary>{_sev(worst)} {esc(family)}: '
            f'<code>{esc(c)}</code> (<span class="group-count">{len(items)}</span>)</summary>'
            "<table><thead><tr><th>Severity</th><th>Rule</th><th>Finding and evidence</th><th>Where</th></tr></thead><tbody>"
        )
        for f in items:
            ev = str(f.get("evidence") or "")
            cut = len(ev) > MAX_EVIDENCE
            ev_html = f'<pre class="ev">{esc(ev[:MAX_EVIDENCE])}{"&hellip; (truncated)" if cut else ""}</pre>' if ev else ""
            stds = ", ".join(str(s) for s in f.get("standards") or [])
            meta = f"fingerprint {esc(f.get('fingerprint'))}"
            if f.get("backdoor_id"):
                meta += f" &middot; catalogue {esc(f['backdoor_id'])}"
            if stds:
                meta += f" &middot; {esc(stds)}"
            refs = "".join(
                f' <a href="{esc(u)}" rel="noreferrer noopener" target="_blank">ref</a>'
                for u in f.get("references") or []
                if isinstance(u, str) and u.startswith(("https://", "http://"))
            )
            search = _search_text(f["rule"], f["category"], f["severity"], f["title"], f.get("path"),
                                  " ".join(f.get("container") or []), ev, f.get("fingerprint"), stds)
            out.append(
                f'<tr class="finding" data-sev="{esc(f["severity"])}" data-cat="{esc(c)}" data-search="{search}">'
                f'<td>{_sev(f["severity"])}</td><td class="nowrap"><code>{esc(f["rule"])}</code></td>'
                f'<td><div>{esc(f["title"])}</div>{ev_html}<div class="meta">{meta}{refs}</div></td>'
                f"<td>{_where(f)}</td></tr>"
            )
        out.append("</tbody></table></details>")
    out.append("</section>")
    return "".join(out)


def _dataflow(report: Mapping[str, Any]) -> str:
    endpoints = report.get("endpoints", [])
    flagged_text = [
        str(f.get("evidence") or "") + " " + str(f.get("title") or "")
        for f in report.get("findings", [])
        if f["category"] in ("egress.undeclared", "egress.cross-border")
    ]
    by_country: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for e in endpoints:
        by_country[str(e.get("country") or "unknown")].append(e)
    out = ['<section id="dataflow"><h2>Data flow by country</h2>',
           '<p class="muted">Hard-coded outbound endpoints, by the country they resolve to.</p>']
    if not endpoints:
        out.append('<p class="muted">No outbound endpoint was found.</p></section>')
        return "".join(out)
    most = max(len(v) for v in by_country.values())
    order = sorted(by_country, key=lambda k: (k == "unknown", -len(by_country[k]), k))
    for country in order:
        n = len(by_country[country])
        out.append(f'<div class="flow"><strong>{esc(country)}</strong><meter min="0" max="{most}" value="{n}"></meter>'
                   f'<span class="num">{n}</span></div>')
    out.append('<div class="controls"><input type="search" id="e-search" placeholder="search endpoints..." '
               'aria-label="search endpoints"></div>')
    out.append("<table><thead><tr><th>Country</th><th>Endpoint</th><th>Kind</th><th>Owner</th><th>Purpose</th>"
               "<th>Found in</th></tr></thead><tbody>")
    for country in order:
        for e in by_country[country]:
            value = str(e.get("value") or "")
            flagged = any(value and value in t for t in flagged_text)
            paths = ", ".join(str(p) for p in (e.get("paths") or [])[:5])
            more = len(e.get("paths") or []) - 5
            search = _search_text(country, value, e.get("kind"), e.get("owner"), e.get("purpose"), paths)
            scheme = e.get("scheme")
            out.append(
                f'<tr class="endpoint" data-search="{search}"><td>{esc(country)}</td>'
                f'<td><code class="{"bad" if flagged else ""}">{esc(value)}</code>'
                + (' <span class="bad">flagged</span>' if flagged else "")
                + (' <span class="bad">cleartext</span>' if scheme in ("http", "ftp", "telnet", "mqtt") else "")
                + f'</td><td>{esc(e.get("kind"))}</td><td>{esc(e.get("owner"))}</td><td>{esc(e.get("purpose"))}</td>'
                f'<td class="mono">{esc(paths)}{f" (+{more})" if more > 0 else ""}</td></tr>'
            )
    out.append("</tbody></table></section>")
    return "".join(out)


def _conformance(report: Mapping[str, Any]) -> str:
    rows = report.get("conformance", [])
    findings = {f["fingerprint"]: f for f in report.get("findings", [])}
    out = ['<section id="conformance"><h2>Conformance</h2>']
    if not rows:
        out.append('<p class="muted">No standard was assessed.</p></section>')
        return "".join(out)
    per: dict[str, dict[str, int]] = defaultdict(lambda: {"pass": 0, "fail": 0, "not-assessed": 0})
    for r in rows:
        per[r["standard"]][r["status"]] += 1
    out.append("<table><thead><tr><th>Standard</th><th>fail</th><th>pass</th><th>not assessed</th></tr></thead><tbody>")
    for std, c in per.items():
        out.append(f'<tr><td><strong>{esc(std)}</strong></td><td class="num">{c["fail"]}</td>'
                   f'<td class="num">{c["pass"]}</td><td class="num">{c["not-assessed"]}</td></tr>')
    out.append("</tbody></table>")
    out.append(
        '<div class="controls"><input type="search" id="c-search" placeholder="search clauses..." '
        'aria-label="search clauses"><select id="c-status" aria-label="status"><option value="">all statuses</option>'
        '<option value="fail">fail</option><option value="pass">pass</option>'
        '<option value="not-assessed">not assessed</option></select></div>'
    )
    out.append("<table><thead><tr><th>Clause</th><th>Title</th><th>Static</th><th>Status</th><th>Why</th>"
               "</tr></thead><tbody>")
    for r in rows:
        fps = r.get("findings") or []
        listed = []
        for fp in fps[:8]:
            f = findings.get(fp)
            label = f"{f['rule']} {f.get('path') or ''}" if f else f"{fp} (hidden by triage)"
            listed.append(f'<div class="meta mono">{esc(label)}</div>')
        if len(fps) > 8:
            listed.append(f'<div class="meta">and {len(fps) - 8} more</div>')
        search = _search_text(r.get("clause"), r.get("title"), r.get("status"), r.get("reason"))
        out.append(
            f'<tr class="clause" data-status="{esc(r["status"])}" data-search="{search}">'
            f'<td class="mono">{esc(r["clause"])}</td><td>{esc(r.get("title"))}</td><td>{esc(r.get("static"))}</td>'
            f'<td>{_status(r["status"])}</td><td>{esc(r.get("reason"))}{"".join(listed)}</td></tr>'
        )
    out.append("</tbody></table></section>")
    return "".join(out)


def _sbom(report: Mapping[str, Any]) -> str:
    comps = report.get("components", [])
    out = ['<section id="sbom"><h2>Software bill of materials</h2>']
    if not comps:
        out.append('<p class="muted">No component was identified.</p></section>')
        return "".join(out)
    out.append('<div class="controls"><input type="search" id="s-search" placeholder="search components..." '
               f'aria-label="search components"><span class="counter">{len(comps)} components</span></div>')
    out.append("<table><thead><tr><th>Name</th><th>Version</th><th>purl / CPE</th><th>Paths</th></tr></thead><tbody>")
    for c in comps:
        paths = [str(p) for p in c.get("paths") or []]
        ids = "".join(f'<div class="mono">{esc(x)}</div>' for x in (c.get("purl"), c.get("cpe")) if x)
        search = _search_text(c.get("name"), c.get("version"), c.get("purl"), c.get("cpe"), " ".join(paths))
        out.append(
            f'<tr class="component" data-search="{search}"><td>{esc(c.get("name"))}</td><td>{esc(c.get("version"))}</td>'
            f'<td>{ids}</td><td class="mono">{esc(", ".join(paths[:5]))}{f" (+{len(paths) - 5})" if len(paths) > 5 else ""}'
            "</td></tr>"
        )
    out.append("</tbody></table></section>")
    return "".join(out)


def _accounts(report: Mapping[str, Any]) -> str:
    accounts = report.get("accounts", [])
    out = ['<section id="accounts"><h2>Accounts</h2>']
    if not accounts:
        out.append('<p class="muted">No account database was found.</p></section>')
        return "".join(out)
    out.append("<table><thead><tr><th>Name</th><th>UID</th><th>GID</th><th>Shell</th><th>Home</th><th>Password</th>"
               "<th>Source</th></tr></thead><tbody>")
    for a in accounts:
        state = str(a.get("password_state") or "")
        cls = "bad" if state in ("empty", "cracked", "plaintext") else ""
        hint = f" ({esc(a['password_hint'])})" if a.get("password_hint") else ""
        out.append(
            f'<tr><td><code>{esc(a.get("name"))}</code></td><td class="num">{esc(a.get("uid"))}</td>'
            f'<td class="num">{esc(a.get("gid"))}</td><td class="mono">{esc(a.get("shell"))}</td>'
            f'<td class="mono">{esc(a.get("home"))}</td><td class="{cls}">{esc(state)}{hint}</td>'
            f'<td class="mono">{esc(a.get("source"))}</td></tr>'
        )
    out.append("</tbody></table></section>")
    return "".join(out)


def _checks(report: Mapping[str, Any]) -> str:
    out = ['<section id="checks"><h2>Checks, extraction and triage</h2>']
    checks = report.get("checks", [])
    if checks:
        out.append("<table><thead><tr><th>Check</th><th>Status</th><th>Reason</th></tr></thead><tbody>")
        for c in checks:
            cls = "bad" if c.get("status") == "failed" else ("ok" if c.get("status") == "ran" else "muted")
            out.append(f'<tr><td><code>{esc(c.get("id"))}</code></td><td class="{cls}">{esc(c.get("status"))}</td>'
                       f'<td>{esc(c.get("reason"))}</td></tr>')
        out.append("</tbody></table>")
    x = report.get("extraction") or {}
    out.append(
        f'<h3>Extraction</h3><p>{int(x.get("files") or 0):,} entries, {int(x.get("bytes") or 0):,} bytes, '
        f'{len(x.get("containers") or [])} containers, depth {int(x.get("depth") or 0)}.</p>'
    )
    if x.get("errors"):
        out.append("<table><thead><tr><th>Path</th><th>Problem</th></tr></thead><tbody>")
        for e in x["errors"]:
            out.append(f'<tr><td class="mono">{esc(e.get("path"))}</td><td>{esc(e.get("message"))}</td></tr>')
        out.append("</tbody></table>")
    tri = report.get("triage")
    if tri:
        out.append("<h3>Triage</h3><ul>")
        if tri.get("ignore_file"):
            out.append(f'<li>Ignore file <code>{esc(tri["ignore_file"])}</code>: {len(tri.get("ignored") or [])} '
                       "finding(s) ignored</li>")
        if tri.get("baseline"):
            b = tri["baseline"]
            out.append(f'<li>Baseline <code>{esc(b.get("path"))}</code>: {int(b.get("known") or 0)} known, '
                       f'{int(b.get("new") or 0)} new, {int(b.get("fixed") or 0)} fixed</li>')
        if tri.get("severity"):
            out.append(f'<li>Severity filter {esc(", ".join(tri["severity"]))}: {int(tri.get("hidden_by_severity") or 0)} '
                       "finding(s) hidden</li>")
        for w in tri.get("warnings") or []:
            out.append(f'<li class="bad">{esc(w)}</li>')
        out.append("</ul>")
        if tri.get("ignored"):
            out.append("<table><thead><tr><th>Rule</th><th>Path</th><th>Reason</th><th>Expires</th></tr></thead><tbody>")
            for i in tri["ignored"]:
                out.append(f'<tr><td><code>{esc(i.get("rule"))}</code></td><td class="mono">{esc(i.get("path"))}</td>'
                           f'<td>{esc(i.get("reason"))}</td><td>{esc(i.get("expires"))}</td></tr>')
            out.append("</tbody></table>")
    out.append("</section>")
    return "".join(out)


def render(report: dict[str, Any]) -> str:
    """The HTML page: pure function of the report."""
    tool = report.get("tool", {})
    target = report.get("target", {})
    csp = (
        "default-src 'none'; img-src data:; "
        f"style-src {_csp_hash(CSS)}; script-src {_csp_hash(JS)}; "
        "base-uri 'none'; form-action 'none'; connect-src 'none'; frame-src 'none'"
    )
    body: Iterable[str] = (
        _header(report),
        _toc(),
        "<main>",
        _exposure(report),
        _findings(report),
        _dataflow(report),
        _conformance(report),
        _sbom(report),
        _accounts(report),
        _checks(report),
        "</main>",
        (f'<footer>veracity {esc(tool.get("version"))} &middot; rules {esc(tool.get("rules_version"))} &middot; '
        f'scan started {esc(report.get("started_at"))}, {esc(report.get("duration_s"))} s &middot; '
        "nothing from the image was executed</footer>"),
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>veracity: {esc(target.get('name'))}</title><style>{CSS}</style></head><body>"
        + "".join(body)
        + f"<script>{JS}</script></body></html>\n"
    )
