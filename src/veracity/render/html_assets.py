"""The stylesheet and script of the HTML report, inlined into the page (no network fetch, hashed in its CSP)."""

CSS = """
:root{--crit:#7f1d1d;--high:#b91c1c;--med:#b45309;--low:#0e7490;--info:#6b7280;--pass:#15803d;--na:#6b7280;
--bg:#f8fafc;--card:#fff;--line:#e2e8f0;--text:#0f172a;--muted:#475569}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;background:var(--bg);color:var(--text)}
main{max-width:1280px;margin:0 auto;padding:0 16px 48px}
header.verdict{padding:20px 24px;color:#fff}
header.verdict h1{margin:0 0 4px;font-size:26px}
header.verdict p{margin:2px 0}
.v-fail{background:linear-gradient(90deg,#7f1d1d,#b91c1c)}
.v-review{background:linear-gradient(90deg,#92400e,#b45309)}
.v-pass{background:linear-gradient(90deg,#14532d,#15803d)}
.chips{margin-top:10px;display:flex;flex-wrap:wrap;gap:6px}
.chip{display:inline-block;padding:2px 10px;border-radius:999px;background:rgba(255,255,255,.18);font-weight:600}
nav.toc{position:sticky;top:0;z-index:2;background:#0f172a;padding:6px 16px;display:flex;gap:14px;flex-wrap:wrap}
nav.toc a{color:#e2e8f0;text-decoration:none;font-weight:600}
nav.toc a:hover{text-decoration:underline}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;margin:16px 0;padding:12px 16px}
section h2{margin:4px 0 10px;font-size:19px}
h3{font-size:15px;margin:12px 0 6px}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f1f5f9;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre.ev{margin:4px 0 0;padding:6px 8px;background:#f1f5f9;border-radius:4px;white-space:pre-wrap;word-break:break-all;max-height:16em;overflow:auto}
.sev{display:inline-block;min-width:64px;text-align:center;border-radius:4px;color:#fff;font-weight:600;padding:0 6px;font-size:12px}
.sev-critical{background:var(--crit)}.sev-high{background:var(--high)}.sev-medium{background:var(--med)}
.sev-low{background:var(--low)}.sev-info{background:var(--info)}
.st{display:inline-block;min-width:104px;white-space:nowrap;text-align:center;border-radius:4px;font-weight:600;padding:0 6px;font-size:12px}
.st-pass{background:#dcfce7;color:var(--pass)}.st-fail{background:#fee2e2;color:var(--high)}
.st-not-assessed{background:#f1f5f9;color:var(--na)}
.bad{color:var(--high);font-weight:600}.ok{color:var(--pass)}.muted{color:var(--muted)}
.controls{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin:6px 0 10px}
.controls input[type=search]{min-width:280px;padding:4px 8px;border:1px solid #cbd5e1;border-radius:4px}
.controls label{white-space:nowrap}
details.group{border:1px solid var(--line);border-radius:6px;margin:8px 0}
details.group>summary{cursor:pointer;padding:6px 10px;background:#f8fafc;font-weight:600}
details.group>table{margin:0}
.finding .meta{color:var(--muted);font-size:12px}
.svc{display:grid;grid-template-columns:minmax(180px,1.2fr) minmax(120px,.8fr) minmax(200px,1.5fr);border-top:1px solid var(--line);padding:6px 0}
.svc:first-of-type{border-top:none}
.svc .arrow{color:var(--muted)}
.flow{display:grid;grid-template-columns:110px 1fr 60px;gap:8px;align-items:center;margin:3px 0}
.flow meter{width:100%}
.counter{color:var(--muted)}
footer{color:var(--muted);font-size:12px;text-align:center;margin:24px 0}
.nowrap{white-space:nowrap}
[hidden]{display:none!important}
"""

JS = """
(function () {
  "use strict";
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  var search = $("#f-search"), cat = $("#f-category"), counter = $("#f-counter");
  var sevBoxes = $all("input[data-sev-filter]");
  var rows = $all("tr.finding");
  function selectedSeverities() {
    var out = {};
    sevBoxes.forEach(function (b) { if (b.checked) { out[b.getAttribute("data-sev-filter")] = true; } });
    return out;
  }
  function applyFindings() {
    var q = search ? search.value.trim().toLowerCase() : "";
    var sev = selectedSeverities(), c = cat ? cat.value : "";
    var shown = 0;
    rows.forEach(function (r) {
      var ok = (!q || (r.getAttribute("data-search") || "").indexOf(q) !== -1) &&
        sev[r.getAttribute("data-sev")] === true && (!c || r.getAttribute("data-cat") === c);
      r.hidden = !ok;
      if (ok) { shown += 1; }
    });
    $all("details.group").forEach(function (g) {
      var visible = $all("tr.finding", g).filter(function (r) { return !r.hidden; }).length;
      g.hidden = visible === 0;
      var n = $(".group-count", g);
      if (n) { n.textContent = String(visible); }
    });
    if (counter) { counter.textContent = "showing " + shown + " of " + rows.length + " findings"; }
  }
  function bindTable(inputId, selector, statusId) {
    var input = $(inputId), status = statusId ? $(statusId) : null;
    var trs = $all(selector);
    function apply() {
      var q = input ? input.value.trim().toLowerCase() : "";
      var s = status ? status.value : "";
      trs.forEach(function (r) {
        r.hidden = !((!q || (r.getAttribute("data-search") || "").indexOf(q) !== -1) &&
          (!s || r.getAttribute("data-status") === s));
      });
    }
    if (input) { input.addEventListener("input", apply); }
    if (status) { status.addEventListener("change", apply); }
    apply();
  }
  function fromHash() {
    var h = window.location.hash.replace(/^#/, "");
    if (!h || h.indexOf("=") === -1) { return; }
    h.split("&").forEach(function (kv) {
      var i = kv.indexOf("="), k = kv.slice(0, i), v = decodeURIComponent(kv.slice(i + 1).replace(/\\+/g, " "));
      if (k === "q" && search) { search.value = v; }
      if (k === "sev") {
        var want = v.split(",");
        sevBoxes.forEach(function (b) { b.checked = want.indexOf(b.getAttribute("data-sev-filter")) !== -1; });
      }
      if (k === "cat" && cat) { cat.value = v; }
    });
  }
  if (search) { search.addEventListener("input", applyFindings); }
  if (cat) { cat.addEventListener("change", applyFindings); }
  sevBoxes.forEach(function (b) { b.addEventListener("change", applyFindings); });
  var expand = $("#f-expand"), collapse = $("#f-collapse");
  if (expand) { expand.addEventListener("click", function () { $all("details.group").forEach(function (d) { d.open = true; }); }); }
  if (collapse) { collapse.addEventListener("click", function () { $all("details.group").forEach(function (d) { d.open = false; }); }); }
  fromHash();
  applyFindings();
  bindTable("#c-search", "tr.clause", "#c-status");
  bindTable("#s-search", "tr.component", null);
  bindTable("#e-search", "tr.endpoint", null);
  document.documentElement.setAttribute("data-ready", "1");
})();
"""
