#!/usr/bin/env python3
"""Regenerate the shipped data of the egress check (``src/veracity/data/egress/``) from the shared knowledge base.

Inputs (read-only; data only, no code is copied), in ``KNOWLEDGE_DIR/sources/``:
- ``ip-country-nro/`` (NRO delegated statistics via sapics/ip-location-db, CC BY 4.0): IP range -> country of
  the registry holder;
- ``ip-asn-org/`` (RouteViews, DB-IP IP to ASN Lite, NRO via sapics/ip-location-db, CC BY 4.0): IP range -> AS
  number -> AS organisation;
- ``whotracksme-trackerdb-2022/`` (CC BY 4.0), ``jmdugan-corporation-domains/`` (CC0),
  ``nextdns-native-tracking/`` (MIT), ``perflyst-pihole-blocklists/`` (MIT), ``windowsspyblocker-spy/`` (MIT):
  domain -> owner / country / purpose hints.

Outputs:
- ``ip4-country.bin.zst``, ``ip6-country.bin.zst``, ``ip4-asn.bin.zst``, ``ip6-asn.bin.zst``: sorted range tables
  (format below), read by :mod:`veracity.egress.ipdata` with ``bisect``;
- ``asn-names.tsv.zst``: ``asn<TAB>organisation``;
- ``domains.tsv.zst``: ``domain<TAB>company<TAB>country<TAB>purpose<TAB>dataset`` (several rows per domain when
  several datasets know it);
- ``ips.tsv``: ``ip<TAB>company<TAB>country<TAB>purpose<TAB>dataset`` (telemetry IP literals);
- the licence and notice files of the IP data, copied verbatim.

``companies.csv`` and ``vendors.csv`` in the same folder are curated by hand (every row sourced); this tool only
reads the former, for the home country of the companies the lists name without one.

Range table format: ``b"VERIP1"``, family (1 byte: 4 or 6), value kind (1 byte: ``c`` country, ``a`` AS number),
count N (uint32 LE), then N starts (uint32 LE for IPv4; for IPv6 N high then N low uint64 LE halves), then N
values (uint32 LE; a country is ``ord(a) << 8 | ord(b)``; 0 = no data). Range i covers ``[start[i],
start[i+1])``; gaps of the source are explicit rows with value 0; adjacent rows with one value are merged.

Usage: ``python tools/build_egress_data.py [KNOWLEDGE_DIR] [OUTPUT_DIR]`` (defaults: ``/work/shared/knowledge``
and the package data folder). Deterministic: same inputs, same bytes.
"""

from __future__ import annotations

import array
import csv
import io
import ipaddress
import lzma
import shutil
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_KNOWLEDGE = Path("/work/shared/knowledge")
DEFAULT_OUTPUT = ROOT / "src" / "veracity" / "data" / "egress"
MAGIC = b"VERIP1"

JMDUGAN = {
    "amazon": "Amazon", "apple": "Apple", "cloudflare": "Cloudflare", "facebook": "Meta", "google": "Google",
    "microsoft": "Microsoft", "mozilla": "Mozilla", "pinterest": "Pinterest", "reddit": "Reddit",
    "tiktok": "ByteDance", "twitter": "X Corp",
}
NEXTDNS = {
    "alexa": "Amazon", "apple": "Apple", "huawei": "Huawei", "roku": "Roku", "samsung": "Samsung",
    "sonos": "Sonos", "windows": "Microsoft", "xiaomi": "Xiaomi",
}
WHOTRACKS_PURPOSE = {"site_analytics": "telemetry", "advertising": "advertising", "cdn": "cdn",
                     "pornvertising": "advertising"}
# "customer_interaction" (live chat, support desks, feedback widgets; also GitHub) says who runs a host, not that
# a device reports to it: such hosts get an owner and no purpose, so the context rules decide


def _pack(data: bytes) -> bytes:
    """Zstandard at its highest level: a third larger than xz, and decompressed ten times faster (each scan reads
    the tables while it unpacks, and the CPU time counts)."""
    import zstandard

    return zstandard.ZstdCompressor(level=19).compress(data)


def _ip_int(text: str) -> int:
    return int(ipaddress.ip_address(text))


def _rows(path: Path):
    with lzma.open(path, "rt", encoding="utf-8", newline="") as fh:
        yield from csv.reader(fh)


def range_table(rows, family: int) -> tuple[list[int], list[int]]:
    """Starts and values with explicit gaps (value 0) and adjacent equal values merged."""
    starts: list[int] = []
    values: list[int] = []
    top = 2**32 if family == 4 else 2**128
    cursor = 0
    for lo, hi, value in rows:
        if lo < cursor:  # an overlap (one known pair in the AS data): the earlier row keeps its addresses
            lo = cursor
            if lo > hi:
                continue
        if lo > cursor:
            _push(starts, values, cursor, 0)
        _push(starts, values, lo, value)
        cursor = hi + 1
    if cursor < top:
        _push(starts, values, cursor, 0)
    return starts, values


def _push(starts: list[int], values: list[int], start: int, value: int) -> None:
    if values and values[-1] == value:
        return
    if starts and starts[-1] == start:
        values[-1] = value
        return
    starts.append(start)
    values.append(value)


def pack(family: int, kind: str, starts: list[int], values: list[int]) -> bytes:
    out = io.BytesIO()
    out.write(MAGIC + bytes([family]) + kind.encode() + struct.pack("<I", len(starts)))
    if family == 4:
        a = array.array("I", starts)
        if sys.byteorder == "big":
            a.byteswap()
        out.write(a.tobytes())
    else:
        hi = array.array("Q", (s >> 64 for s in starts))
        lo = array.array("Q", (s & (2**64 - 1) for s in starts))
        for a in (hi, lo):
            if sys.byteorder == "big":
                a.byteswap()
            out.write(a.tobytes())
    v = array.array("I", values)
    if sys.byteorder == "big":
        v.byteswap()
    out.write(v.tobytes())
    return out.getvalue()


def _country(code: str) -> int:
    code = code.strip().upper()
    if len(code) != 2 or not code.isalpha():
        return 0
    return ord(code[0]) << 8 | ord(code[1])


def build_ip(src: Path, out: Path) -> None:
    nro = src / "ip-country-nro"
    asn = src / "ip-asn-org"
    names: dict[int, str] = {}
    for family in (4, 6):
        rows = ((_ip_int(a), _ip_int(b), _country(c)) for a, b, c in _rows(nro / f"asn-country-ipv{family}.csv.xz"))
        starts, values = range_table(rows, family)
        (out / f"ip{family}-country.bin.zst").write_bytes(_pack(pack(family, "c", starts, values)))
        print(f"ip{family}-country: {len(starts)} ranges")

        def asn_rows(family=family):
            for a, b, number, org in _rows(asn / f"asn-ipv{family}.csv.xz"):
                n = int(number)
                if org and n not in names:
                    names[n] = org
                yield _ip_int(a), _ip_int(b), n

        starts, values = range_table(asn_rows(), family)
        (out / f"ip{family}-asn.bin.zst").write_bytes(_pack(pack(family, "a", starts, values)))
        print(f"ip{family}-asn: {len(starts)} ranges")
    text = "".join(f"{n}\t{_clean(org)}\n" for n, org in sorted(names.items()))
    (out / "asn-names.tsv.zst").write_bytes(_pack(text.encode()))
    print(f"asn-names: {len(names)}")
    for name in ("NRO_LICENSE.txt",):
        shutil.copyfile(nro / name, out / name)
    for name in ("ROUTEVIEWS-LICENSE.txt", "DBIP-LICENSE.txt", "MODIFICATIONS.txt"):
        shutil.copyfile(asn / name, out / name)


def _clean(text: str) -> str:
    return " ".join(text.replace("\t", " ").split())


def _hosts_lines(path: Path):
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        host = parts[1] if len(parts) > 1 and parts[0] in ("0.0.0.0", "127.0.0.1") else parts[0]
        host = host.strip().lower().rstrip(".")
        if "." in host and all(c.isalnum() or c in "-._" for c in host):
            yield host


def load_companies(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    return {row["company"]: row["country"] for row in csv.DictReader(lines)}


def build_domains(src: Path, out: Path) -> None:
    countries = load_companies(out / "companies.csv")
    rows: set[tuple[str, str, str, str, str]] = set()

    def add(domain: str, company: str, purpose: str, dataset: str, country: str | None = None) -> None:
        if country is None:
            country = countries.get(company, "") if company else ""
        rows.add((domain, company, country, purpose, dataset))

    for stem, company in JMDUGAN.items():
        for host in _hosts_lines(src / "jmdugan-corporation-domains" / f"{stem}.hosts"):
            add(host, company, "", "jmdugan-corporation-domains")
    for stem, company in NEXTDNS.items():
        for host in _hosts_lines(src / "nextdns-native-tracking" / f"{stem}.txt"):
            add(host, company, "telemetry", "nextdns-native-tracking")
    for name in ("SmartTV.txt", "AmazonFireTV.txt", "android-tracking.txt", "SessionReplay.txt"):
        for host in _hosts_lines(src / "perflyst-pihole-blocklists" / name):
            add(host, "", "telemetry", f"perflyst-pihole-blocklists/{name}")
    for host in _hosts_lines(src / "windowsspyblocker-spy" / "hosts-spy.txt"):
        add(host, "", "telemetry", "windowsspyblocker-spy")
    with (src / "whotracksme-trackerdb-2022" / "tracker_domains.csv").open(encoding="utf-8", newline="") as fh:
        for rec in csv.DictReader(fh):
            domain = rec["domain"].strip().lower()
            if "." not in domain:
                continue
            company = _clean(rec["company_name"] or "")
            add(domain, company, WHOTRACKS_PURPOSE.get(rec["category"], ""), "whotracksme-trackerdb-2022",
                (rec["company_country_iso"] or "").strip().upper())
    text = "".join("\t".join(r) + "\n" for r in sorted(rows))
    (out / "domains.tsv.zst").write_bytes(_pack(text.encode()))
    print(f"domains: {len(rows)} rows")
    ips = []
    for raw in (src / "windowsspyblocker-spy" / "firewall-spy-ips.txt").read_text().splitlines():
        raw = raw.strip()
        if raw and not raw.startswith("#"):
            try:
                ipaddress.ip_address(raw)
            except ValueError:
                continue
            ips.append(f"{raw}\tMicrosoft\t{countries['Microsoft']}\ttelemetry\twindowsspyblocker-spy\n")
    (out / "ips.tsv").write_text("".join(sorted(set(ips))))
    print(f"ips: {len(ips)}")


def main(argv: list[str]) -> int:
    knowledge = Path(argv[1]) if len(argv) > 1 else DEFAULT_KNOWLEDGE
    out = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUTPUT
    out.mkdir(parents=True, exist_ok=True)
    src = knowledge / "sources"
    build_ip(src, out)
    build_domains(src, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
