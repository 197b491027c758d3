"""Follow the data out: every hard-coded endpoint, its purpose, owner and country, against the vendor's declaration
and a residency policy.

1. Extraction (:mod:`veracity.egress.extract`): URLs of every common scheme, host names, IPv4/IPv6 literals and
   e-mail addresses, in text files, scripts, web assets and binaries (ASCII and UTF-16LE), found by the inventory's
   one Hyperscan pass and confirmed here; normalised and de-duplicated, every place kept.
2. Noise control (:mod:`veracity.egress.noise`): each dropped candidate is dropped by a named rule (namespaces,
   licence and documentation links, banners, credits, examples, version numbers, netmasks, file names, code...);
   the report's ``egress_noise`` section counts them. Loopback, private, link-local, multicast and documentation
   addresses and LAN names are reported as ``local``, never as egress.
3. Purpose (:mod:`veracity.egress.purpose`, rules in ``data/egress/purposes.json``): from the configuration key,
   the command, the web-page context, the host and path, and the strings around it.
4. Owner and country (:mod:`veracity.egress.owner`), offline, each answer with its source; ``--geoip`` for the
   user's MaxMind database, ``--resolve`` for DNS at scan time (off by default).
5. ``--declaration`` / ``--mud``: endpoints (and, when the declaration lists them, accounts and listening ports)
   that the vendor did not declare; declared items never seen are listed in the ``declaration`` section.
6. ``--policy`` / ``--allow-countries``: endpoints whose country is outside the allowed jurisdictions.
7. ``dataflow``: per country, the endpoints, owners, purposes and files.

Findings: one informational ``egress.endpoint`` per outbound endpoint (not per place); the others as above. Links
and text of the web interface (the administrator's browser, not the device, may follow them) are listed in the
``endpoints`` section with ``egress: false`` and judged against nothing.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from ..egress import context, extract, ipdata, names, noise, owner
from ..egress import purpose as purposes
from ..egress.cli import add_scan_arguments, options_from
from ..egress.declare import Declaration, DeclarationError, Policy, load_declaration, load_mud, load_policy
from ..egress.owner import Attribution, GeoIPError, Owners
from ..findings import Finding, Rule
from ..inventory import Inventory, Item
from ..options import ScanOptions
from ..parallel import shares
from ..patterns import Pattern
from .base import NotApplicable

__all__ = ["EgressCheck", "add_scan_arguments", "options_from"]

_EN_DATA = ("EN303645:6-1", "EN303645:6-2", "EN303645:6-3", "EN303645:6-4", "EN303645:6-5")
_REFS = (
    "https://www.etsi.org/deliver/etsi_en/303600_303699/303645/03.01.03_60/en_303645v030103p.pdf",
    "https://www.rfc-editor.org/rfc/rfc8520",
    "https://publicsuffix.org/",
)

ENDPOINT = Rule(
    "VER-EGR-001",
    "egress.endpoint",
    "info",
    "Hard-coded outbound endpoint",
    "The image names a host, URL, address or e-mail address that the device can contact by itself. The report's "
    "endpoints section gives its purpose, owner and country, each with its source, and every place it appears.",
    _EN_DATA,
    _REFS,
)
UNDECLARED = Rule(
    "VER-EGR-002",
    "egress.undeclared",
    "medium",
    "Outbound endpoint the vendor's declaration does not list",
    "An endpoint found in the image matches no entry of the vendor's declaration or MUD file: data may go there "
    "without the buyer being told. Telemetry, remote-control and C2-like endpoints are reported higher; time, DNS, "
    "connectivity-check, CDN and PKI endpoints lower.",
    (*_EN_DATA, "EN303645:5.6-4"),
    _REFS,
)
CROSS_BORDER = Rule(
    "VER-EGR-003",
    "egress.cross-border",
    "high",
    "Outbound endpoint in a country the residency policy does not allow",
    "The endpoint's owner or address holder is in a jurisdiction outside the policy's allowed countries, and "
    "neither an allowed processor nor the vendor's declaration covers it.",
    _EN_DATA,
    _REFS,
)
UNKNOWN_COUNTRY = Rule(
    "VER-EGR-004",
    "egress.cross-border",
    "low",
    "Outbound endpoint of unknown jurisdiction under a residency policy",
    "No offline source gives the endpoint's country, so the residency policy cannot be verified for it. Resolve "
    "it (--resolve) or give a GeoIP database (--geoip), or have the vendor declare its processing country.",
    _EN_DATA,
    _REFS,
)
HIDDEN_ACCOUNT = Rule(
    "VER-EGR-005",
    "account.hidden",
    "high",
    "Login-capable account the vendor's declaration does not list",
    "The image has an account that can log in (a shell and a usable password or key) which the vendor's "
    "declaration does not list.",
    ("EN303645:5.1-1", "TS33117:4.2.3.4.2.3", "GDSI:7"),
    ("https://cwe.mitre.org/data/definitions/912.html",),
)
UNDECLARED_PORT = Rule(
    "VER-EGR-006",
    "service.listener",
    "medium",
    "Listening port the vendor's declaration does not list",
    "A service started at boot listens on a port that the vendor's declaration does not list.",
    ("EN303645:5.6-1", "EN303645:5.6-2", "TS33117:4.3.2.1"),
    ("https://cwe.mitre.org/data/definitions/1188.html",),
)
INPUT_PROBLEM = Rule(
    "VER-EGR-007",
    "analysis.incomplete",
    "medium",
    "Endpoint analysis input could not be used",
    "A declaration, MUD, policy or GeoIP file given to the scan, or a file of the image, could not be read or "
    "parsed; the part of the egress analysis that depends on it is missing.",
)

_LOW = frozenset({"time", "dns", "connectivity-check", "cdn", "pki"})
_HIGH = frozenset({"telemetry", "c2-like", "cloud-management"})
_NO_LOGIN_SHELLS = ("nologin", "false", "sync", "halt", "shutdown", "/dev/null")
MAX_LOCATIONS = 64
MAX_NOISE_EXAMPLES = 12


@dataclass(slots=True)
class _Endpoint:
    kind: str
    value: str
    host: str | None
    port: int | None
    scheme: str | None
    path: str
    local: bool
    locations: list[tuple[Item, extract.Candidate]] = field(default_factory=list)
    purposes: list[tuple[str, str]] = field(default_factory=list)


class EgressCheck:
    ID: ClassVar[str] = "egress"
    TITLE: ClassVar[str] = "Outbound endpoints: purpose, owner and country, against the declaration and policy"
    RULES: ClassVar[tuple[Rule, ...]] = (ENDPOINT, UNDECLARED, CROSS_BORDER, UNKNOWN_COUNTRY, HIDDEN_ACCOUNT,
                                         UNDECLARED_PORT, INPUT_PROBLEM)
    PATTERNS: ClassVar[tuple[Pattern, ...]] = extract.patterns()

    COST: ClassVar[int] = 5
    """Relative weight: the heaviest isolated checks are started first (see checks.runner)."""

    def __init__(self, options: ScanOptions | None = None):
        self.options = options or ScanOptions()

    @property
    def ISOLATED(self) -> bool:
        """Without a declaration or MUD file, egress reads no section another check writes: it may run apart."""
        return self.options.declaration is None and self.options.mud is None

    def run(self, inv: Inventory, sections: dict[str, list[dict]]) -> Iterable[Finding]:
        if not inv.items:
            raise NotApplicable("no files to look at")
        out: list[Finding] = []
        declaration, policy = self._inputs(out)
        try:
            owners = Owners(self.options.geoip, self.options.resolve)
        except GeoIPError as exc:
            out.append(_problem(str(exc), "geoip"))
            owners = Owners(None, self.options.resolve)
        try:
            found, noise_stats = self._collect(inv, out)
            records = [self._record(ep, owners) for ep in found]
        finally:
            owners.close()
        records.sort(key=lambda re_: (re_[0]["local"], not re_[0]["egress"], re_[0]["value"]))
        sections["endpoints"] = [r for r, _ in records]
        sections["egress_noise"] = [
            {"rule": rule.id, "reason": rule.reason, "count": noise_stats[rule.id][0],
             "examples": sorted(noise_stats[rule.id][1])[:MAX_NOISE_EXAMPLES]}
            for rule in noise.RULES if rule.id in noise_stats
        ]
        egress = [(r, ep) for r, ep in records if r["egress"]]
        for rec, ep in egress:
            out.append(_endpoint_finding(rec, ep))
        sections["dataflow"] = dataflow([r for r, _ in egress])
        if declaration is not None:
            out.extend(self._declaration(declaration, egress, sections))
        if policy is not None:
            out.extend(self._policy(policy, declaration, egress))
        return out

    # -- inputs --

    def _inputs(self, out: list[Finding]) -> tuple[Declaration | None, Policy | None]:
        opts = self.options
        declaration: Declaration | None = None
        if opts.declaration is not None:
            try:
                declaration = load_declaration(opts.declaration)
            except DeclarationError as exc:
                out.append(_problem(str(exc), "declaration"))
        if opts.mud is not None:
            try:
                declaration = load_mud(opts.mud, declaration)
            except DeclarationError as exc:
                out.append(_problem(str(exc), "mud"))
        policy = None
        try:
            policy = load_policy(opts.policy, tuple(opts.allow_countries))
        except DeclarationError as exc:
            out.append(_problem(str(exc), "policy"))
        return declaration, policy

    # -- extraction --

    @staticmethod
    def _work(inv: Inventory, stats: dict[str, list] | None) -> Iterator[tuple[Item, list, bool, str]]:
        """(item, its endpoint pattern hits, whether they were capped, its result key) of every file that may
        hold endpoints; documentation files are counted in ``stats``."""
        shell_id = extract.PATTERN_PREFIX + "shell"
        for item in inv.items:
            hits = item.facts.matched(extract.PATTERN_PREFIX)
            if not any(h[0] != shell_id for h in hits):
                continue
            if item.facts.kind in ("private-key", "certificate") or noise.is_doc_path(item.node.path) or any(
                    noise.is_doc_path(c) for c in item.tree.container if c.startswith("/")):  # README.gz, unpacked
                if stats is not None:
                    stats.setdefault(noise.DOCUMENTATION_FILE.id, [0, set()])[0] += 1
                continue
            full = any(c.startswith(extract.PATTERN_PREFIX) for c in item.facts.capped)
            # what one file yields depends on its content and its path (the image's version-named directories are
            # applied to it afterwards, see _tree_version)
            key = f"{item.facts.sha256}|{int(full)}|{int(item.facts.text is None)}|{item.node.path}"
            yield item, hits, full, key

    @staticmethod
    def warm() -> None:
        """Read the offline ownership data now (the scan does, in the background while it unpacks)."""
        ipdata.load()
        owner.domain_rows()
        names.split("example.com")  # the Public Suffix List's trie
        purposes.classify_ready()
        extract.uncapped_ready()  # compiled once, before the scan's children are forked, not once in each

    def _shares(self, inv: Inventory, parts: int) -> list[list[tuple[Item, list, bool, str]]]:
        """The files in ``parts`` shares, worked out once per process (every share asks)."""
        planned = getattr(self, "_planned", None)
        if planned is None or planned[0] is not inv or planned[1] != parts:
            work = list(self._work(inv, None))
            # the cost of a file: its candidates, and every byte when its hits were capped (a full rescan)
            weights = [len(hits) + (item.facts.size / 4096 if full else 0) for item, hits, full, _ in work]
            planned = self._planned = (inv, parts, shares(work, weights, parts))
        return planned[2]

    def prefetch(self, inv: Inventory, part: int, parts: int) -> dict[tuple[str, str], Any]:
        """What the files of the ``part``-th of ``parts`` shares yield, unless an earlier scan kept them: a share of
        the per-file work, done by another process while :meth:`run` waits (see checks.runner)."""
        judge = noise.Judge()
        out: dict[tuple[str, str], Any] = {}
        for item, hits, full, key in self._shares(inv, parts)[part]:
            if inv.recall(CACHE_NAMESPACE, key) is not None:
                continue
            try:
                events = self._file_events(item, hits, full, judge)
            except OSError:
                continue  # run() meets it again and says so
            value = _encode_events(events)
            inv.keep(CACHE_NAMESPACE, key, value)
            out[(CACHE_NAMESPACE, key)] = value
        return out

    def _collect(self, inv: Inventory, out: list[Finding]) -> tuple[list[_Endpoint], dict[str, list]]:
        judge = noise.Judge()
        versions = _tree_versions(inv)
        found: dict[tuple[str, str], _Endpoint] = {}
        stats: dict[str, list] = {}
        for item, hits, full, key in self._work(inv, stats):
            path = item.node.path
            events = _decode_events(inv.recall(CACHE_NAMESPACE, key))
            if events is None:
                try:
                    events = self._file_events(item, hits, full, judge)
                except OSError as exc:
                    out.append(INPUT_PROBLEM.finding(path=path, container=item.tree.container, key="read",
                                                     evidence=f"cannot read for endpoints: {exc.strerror or exc}"))
                    continue
                inv.keep(CACHE_NAMESPACE, key, _encode_events(events))
            for event in events:
                if versions and (value := _tree_version(event, versions)) is not None:
                    event = ("noise", noise.VERSION.id, value)
                if event[0] == "noise":
                    entry = stats.setdefault(event[1], [0, set()])
                    entry[0] += 1
                    if len(entry[1]) < MAX_NOISE_EXAMPLES * 4:
                        entry[1].add(event[2])
                    continue
                _, cand, local, purpose, rule = event
                ep = found.get((cand.kind, cand.value))
                if ep is None:
                    ep = found[(cand.kind, cand.value)] = _Endpoint(
                        cand.kind, cand.value, cand.host, cand.port, cand.scheme, cand.path, local)
                ep.locations.append((item, cand))
                if purpose is not None and rule is not None:
                    ep.purposes.append((purpose, rule))
        return list(found.values()), stats

    @staticmethod
    def _file_events(item: Item, hits: list, full: bool, judge: noise.Judge) -> list[tuple]:
        """What one file yields, in order: ``("noise", rule id, value)`` for a suppressed candidate,
        ``("endpoint", candidate, local, purpose, purpose rule)`` for the others."""
        shell_file = item.facts.kind == "script" or any(h[0] == extract.PATTERN_PREFIX + "shell" for h in hits)
        path = item.node.path
        binary = item.facts.text is None
        events: list[tuple] = []
        for cand in extract.candidates(item, full):
            ctx = context.of(cand, path, binary)
            sup = judge.suppress(cand, path, key=ctx.key, web=ctx.web is not None)
            if sup is not None:
                events.append(("noise", sup.id, cand.value))
                continue
            local = _is_local(cand)
            purpose, rule = purposes.classify(cand, ctx, shell_file) if not local else (None, None)
            events.append(("endpoint", cand, local, purpose, rule))
        return events

    def _record(self, ep: _Endpoint, owners: Owners) -> tuple[dict[str, Any], _Endpoint]:
        attribution = Attribution()
        if not ep.local and ep.host:
            if _is_ip(ep.host):
                attribution = owners.for_ip(ep.host)
            else:
                attribution = owners.for_host(ep.host)
        purpose, purpose_source = None, None
        if ep.purposes:
            best = min(ep.purposes, key=lambda p: purposes.rank(p[0]))
            purpose = best[0]
            rules = sorted({r for p, r in ep.purposes if p == purpose})
            purpose_source = "purpose rules: " + ", ".join(rules)
        if purpose is None and attribution.purpose:
            purpose, purpose_source = attribution.purpose, attribution.purpose_source
        if purpose == "web-ui" and attribution.purpose == "local-admin":
            purpose, purpose_source = attribution.purpose, attribution.purpose_source
        egress = not ep.local and purpose not in purposes.NON_EGRESS
        locations: list[dict[str, Any]] = []
        for item, cand in sorted(ep.locations, key=lambda ic: (ic[0].tree.container, ic[0].node.path, ic[1].offset)):
            locations.append({"path": item.node.path, "container": list(item.tree.container),
                              "line": cand.line, "offset": cand.offset})
        paths = sorted({loc["path"] for loc in locations})
        record: dict[str, Any] = {
            "value": ep.value,
            "kind": ep.kind,
            "host": ep.host,
            "port": ep.port,
            "scheme": ep.scheme,
            "country": attribution.country,
            "owner": attribution.owner,
            "purpose": purpose,
            "paths": paths,
            "locations": locations[:MAX_LOCATIONS],
            "locations_total": len(locations),
            "local": ep.local,
            "egress": egress,
            "country_source": attribution.country_source,
            "owner_source": attribution.owner_source,
            "purpose_source": purpose_source,
            "asn": attribution.asn,
            "registrable_domain": attribution.registrable,
        }
        if attribution.resolved:
            record["resolved"] = list(attribution.resolved)
        return record, ep

    # -- declaration and policy --

    def _declaration(self, decl: Declaration, egress: list[tuple[dict, _Endpoint]],
                     sections: dict[str, list[dict]]) -> Iterable[Finding]:
        matched: dict[int, list[str]] = {}
        for rec, ep in egress:
            d = decl.endpoint_for(rec)
            rec["declared"] = d.label() if d else None
            if d is not None:
                matched.setdefault(id(d), []).append(rec["value"])
                rec["declared_processing_country"] = d.processing_country
                rec["declared_processor"] = d.processor
                continue
            purpose = rec["purpose"]
            severity = "high" if purpose in ("c2-like", "telemetry") else "low" if purpose in _LOW else None
            first_item, first = _first(ep)
            yield UNDECLARED.finding(
                path=first_item.node.path, container=first_item.tree.container, line=first.line,
                offset=None if first.line is not None else first.offset, severity=severity, key=rec["value"],
                title=f"Undeclared endpoint {rec['value']} ({purpose or 'purpose unknown'})",
                evidence=_describe(rec),
            )
        report: list[dict[str, Any]] = []
        for d in decl.endpoints:
            report.append({"kind": "endpoint", "declared": d.label(), "source": d.source, "purpose": d.purpose,
                           "data": list(d.data), "processing_country": d.processing_country,
                           "processor": d.processor, "seen": id(d) in matched,
                           "matches": sorted(matched.get(id(d), []))})
        accounts = sections.get("accounts")
        if decl.accounts is not None:
            declared = {a.name for a in decl.accounts}
            present = {a.get("name") for a in accounts or []}
            for a in decl.accounts:
                report.append({"kind": "account", "declared": a.name, "source": "declaration",
                               "seen": a.name in present if accounts is not None else None})
            for acc in accounts or []:
                if acc.get("name") in declared or not _login_capable(acc):
                    continue
                source = acc.get("source")
                yield HIDDEN_ACCOUNT.finding(
                    path=source if isinstance(source, str) and source.startswith("/") else None,
                    container=tuple(acc.get("container") or ()), key=f"account:{acc.get('name')}",
                    title=f"Account {acc.get('name')} is not in the vendor's declaration",
                    evidence=f"{acc.get('name')} (uid {acc.get('uid')}, shell {acc.get('shell')}, password "
                             f"{acc.get('password_state')}) can log in and is not declared",
                )
        services = sections.get("services")
        if decl.services is not None:
            declared_ports = {p for s in decl.services for p in s.ports}
            present_ports = {(str(p.get("proto", "tcp")).lower(), p.get("port"))
                             for s in services or [] for p in s.get("ports") or []}
            for s in decl.services:
                report.append({"kind": "service", "declared": s.name or "", "ports": [f"{n}/{p}" for p, n in s.ports],
                               "source": "declaration",
                               "seen": (any(p in present_ports for p in s.ports) if s.ports else None)
                               if services is not None else None})
            for svc in services or []:
                for p in svc.get("ports") or []:
                    proto, port = str(p.get("proto", "tcp")).lower(), p.get("port")
                    if (proto, port) in declared_ports:
                        continue
                    starter = (svc.get("started_by") or [None])[0]
                    yield UNDECLARED_PORT.finding(
                        path=svc.get("binary") if isinstance(svc.get("binary"), str) else starter,
                        container=tuple(svc.get("container") or ()), key=f"port:{port}/{proto}:{svc.get('name')}",
                        title=f"Port {port}/{proto} ({svc.get('name')}) is not in the vendor's declaration",
                        evidence=f"{svc.get('name')} listens on {port}/{proto}"
                                 + (f", started by {starter}" if starter else "") + "; not declared",
                    )
        sections["declaration"] = report

    def _policy(self, policy: Policy, decl: Declaration | None,
                egress: list[tuple[dict, _Endpoint]]) -> Iterable[Finding]:
        for rec, ep in egress:
            first_item, first = _first(ep)
            declared = decl.endpoint_for(rec) if decl is not None else None
            where: dict[str, Any] = {"path": first_item.node.path, "container": first_item.tree.container,
                                     "line": first.line, "offset": None if first.line is not None else first.offset,
                                     "key": rec["value"]}
            if rec["purpose"] in policy.exempt_purposes:
                rec["policy"] = "exempt"
                continue
            if rec["country"] is None:
                rec["policy"] = "unknown"
                if policy.unknown_country == "report":
                    yield UNKNOWN_COUNTRY.finding(
                        **where, title=f"Country of {rec['value']} unknown under policy {policy.name}",
                        evidence=_describe(rec))
                continue
            allowed, why = policy.allows(rec, declared)
            rec["policy"] = "allowed" if allowed else "forbidden"
            if not allowed:
                yield CROSS_BORDER.finding(
                    **where,
                    title=f"{rec['value']} is in {rec['country']}, outside policy {policy.name}",
                    evidence=f"{_describe(rec)}; {why}",
                )


# -- helpers ------------------------------------------------------------------------------------------------


def _problem(message: str, key: str) -> Finding:
    return INPUT_PROBLEM.finding(path=None, evidence=message, key=key)


def _is_ip(host: str) -> bool:
    if not host or not (host[0].isdigit() or ":" in host):
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_local(cand: extract.Candidate) -> bool:
    host = cand.host or ""
    if _is_ip(host):
        return noise.local_ip(ipaddress.ip_address(host))
    return noise.local_name(host)


CACHE_NAMESPACE = "egress-file"
_CAND_FIELDS = tuple(f.name for f in fields(extract.Candidate))


def _encode_events(events: list[tuple]) -> list[list]:
    out: list[list] = []
    for e in events:
        if e[0] == "noise":
            out.append(list(e))
        else:
            cand = e[1]
            out.append(["endpoint", [getattr(cand, n) for n in _CAND_FIELDS], e[2], e[3], e[4]])
    return out


def _decode_events(data: Any) -> list[tuple] | None:
    """Events kept by an earlier scan; None when there are none (or they do not fit this build)."""
    if not isinstance(data, list):
        return None
    try:
        out: list[tuple] = []
        for e in data:
            if e[0] == "noise":
                out.append(("noise", e[1], e[2]))
                continue
            values = dict(zip(_CAND_FIELDS, e[1], strict=True))
            values["before"], values["after"] = tuple(values["before"]), tuple(values["after"])
            out.append(("endpoint", extract.Candidate(**values), e[2], e[3], e[4]))
        return out
    except (TypeError, ValueError, KeyError, IndexError):
        return None


def _tree_versions(inv: Inventory) -> frozenset[str]:
    """Dotted quads that name a directory or file of the image (``/lib/modules/2.6.36.4``)."""
    rx = re.compile(r"^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$")
    # every name of every path, each once (split and de-duplicated in C)
    parts = set("/".join(path for tree in inv.trees for path in tree.nodes).split("/"))
    return frozenset(part for part in parts if part[:1].isdigit() and rx.match(part))


_AFTER_VERSION = frozenset({noise.OBJECT_ID.id, noise.INTERFACE.id})
"""The noise rules an IPv4 address meets after the version rule (see noise.Judge._ip)."""


def _tree_version(event: tuple, versions: frozenset[str]) -> str | None:
    """The value of an IPv4 address in ``event`` that names a path of the image (a version number, as
    ``noise.VERSION`` says), or None. A file's events are worked out without the image's paths, so that they can be
    kept by the file's content and path alone; this gives the verdict the noise rules give with them: the rules
    before the version rule do not depend on them, and the rules after it (an object identifier, an interface
    address, an endpoint) are what a version number would have come before."""
    if event[0] == "noise":
        if event[1] not in _AFTER_VERSION:
            return None
        value = event[2]
    else:
        if event[1].kind != "ipv4":
            return None
        value = event[1].value
    return value if value.split("/", 1)[0].split(":", 1)[0] in versions else None


def _login_capable(acc: dict[str, Any]) -> bool:
    shell = str(acc.get("shell") or "")
    if not shell or shell.endswith(_NO_LOGIN_SHELLS):
        return False
    return acc.get("password_state") != "locked"


def _first(ep: _Endpoint) -> tuple[Item, extract.Candidate]:
    return min(ep.locations, key=lambda ic: (ic[0].tree.container, ic[0].node.path, ic[1].offset))


def _describe(rec: dict[str, Any]) -> str:
    country = rec["country"] or "unknown"
    files = rec["paths"]
    shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    return (f"{rec['value']}: purpose {rec['purpose'] or 'unknown'}; owner {rec['owner'] or 'unknown'}; "
            f"country {country}" + (f" ({_short(rec['country_source'])})" if rec["country_source"] else "")
            + f"; in {shown}")


def _short(source: str | None) -> str:
    if not source:
        return ""
    return source.split(" (", 1)[0].split(";", 1)[0][:80]


def _endpoint_finding(rec: dict[str, Any], ep: _Endpoint) -> Finding:
    item, first = _first(ep)
    purpose = rec["purpose"] or "purpose unknown"
    return ENDPOINT.finding(
        path=item.node.path, container=item.tree.container, line=first.line,
        offset=None if first.line is not None else first.offset, key=rec["value"],
        title=f"Outbound endpoint {rec['value']} ({purpose}, {rec['country'] or 'country unknown'})",
        evidence=_describe(rec),
    )


def dataflow(endpoints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per country: the outbound endpoints, their owners, purposes and files."""
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for rec in endpoints:
        groups.setdefault(rec["country"], []).append(rec)
    out: list[dict[str, Any]] = []
    for country, recs in groups.items():
        purposes_ = sorted({r["purpose"] or "unknown" for r in recs})
        out.append({
            "country": country,
            "count": len(recs),
            "endpoints": sorted(r["value"] for r in recs),
            "owners": sorted({r["owner"] for r in recs if r["owner"]}),
            "purposes": purposes_,
            "paths": sorted({p for r in recs for p in r["paths"]}),
            "summary": f"{len(recs)} endpoint{'s' if len(recs) != 1 else ''} in {country or 'unknown country'} "
                       f"({', '.join(purposes_)})",
        })
    out.sort(key=lambda g: (-g["count"], g["country"] or "~"))
    return out


def dataflow_text(report: dict[str, Any]) -> str:
    """One line for the terminal: "7 endpoints in CN (cloud-management, telemetry), 2 in US (time, cdn)"."""
    groups = report.get("dataflow") or []
    parts = []
    for i, g in enumerate(groups):
        text = g["summary"]
        if i:
            text = text.replace(" endpoints in ", " in ").replace(" endpoint in ", " in ")
        parts.append(text)
    return ", ".join(parts) if parts else "no outbound endpoint"
