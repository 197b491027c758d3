#!/usr/bin/env python3
"""Regenerate ``src/veracity/data/backdoor_rules.json`` from the shared backdoor catalogue.

Input (read-only, facts only): ``backdoor_catalogue.json`` (51 documented backdoors and implants, 292
indicators). Every indicator is carried into the output with a *disposition* that says how the
``backdoors`` check uses it, and why:

- ``alone``: one match is enough to report the entry (a unique magic string, a sample hash, the exact
  backdoor credential);
- ``corroborating``: the indicator only counts together with another indicator of the same entry in the
  same file (a common port number, a legitimate file name, a word that also has innocent uses);
- ``group:<name>``: every indicator of the group must match in the same file (the xz-utils code
  patterns);
- ``delegated``: another check reports it (SSH key fingerprints: ``keys``, rule VER-KEY-006, with the
  catalogue id in ``backdoor_id``);
- ``skip``: not machine-matchable as written (a description, a value withheld by the vendor, a string too
  short or too common to mean anything); the reason is recorded.

How an indicator is matched (``match``):
- ``content``: bytes searched in every file by the inventory's one Hyperscan pass (``literal`` text,
  ``hex`` bytes with ``??`` wildcards, or a ``regex``); ``scope`` restricts it to ELF programs or to text;
  ``encodings`` adds UTF-16LE for strings that live in .NET user-string heaps;
- ``path``: a file path suffix or a base name in any unpacked tree;
- ``sha256``: a file's content hash;
- ``account``: a user name in ``/etc/passwd`` (optionally with a password checked against the hashes of
  ``/etc/shadow``/``/etc/passwd`` with ``crypt``; ``any_account`` when the secret is a vendor's own
  backdoor secret, so the same password on another account is the same backdoor);
- ``package``: a component name and affected versions (from the ``components`` report section, or from
  npm/PyPI manifests).

Severity comes from the entry's confidence: high -> critical, medium -> high, low -> medium.

Usage: ``python tools/build_backdoor_rules.py [CATALOGUE] [OUTPUT]`` (defaults:
``/work/shared/knowledge/backdoor_catalogue.json`` and the package data file). Deterministic output.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CATALOGUE = Path("/work/shared/knowledge/backdoor_catalogue.json")
DEFAULT_OUTPUT = ROOT / "src" / "veracity" / "data" / "backdoor_rules.json"

SEVERITY = {"high": "critical", "medium": "high", "low": "medium"}

# Ports that every router opens for legitimate reasons: matching them as a number in a file means nothing.
COMMON_PORTS = {"22", "23", "2323", "6667", "8002", "10000"}

# Credential lists of botnets and factory defaults: the pair is only a backdoor for the named user.
# Vendor-specific backdoor secrets (any_account): the same password on another account of the image is the
# same secret (e.g. TP-Link's debug-page password doubling as the root password).
ANY_ACCOUNT = {
    ("tplink-debug-page-2013", "osteam:5up"),
    ("zyxel-zyfwp-2020", "zyfwp:PrOw!aN_fXp"),
    ("wd-mycloud-mydlink-2018", "mydlinkBRionyg:abc12345cba"),
    ("cdata-olt-telnet-2020", "suma123:panger123"),
    ("cisco-ucs-director-scpuser-2019", "scpuser:scpuser"),
}

# (entry id, indicator value) -> disposition override. Anything not listed gets the default of its type.
# Values are dicts merged into the generated indicator record.
OVERRIDES: dict[tuple[str, str], dict] = {
    # -- D-Link xmlset
    ("dlink-xmlset-useragent-2013", "User-Agent: xmlset_roodkcableoj28840ybtide"): {
        "use": "skip", "reason": "covered by the string indicator of the same entry"},
    # -- Sercomm
    ("sercomm-tcp32764-2013", "ScMM"): {
        "use": "corroborating", "match": {"content": {"literal": "ScMM"}},
        "reason": "4 bytes: random data contains them; needs port 32764 or the other magic"},
    ("sercomm-tcp32764-2013", "MMcS"): {
        "use": "corroborating", "match": {"content": {"literal": "MMcS"}},
        "reason": "4 bytes: random data contains them; needs port 32764 or the other magic"},
    ("sercomm-tcp32764-2013", "53 63 4d 4d (0x53634d4d magic, little-endian 'MMcS' / big-endian 'ScMM')"): {
        "use": "skip", "reason": "same bytes as the 'ScMM' string indicator"},
    # -- Netcore
    ("netcore-netis-udp53413-2014", "netcore"): {
        "use": "corroborating",
        "match": {"content": {"literal": "netcore"}, "account": {"users": None, "password": "netcore", "any_account": True}},
        "reason": "as a string, the vendor's own name appears in its legitimate firmware"},
    ("netcore-netis-udp53413-2014", "Login succeeded!"): {
        "use": "corroborating", "reason": "a common message of FTP and other servers"},
    ("netcore-netis-udp53413-2014", "8 x 0x00 prefix followed by command text"): {
        "use": "skip", "reason": "a protocol description, not a byte sequence of the binary"},
    # -- Juniper
    ("juniper-screenos-auth-2015", "<<< %s(un='%s') = %u"): {"scope": "any"},
    # -- Tenda
    ("tenda-w302r-mfg-udp7329-2013", "/bin/httpd (GoAhead 2.1.8-based)"): {
        "use": "corroborating", "match": {"path": {"suffix": "/bin/httpd"}},
        "reason": "every GoAhead router has /bin/httpd"},
    ("tenda-w302r-mfg-udp7329-2013", "'w302r_mfg' 0x00 'x' <cmd>  (0x78 = run as root, 0x31 = iwpriv, 0x65 = ping)"): {
        "use": "skip", "reason": "packet layout; the 'w302r_mfg' string indicator covers the binary"},
    # -- ZyXEL zyfwp
    ("zyxel-zyfwp-2020", "zyfwp"): {"use": "alone", "reason": "an account name used by nothing else"},
    ("zyxel-zyfwp-2020", "PrOw!aN_fXp"): {
        "use": "alone",
        "match": {"content": {"literal": "PrOw!aN_fXp"}, "account": {"users": None, "password": "PrOw!aN_fXp", "any_account": True}}},
    # -- Fortinet
    ("fortinet-fortimanager-access-2016", "Fortimanager_Access"): {
        "use": "alone", "match": {"content": {"literal": "Fortimanager_Access"}},
        "reason": "the account lives in the FortiOS binary, not in /etc/passwd"},
    ("fortinet-fortimanager-access-2016", "AK1 (prefix of computed response)"): {
        "use": "skip", "reason": "3 characters: matches anywhere"},
    ("fortinet-config-enc-key-2019", "Mary had a littl"): {
        "use": "alone", "scope": "elf", "reason": "a nursery rhyme in text is innocent; as a key in a program it is not"},
    ("fortinet-config-enc-key-2019", "set passwd ENC "): {
        "use": "corroborating", "reason": "ordinary FortiOS configuration syntax"},
    # -- Hikvision: the literal only exists in exploits, which is what it finds
    # -- XiongMai
    ("hisilicon-xiongmai-dvrhelper-9530-2020", "randNum:"): {
        "use": "corroborating", "reason": "short protocol keyword"},
    ("hisilicon-xiongmai-dvrhelper-9530-2020", "dvrbox"): {
        "use": "corroborating", "match": {"path": {"basename": "dvrbox"}},
        "reason": "the vendor's main program; present in every unit"},
    ("hisilicon-xiongmai-dvrhelper-9530-2020", "2wj9fsa2"): {
        "use": "alone", "reason": "8 random characters, the challenge key"},
    # -- gafgyt: accounts and passwords are separate lists (cartesian product, crypt only)
    # -- xz-utils
    ("xz-utils-liblzma-2024", "tests/files/bad-3-corrupt_lzma2.xz"): {
        "use": "corroborating", "reason": "the file exists in legitimate xz source trees too"},
    ("xz-utils-liblzma-2024", "tests/files/good-large_compressed.lzma"): {
        "use": "corroborating", "reason": "the file exists in legitimate xz source trees too"},
    ("xz-utils-liblzma-2024", "m4/build-to-host.m4"): {
        "use": "corroborating", "reason": "a legitimate gnulib macro file"},
    ("xz-utils-liblzma-2024", "F3 0F 1E FA 55 48 89 F5 4C 89 CE 53 89 FB 81 E7 00 00 00 80 48 83 EC 28 48 89 54 24 18 48 89 4C 24 10"): {
        "use": "alone", "scope": "elf", "reason": "34-byte function prologue of the backdoor (alone per the published rule)"},
    ("xz-utils-liblzma-2024", "48 8D 7C 24 08 F3 AB 48 8D 44 24 08 48 89 D1 4C 89 C7 48 89 C2 E8 ?? ?? ?? ?? 89 C2"): {
        "use": "group:xz-ops", "scope": "elf", "reason": "op patterns count only all three together"},
    ("xz-utils-liblzma-2024", "31 C0 49 89 FF B9 16 00 00 00 4D 89 C5 48 8D 7C 24 48 4D 89 CE F3 AB 48 8D 44 24 48"): {
        "use": "group:xz-ops", "scope": "elf", "reason": "op patterns count only all three together"},
    ("xz-utils-liblzma-2024", "4D 8B 6C 24 08 45 8B 3C 24 4C 8B 63 10 89 85 78 F1 FF FF 31 C0 83 BD 78 F1 FF FF 00 F3 AB 79 07"): {
        "use": "group:xz-ops", "scope": "elf", "reason": "op patterns count only all three together"},
    ("xz-utils-liblzma-2024", "xz-utils/liblzma 5.6.0, 5.6.1 (liblzma.so.5.6.0, liblzma.so.5.6.1)"): {
        "use": "alone", "match": {"package": {"names": ["xz-utils", "xz", "liblzma", "liblzma5", "xz-libs"],
                              "versions": ["5.6.0", "5.6.1"]}}},
    # -- Cisco
    ("cisco-iosxe-static-credential-2018", "undocumented privilege-15 account with default username/password (values not disclosed by Cisco)"): {
        "use": "skip", "reason": "Cisco did not publish the credential"},
    # -- ZTE
    ("zte-zxv10-w300-airocon-2014", "admin"): {"use": "skip", "reason": "the admin account exists everywhere"},
    ("zte-zxv10-w300-airocon-2014", "<4 MAC-address characters>airocon"): {
        "use": "skip", "reason": "the password depends on the MAC; the 'airocon' string indicator covers the binary"},
    # -- TP-Link
    ("tplink-debug-page-2013", "/userRpm/DebugResultRpm.htm"): {
        "use": "corroborating", "reason": "the result page alone is not the hidden start page"},
    # -- WD / D-Link NAS
    ("wd-mycloud-mydlink-2018", "/cgi-bin/nas_sharing.cgi"): {
        "use": "corroborating", "reason": "a legitimate CGI of the product"},
    ("dlink-dns-nas-messagebus-2024", "messagebus (empty password)"): {
        "use": "alone", "match": {"account": {"user": "messagebus", "password": ""}},
        "reason": "messagebus is a normal D-Bus account; only an empty password makes it the backdoor"},
    ("dlink-dns-nas-messagebus-2024", "/cgi-bin/nas_sharing.cgi?user=messagebus&passwd=&cmd=15&system=<base64>"): {
        "use": "alone", "match": {"content": {"literal": "user=messagebus&passwd="}},
        "reason": "the exploit request, as it appears in exploit code and logs"},
    # -- D-Link Alphanetworks
    ("dlink-alphanetworks-telnet-2013", "Alphanetworks"): {"use": "alone"},
    ("dlink-alphanetworks-telnet-2013", "/etc/config/image_sign"): {
        "use": "corroborating", "reason": "every D-Link image of that generation has it"},
    # -- vsftpd / UnrealIRCd / ProFTPD
    ("vsftpd-234-backdoor-2011", ":) in FTP USER name triggers backdoor"): {
        "use": "skip", "reason": "a behaviour description (the code compares two bytes)"},
    ("vsftpd-234-backdoor-2011", "vsFTPd 2.3.4 (banner)"): {
        "use": "corroborating", "match": {"content": {"literal": "vsFTPd 2.3.4"}}, "scope": "elf",
        "reason": "the legitimate 2.3.4 release has the same banner; needs port 6200 too"},
    ("unrealircd-3281-backdoor-2010", "AB; (command prefix)"): {
        "use": "skip", "reason": "3 characters: matches anywhere"},
    ("unrealircd-3281-backdoor-2010", "752e46f2d873c1679fa99de3f52a274d (backdoored tarball; official = 7b741e94e867c0a7370553fd01506c66)"): {
        "use": "skip", "reason": "MD5 is not computed by the inventory (SHA-256 only); the tarball is unpacked and "
                                 "its DEBUG3_DOLOG_SYSTEM string is found instead"},
    ("proftpd-133c-backdoor-2010", "src/help.c"): {
        "use": "corroborating", "reason": "every ProFTPD source tree has it"},
    # -- Webmin
    ("webmin-password-change-2019", "password_change.cgi"): {
        "use": "corroborating", "match": {"path": {"basename": "password_change.cgi"}},
        "reason": "a legitimate Webmin CGI"},
    ("webmin-password-change-2019", "MiniServ/1.890 .. 1.920"): {
        "use": "corroborating", "match": {"content": {"regex": r"MiniServ/1\.(?:89\d|9[01]\d|920)(?:[^0-9]|$)"}},
        "reason": "a version banner of the affected range; legitimate 1.890 builds exist"},
    # -- PHP
    ("php-src-zerodium-2021", "zerodium"): {
        "use": "corroborating", "reason": "a company name that security texts mention"},
    ("php-src-zerodium-2021", "ext/zlib/zlib.c"): {
        "use": "corroborating", "reason": "every PHP source tree has it"},
    ("php-src-zerodium-2021", "User-Agentt: zerodium<php code>"): {
        "use": "alone", "match": {"content": {"literal": "User-Agentt: zerodium"}},
        "reason": "the exploit header, as it appears in exploit code and logs"},
    # -- npm / PyPI
    ("npm-event-stream-flatmap-2018", "copay-dash"): {
        "use": "corroborating", "reason": "a legitimate package name that the payload looks for"},
    ("npm-ua-parser-js-2021", "preinstall.bat"): {
        "use": "corroborating", "match": {"path": {"basename": "preinstall.bat"}},
        "reason": "a generic script name"},
    ("npm-ua-parser-js-2021", "jsextension.exe"): {
        "use": "corroborating", "match": {"path": {"basename": "jsextension.exe"}},
        "reason": "a dropper name that copycats reuse; the hash is the proof"},
    ("pypi-jeilyfish-2019", "jeIlyfish"): {
        "use": "alone", "match": {"package": {"names": ["jeIlyfish"], "versions": ["*"]}}},
    ("pypi-jeilyfish-2019", "python3-dateutil"): {
        "use": "alone", "match": {"package": {"names": ["python3-dateutil"], "versions": ["*"]}},
        "reason": "the typosquat (the real package is python-dateutil)"},
    ("pypi-jeilyfish-2019", "jeIlyfish/_jellyfish.py"): {"use": "alone"},
    ("pypi-jeilyfish-2019", "ZAUTHSS"): {"use": "alone", "scope": "text"},
    ("pypi-litellm-2026", "litellm_init.pth"): {
        "use": "alone", "match": {"path": {"basename": "litellm_init.pth"}}},
    ("pypi-litellm-2026", "litellm/proxy/proxy_server.py (payload)"): {
        "use": "corroborating", "match": {"path": {"suffix": "litellm/proxy/proxy_server.py"}},
        "reason": "a legitimate file of every litellm release"},
    # -- SolarWinds
    ("solarwinds-sunburst-2020", "SolarWinds.Orion.Core.BusinessLayer.dll"): {
        "use": "corroborating", "match": {"path": {"basename": "SolarWinds.Orion.Core.BusinessLayer.dll"}},
        "reason": "the legitimate Orion assembly has the same name"},
    ("solarwinds-sunburst-2020", "U4qpjjbQtUzUTdONrTY2q42pVapRgooABYxQuIZmtUoA"): {
        "encodings": ["ascii", "utf-16le"]},
    ("solarwinds-sunburst-2020", "U3ItS80rCaksSFWyUvIvyszPU9IBAA=="): {"encodings": ["ascii", "utf-16le"]},
    ("solarwinds-sunburst-2020", "OrionImprovementBusinessLayer"): {"encodings": ["ascii", "utf-16le"]},
    ("solarwinds-sunburst-2020", "67 19 D8 A7 3B 90 AC 5B (fnv_xor)"): {"use": "alone"},
    ("solarwinds-sunburst-2020", "avsvmcloud.com"): {
        "use": "alone", "match": {"content": {"literal": "avsvmcloud.com", "caseless": True}}},
    # -- NETGEAR
    ("netgear-telnetenable", "telnetenabled"): {
        "use": "alone", "match": {"path": {"basename": "telnetenabled"}},
        "reason": "the hidden telnet enabler daemon itself"},
    ("netgear-telnetenable", "Gearguy:Geardog (older models)"): {
        "match": {"account": {"user": "Gearguy", "password": "Geardog"}}},
    # -- ZyXEL PK5001Z
    ("zyxel-pk5001z-su-2016", "zyad5001 (su/root)"): {
        "use": "alone",
        "match": {"content": {"literal": "zyad5001"}, "account": {"users": None, "password": "zyad5001", "any_account": True}}},
    ("zyxel-pk5001z-su-2016", "PK5001Z login:"): {
        "use": "corroborating", "reason": "the login banner only names the model"},
    # -- Realtek
    ("realtek-sdk-udpserver-2021", "UDPServer"): {
        "use": "corroborating", "match": {"path": {"basename": "UDPServer"}},
        "reason": "a generic program name"},
    ("realtek-sdk-udpserver-2021", "MP Daemon"): {
        "use": "corroborating", "reason": "short, generic words"},
    # -- Huawei
    ("huawei-hg532-tr064-2017", "dslf-config (TR-064 Digest auth)"): {
        "use": "corroborating", "match": {"content": {"literal": "dslf-config"}},
        "reason": "the standard TR-064 configuration user name"},
    ("huawei-hg532-tr064-2017", "NewStatusURL"): {
        "use": "corroborating", "reason": "a standard TR-064 argument name"},
    ("huawei-hg532-tr064-2017", "HuaweiHomeGateway"): {
        "use": "corroborating", "reason": "the realm of every Huawei home gateway"},
    # -- MikroTik
    ("mikrotik-devel-login", "/etc/devel-login"): {
        "use": "alone", "reason": "the file's presence turns the developer shell on"},
    ("mikrotik-devel-login", "devel (uses admin password)"): {
        "use": "skip", "reason": "no fixed secret; the /etc/devel-login file is the indicator"},
    ("mikrotik-devel-login", "/pckg/option"): {
        "use": "corroborating", "reason": "medium confidence in the catalogue"},
    # -- Vacron
    ("vacron-nvr-board-cgi", "/board.cgi?cmd="): {"use": "corroborating", "reason": "a parameter of a legitimate CGI"},
    ("vacron-nvr-board-cgi", "board.cgi"): {
        "use": "corroborating", "match": {"path": {"basename": "board.cgi"}}, "reason": "a generic CGI name"},
    # -- QNAP / RomPager
    ("qnap-hbs3-hardcoded-2021", "HBS 3 < 16.0.0415 / < 3.0.210412 / < 3.0.210411 / < 16.0.0419 (per platform)"): {
        "use": "skip", "reason": "per-platform version ranges that need the platform, which an image rarely states"},
    ("allegro-rompager-misfortune-2014", "RomPager < 4.34"): {
        "use": "alone", "match": {"package": {"names": ["rompager", "allegro-rompager"], "below": "4.34"}}},
    ("allegro-rompager-misfortune-2014", "RomPager/4.07"): {"use": "alone"},
    # -- Barracuda
    ("barracuda-lb-vm-cluster-key-2014", "cluster"): {"use": "skip", "reason": "a common account name"},
}

_GENERIC_ACCOUNTS = {"root", "admin", "support", "guest", "ubnt", "sync", "cluster", "user"}


def _strip_note(value: str) -> str:
    return re.sub(r"\s+\([^)]*\)$", "", value).strip()


def _hex(value: str) -> str | None:
    text = _strip_note(value)
    tokens = text.split()
    if tokens and all(re.fullmatch(r"[0-9A-Fa-f]{2}|\?\?", t) for t in tokens):
        return " ".join(t.lower() for t in tokens)
    return None


def _default(entry: dict, ind: dict, siblings: list[dict]) -> dict:
    t, value = ind["type"], ind["value"]
    rec: dict = {"type": t, "value": value}
    if t in ("string", "url-path"):
        lit = _strip_note(value)
        if len(lit) < 6:
            return {**rec, "use": "skip", "reason": "shorter than 6 characters: matches anywhere"}
        return {**rec, "use": "alone", "match": {"content": {"literal": lit}}, "scope": "any"}
    if t == "password":
        lit = _strip_note(value)
        accounts = [s["value"] for s in siblings if s["type"] == "account"]
        users = [a for a in accounts if " " not in a]
        out = {**rec, "match": {"account": {"users": users or None, "password": lit, "any_account": not users}}}
        if len(lit) >= 8 and (re.search(r"\d", lit) or re.search(r"[^A-Za-z]", lit) or lit != lit.lower()):
            # a distinctive secret: also a string in programs
            out["match"]["content"] = {"literal": lit}
            out["scope"] = "any"
        out["use"] = "alone"
        return out
    if t == "credential-pair":
        user, _, password = _strip_note(value).partition(":")
        any_account = (entry["id"], value) in ANY_ACCOUNT
        return {**rec, "use": "alone",
                "match": {"account": {"user": user, "password": password, "any_account": any_account}}}
    if t == "account":
        name = _strip_note(value)
        if name in _GENERIC_ACCOUNTS:
            return {**rec, "use": "skip", "reason": "a common account name: only its password can tell"}
        return {**rec, "use": "alone", "match": {"account": {"user": name}}}
    if t in ("tcp-port", "udp-port"):
        port = _strip_note(value)
        if port in COMMON_PORTS:
            return {**rec, "use": "skip", "reason": "a port many legitimate services use"}
        return {**rec, "use": "corroborating",
                "match": {"content": {"regex": rf"(?:^|[^0-9.]){port}(?:[^0-9.]|$)"}}, "scope": "any",
                "reason": "a number: only counts next to another indicator of the entry in the same file"}
    if t == "byte-pattern":
        hx = _hex(value)
        if hx is None:
            return {**rec, "use": "skip", "reason": "a description, not a byte sequence"}
        return {**rec, "use": "alone", "match": {"content": {"hex": hx}}, "scope": "any"}
    if t == "file-path":
        path = _strip_note(value)
        key = {"suffix": path} if "/" in path else {"basename": path}
        return {**rec, "use": "corroborating", "match": {"path": key},
                "reason": "a file name: only counts next to another indicator of the entry"}
    if t == "hash-sha256":
        return {**rec, "use": "alone", "match": {"sha256": _strip_note(value).lower()}}
    if t == "hash-md5":
        return {**rec, "use": "skip", "reason": "MD5 is not computed by the inventory (SHA-256 only)"}
    if t == "ssh-pubkey-fingerprint":
        return {**rec, "use": "delegated",
                "reason": "the keys check fingerprints every public key (VER-KEY-006) and reports this entry's "
                          "backdoor_id"}
    if t == "http-header":
        return {**rec, "use": "skip", "reason": "covered by the string indicator of the same entry"}
    if t == "domain":
        return {**rec, "use": "alone", "match": {"content": {"literal": _strip_note(value), "caseless": True}}}
    if t == "package-version":
        m = re.fullmatch(r"([\w.-]+)(?:@|==)([\w.-]+)", _strip_note(value))
        if m:
            return {**rec, "use": "alone", "match": {"package": {"names": [m[1]], "versions": [m[2]]}}}
        return {**rec, "use": "skip", "reason": "no machine-readable version"}
    if t == "package-name":
        return {**rec, "use": "alone", "match": {"package": {"names": [_strip_note(value)], "versions": ["*"]}}}
    return {**rec, "use": "skip", "reason": f"unknown indicator type {t!r}"}


def build(catalogue: Path) -> dict:
    raw = catalogue.read_bytes()
    entries = json.loads(raw)
    out_entries = []
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        inds = []
        for ind in entry["indicators"]:
            rec = _default(entry, ind, entry["indicators"])
            override = OVERRIDES.get((entry["id"], ind["value"]))
            if override:
                seen.add((entry["id"], ind["value"]))
                rec = {**rec, **override}
                if rec["use"] in ("skip", "delegated"):
                    rec.pop("match", None)
                    rec.pop("scope", None)
            if "match" in rec and "content" in rec["match"]:
                rec.setdefault("scope", "any")
            inds.append(rec)
        out_entries.append(
            {
                "id": entry["id"],
                "vendor": entry["vendor"],
                "product": entry["product"],
                "year": entry["year"],
                "cve": entry["cve"],
                "confidence": entry["confidence"],
                "severity": SEVERITY[entry["confidence"]],
                "sources": entry["sources"],
                "notes": entry["notes"],
                "indicators": inds,
            }
        )
    unused = set(OVERRIDES) - seen
    if unused:
        raise SystemExit(f"overrides that match no indicator: {sorted(unused)}")
    counts: dict[str, int] = {}
    for e in out_entries:
        for i in e["indicators"]:
            counts[i["use"].split(":")[0]] = counts.get(i["use"].split(":")[0], 0) + 1
    return {
        "about": "Compiled from backdoor_catalogue.json by tools/build_backdoor_rules.py; do not edit by hand.",
        "catalogue_sha256": hashlib.sha256(raw).hexdigest(),
        "policy": {
            "alone": "one match is enough to report the entry",
            "corroborating": "counts only with another matching indicator of the same entry in the same file "
                             "(a file-path indicator matches the file it names), one of them a string or byte "
                             "pattern other than a port number",
            "group": "every indicator of the group must match in the same file",
            "delegated": "reported by another check (keys: VER-KEY-006 with backdoor_id)",
            "skip": "not used; see reason",
            "severity": "entry confidence high -> critical, medium -> high, low -> medium",
            "ports": "a port number is matched as a decimal string bounded by non-digits and only corroborates; "
                     f"ports {sorted(COMMON_PORTS)} are skipped entirely",
            "accounts": "an account indicator fires whatever its 'use' (which governs its content part): a password "
                        "that verifies against the image's own hash, or a backdoor-only account name, is proof",
            "credentials": "credential pairs are checked against the crypt hashes of /etc/shadow and /etc/passwd "
                           "for the named user; 'any_account' secrets (vendor-specific backdoor passwords) for "
                           "every account",
        },
        "counts": dict(sorted(counts.items())),
        "entries": out_entries,
    }


def main(argv: list[str]) -> int:
    catalogue = Path(argv[1]) if len(argv) > 1 else DEFAULT_CATALOGUE
    output = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUTPUT
    data = build(catalogue)
    output.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    total = sum(len(e["indicators"]) for e in data["entries"])
    print(f"{output}: {len(data['entries'])} entries, {total} indicators, {data['counts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
