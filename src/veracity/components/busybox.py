"""BusyBox: which applets a binary has, and which applet a BusyBox CVE is about.

A BusyBox CVE matters only when its applet is compiled in: a router whose busybox has ``msh`` but no
``ash`` is not affected by an ``ash`` overflow. The applet list comes from the binary itself: BusyBox keeps
its applet names sorted, NUL-separated (packed since 1.17, one aligned string each before), so the longest
sorted run of short lower-case names in its read-only data is the table. Links to the binary in the tree
(``/bin/ls -> busybox``) are the fallback.

The applet a CVE is about comes from a curated table (from each record's description) and, for records not
in it, from the description: the source file it names (``networking/udhcp/dhcpc.c``, ``ash.c``), or an
applet name followed by "applet" or written in parentheses ("DHCP client (udhcpc)").
"""

from __future__ import annotations

import posixpath
import re

from ..inventory import Inventory, Item, read_region

_TABLE = re.compile(rb"(?:[a-z0-9_.\[\]-]{1,24}\x00{1,4}){8,}")
READ_LIMIT = 4 * 2**20

# CVE -> applets, from the records' descriptions (NVD). Only BusyBox CVEs whose description names the
# code; CVEs about libbb or the build (every applet) are absent on purpose and match without the filter.
CVE_APPLETS: dict[str, tuple[str, ...]] = {
    "CVE-2011-2716": ("udhcpc",),
    "CVE-2011-5325": ("tar",),
    "CVE-2013-1813": ("mdev",),
    "CVE-2014-4607": ("unlzop", "lzop", "lzopcat"),
    "CVE-2014-9645": ("modprobe", "insmod"),
    "CVE-2015-9261": ("unzip", "gunzip", "zcat"),
    "CVE-2016-2147": ("udhcpc",),
    "CVE-2016-2148": ("udhcpc",),
    "CVE-2016-6301": ("ntpd",),
    "CVE-2017-15873": ("bunzip2", "bzcat", "bzip2"),
    "CVE-2017-15874": ("unlzma", "lzcat", "lzma"),
    "CVE-2017-16544": ("ash", "hush"),
    "CVE-2018-1000500": ("wget",),
    "CVE-2018-1000517": ("wget",),
    "CVE-2018-20679": ("udhcpc", "udhcpd"),
    "CVE-2019-5747": ("udhcpc", "udhcpd"),
    "CVE-2021-28831": ("gunzip", "zcat", "unzip"),
    "CVE-2021-42373": ("man",),
    "CVE-2021-42374": ("unlzma", "lzcat", "lzma"),
    "CVE-2021-42375": ("ash",),
    "CVE-2021-42376": ("hush",),
    "CVE-2021-42377": ("hush",),
    "CVE-2021-42378": ("awk",),
    "CVE-2021-42379": ("awk",),
    "CVE-2021-42380": ("awk",),
    "CVE-2021-42381": ("awk",),
    "CVE-2021-42382": ("awk",),
    "CVE-2021-42383": ("awk",),
    "CVE-2021-42384": ("awk",),
    "CVE-2021-42385": ("awk",),
    "CVE-2021-42386": ("awk",),
    "CVE-2022-28391": ("netstat",),
    "CVE-2022-30065": ("awk",),
    "CVE-2022-48174": ("ash",),
    "CVE-2023-42363": ("awk",),
    "CVE-2023-42364": ("awk",),
    "CVE-2023-42365": ("awk",),
    "CVE-2023-42366": ("awk",),
}

# Source files named in descriptions -> applets built from them.
_SOURCES = {
    "dhcpc": ("udhcpc",), "dhcpd": ("udhcpd",), "udhcp": ("udhcpc", "udhcpd"), "ash": ("ash",),
    "hush": ("hush",), "awk": ("awk",), "ntpd": ("ntpd",), "wget": ("wget",), "tar": ("tar",),
    "decompress_unlzma": ("unlzma", "lzcat", "lzma"), "decompress_bunzip2": ("bunzip2", "bzcat"),
    "decompress_gunzip": ("gunzip", "zcat"), "unzip": ("unzip",), "netstat": ("netstat",), "man": ("man",),
    "mdev": ("mdev",), "modutils": ("modprobe", "insmod"), "traceroute": ("traceroute",), "nslookup": ("nslookup",),
    "ping": ("ping",), "telnetd": ("telnetd",), "httpd": ("httpd",), "tftp": ("tftp", "tftpd"), "vi": ("vi",),
    "sed": ("sed",), "grep": ("grep",), "cpio": ("cpio",), "rpm": ("rpm", "rpm2cpio"), "dpkg": ("dpkg",),
    "ifupdown": ("ifup", "ifdown"), "login": ("login",), "passwd": ("passwd",), "su": ("su",),
    "hexdump": ("hexdump",), "xxd": ("xxd",), "lzop": ("lzop", "unlzop", "lzopcat"),
}
_SOURCE_RX = re.compile(r"\b([a-z_]+)\.c\b|\b(?:networking|archival|shell|editors|miscutils|util-linux|"
                        r"loginutils|coreutils|modutils)/(?:[a-z_]+/)*([a-z_]+)")
_NAMED_RX = re.compile(r"\b([a-z][a-z0-9_]{1,15})\s+applet\b|\(([a-z][a-z0-9_]{1,15})\)", re.IGNORECASE)
KNOWN_APPLETS = frozenset(a for v in _SOURCES.values() for a in v) | {
    "ash", "awk", "sh", "udhcpc", "udhcpd", "ntpd", "wget", "tar", "unzip", "gunzip", "bunzip2", "unlzma",
    "netstat", "man", "mdev", "hush", "msh", "ping", "telnetd", "httpd", "tftp", "tftpd", "traceroute",
    "nslookup", "sed", "grep", "vi", "cpio", "less", "top", "dhcprelay", "zcip", "arping", "ifconfig", "route",
    "ip", "crond", "crontab", "syslogd", "klogd", "inetd", "ftpd", "ftpget", "ftpput", "nc", "dnsd", "sendmail",
    "xz", "unxz", "lzma", "lzcat", "bzcat", "zcat", "modprobe", "insmod", "hexdump", "xxd", "mount", "umount",
}


def applets_in(item: Item) -> list[str]:
    """Applet names from a BusyBox binary's own table (sorted), or [] when none was found."""
    best: list[str] = []
    ranges = item.facts.string_ranges or ((0, item.facts.size),)
    budget = READ_LIMIT
    for start, length in ranges:
        if budget <= 0:
            break
        data = read_region(item, start, min(length, budget))
        budget -= len(data)
        for m in _TABLE.finditer(data):
            names = [t.decode("ascii") for t in m.group().split(b"\x00") if t]
            run: list[str] = []
            for name in names:
                if run and name < run[-1]:
                    if len(run) > len(best):
                        best = run
                    run = []
                run.append(name)
            if len(run) > len(best):
                best = run
    # A table lists real applets: it holds at least a few everyday ones.
    if len(best) < 8 or len({"sh", "ls", "cat", "echo", "mount", "ps", "init", "test", "[", "true"} & set(best)) < 2:
        return []
    return best


def linked_applets(inv: Inventory, item: Item) -> list[str]:
    """Names of links in the same tree that resolve to this busybox binary."""
    out = set()
    tree = item.tree
    for node in tree.nodes.values():
        if node.kind != "symlink":
            continue
        if posixpath.basename(node.link_target or "") != posixpath.basename(item.node.path):
            continue
        target = tree.resolve(node.path)
        if target is not None and target.path == item.node.path:
            out.add(node.name)
    return sorted(out)


def cve_applets(cve: str, description: str) -> tuple[str, ...]:
    """The applets a BusyBox CVE is about; () when the record does not say (then no filter applies)."""
    if cve in CVE_APPLETS:
        return CVE_APPLETS[cve]
    found: list[str] = []
    for m in _SOURCE_RX.finditer(description):
        stem = m.group(1) or m.group(2)
        found.extend(_SOURCES.get(stem, ()))
    for m in _NAMED_RX.finditer(description):
        name = (m.group(1) or m.group(2)).lower()
        if name in KNOWN_APPLETS:
            found.append(name)
    return tuple(dict.fromkeys(found))
