"""The comparison: what an update changes in the ways in (accounts, services, keys, executables, startup
scripts) and the ways out (endpoints), and in the known weaknesses (components, vulnerabilities, findings).

Every change carries the evidence of both sides. New findings that explain a structured change (the
``credential.default`` finding of a new account, the ``egress.endpoint`` finding of a new endpoint) are
attached to it, and raise its severity; the others are listed as new findings of their own.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from .. import __version__
from ..findings import SEVERITIES, SEVERITY_RANK
from . import traits as traits_mod
from .files import FilesResult, compare_files, is_startup
from .load import Side, chain_of
from .model import DIFF_SCHEMA, WAY_IN_CATEGORIES, change, is_security, sort_key, worse

REMOTE_CLASSES = frozenset({"remote-shell", "ssh", "file-transfer", "debug", "netcat", "socat"})
REMOTE_PROTOCOLS = frozenset({"telnet", "ssh", "ftp", "tftp", "rlogin", "rsh", "rexec", "adb", "vnc", "rdp", "gdb"})
_AUTH_RANK = {"key": 3, "password": 2, "unknown": 1, "none": 0}
_STATE_RANK = {"locked": 4, "hash": 3, "unknown": 2, "cracked": 1, "plaintext": 1, "empty": 0}
_KEY_DIGEST = re.compile(r"\b(?:SPKI-SHA256|DER-SHA256|SHA256):[A-Za-z0-9+/=]{16,}")
_NOLOGIN = re.compile(r"(?:nologin|/false|/sync|/shutdown|/halt)$")
_WATCHED_PURPOSES = frozenset({"telemetry", "analytics", "advertising", "tracking", "remote-access",
                               "remote-support", "cloud-management", "c2"})
_GONE = {"state": "absent"}


class _Ctx:
    def __init__(self, old: Side, new: Side):
        self.old, self.new = old, new
        of = {f["fingerprint"]: f for f in old.report.get("findings", [])}
        nf = {f["fingerprint"]: f for f in new.report.get("findings", [])}
        self.new_findings = {fp: nf[fp] for fp in sorted(nf.keys() - of.keys())}
        self.resolved_findings = {fp: of[fp] for fp in sorted(of.keys() - nf.keys())}
        self.claimed: dict[str, str] = {}

    def claim(self, ch: dict[str, Any], pred: Callable[[dict[str, Any]], bool], *, resolved: bool = False,
              escalate: bool = True) -> None:
        """Attach the new (or resolved) findings ``pred`` accepts to ``ch``; new ones raise its severity (unless
        ``escalate`` is false: a finding that only restates what the old version had under a new fingerprint)."""
        pool = self.resolved_findings if resolved else self.new_findings
        for fp, f in pool.items():
            if fp in self.claimed or not pred(f):
                continue
            self.claimed[fp] = ch["area"] + ":" + ch["subject"]
            ch["findings"].append({"fingerprint": fp, "rule": f["rule"], "category": f["category"],
                                   "severity": f["severity"], "title": f["title"], "path": f.get("path"),
                                   "side": "OLD" if resolved else "NEW"})
            if not resolved and escalate:
                ch["severity"] = worse(ch["severity"], f["severity"])
                if f["category"] in WAY_IN_CATEGORIES:
                    ch["way_in"] = True
                if f["category"] == "egress.cross-border" and SEVERITY_RANK[f["severity"]] <= SEVERITY_RANK["high"]:
                    ch["cross_border"] = True


def _chain(entry: dict[str, Any]) -> str:
    return chain_of(entry.get("container") or [])


def _fp_in(fps: set[str]) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f["fingerprint"] in fps


def _at(path: str, chain: str, not_categories: tuple[str, ...] = ()) -> Callable[[dict[str, Any]], bool]:
    """Findings on ``path`` of the tree ``chain`` (except those of ``not_categories``)."""
    return lambda f: (f.get("path") == path and _chain(f) == chain
                      and not (not_categories and f["category"].startswith(not_categories)))


def _pair(old: list[dict], new: list[dict], keys: Iterable[Callable[[dict], Any]]):
    """Pairs (old, new) matched by the first key function that makes them unique, then the unmatched."""
    old_left, new_left = list(old), list(new)
    pairs = []
    for key in keys:
        ob: dict[Any, list[dict]] = defaultdict(list)
        nb: dict[Any, list[dict]] = defaultdict(list)
        for e in old_left:
            ob[key(e)].append(e)
        for e in new_left:
            nb[key(e)].append(e)
        for k in sorted(ob.keys() & nb.keys(), key=repr):
            for a, b in zip(ob[k], nb[k]):
                pairs.append((a, b))
                old_left.remove(a)
                new_left.remove(b)
    return pairs, old_left, new_left


# -- accounts -----------------------------------------------------------------------------------------------


def _login(a: dict[str, Any]) -> bool:
    if "login" in a and a["login"] is not None:
        return bool(a["login"])
    shell = a.get("shell") or ""
    return a.get("password_state") != "locked" and not _NOLOGIN.search(shell)


def _state_rank(state: str | None) -> int:
    return _STATE_RANK.get((state or "unknown").split(":")[0], 2)


def _acc_evidence(a: dict[str, Any], digest: str | None) -> dict[str, Any]:
    out = {k: a.get(k) for k in ("name", "uid", "gid", "shell", "home", "password_state", "password_hint",
                                 "source")}
    out["login"] = _login(a)
    if digest:
        out["password_digest"] = digest
    return out


def _password_digest(side: Side, a: dict[str, Any]) -> str | None:
    """A short digest of the account's password field (image sides only): tells a changed hash without
    showing it."""
    if side.inventory is None or not a.get("source"):
        return None
    chain, src, name = _chain(a), a["source"], a["name"]

    def field(path: str) -> str | None:
        item = side.resolve(chain, path)
        text = item.facts.text if item is not None else None
        if text is None:
            return None
        for line in text.splitlines():
            if line.startswith(name + ":"):
                parts = line.split(":")
                return parts[1] if len(parts) > 1 else ""
        return None

    pw = field(src)
    if src.endswith("passwd") and pw in (None, "x", "*x*") or (pw is not None and pw.startswith("##")):
        shadow = field("/etc/shadow") or field("/etc/tcb/" + name + "/shadow")
        pw = shadow if shadow is not None else pw
    if pw is None:
        return None
    return hashlib.sha256(pw.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _accounts(ctx: _Ctx) -> list[dict[str, Any]]:
    old, new = ctx.old.report.get("accounts", []), ctx.new.report.get("accounts", [])
    pairs, removed, added = _pair(old, new, (
        lambda a: (_chain(a), a.get("source"), a["name"]),
        lambda a: (a.get("source"), a["name"]),
    ))
    out = []
    for a in added:
        login, uid0 = _login(a), a.get("uid") == 0
        sev = "critical" if login and uid0 else "high" if login else "low"
        what = "superuser account" if uid0 else "account"
        ch = change("accounts", "added", a["name"], f"New {what} {a['name']!r}"
                    + (" that can log in" if login else " (cannot log in)") + f" in {a.get('source')}",
                    severity=sev, way_in=login, old=None, new=_acc_evidence(a, _password_digest(ctx.new, a)),
                    path=a.get("source"), container=a.get("container"),
                    details=[_acc_line(a)])
        _claim_account(ctx, ch, a)
        out.append(ch)
    for a in removed:
        ch = change("accounts", "removed", a["name"], f"Account {a['name']!r} removed from {a.get('source')}",
                    old=_acc_evidence(a, None), new=None, path=a.get("source"), container=a.get("container"),
                    details=[_acc_line(a)])
        _claim_account(ctx, ch, a, resolved=True)
        out.append(ch)
    for a, b in pairs:
        da, db = _password_digest(ctx.old, a), _password_digest(ctx.new, b)
        details, sev, way_in = [], "info", False
        for k in ("uid", "gid", "shell", "home", "password_state", "password_hint"):
            if a.get(k) != b.get(k):
                details.append(f"{k}: {a.get(k)!r} -> {b.get(k)!r}")
        if a.get("uid") != 0 and b.get("uid") == 0:
            sev, way_in = "critical", _login(b)
        if not _login(a) and _login(b):
            sev, way_in = worse(sev, "high"), True
            details.append("can now log in")
        elif _login(a) and not _login(b):
            details.append("can no longer log in")
        ra, rb = _state_rank(a.get("password_state")), _state_rank(b.get("password_state"))
        if rb < ra and rb <= 1 and _login(b):
            sev, way_in = worse(sev, "critical" if rb == 0 else "high"), True
        elif a.get("password_state") != b.get("password_state") and rb < ra:
            sev = worse(sev, "medium")
        if da and db and da != db:
            details.append(f"password hash changed ({da} -> {db}, digests of the stored field)")
            sev = worse(sev, "low")
        elif a.get("password_state") == b.get("password_state") and a.get("password_hint") != b.get("password_hint"):
            sev = worse(sev, "low")
        if a.get("shell") != b.get("shell") and sev == "info":
            sev = "low"
        if not details:
            continue
        ch = change("accounts", "changed", b["name"], f"Account {b['name']!r} changed in {b.get('source')}: "
                    + "; ".join(d.split(" (")[0] for d in details[:3]),
                    severity=sev, way_in=way_in, old=_acc_evidence(a, da), new=_acc_evidence(b, db),
                    path=b.get("source"), container=b.get("container"), details=details)
        _claim_account(ctx, ch, b, escalate=rb <= ra)
        _claim_account(ctx, ch, a, resolved=True)
        out.append(ch)
    return out


def _acc_line(a: dict[str, Any]) -> str:
    hint = f" ({a['password_hint']})" if a.get("password_hint") else ""
    return (f"uid {a.get('uid')}, gid {a.get('gid')}, shell {a.get('shell')}, home {a.get('home')}, "
            f"password {a.get('password_state')}{hint}")


def _claim_account(ctx: _Ctx, ch: dict[str, Any], a: dict[str, Any], *, resolved: bool = False,
                   escalate: bool = True) -> None:
    name, chain = a["name"], _chain(a)
    fp = a.get("finding")

    def pred(f: dict[str, Any]) -> bool:
        if f["fingerprint"] == fp:
            return True
        if _chain(f) != chain or not f["category"].startswith(("account.", "credential.", "backdoor.known")):
            return False
        text = f"{f.get('title', '')} {f.get('evidence', '')}"
        return f"'{name}'" in text or f"account {name} " in text

    ctx.claim(ch, pred, resolved=resolved, escalate=escalate)


# -- services -----------------------------------------------------------------------------------------------


def _ports(s: dict[str, Any]) -> set[str]:
    return {f"{p.get('port')}/{p.get('proto')}" for p in s.get("ports") or []}


def _sorted_ports(ports: set[str]) -> list[str]:
    def key(p: str) -> tuple[int, str]:
        num, _, proto = p.partition("/")
        return (int(num) if num.isdigit() else -1, proto)

    return sorted(ports, key=key)


def _remote(s: dict[str, Any]) -> bool:
    return s.get("class") in REMOTE_CLASSES or (s.get("protocol") or "") in REMOTE_PROTOCOLS


def _svc_evidence(s: dict[str, Any]) -> dict[str, Any]:
    return {"name": s.get("name"), "binary": s.get("binary"), "args": s.get("args"),
            "ports": _sorted_ports(_ports(s)), "auth": s.get("auth"), "started_by": s.get("started_by"),
            "class": s.get("class"), "summary": s.get("summary")}


def _svc_where(s: dict[str, Any]) -> str:
    ports = ", ".join(_sorted_ports(_ports(s))) or "no network port"
    chain = " > ".join(s.get("started_by") or []) or "unknown start"
    return f"{ports}, auth {s.get('auth')}, started by {chain}"


def _services(ctx: _Ctx) -> list[dict[str, Any]]:
    old, new = ctx.old.report.get("services", []), ctx.new.report.get("services", [])
    ident = lambda s: (_chain(s), s.get("binary") or s.get("name"))
    pairs, removed, added = _pair(old, new, (
        lambda s: (*ident(s), tuple(s.get("args") or ()), tuple(sorted(_ports(s)))),
        lambda s: (*ident(s), tuple(sorted(_ports(s)))),
        ident,
        lambda s: s.get("binary") or s.get("name"),
    ))
    out = []
    for s in added:
        remote, ports = _remote(s), bool(s.get("ports"))
        if remote and ports:
            sev, way_in = ("critical" if s.get("auth") == "none" else "high"), True
            what = "remote-access service"
        elif remote:
            sev, way_in, what = "medium", False, "remote-access program (no network port found)"
        elif ports:
            sev, way_in, what = "medium", False, "network listener"
        else:
            sev, way_in, what = "low", False, "program started at boot"
        ch = change("services", "added", s.get("name") or "?", f"New {what} {s.get('name')}: {_svc_where(s)}",
                    severity=sev, way_in=way_in, new=_svc_evidence(s), path=(s.get("started_by") or [None])[-1],
                    container=s.get("container"), details=[s.get("summary") or ""])
        _claim_service(ctx, ch, s)
        out.append(ch)
    for s in removed:
        ch = change("services", "removed", s.get("name") or "?", f"{s.get('name')} no longer started: {_svc_where(s)}",
                    old=_svc_evidence(s), path=(s.get("started_by") or [None])[-1], container=s.get("container"))
        _claim_service(ctx, ch, s, resolved=True)
        out.append(ch)
    for a, b in pairs:
        details, sev, way_in = [], "info", False
        pa, pb = _ports(a), _ports(b)
        if pb - pa:
            details.append(f"new ports: {', '.join(_sorted_ports(pb - pa))}")
            if _remote(b):
                sev, way_in = "high", True
            else:
                sev = "medium"
        if pa - pb:
            details.append(f"ports closed: {', '.join(_sorted_ports(pa - pb))}")
        aa, ab = a.get("auth") or "unknown", b.get("auth") or "unknown"
        if aa != ab:
            details.append(f"authentication: {aa} -> {ab}")
            if _AUTH_RANK.get(ab, 1) < _AUTH_RANK.get(aa, 1):
                if ab == "none" and _remote(b) and pb:
                    sev, way_in = "critical", True
                else:
                    sev = worse(sev, "high" if ab == "none" else "medium")
        if (a.get("started_by") or []) != (b.get("started_by") or []):
            details.append(f"start chain: {' > '.join(a.get('started_by') or [])} -> "
                           f"{' > '.join(b.get('started_by') or [])}")
            sev = worse(sev, "low")
        if (a.get("args") or []) != (b.get("args") or []):
            details.append(f"arguments: {' '.join(a.get('args') or [])!r} -> {' '.join(b.get('args') or [])!r}")
            sev = worse(sev, "low")
        if a.get("class") != b.get("class"):
            details.append(f"class: {a.get('class')} -> {b.get('class')}")
        if not details:
            continue
        ch = change("services", "changed", b.get("name") or "?", f"{b.get('name')} changed: {details[0]}",
                    severity=sev, way_in=way_in, old=_svc_evidence(a), new=_svc_evidence(b),
                    path=(b.get("started_by") or [None])[-1], container=b.get("container"), details=details)
        _claim_service(ctx, ch, b)
        _claim_service(ctx, ch, a, resolved=True)
        out.append(ch)
    return out


def _claim_service(ctx: _Ctx, ch: dict[str, Any], s: dict[str, Any], *, resolved: bool = False) -> None:
    chain, name = _chain(s), s.get("name") or ""
    paths = set(s.get("started_by") or []) | {s.get("binary")}

    def pred(f: dict[str, Any]) -> bool:
        if _chain(f) != chain or f.get("path") not in paths:
            return False
        if not f["category"].startswith(("service.", "config.insecure", "egress.", "backdoor.bind-shell")):
            return False
        text = f"{f.get('title', '')} {f.get('evidence', '')}"
        return bool(name) and name in text

    ctx.claim(ch, pred, resolved=resolved)


# -- keys ---------------------------------------------------------------------------------------------------


def _key_entries(report: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for f in report.get("findings", []):
        if not (f["category"].startswith("key.") or f["category"] == "credential.authorized-key"):
            continue
        m = _KEY_DIGEST.search(f.get("evidence") or "")
        out.append({"digest": m.group(0) if m else f"finding:{f['fingerprint']}", "finding": f})
    return out


def _key_evidence(entries: list[dict[str, Any]]) -> dict[str, Any]:
    f0 = entries[0]["finding"]
    return {"digest": entries[0]["digest"], "rule": f0["rule"], "category": f0["category"],
            "severity": f0["severity"], "title": f0["title"],
            "paths": sorted({e["finding"].get("path") or "" for e in entries}),
            "evidence": f0.get("evidence")}


def _keys(ctx: _Ctx) -> list[dict[str, Any]]:
    old, new = _key_entries(ctx.old.report), _key_entries(ctx.new.report)
    ob: dict[str, list[dict]] = defaultdict(list)
    nb: dict[str, list[dict]] = defaultdict(list)
    for e in old:
        ob[e["digest"]].append(e)
    for e in new:
        nb[e["digest"]].append(e)
    where = lambda e: (_chain(e["finding"]), e["finding"].get("path"), e["finding"]["rule"])
    old_at = {where(e): e for e in old}
    out = []
    rotated_from: set[str] = set()
    for digest in sorted(nb.keys() - ob.keys()):
        entries = nb[digest]
        f0 = entries[0]["finding"]
        authorized = any(e["finding"]["category"] in ("credential.authorized-key", "key.known-compromised")
                         for e in entries)
        prev = next((old_at[where(e)] for e in entries if where(e) in old_at
                     and not old_at[where(e)]["digest"].startswith("finding:")), None)
        paths = ", ".join(sorted({e["finding"].get("path") or "" for e in entries}))
        if prev is not None and not digest.startswith("finding:"):
            rotated_from.add(prev["digest"])
            sev = "high" if authorized else "info"
            ch = change("keys", "rotated", paths, f"Key replaced at {paths}: {prev['digest']} -> {digest}"
                        + (" (a different key now grants login)" if authorized else ""),
                        severity=sev, way_in=authorized, old=_key_evidence(ob[prev["digest"]]),
                        new=_key_evidence(entries), path=f0.get("path"), container=f0.get("container"),
                        details=[f0["title"]])
        else:
            test_key = all(e["finding"]["severity"] in ("low", "info") for e in entries)
            ch = change("keys", "added", paths, f"New key {digest} at {paths}: {f0['title']}",
                        severity=f0["severity"], way_in=not test_key, new=_key_evidence(entries),
                        path=f0.get("path"), container=f0.get("container"), details=[f0.get("evidence") or ""])
        fps = {e["finding"]["fingerprint"] for e in entries}
        ctx.claim(ch, _fp_in(fps), escalate=prev is None)
        if prev is not None:
            ofps = {prev["finding"]["fingerprint"]}
            ctx.claim(ch, _fp_in(ofps), resolved=True)
        out.append(ch)
    for digest in sorted(ob.keys() - nb.keys()):
        if digest in rotated_from:
            continue
        entries = ob[digest]
        f0 = entries[0]["finding"]
        paths = ", ".join(sorted({e["finding"].get("path") or "" for e in entries}))
        ch = change("keys", "removed", paths, f"Key {digest} no longer shipped ({paths})",
                    old=_key_evidence(entries), path=f0.get("path"), container=f0.get("container"))
        fps = {e["finding"]["fingerprint"] for e in entries}
        ctx.claim(ch, _fp_in(fps), resolved=True)
        out.append(ch)
    for digest in sorted(ob.keys() & nb.keys()):
        if digest.startswith("finding:"):
            continue
        entries = nb[digest]
        f0 = entries[0]["finding"]
        paths = ", ".join(sorted({e["finding"].get("path") or "" for e in entries}))
        private = any(e["finding"]["category"] == "key.private" for e in entries)
        what = ("the same private key ships in both versions: it was not rotated, every device of either "
                "version shares it") if private else "the same key still grants access in both versions"
        ch = change("keys", "unchanged", paths, f"Key {digest} unchanged at {paths}: {what}",
                    severity="info", notable=True, old=_key_evidence(ob[digest]), new=_key_evidence(entries),
                    path=f0.get("path"), container=f0.get("container"), details=[f0["title"]])
        fps = {e["finding"]["fingerprint"] for e in entries}
        ctx.claim(ch, _fp_in(fps), escalate=False)
        out.append(ch)
    return out


# -- components and vulnerabilities -------------------------------------------------------------------------


def _compare_versions(a: str, b: str) -> int:
    try:
        from ..components.versions import compare
    except ImportError:  # pragma: no cover - the components package ships with veracity
        return (a > b) - (a < b)
    return compare(a, b)


def _comp_evidence(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": entries[0]["name"], "versions": sorted({e.get("version") or "?" for e in entries}),
            "paths": sorted({p for e in entries for p in (e.get("paths") or [])})[:20],
            "evidence": entries[0].get("evidence") if isinstance(entries[0].get("evidence"), str) else None}


def _affected(v: dict[str, Any]) -> bool:
    return (v.get("state") or "affected") not in ("not_affected", "fixed", "false_positive", "resolved")


def _components(ctx: _Ctx) -> list[dict[str, Any]]:
    ob: dict[str, list[dict]] = defaultdict(list)
    nb: dict[str, list[dict]] = defaultdict(list)
    for c in ctx.old.report.get("components", []):
        ob[c["name"]].append(c)
    for c in ctx.new.report.get("components", []):
        nb[c["name"]].append(c)
    out = []

    def claim(ch: dict[str, Any], name: str, resolved_too: bool = True) -> None:
        def pred(f: dict[str, Any]) -> bool:
            return f["category"] in ("component.end-of-life",) and (f.get("evidence") or "").startswith(name + " ")
        was_eol = any(pred(f) for f in ctx.resolved_findings.values())
        ctx.claim(ch, pred, escalate=not was_eol)
        if resolved_too:
            ctx.claim(ch, pred, resolved=True)

    for name in sorted(nb.keys() - ob.keys()):
        ev = _comp_evidence(nb[name])
        ch = change("components", "added", name, f"New component {name} {', '.join(ev['versions'])}", new=ev,
                    path=(ev["paths"] or [None])[0])
        claim(ch, name, False)
        out.append(ch)
    for name in sorted(ob.keys() - nb.keys()):
        ev = _comp_evidence(ob[name])
        ch = change("components", "removed", name, f"Component {name} {', '.join(ev['versions'])} removed", old=ev,
                    path=(ev["paths"] or [None])[0])
        claim(ch, name)
        out.append(ch)
    for name in sorted(ob.keys() & nb.keys()):
        eo, en = _comp_evidence(ob[name]), _comp_evidence(nb[name])
        vo, vn = set(eo["versions"]), set(en["versions"])
        if vo == vn:
            continue
        if len(vo) == 1 and len(vn) == 1 and "?" not in vo | vn:
            a, b = next(iter(vo)), next(iter(vn))
            cmp = _compare_versions(b, a)
            if cmp == 0:
                continue
            kind = "upgraded" if cmp > 0 else "downgraded"
            ch = change("components", kind, name, f"{name} {kind} {a} -> {b}",
                        severity="info" if cmp > 0 else "medium", old=eo, new=en, path=(en["paths"] or [None])[0],
                        details=[] if cmp > 0 else ["a downgrade can bring back vulnerabilities fixed since"])
        else:
            ch = change("components", "changed", name,
                        f"{name} versions {', '.join(sorted(vo))} -> {', '.join(sorted(vn))}",
                        old=eo, new=en, path=(en["paths"] or [None])[0],
                        details=[f"added: {', '.join(sorted(vn - vo)) or '-'}",
                                 f"removed: {', '.join(sorted(vo - vn)) or '-'}"])
        claim(ch, name)
        out.append(ch)
    out.extend(_vulnerabilities(ctx, ob, nb))
    return out


def _vulns(entries: dict[str, list[dict]]) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for name, comps in entries.items():
        for c in comps:
            for v in c.get("vulnerabilities") or []:
                if isinstance(v, dict) and v.get("id") and _affected(v):
                    out.setdefault((name, v["id"]), {**v, "component": name, "version": c.get("version")})
    return out


def _vuln_severity(v: dict[str, Any]) -> str:
    sev = (v.get("severity") or "").lower()
    sev = sev if sev in SEVERITIES else "medium"
    if v.get("kev"):
        sev = worse(sev, "high")
    return sev


def _vulnerabilities(ctx: _Ctx, ob: dict[str, list[dict]], nb: dict[str, list[dict]]) -> list[dict[str, Any]]:
    vo, vn = _vulns(ob), _vulns(nb)
    out = []

    def pred_for(name: str, vid: str):
        return lambda f: f["category"] == "component.vulnerable" and vid in (f.get("title") or "") and (
            f.get("evidence") or "").startswith(name + " ")

    for key in sorted(vn.keys() - vo.keys()):
        v = vn[key]
        ch = change("vulnerabilities", "introduced", f"{key[0]} {key[1]}",
                    f"{key[1]} in {key[0]} {v.get('version')}" + (" (known exploited)" if v.get("kev") else ""),
                    severity=_vuln_severity(v), new=_vuln_evidence(v), details=[(v.get("description") or "")[:300]])
        ctx.claim(ch, pred_for(*key))
        out.append(ch)
    for key in sorted(vo.keys() - vn.keys()):
        v = vo[key]
        now = ", ".join(sorted({c.get("version") or "?" for c in nb.get(key[0], [])})) or "removed"
        ch = change("vulnerabilities", "fixed", f"{key[0]} {key[1]}",
                    f"{key[1]} fixed: {key[0]} {v.get('version')} -> {now}", old=_vuln_evidence(v))
        ctx.claim(ch, pred_for(*key), resolved=True)
        out.append(ch)
    # the same vulnerability under a new version (its finding's fingerprint changed with the version)
    for key in sorted(vo.keys() & vn.keys()):
        ctx.claimed.update({fp: "vulnerabilities:unchanged" for fp, f in [*ctx.new_findings.items(),
                                                                         *ctx.resolved_findings.items()]
                            if fp not in ctx.claimed and pred_for(*key)(f)})
    return out


def _vuln_evidence(v: dict[str, Any]) -> dict[str, Any]:
    return {k: v.get(k) for k in ("component", "version", "id", "severity", "score", "kev", "affected_range",
                                  "confidence")}


# -- endpoints ----------------------------------------------------------------------------------------------


def _ep_evidence(e: dict[str, Any]) -> dict[str, Any]:
    return {k: e.get(k) for k in ("value", "kind", "host", "port", "scheme", "country", "owner", "purpose",
                                  "paths", "policy")}


def _cross_border(e: dict[str, Any], allow: tuple[str, ...], old_countries: set[str]) -> tuple[bool, str]:
    country = e.get("country")
    if e.get("local") or e.get("egress") is False:
        return False, ""
    if e.get("policy") == "forbidden":
        return True, f"{country} is outside the residency policy"
    if e.get("policy") in ("allowed", "exempt"):
        return False, ""
    if not country:
        return False, ""
    if allow:
        return (country not in allow), (f"{country} is not among the allowed countries {', '.join(allow)}"
                                         if country not in allow else "")
    if country not in old_countries:
        return True, f"{country} is a destination country the old version did not have"
    return False, ""


def _endpoint_changes(ctx: _Ctx, allow: tuple[str, ...]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(changes, added endpoint records): additions are returned apart so executables can take theirs."""
    old = {e["value"]: e for e in ctx.old.report.get("endpoints", [])}
    new = {e["value"]: e for e in ctx.new.report.get("endpoints", [])}
    old_countries = {e["country"] for e in old.values() if e.get("country") and not e.get("local")}
    added = []
    for value in sorted(new.keys() - old.keys()):
        e = new[value]
        cross, why = _cross_border(e, allow, old_countries)
        added.append({"record": e, "cross_border": cross, "why": why})
    out = []
    for value in sorted(old.keys() - new.keys()):
        e = old[value]
        ch = change("endpoints", "removed", value, f"Endpoint {value} gone ({e.get('purpose') or 'purpose unknown'}, "
                    f"{e.get('country') or 'country unknown'})", old=_ep_evidence(e),
                    path=(e.get("paths") or [None])[0])
        _claim_endpoint(ctx, ch, e, resolved=True)
        out.append(ch)
    for value in sorted(old.keys() & new.keys()):
        a, b = old[value], new[value]
        details = [f"{k}: {a.get(k)} -> {b.get(k)}" for k in ("country", "owner", "purpose") if a.get(k) != b.get(k)]
        if not details:
            continue
        cross, why = (_cross_border(b, allow, old_countries) if a.get("country") != b.get("country")
                      else (False, ""))
        ch = change("endpoints", "changed", value, f"Endpoint {value}: {'; '.join(details)}",
                    severity="high" if cross else "low", cross_border=cross, old=_ep_evidence(a), new=_ep_evidence(b),
                    path=(b.get("paths") or [None])[0], details=details + ([why] if why else []))
        _claim_endpoint(ctx, ch, b)
        out.append(ch)
    return out, added


def _endpoint_added(ctx: _Ctx, rec: dict[str, Any]) -> dict[str, Any]:
    e, cross, why = rec["record"], rec["cross_border"], rec["why"]
    local = e.get("local") or e.get("egress") is False
    purpose = e.get("purpose") or "purpose unknown"
    sev = "info" if local else "high" if cross else "medium" if purpose in _WATCHED_PURPOSES else "low"
    paths = e.get("paths") or []
    ch = change("endpoints", "added", e["value"],
                f"New endpoint {e['value']} ({purpose}, {e.get('country') or 'country unknown'})"
                + (f" in {', '.join(paths[:3])}" if paths else ""),
                severity=sev, cross_border=cross, new=_ep_evidence(e), path=(paths or [None])[0],
                details=[d for d in (why, f"owner {e['owner']}" if e.get("owner") else "") if d])
    _claim_endpoint(ctx, ch, e)
    return ch


def _claim_endpoint(ctx: _Ctx, ch: dict[str, Any], e: dict[str, Any], *, resolved: bool = False) -> None:
    value = e["value"]

    def pred(f: dict[str, Any]) -> bool:
        return f["category"].startswith("egress.") and (
            (f.get("evidence") or "").startswith(value + ":") or f"{value} " in (f.get("title") or "")
            or (f.get("title") or "").endswith(value))

    ctx.claim(ch, pred, resolved=resolved)


# -- executables, scripts, permissions ----------------------------------------------------------------------


def _executables(ctx: _Ctx, files: FilesResult, added_eps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for d in files.executables:
        path = d.new["path"]
        chain = _chain(d.new)
        added = dict(d.added)
        eps = [r for r in added_eps if not r.get("folded") and path in (r["record"].get("paths") or [])]
        if eps:
            added["endpoint"] = tuple(f"{r['record']['value']} ({r['record'].get('country') or '?'})" for r in eps)
            known = {r["record"]["value"] for r in eps}
            urls = tuple(u for u in added.get("url-string", ()) if u not in known)
            added.pop("url-string", None)
            if urls:
                added["url-string"] = urls
        creds = [f for f in ctx.new_findings.values() if f.get("path") == path and _chain(f) == chain
                 and f["category"].startswith(("credential.", "key."))]
        if creds:
            added["credential"] = tuple(f["title"] for f in creds[:traits_mod.MAX_EXAMPLES])
        sev, way_in, reasons = traits_mod.judge(path, d.new_profile, added, is_new_file=d.status == "added",
                                                had=d.old_profile)
        core = {k: v for k, v in added.items() if k != "endpoint"}
        if d.status == "changed" and not core and not d.new_needed:
            files.changed_quiet.append({"path": path, "container": d.new["container"], "kind": d.new.get("kind"),
                                        "size_delta": d.size_delta, "old_path": d.old["path"] if d.old else path})
            continue
        details = reasons + traits_mod.describe(added)
        if d.new_needed:
            details.append(f"new libraries needed: {', '.join(d.new_needed)}")
        if d.lost:
            details.append(f"imports dropped: {', '.join(d.lost)}")
        kind = "library" if d.new_profile.library else "executable"
        if d.status == "added":
            title = f"New {kind} {path}" + (f": {', '.join(traits_mod.TRAIT_LABELS.get(k, k) for k in core)}"
                                            if core else "")
        else:
            title = f"{kind.capitalize()} {path} gained: " + ", ".join(
                traits_mod.TRAIT_LABELS.get(k, k) for k in sorted(added, key=traits_mod._ORDER))
        ch = change("executables", d.status, path, title, severity=sev, way_in=way_in,
                    old=_exec_evidence(d.old, d.old_profile), new=_exec_evidence(d.new, d.new_profile, d.added),
                    path=path, container=d.new["container"], details=details)
        if SEVERITY_RANK[sev] <= SEVERITY_RANK["medium"] and core:
            for r in eps:  # the endpoints this change brought are part of it
                r["folded"] = path
                ch["cross_border"] = ch["cross_border"] or r["cross_border"]
                if r["why"]:
                    ch["details"].append(f"{r['record']['value']}: {r['why']}")
                _claim_endpoint(ctx, ch, r["record"])
        ctx.claim(ch, _at(path, chain))
        out.append(ch)
    return out


def _exec_evidence(rec: dict[str, Any] | None, prof: traits_mod.Profile | None,
                   gained: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any] | None:
    if rec is None:
        return None
    out = {k: rec.get(k) for k in ("path", "sha256", "size", "mode", "type")}
    if prof is not None:
        out["capabilities"] = {k: list(v) for k, v in sorted(prof.traits.items())}
    if gained is not None:
        out["gained"] = {k: list(v) for k, v in sorted(gained.items())}
    return out


def _scripts(ctx: _Ctx, files: FilesResult) -> list[dict[str, Any]]:
    out = []
    for s in files.scripts:
        rec = s.new or s.old or {}
        path = rec.get("path") or "?"
        if s.status == "removed":
            ch = change("scripts", "removed", path, f"Startup file {path} removed", old=s.old, path=path,
                        container=rec.get("container"), diff=s.diff)
        else:
            sev = "high" if s.risky else "low"
            counts = f" (+{s.added_lines} -{s.removed_lines} lines)" if s.diff is not None else ""
            title = (f"New startup file {path}" if s.status == "added" else f"Startup file {path} changed") + counts
            if s.risky:
                first = s.risky[0] if len(s.risky[0]) <= 80 else s.risky[0][:79] + "\u2026"
                title += f": hands a shell or fetched code to the network ({first})"
            details = [f"hands a shell or fetched code to the network: {line}" for line in s.risky]
            if s.diff is None:
                details.append("contents not compared: the text diff needs both images")
            ch = change("scripts", s.status, path, title, severity=sev, old=s.old, new=s.new, path=path,
                        container=rec.get("container"), details=details, diff=s.diff)
            chain = _chain(rec)
            ctx.claim(ch, _at(path, chain, ("service.", "egress.", "account.", "credential.")))
        out.append(ch)
    return out


def _permissions(files: FilesResult) -> list[dict[str, Any]]:
    return [
        change("files", "changed", p["path"], f"{p['path']}: {', '.join(p['notes'])} ({p['old_mode']} -> "
               f"{p['new_mode']}, owner {p['old_owner']} -> {p['new_owner']})", severity=p["severity"],
               old={"path": p["old_path"], "mode": p["old_mode"], "owner": p["old_owner"]},
               new={"path": p["path"], "mode": p["new_mode"], "owner": p["new_owner"]},
               path=p["path"], container=p["container"], details=p["notes"])
        for p in files.permissions
    ]


def _added_setid(files: FilesResult) -> list[dict[str, Any]]:
    out = []
    for r in files.added:
        try:
            mode = int(str(r.get("mode") or "0"), 8)
        except ValueError:
            continue
        if mode & 0o6000 and r.get("kind") in ("elf", "script"):
            out.append(change("files", "added", r["path"], f"New set-id program {r['path']} (mode {r['mode']}, "
                              f"owner {r.get('uid')}:{r.get('gid')})", severity="high" if r.get("uid") == 0
                              else "medium", new=r, path=r["path"], container=r.get("container")))
    return out


# -- findings -----------------------------------------------------------------------------------------------


def _finding_evidence(f: dict[str, Any]) -> dict[str, Any]:
    return {k: f.get(k) for k in ("rule", "category", "severity", "title", "path", "container", "line", "offset",
                                  "evidence", "fingerprint", "backdoor_id")}


def _findings(ctx: _Ctx) -> list[dict[str, Any]]:
    out = []
    for fp, f in ctx.new_findings.items():
        if fp in ctx.claimed:
            continue
        ch = change("findings", "new", f["title"], f"New finding: {f['title']}", severity=f["severity"],
                    way_in=f["category"] in WAY_IN_CATEGORIES,
                    cross_border=f["category"] == "egress.cross-border" and SEVERITY_RANK[f["severity"]] <= 1,
                    new=_finding_evidence(f), path=f.get("path"), container=f.get("container"),
                    details=[f"{f['rule']} {f['category']}: {f.get('evidence') or ''}"[:500]])
        ch["findings"].append({"fingerprint": fp, "rule": f["rule"], "category": f["category"],
                               "severity": f["severity"], "title": f["title"], "path": f.get("path"), "side": "NEW"})
        ctx.claimed[fp] = "findings:new"
        out.append(ch)
    for fp, f in ctx.resolved_findings.items():
        if fp in ctx.claimed:
            continue
        ch = change("findings", "resolved", f["title"], f"Resolved: {f['title']}", old=_finding_evidence(f),
                    path=f.get("path"), container=f.get("container"))
        ctx.claimed[fp] = "findings:resolved"
        out.append(ch)
    return out


# -- the diff -----------------------------------------------------------------------------------------------


def compare(old: Side, new: Side, *, allow_countries: tuple[str, ...] = ()) -> dict[str, Any]:
    """The diff of two versions (a JSON-ready dict, see :data:`veracity.diff.model.DIFF_SCHEMA`)."""
    ctx = _Ctx(old, new)
    files = compare_files(old, new)
    changes: list[dict[str, Any]] = []
    changes += _keys(ctx)
    changes += _accounts(ctx)
    changes += _services(ctx)
    changes += _components(ctx)
    ep_changes, added_eps = _endpoint_changes(ctx, tuple(allow_countries))
    changes += _executables(ctx, files, added_eps)
    changes += _scripts(ctx, files)
    changes += _permissions(files)
    changes += _added_setid(files)
    changes += [_endpoint_added(ctx, r) for r in added_eps if not r.get("folded")]
    changes += ep_changes
    changes += _findings(ctx)
    changes.sort(key=sort_key)
    notes = _notes(old, new, files)
    ways_in = [c for c in changes if c["way_in"]]
    cross = [c for c in changes if c["cross_border"]]
    security = [c for c in changes if is_security(c)]
    if ways_in:
        head = f"The update adds a way in: {ways_in[0]['title']}" + (
            f" (and {len(ways_in) - 1} more)" if len(ways_in) > 1 else "")
    elif cross:
        head = f"The update adds a cross-border endpoint: {cross[0]['title']}"
    elif security:
        head = f"{len(security)} security change(s), none adds a way in"
    else:
        head = "No security change"
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for c in changes:
        counts[c["area"]][c["change"]] += 1
    by_sev = {s: sum(1 for c in changes if c["severity"] == s) for s in SEVERITIES}
    return {
        "schema": DIFF_SCHEMA,
        "tool": {"name": "veracity", "version": __version__},
        "old": old.describe(),
        "new": new.describe(),
        "verdict": {
            "security_change": bool(security),
            "way_in": bool(ways_in),
            "cross_border": bool(cross),
            "headline": head,
            "ways_in": len(ways_in),
            "cross_border_endpoints": len(cross),
            "security_changes": len(security),
        },
        "summary": {"by_severity": by_sev, "by_area": {a: dict(v) for a, v in sorted(counts.items())},
                    "stamp_only_files": len(files.stamp_only),
                    "changed_without_new_capabilities": len(files.changed_quiet)},
        "changes": changes,
        "findings": {
            "new": [{**_finding_evidence(f), "shown_in": ctx.claimed.get(fp)} for fp, f in ctx.new_findings.items()],
            "resolved": [{**_finding_evidence(f), "shown_in": ctx.claimed.get(fp)}
                         for fp, f in ctx.resolved_findings.items()],
        },
        "files": files.summary(),
        "notes": notes,
    }


def _notes(old: Side, new: Side, files: FilesResult) -> list[str]:
    notes = []
    for side in (old, new):
        if side.source == "report":
            notes.append(f"{side.label} is a saved report: file contents were not compared. Startup-script text "
                         "diffs, build-stamp filtering, password-hash comparison and the capabilities of changed "
                         "executables need the images.")
    ro = (old.report.get("tool") or {}).get("rules_version")
    rn = (new.report.get("tool") or {}).get("rules_version")
    if ro and rn and ro != rn:
        notes.append(f"The two sides were scanned with different rules ({ro} and {rn}): some findings may "
                     "differ for that reason alone.")
    checked = [any(c.get("vulnerabilities_checked") for c in s.report.get("components", [])) for s in (old, new)]
    if not all(checked) and (old.report.get("components") or new.report.get("components")):
        notes.append("Components were not checked against a vulnerability database on "
                     + ("either side" if not any(checked) else "one side")
                     + ": vulnerabilities fixed or introduced are not known (veracity db update, then --vulndb).")
    for side in (old, new):
        bad = [c["id"] for c in side.report.get("checks", []) or [] if c.get("status") == "failed"]
        if bad:
            notes.append(f"{side.label}: checks failed: {', '.join(bad)}")
    if files.stamp_only:
        notes.append(f"{len(files.stamp_only)} file(s) differ only in build stamps or version strings (not listed).")
    return notes


_EXIT_TOKENS = ("way-in", "cross-border", "change", "never")


def fails(diff: dict[str, Any], fail_on: Iterable[str]) -> bool:
    """Whether the diff meets one of the ``--fail-on`` conditions: ``way-in``, ``cross-border``, ``change``
    (any security change), a severity (a new finding or a change at or above it), ``never``."""
    tokens = set(fail_on)
    if "never" in tokens:
        return False
    v = diff["verdict"]
    if "way-in" in tokens and v["way_in"]:
        return True
    if "cross-border" in tokens and v["cross_border"]:
        return True
    if "change" in tokens and v["security_change"]:
        return True
    sevs = [SEVERITY_RANK[t] for t in tokens if t in SEVERITY_RANK]
    if sevs:
        limit = max(sevs)
        if any(SEVERITY_RANK[f["severity"]] <= limit for f in diff["findings"]["new"]):
            return True
        if any(SEVERITY_RANK[c["severity"]] <= limit for c in diff["changes"]
               if c["change"] not in ("removed", "resolved", "fixed", "upgraded")):
            return True
    return False


def gate_tokens() -> tuple[str, ...]:
    return (*_EXIT_TOKENS, *SEVERITIES)


__all__ = ["compare", "fails", "gate_tokens", "is_startup"]
