"""The vendor's declaration (YAML/JSON), RFC 8520 MUD files, and data-residency policies.

Schemas are documented by the examples shipped in ``examples/`` (``declaration.yaml``, ``policy-*.yaml``). Every
problem in a file raises :class:`DeclarationError` with a message that says where; the check turns it into an
``analysis.incomplete`` finding.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class DeclarationError(ValueError):
    """A declaration, MUD or policy file that cannot be used as it is."""


def load_document(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DeclarationError(f"{path}: cannot read: {exc}") from exc
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise DeclarationError(f"{path}: invalid JSON: {exc}") from exc
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - PyYAML is a dependency
        raise DeclarationError(f"{path}: YAML needs PyYAML") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DeclarationError(f"{path}: invalid YAML: {exc}") from exc


def _country(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value.strip()) != 2 or not value.strip().isalpha():
        raise DeclarationError(f"{where}: {value!r} is not an ISO 3166-1 alpha-2 country code")
    code = value.strip().upper()
    return "GB" if code == "UK" else code


def _countries(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in value.replace(";", ",").split(",") if v.strip()]
    if not isinstance(value, list):
        raise DeclarationError(f"{where}: expected a list of country codes")
    return tuple(_country(v, where) for v in value)


def _ports(value: Any, where: str) -> tuple[int, ...]:
    if value is None:
        return ()
    if isinstance(value, (int, str)):
        value = [value]
    if not isinstance(value, list):
        raise DeclarationError(f"{where}: ports must be a list")
    out = []
    for p in value:
        if isinstance(p, dict):
            p = p.get("port")
        if isinstance(p, str):
            p = p.split("/", 1)[0]
        try:
            n = int(p)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise DeclarationError(f"{where}: invalid port {p!r}") from exc
        if not 0 < n < 65536:
            raise DeclarationError(f"{where}: invalid port {n}")
        out.append(n)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class DeclaredEndpoint:
    match: str
    """``host``, ``domain``, ``ip``, ``cidr`` or ``url``."""
    pattern: str
    ports: tuple[int, ...] = ()
    purpose: str | None = None
    data: tuple[str, ...] = ()
    processing_country: str | None = None
    processor: str | None = None
    source: str = "declaration"

    def label(self) -> str:
        port = f" port {','.join(map(str, self.ports))}" if self.ports else ""
        return f"{self.match} {self.pattern}{port}"

    def matches(self, endpoint: dict[str, Any]) -> bool:
        host = (endpoint.get("host") or "").lower()
        port = endpoint.get("port")
        if self.ports and port is not None and port not in self.ports:
            return False
        p = self.pattern
        if self.match == "host":
            if p.startswith("*."):
                return host.endswith(p[1:])
            return host == p
        if self.match == "domain":
            return host == p or host.endswith("." + p)
        if self.match in ("ip", "cidr"):
            try:
                addr = ipaddress.ip_address(host.strip("[]"))
            except ValueError:
                return False
            try:
                return addr in ipaddress.ip_network(p, strict=False)
            except ValueError:
                return False
        if self.match == "url":
            return str(endpoint.get("value", "")).lower().startswith(p)
        return False


@dataclass(frozen=True, slots=True)
class DeclaredAccount:
    name: str
    purpose: str | None = None


@dataclass(frozen=True, slots=True)
class DeclaredService:
    name: str | None
    ports: tuple[tuple[str, int], ...]


@dataclass(slots=True)
class Declaration:
    endpoints: list[DeclaredEndpoint] = field(default_factory=list)
    accounts: list[DeclaredAccount] | None = None
    """None when the declaration says nothing about accounts (then no account is judged)."""
    services: list[DeclaredService] | None = None
    vendor: str | None = None
    product: str | None = None
    sources: list[str] = field(default_factory=list)

    def endpoint_for(self, endpoint: dict[str, Any]) -> DeclaredEndpoint | None:
        for d in self.endpoints:
            if d.matches(endpoint):
                return d
        return None


def _endpoint(raw: Any, where: str) -> DeclaredEndpoint:
    if isinstance(raw, str):
        raw = {"host": raw}
    if not isinstance(raw, dict):
        raise DeclarationError(f"{where}: an endpoint must be a mapping or a host name")
    kinds = [k for k in ("host", "domain", "ip", "cidr", "url") if k in raw]
    if len(kinds) != 1:
        raise DeclarationError(f"{where}: give exactly one of host, domain, ip, cidr, url")
    match = kinds[0]
    pattern = str(raw[match]).strip().lower().rstrip(".")
    if not pattern:
        raise DeclarationError(f"{where}: empty {match}")
    if match in ("ip", "cidr"):
        try:
            pattern = str(ipaddress.ip_network(pattern, strict=False)) if match == "cidr" else str(
                ipaddress.ip_address(pattern))
        except ValueError as exc:
            raise DeclarationError(f"{where}: invalid {match} {pattern!r}") from exc
        match = "cidr"
    data = raw.get("data") or []
    if isinstance(data, str):
        data = [data]
    country = raw.get("processing_country")
    return DeclaredEndpoint(
        match=match,
        pattern=pattern,
        ports=_ports(raw.get("ports", raw.get("port")), where),
        purpose=str(raw["purpose"]) if raw.get("purpose") else None,
        data=tuple(str(d) for d in data),
        processing_country=_country(country, where) if country else None,
        processor=str(raw["processor"]) if raw.get("processor") else None,
    )


def _service_ports(value: Any, where: str) -> tuple[tuple[str, int], ...]:
    out = []
    for p in value or []:
        if isinstance(p, dict):
            proto = str(p.get("proto", "tcp")).lower()
            port = p.get("port")
        else:
            text = str(p)
            port, _, proto = text.partition("/")
            proto = (proto or "tcp").lower()
        try:
            n = int(port)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise DeclarationError(f"{where}: invalid port {p!r}") from exc
        out.append((proto, n))
    return tuple(out)


def load_declaration(path: Path) -> Declaration:
    doc = load_document(path)
    if not isinstance(doc, dict):
        raise DeclarationError(f"{path}: the declaration must be a mapping")
    version = doc.get("version", 1)
    if version != 1:
        raise DeclarationError(f"{path}: unsupported declaration version {version!r}")
    decl = Declaration(vendor=doc.get("vendor"), product=doc.get("product"), sources=[str(path)])
    for i, raw in enumerate(doc.get("endpoints") or []):
        decl.endpoints.append(_endpoint(raw, f"{path}: endpoints[{i}]"))
    if "accounts" in doc:
        decl.accounts = []
        for i, raw in enumerate(doc.get("accounts") or []):
            if isinstance(raw, str):
                raw = {"name": raw}
            if not isinstance(raw, dict) or not raw.get("name"):
                raise DeclarationError(f"{path}: accounts[{i}]: needs a name")
            decl.accounts.append(DeclaredAccount(str(raw["name"]), raw.get("purpose")))
    if "services" in doc:
        decl.services = []
        for i, raw in enumerate(doc.get("services") or []):
            if not isinstance(raw, dict):
                raise DeclarationError(f"{path}: services[{i}]: must be a mapping")
            decl.services.append(DeclaredService(raw.get("name"), _service_ports(raw.get("ports"),
                                                                                 f"{path}: services[{i}]")))
    return decl


# -- RFC 8520 MUD ------------------------------------------------------------------------------------------


def load_mud(path: Path, into: Declaration | None = None) -> Declaration:
    """The endpoints a MUD file allows the device to reach (``dst-dnsname``/destination networks of its
    from-device ACLs, ``src-dnsname``/source networks of its to-device ACLs, with their ports)."""
    doc = load_document(path)
    decl = into or Declaration()
    decl.sources.append(str(path))
    if not isinstance(doc, dict) or not isinstance(doc.get("ietf-mud:mud"), dict):
        raise DeclarationError(f"{path}: not a MUD file (no ietf-mud:mud container)")
    mud = doc["ietf-mud:mud"]
    acls_raw = ((doc.get("ietf-access-control-list:acls") or {}).get("acl")) or []
    acls = {a.get("name"): a for a in acls_raw if isinstance(a, dict)}

    def names_of(policy: str) -> list[str]:
        lists = (((mud.get(policy) or {}).get("access-lists") or {}).get("access-list")) or []
        return [str(x["name"]) for x in lists if isinstance(x, dict) and x.get("name")]

    seen = 0
    for direction, policy in (("from", "from-device-policy"), ("to", "to-device-policy")):
        for name in names_of(policy):
            acl = acls.get(name)
            if acl is None:
                raise DeclarationError(f"{path}: {policy} names ACL {name!r}, which is not defined")
            for ace in ((acl.get("aces") or {}).get("ace")) or []:
                if not isinstance(ace, dict):
                    continue
                forwarding = ((ace.get("actions") or {}).get("forwarding")) or "accept"
                if str(forwarding).split(":")[-1] != "accept":
                    continue
                matches = ace.get("matches") or {}
                where = f"{path}: ACL {name} ACE {ace.get('name')}"
                for family in ("ipv4", "ipv6"):
                    m = matches.get(family) or {}
                    host = m.get("ietf-acldns:dst-dnsname" if direction == "from" else "ietf-acldns:src-dnsname")
                    net = m.get(f"destination-{family}-network" if direction == "from" else f"source-{family}-network")
                    ports = _mud_ports(matches, direction)
                    if host:
                        decl.endpoints.append(DeclaredEndpoint("host", str(host).lower().rstrip("."), ports,
                                                               source="mud"))
                        seen += 1
                    if net:
                        try:
                            net = str(ipaddress.ip_network(net, strict=False))
                        except ValueError as exc:
                            raise DeclarationError(f"{where}: invalid network {net!r}") from exc
                        decl.endpoints.append(DeclaredEndpoint("cidr", net, ports, source="mud"))
                        seen += 1
    if not seen and not acls:
        raise DeclarationError(f"{path}: the MUD file defines no ACL")
    return decl


def _mud_ports(matches: dict[str, Any], direction: str) -> tuple[int, ...]:
    out: list[int] = []
    for proto in ("tcp", "udp"):
        m = matches.get(proto) or {}
        spec = m.get("destination-port" if direction == "from" else "source-port") or {}
        if isinstance(spec, dict):
            if spec.get("operator", "eq") == "eq" and "port" in spec:
                out.append(int(spec["port"]))
            elif "lower-port" in spec and "upper-port" in spec:
                lo, hi = int(spec["lower-port"]), int(spec["upper-port"])
                if hi - lo <= 64:
                    out.extend(range(lo, hi + 1))
    return tuple(out)


# -- residency policy ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Processor:
    name: str
    countries: tuple[str, ...]
    hosts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    name: str = "residency policy"
    users_in: str | None = None
    allowed_countries: tuple[str, ...] = ()
    processors: tuple[Processor, ...] = ()
    declared_processors: bool = False
    """Endpoints that the vendor's declaration lists with a processor and a processing country in
    ``allowed_countries`` are allowed wherever their operator is."""
    exempt_purposes: tuple[str, ...] = ()
    unknown_country: str = "report"
    source: str | None = None

    def allows(self, endpoint: dict[str, Any], declared: DeclaredEndpoint | None) -> tuple[bool, str]:
        """(allowed, why) for an endpoint with a known country."""
        country = endpoint.get("country")
        if endpoint.get("purpose") in self.exempt_purposes:
            return True, f"purpose {endpoint.get('purpose')} is exempt"
        if country in self.allowed_countries:
            return True, f"{country} is allowed"
        host = (endpoint.get("host") or "").lower()
        for p in self.processors:
            if any(host == h or (h.startswith("*.") and host.endswith(h[1:])) or host.endswith("." + h)
                   for h in p.hosts):
                return True, f"processor {p.name} is allowed"
        if (self.declared_processors and declared is not None and declared.processor
                and declared.processing_country in self.allowed_countries):
            return True, f"declared processor {declared.processor} processes in {declared.processing_country}"
        return False, f"{country} is not among the allowed countries ({', '.join(self.allowed_countries) or 'none'})"


def load_policy(path: Path | None, allow_countries: tuple[str, ...] = ()) -> Policy | None:
    if path is None and not allow_countries:
        return None
    extra = _countries(list(allow_countries), "--allow-countries")
    if path is None:
        return Policy(name="--allow-countries " + ",".join(extra), allowed_countries=extra, source="--allow-countries")
    doc = load_document(path)
    if not isinstance(doc, dict):
        raise DeclarationError(f"{path}: the policy must be a mapping")
    if doc.get("version", 1) != 1:
        raise DeclarationError(f"{path}: unsupported policy version {doc.get('version')!r}")
    processors = []
    for i, raw in enumerate(doc.get("processors") or []):
        if not isinstance(raw, dict) or not raw.get("name"):
            raise DeclarationError(f"{path}: processors[{i}]: needs a name")
        hosts = raw.get("hosts") or []
        if isinstance(hosts, str):
            hosts = [hosts]
        processors.append(Processor(str(raw["name"]), _countries(raw.get("countries"), f"{path}: processors[{i}]"),
                                    tuple(str(h).lower() for h in hosts)))
    unknown = doc.get("unknown_country", "report")
    if unknown not in ("report", "ignore"):
        raise DeclarationError(f"{path}: unknown_country must be report or ignore")
    exempt = doc.get("exempt_purposes") or []
    if isinstance(exempt, str):
        exempt = [exempt]
    allowed = _countries(doc.get("allowed_countries"), f"{path}: allowed_countries")
    users_in = _country(doc["users_in"], f"{path}: users_in") if doc.get("users_in") else None
    return Policy(
        name=str(doc.get("name") or path.name),
        users_in=users_in,
        allowed_countries=tuple(dict.fromkeys(allowed + extra)),
        processors=tuple(processors),
        declared_processors=bool(doc.get("declared_processors", False)),
        exempt_purposes=tuple(str(p) for p in exempt),
        unknown_country=unknown,
        source=str(path),
    )
