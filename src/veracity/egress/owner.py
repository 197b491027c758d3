"""Who owns an endpoint and in which country, offline, with the source of every answer.

Host names, most specific first:
1. the curated vendor/cloud table (``vendors.csv``, company home countries in ``companies.csv``);
2. the shipped domain lists: jmdugan corporation domains, NextDNS native tracking, WhoTracks.me trackers,
   Perflyst and WindowsSpyBlocker telemetry lists (``domains.tsv.zst``);
3. ``--resolve`` only: the addresses the name resolves to, looked up as below;
4. the country of the name's ccTLD, marked as a weak answer (the registry of the name, not the operator), never for
   ccTLDs used generically (``.io``, ``.tv``, ``.co``...).

Addresses: the curated table of public resolvers (``known-ips.csv``), the user's MaxMind database (``--geoip``),
then the shipped range tables (registry holder's country from NRO statistics; origin AS organisation).
"""

from __future__ import annotations

import csv
import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from . import ipdata, names

CURATED = "veracity curated table (data/egress/{file}; source: {url})"
DATASET_PRIORITY = ("jmdugan-corporation-domains", "nextdns-native-tracking", "whotracksme-trackerdb-2022",
                    "windowsspyblocker-spy")
DATASET_NAMES = {
    "jmdugan-corporation-domains": "jmdugan/blocklists corporations (CC0)",
    "nextdns-native-tracking": "NextDNS native-tracking-domains (MIT)",
    "whotracksme-trackerdb-2022": "WhoTracks.me tracker database 2022-08 (CC BY 4.0)",
    "windowsspyblocker-spy": "WindowsSpyBlocker spy hosts (MIT)",
}
PSL_SOURCE = "Public Suffix List (tldextract bundled snapshot)"


class GeoIPError(Exception):
    """The user's MaxMind database could not be used."""


@dataclass(slots=True)
class Attribution:
    owner: str | None = None
    owner_source: str | None = None
    country: str | None = None
    country_source: str | None = None
    purpose: str | None = None
    purpose_source: str | None = None
    asn: int | None = None
    registrable: str | None = None
    resolved: tuple[str, ...] = ()


def _data_text(name: str) -> str:
    return resources.files("veracity").joinpath(f"data/egress/{name}").read_text(encoding="utf-8")


def _csv(name: str) -> list[dict[str, str]]:
    lines = [line for line in _data_text(name).splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines))


@cache
def companies() -> dict[str, tuple[str | None, str]]:
    """company -> (country or None, source URL)."""
    return {r["company"]: (r["country"] or None, r["source"]) for r in _csv("companies.csv")}


@cache
def vendors() -> dict[str, dict[str, str]]:
    return {r["domain"].lower(): r for r in _csv("vendors.csv")}


@cache
def known_ips() -> dict[str, dict[str, str]]:
    return {str(ipaddress.ip_address(r["ip"])): r for r in _csv("known-ips.csv")}


@cache
def domain_rows() -> dict[str, list[tuple[str, str, str, str]]]:
    """domain -> [(company, country, purpose, dataset)]."""
    out: dict[str, list[tuple[str, str, str, str]]] = {}
    raw = ipdata.data("domains.tsv.zst")
    for line in raw.decode("utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) != 5:
            continue
        out.setdefault(parts[0], []).append((parts[1], parts[2], parts[3], parts[4]))
    return out


@cache
def telemetry_ips() -> dict[str, tuple[str, str, str, str]]:
    out = {}
    for line in _data_text("ips.tsv").splitlines():
        parts = line.split("\t")
        if len(parts) == 5:
            out[parts[0]] = (parts[1], parts[2], parts[3], parts[4])
    return out


def _dataset_label(dataset: str) -> str:
    base = dataset.split("/", 1)[0]
    if base == "perflyst-pihole-blocklists":
        return f"Perflyst PiHoleBlocklist {dataset.split('/', 1)[-1]} (MIT)"
    return DATASET_NAMES.get(base, dataset)


def _parents(host: str) -> list[str]:
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


class Owners:
    """Attribution of hosts and addresses for one scan (memoised)."""

    def __init__(self, geoip: Path | None = None, resolve: bool = False, resolve_timeout: float = 3.0):
        self.resolve = resolve
        self.resolve_timeout = resolve_timeout
        self._geo = None
        self.geoip = geoip
        if geoip is not None:
            try:
                import maxminddb
            except ImportError as exc:
                raise GeoIPError("--geoip needs the maxminddb package (pip install maxminddb)") from exc
            try:
                self._geo = maxminddb.open_database(str(geoip))
            except Exception as exc:
                raise GeoIPError(f"cannot open {geoip}: {exc}") from exc
        self._hosts: dict[str, Attribution] = {}
        self._ips: dict[str, Attribution] = {}

    def close(self) -> None:
        if self._geo is not None:
            self._geo.close()

    # -- addresses --

    def for_ip(self, ip: str) -> Attribution:
        hit = self._ips.get(ip)
        if hit is None:
            hit = self._ips[ip] = self._ip(ip)
        return hit

    def _ip(self, ip: str) -> Attribution:
        addr = ipaddress.ip_address(ip)
        a = Attribution()
        known = known_ips().get(str(addr))
        if known is not None:
            country, url = companies().get(known["company"], (None, known["source"]))
            a.owner, a.owner_source = known["company"], CURATED.format(file="known-ips.csv", url=known["source"])
            if country:
                a.country = country
                a.country_source = CURATED.format(file="companies.csv", url=url) + " (operator's home country)"
            a.purpose, a.purpose_source = known["purpose"] or None, "known-ips.csv"
        tele = telemetry_ips().get(str(addr))
        if tele is not None and a.owner is None:
            a.owner, a.owner_source = tele[0], _dataset_label(tele[3])
            a.purpose, a.purpose_source = tele[2] or None, _dataset_label(tele[3])
        if self._geo is not None and a.country is None:
            rec: Any
            try:
                rec = self._geo.get(str(addr))
            except (ValueError, TypeError):
                rec = None
            if isinstance(rec, dict):
                code = ((rec.get("country") or {}).get("iso_code") or (rec.get("registered_country") or {})
                        .get("iso_code"))
                if isinstance(code, str) and len(code) == 2:
                    a.country, a.country_source = code.upper(), f"GeoIP database {self.geoip.name}"  # type: ignore[union-attr]
                org = rec.get("autonomous_system_organization")
                if a.owner is None and isinstance(org, str):
                    a.owner, a.owner_source = org, f"GeoIP database {self.geoip.name}"  # type: ignore[union-attr]
                    a.asn = rec.get("autonomous_system_number") if isinstance(rec.get("autonomous_system_number"), int) else None
        if a.country is None:
            code = ipdata.country(addr)
            if code:
                a.country, a.country_source = code, ipdata.COUNTRY_SOURCE + " (registry holder's country)"
        asn = ipdata.asn(addr)
        if asn is not None:
            a.asn = a.asn or asn[0]
            if a.owner is None and asn[1]:
                a.owner, a.owner_source = asn[1], f"{ipdata.ASN_SOURCE}: AS{asn[0]}"
        return a

    # -- names --

    def for_host(self, host: str) -> Attribution:
        hit = self._hosts.get(host)
        if hit is None:
            hit = self._hosts[host] = self._host(host)
        return hit

    def _host(self, host: str) -> Attribution:
        a = Attribution(registrable=names.registrable(host))
        parents = _parents(host)
        for dom in parents:
            row = vendors().get(dom)
            if row is not None:
                country, url = companies().get(row["company"], (None, row["source"]))
                a.owner = row["company"]
                a.owner_source = CURATED.format(file="vendors.csv", url=row["source"]) + f" [{dom}]"
                if country:
                    a.country = country
                    a.country_source = CURATED.format(file="companies.csv", url=url) + " (owner's home country)"
                if row.get("purpose"):
                    a.purpose, a.purpose_source = row["purpose"], f"vendors.csv [{dom}]"
                break
        table = domain_rows()
        for dom in parents:
            rows = table.get(dom)
            if not rows:
                continue
            ordered = sorted(rows, key=lambda r: (DATASET_PRIORITY.index(r[3]) if r[3] in DATASET_PRIORITY else 99))
            for company, country, purpose, dataset in ordered:
                if a.owner is None and company:
                    a.owner, a.owner_source = company, f"{_dataset_label(dataset)} [{dom}]"
                    if country and a.country is None:
                        a.country = country
                        a.country_source = (f"{_dataset_label(dataset)} [{dom}] (owner's home country)"
                                            if dataset == "whotracksme-trackerdb-2022" else
                                            CURATED.format(file="companies.csv",
                                                           url=companies().get(company, (None, ""))[1])
                                            + " (owner's home country)")
                if a.purpose is None and purpose:
                    a.purpose, a.purpose_source = purpose, f"{_dataset_label(dataset)} [{dom}]"
            if a.owner is not None and a.purpose is not None:
                break
        if self.resolve and a.country is None:
            addrs = self._resolve(host)
            a.resolved = addrs
            for ip in addrs:
                ia = self.for_ip(ip)
                if ia.country:
                    a.country, a.country_source = ia.country, f"DNS at scan time: {ip}; {ia.country_source}"
                    if a.owner is None and ia.owner:
                        a.owner, a.owner_source = ia.owner, f"DNS at scan time: {ip}; {ia.owner_source}"
                    break
        if a.country is None:
            code = names.cctld_country(host)
            if code:
                a.country = code
                a.country_source = (f"ccTLD .{host.rsplit('.', 1)[-1]} (weak: the registry of the name, not where "
                                    f"or by whom it is operated; {PSL_SOURCE})")
        return a

    def _resolve(self, host: str) -> tuple[str, ...]:
        """Addresses of ``host`` through the system resolver (``--resolve`` only)."""
        pool = ThreadPoolExecutor(max_workers=1)
        try:
            future = pool.submit(socket.getaddrinfo, host, None, 0, socket.SOCK_STREAM)
            infos = future.result(timeout=self.resolve_timeout)
        except (FutureTimeout, OSError, UnicodeError):
            return ()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        out: list[str] = []
        for info in infos:
            ip = info[4][0]
            if str(ip) not in out:
                out.append(str(ip))
        return tuple(out)
