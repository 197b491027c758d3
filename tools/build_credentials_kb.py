#!/usr/bin/env python3
"""Regenerate ``src/veracity/data/credentials.txt``, the default-credential knowledge base, from the shared
knowledge folder.

Inputs (read-only; only the user/password facts are taken, no code):

- ``mirai_pairs.json``: the Mirai scanner's credential table (decoded from jgamblin/Mirai-Source-Code).
- ``sources/defaultcreds-cheatsheet/DefaultCreds-Cheat-Sheet.csv`` (ihebski, MIT).
- ``sources/seclists-default-creds/`` (danielmiessler/SecLists, MIT): ``default-passwords.csv`` (CIRT.net
  collection), ``{telnet,ssh,ftp}-betterdefaultpasslist.txt``, ``scada-pass.csv`` (SCADAPASS 1.0),
  ``routers-0ALL-USERNAMES-AND-PASSWORDS.txt`` (tokens, not pairs).
- ``sources/metasploit-wordlists/`` (rapid7/metasploit-framework, BSD-3-Clause): ``*_userpass.txt`` pairs,
  ``*_pass.txt``/``*_passwords.txt`` password lists, SNMP default communities.
- ``backdoor_catalogue.json``: ``password`` and ``credential-pair`` indicators (placeholders such as
  ``<4 MAC-address characters>airocon`` and format strings are left out).
- ``VENDOR_DOCUMENTED`` below: a few defaults documented on public pages that none of the lists carry,
  each with its source; every one was confirmed against a hash of a real image before it was added.

Output: one line per distinct password, most prevalent first::

    <prevalence> TAB <source codes> TAB <password as a JSON string> TAB <paired user names, JSON list>

``prevalence`` is the number of distinct records naming the password: (list, vendor, user) for vendor
lists, (list, user) for pair lists, (list,) for plain password lists. Ties are broken by the password
itself, so the file is deterministic. Empty passwords are not candidates (the check reports an empty
password field directly).

Usage: ``python tools/build_credentials_kb.py [KNOWLEDGE_DIR] [OUTPUT]`` (defaults: ``/work/shared/knowledge``
and the package data file).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_KNOWLEDGE = Path("/work/shared/knowledge")
DEFAULT_OUTPUT = ROOT / "src" / "veracity" / "data" / "credentials.txt"

# code -> (file relative to the knowledge folder, what it is, licence)
SOURCES: dict[str, tuple[str, str, str]] = {
    "mirai": ("mirai_pairs.json", "Mirai bot scanner credential table (jgamblin/Mirai-Source-Code, decoded)",
              "facts from published malware source; no code copied"),
    "dcs": ("sources/defaultcreds-cheatsheet/DefaultCreds-Cheat-Sheet.csv",
            "ihebski/DefaultCreds-cheat-sheet @2e48382f", "MIT, Copyright (c) 2022 Ihebski"),
    "sl-cirt": ("sources/seclists-default-creds/default-passwords.csv",
                "SecLists Passwords/Default-Credentials/default-passwords.csv @39657bcc (CIRT.net collection)",
                "MIT, Copyright (c) 2018 Daniel Miessler"),
    "sl-telnet": ("sources/seclists-default-creds/telnet-betterdefaultpasslist.txt",
                  "SecLists telnet-betterdefaultpasslist.txt @39657bcc", "MIT, Copyright (c) 2018 Daniel Miessler"),
    "sl-ssh": ("sources/seclists-default-creds/ssh-betterdefaultpasslist.txt",
               "SecLists ssh-betterdefaultpasslist.txt @39657bcc", "MIT, Copyright (c) 2018 Daniel Miessler"),
    "sl-ftp": ("sources/seclists-default-creds/ftp-betterdefaultpasslist.txt",
               "SecLists ftp-betterdefaultpasslist.txt @39657bcc", "MIT, Copyright (c) 2018 Daniel Miessler"),
    "sl-scada": ("sources/seclists-default-creds/scada-pass.csv", "SecLists scada-pass.csv (SCADAPASS 1.0)",
                 "MIT, Copyright (c) 2018 Daniel Miessler"),
    "sl-routers": ("sources/seclists-default-creds/routers-0ALL-USERNAMES-AND-PASSWORDS.txt",
                   "SecLists Default-Credentials/Routers/0ALL-USERNAMES-AND-PASSWORDS.txt @e9337beb",
                   "MIT, Copyright (c) 2018 Daniel Miessler"),
    "msf-mirai": ("sources/metasploit-wordlists/mirai_user_pass.txt", "Metasploit 6.4.98 data/wordlists",
                  "BSD-3-Clause, Copyright 2006-2025 Rapid7, Inc."),
    "msf-routers": ("sources/metasploit-wordlists/routers_userpass.txt", "Metasploit 6.4.98 data/wordlists",
                    "BSD-3-Clause, Copyright 2006-2025 Rapid7, Inc."),
    "msf-dlink": ("sources/metasploit-wordlists/dlink_telnet_backdoor_userpass.txt",
                  "Metasploit 6.4.98 data/wordlists", "BSD-3-Clause, Copyright 2006-2025 Rapid7, Inc."),
    "msf-cdata": ("sources/metasploit-wordlists/telnet_cdata_ftth_backdoor_userpass.txt",
                  "Metasploit 6.4.98 data/wordlists", "BSD-3-Clause, Copyright 2006-2025 Rapid7, Inc."),
    "msf-scada": ("sources/metasploit-wordlists/scada_default_userpass.txt", "Metasploit 6.4.98 data/wordlists",
                  "BSD-3-Clause, Copyright 2006-2025 Rapid7, Inc."),
    "msf-cctv": ("sources/metasploit-wordlists/multi_vendor_cctv_dvr_pass.txt", "Metasploit 6.4.98 data/wordlists",
                 "BSD-3-Clause, Copyright 2006-2025 Rapid7, Inc."),
    "msf-ipmi": ("sources/metasploit-wordlists/ipmi_passwords.txt",
                 "Metasploit 6.4.98 data/wordlists (generic list used for IPMI hash cracking)",
                 "BSD-3-Clause, Copyright 2006-2025 Rapid7, Inc."),
    "msf-snmp": ("sources/metasploit-wordlists/snmp_default_pass.txt",
                 "Metasploit 6.4.98 data/wordlists (SNMP default communities)",
                 "BSD-3-Clause, Copyright 2006-2025 Rapid7, Inc."),
    "bkd": ("backdoor_catalogue.json", "veracity backdoor catalogue: password and credential-pair indicators",
            "facts with cited public sources"),
    "vendor": ("(tools/build_credentials_kb.py VENDOR_DOCUMENTED)", "defaults documented on public pages",
               "facts; sources listed per entry"),
}

# Defaults that public pages document but none of the lists carry. (user, password, vendor, source URL)
VENDOR_DOCUMENTED: tuple[tuple[str, str, str, str], ...] = (
    # Nokia / Alcatel-Lucent G-010S-A and G-010S-P GPON SFP sticks (Lantiq Falcon, OpenWrt): SSH login.
    # Confirmed against the sha512crypt hash in the shadow file of a real G-010S-A overlay.
    ("ONTUSER", "SUGAR2A041", "Nokia/Alcatel-Lucent G-010S-A", "https://hack-gpon.org/ont-nokia-g-010s-a/"),
    ("adminadmin", "ALC#FGU", "Nokia/Alcatel-Lucent G-010S-A (web)", "https://hack-gpon.org/ont-nokia-g-010s-a/"),
)

_PLACEHOLDER = re.compile(r"^(?:<[^>]*>|\(?(?:none|blank|n/?a|no password|empty|null|not set|unknown)\)?)$", re.IGNORECASE)


def usable(password: str) -> bool:
    """A password worth trying: not a placeholder, not prose describing how the password is derived."""
    if not password or _PLACEHOLDER.match(password.strip()):
        return False
    if "\n" in password or "\t" in password or len(password) > 64:
        return False
    words = password.split()
    if len(words) >= 3 or (len(words) == 2 and len(password) > 16):
        return False  # "last 6 digits of the MAC address", "(printed on label)"
    prose = re.search(r"\b(?:MAC|serial|label|sticker|random|unique|varies)\b", password, re.IGNORECASE)
    return not (prose and " " in password)


def _blank(value: str) -> str:
    v = value.strip()
    return "" if v.lower() in ("<blank>", "<n/a>", "<empty>") else value


class Collector:
    def __init__(self) -> None:
        self.records: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        self.sources: dict[str, set[str]] = defaultdict(set)
        self.users: dict[str, set[str]] = defaultdict(set)
        self.skipped: list[tuple[str, str]] = []

    def add(self, code: str, password: str, user: str | None = None, vendor: str | None = None) -> None:
        password = password.strip("\r")
        if not usable(password):
            if password.strip():
                self.skipped.append((code, password))
            return
        record: tuple[str, ...] = (code,)
        if vendor is not None:
            record += (vendor.strip().lower(),)
        if user is not None:
            record += (user.strip(),)
        self.records[password].add(record)
        self.sources[password].add(code)
        if user and user.strip() and usable(user.strip()):
            self.users[password].add(user.strip())


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()


def collect(knowledge: Path) -> Collector:
    c = Collector()
    src = knowledge / "sources"
    for user, password, _flag in json.loads((knowledge / "mirai_pairs.json").read_text()):
        c.add("mirai", password, user)
    with open(src / "defaultcreds-cheatsheet/DefaultCreds-Cheat-Sheet.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            c.add("dcs", _blank(row["password"]), _blank(row["username"]), row["productvendor"])
    with open(src / "seclists-default-creds/default-passwords.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            c.add("sl-cirt", _blank(row["Password"] or ""), _blank(row["Username"] or ""), row["Vendor"] or "")
    for code, name in (("sl-telnet", "telnet"), ("sl-ssh", "ssh"), ("sl-ftp", "ftp")):
        for line in _lines(src / f"seclists-default-creds/{name}-betterdefaultpasslist.txt"):
            if ":" in line:
                user, _, password = line.partition(":")
                c.add(code, password, user)
    scada = [line for line in _lines(src / "seclists-default-creds/scada-pass.csv") if not line.startswith("#")]
    for row in csv.DictReader(io.StringIO("\n".join(scada).lstrip(",\n"))):
        value = (row.get("Default password") or "").strip()
        vendor = (row.get("Vendor") or "") + " " + (row.get("Device") or "")
        if ":" not in value:
            c.add("sl-scada", value, None, vendor)
            continue
        for part in value.split(","):  # "admin:private, user:public", "telnet root:root, ftp root:blank"
            left, sep, right = part.strip().partition(":")
            words = right.split()
            if not sep or not words or not left.split():
                continue
            c.add("sl-scada", _blank(words[0]), left.split()[-1], vendor)
    for line in _lines(src / "seclists-default-creds/routers-0ALL-USERNAMES-AND-PASSWORDS.txt"):
        c.add("sl-routers", line.strip())
    for code, name in (("msf-mirai", "mirai_user_pass"), ("msf-routers", "routers_userpass"), ("msf-dlink", "dlink_telnet_backdoor_userpass"),
                       ("msf-cdata", "telnet_cdata_ftth_backdoor_userpass"), ("msf-scada", "scada_default_userpass")):
        for line in _lines(src / f"metasploit-wordlists/{name}.txt"):
            if not line.strip():
                continue
            user, _, password = line.partition(" ")
            c.add(code, password, user)
    for code, name in (("msf-cctv", "multi_vendor_cctv_dvr_pass"), ("msf-ipmi", "ipmi_passwords"),
                       ("msf-snmp", "snmp_default_pass")):
        for line in _lines(src / f"metasploit-wordlists/{name}.txt"):
            c.add(code, line.strip())
    for entry in json.loads((knowledge / "backdoor_catalogue.json").read_text()):
        for ind in entry["indicators"]:
            value = ind["value"]
            if ind["type"] not in ("password", "credential-pair") or "<" in value or "%" in value:
                continue
            value = re.sub(r"\s+\([^)]*\)$", "", value)  # "Geardog (older models)" -> "Geardog"
            user = None
            if ind["type"] == "credential-pair":
                user, _, value = value.partition(":")
            c.add("bkd", value, user, entry["id"])
    for user, password, vendor, _url in VENDOR_DOCUMENTED:
        c.add("vendor", password, user, vendor)
    return c


def render(c: Collector, knowledge: Path) -> str:
    rows = sorted(c.records, key=lambda p: (-len(c.records[p]), p))
    out = [
        "# veracity default-credential knowledge base (generated by tools/build_credentials_kb.py; do not edit)",
        "# One line per distinct password, most prevalent first:",
        "#   prevalence<TAB>source codes<TAB>password (JSON string)<TAB>paired user names (JSON list)",
        "# prevalence = number of distinct (list, vendor, user) records naming the password.",
        f"# {len(rows)} passwords.",
        "#",
        "# Sources (code: file, sha256 of the input, what, licence):",
    ]
    for code, (rel, what, licence) in SOURCES.items():
        path = knowledge / rel
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "-"
        out.append(f"#   {code}: {rel} sha256:{digest} - {what}; licence: {licence}")
    out.append("#   vendor entries:")
    for user, _password, vendor, url in VENDOR_DOCUMENTED:
        out.append(f"#     {vendor}, user {user}: {url}")
    out.append("# Notices: SecLists MIT (Copyright (c) 2018 Daniel Miessler); DefaultCreds-cheat-sheet MIT")
    out.append("# (Copyright (c) 2022 Ihebski; partly compiled from changeme, routersploit, SecLists);")
    out.append("# Metasploit Framework BSD-3-Clause (Copyright 2006-2025 Rapid7, Inc.). Permission is hereby granted,")
    out.append("# free of charge, to any person obtaining a copy of the MIT-licensed lists, subject to keeping")
    out.append("# their copyright and permission notices; the BSD-3-Clause notice requires the same.")
    for password in rows:
        users = sorted(c.users[password], key=lambda u: (u.lower(), u))
        out.append(
            "\t".join((
                str(len(c.records[password])),
                ",".join(sorted(c.sources[password])),
                json.dumps(password, ensure_ascii=False),
                json.dumps(users, ensure_ascii=False),
            ))
        )
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    knowledge = Path(argv[1]) if len(argv) > 1 else DEFAULT_KNOWLEDGE
    output = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUTPUT
    c = collect(knowledge)
    output.write_text(render(c, knowledge), encoding="utf-8")
    print(f"{output}: {len(c.records)} passwords; {len(c.skipped)} placeholder/prose values left out", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
