"""Accounts, and their passwords: hidden superusers, accounts without a password, known default passwords.

Every account a product ships with is the same on every device. This check reads every account database
of every unpacked tree and says, for each account, whether it can log in and what protects it:

- ``/etc/passwd``, ``/etc/shadow`` and ``/etc/group``, and their copies and defaults anywhere in a tree
  (``/etc/passwd-``, ``/etc_ro/passwd``, ``/etc/default/passwd``, ``/usr/etc/passwd``, ``passwd.default``
  ...): firmware often links ``/etc/passwd`` into ``/var`` and copies a default file there at boot;
- web and service account files: ``.htpasswd`` and other ``*htpasswd*`` files, lighttpd ``*.user`` and
  ``*.htdigest``, BusyBox ``httpd.conf`` (``/path:user:password``), Mosquitto password files (named by
  ``password_file`` in ``mosquitto.conf`` or kept in a mosquitto folder), OpenWrt ``/etc/config/rpcd``;
- vendor default configurations and NVRAM defaults (``nvram.default``, ``default.cfg``, ``*.cfg``,
  ``*.conf``, ``*.ini`` ... with ``http_username=``/``http_passwd=`` style pairs, XML ``<sysPassword
  value=...>``), found by the inventory's one pattern pass;
- account lines written by scripts and programs (``echo 'root:$1$...:0:0:...' > /var/passwd``) and the
  group lines a program writes at boot (``root::0:root,admin,support,user``).

Every hash is tried against the default-credential knowledge base (``credentials_kb``: about three thousand
passwords from public lists, most prevalent first, every password for every account; cheap schemes get the
whole list, slow ones the most prevalent candidates that fit a deterministic time budget); plaintext
passwords are looked up in it.

Rules: VER-ACC-001 second UID-0 account, VER-ACC-002 login-capable account besides the administrator,
VER-ACC-009 accounts a program creates at boot (``account.hidden``); VER-ACC-003 empty password
(``credential.empty``); VER-ACC-004 known default password, cracked or in plain text
(``credential.default``); VER-ACC-005 other plaintext password of an account, VER-ACC-010 pre-set password
hash that is in no list (``credential.hardcoded``); VER-ACC-006 weak hash scheme (``config.insecure``);
VER-ACC-007 unreadable or missing account database, VER-ACC-008 hash not (fully) compared with the list
(``analysis.incomplete``). The report's ``accounts`` section lists every account with its password state
and, for a cracked or plaintext password, a masked hint.

Decisions:
- Login-capable = a real shell (not ``false``/``nologin``/``true``/``sync``/``shutdown``/``halt``/
  ``/dev/null``; an empty shell field means ``/bin/sh``) and a password field that is not locked (``*``,
  ``!``..., or ``x`` without a shadow entry). Web, MQTT and RPC accounts are never "login-capable": their
  findings say which service they open.
- A second UID-0 account is reported whether or not it can log in (high when it can, low otherwise). When
  a file has no ``root``, the first UID-0 account is the superuser and the others are reported.
- Every login-capable account besides the superusers is reported as unexpected (``account.hidden``): a
  product's buyer expects one administrator, not ``bin``/``daemon`` with a shell and a password.
- A copy of an account database (``passwd-``, ``passwd.bak``) only adds findings for accounts that differ
  from the tree's main database; every copy still lists its accounts in the report.
- A plaintext password that is in the knowledge base is ``credential.default``; one that is not is
  ``credential.hardcoded`` when it belongs to an account (a user name next to it), and is left to the
  secrets check otherwise. Empty values in configurations are not reported (unset fields are common).
- Weak hash schemes (DES, MD5-crypt, Apache MD5, unsalted digests) are ``config.insecure`` at low, one
  finding per file and scheme.
- A hash the system's ``crypt()`` cannot verify, or that was tried only against the most prevalent
  candidates (budget), is an ``info`` finding saying so: the result is "not known", not "no default".
- Nothing in tests, demos or documentation of software packages (``tests/``, ``/usr/share/doc``) counts.
- Passwords are never shown: evidence and the report carry a masked hint (``5**``).
"""

from __future__ import annotations

import bisect
import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import ClassVar

from ..findings import Finding, Rule
from ..inventory import Inventory, Item
from ..patterns import Pattern
from ..tree import Tree
from . import credentials_kb as kb_mod
from .base import NotApplicable, nonproduct_item

_EN = "https://www.etsi.org/deliver/etsi_en/303600_303699/303645/02.01.01_60/en_303645v020101p.pdf"
_TS = "https://www.3gpp.org/ftp/Specs/archive/33_series/33.117/"
_CWE521 = "https://cwe.mitre.org/data/definitions/521.html"
_CWE798 = "https://cwe.mitre.org/data/definitions/798.html"
_CWE1393 = "https://cwe.mitre.org/data/definitions/1393.html"
_CWE258 = "https://cwe.mitre.org/data/definitions/258.html"
_CWE916 = "https://cwe.mitre.org/data/definitions/916.html"
_CWE256 = "https://cwe.mitre.org/data/definitions/256.html"
_PASSWD5 = "https://man7.org/linux/man-pages/man5/passwd.5.html"
_SHADOW5 = "https://man7.org/linux/man-pages/man5/shadow.5.html"
_CRYPT5 = "https://man7.org/linux/man-pages/man5/crypt.5.html"
_MIRAI = "https://github.com/jgamblin/Mirai-Source-Code"

SECOND_ROOT = Rule(
    "VER-ACC-001",
    "account.hidden",
    "high",
    "Second superuser account (UID 0 besides root)",
    "An account other than root has user id 0: it has every right root has, under a name the owner does not "
    "look for, and changing root's password does not close it. Vendor maintenance and ISP accounts "
    "(ONTUSER, Admin, support) are typical.",
    ("TS33117:4.2.4.2.2", "TS33117:4.2.3.4.1.2", "TS33117:4.2.3.4.2.2", "GDSI:7"),
    (_PASSWD5, _TS),
)
LOGIN_ACCOUNT = Rule(
    "VER-ACC-002",
    "account.hidden",
    "medium",
    "Login-capable account besides the administrator",
    "A system or service account has a login shell and a password field that is not locked: it can log in "
    "(console, telnet, SSH) although a product's buyer expects only the administrator to. Service accounts "
    "should have a locked password and a nologin shell; any other predefined account should be documented or "
    "removed.",
    ("TS33117:4.2.3.4.2.2", "TS33117:4.2.3.4.1.2", "EN303645:5.6-7"),
    (_PASSWD5, _TS),
)
EMPTY = Rule(
    "VER-ACC-003",
    "credential.empty",
    "high",
    "Account without a password",
    "The account's password field is empty: where the login program accepts it (BusyBox login, many web "
    "servers), anyone can log in as this account without a password.",
    ("TS33117:4.2.3.4.2.1", "EN303645:5.1-1", "TS33117:4.2.3.4.2.3"),
    (_SHADOW5, _CWE258),
)
DEFAULT = Rule(
    "VER-ACC-004",
    "credential.default",
    "critical",
    "Account password is a known default password",
    "The account's password is in public default-credential lists (vendor defaults, the Mirai botnet's table, "
    "SecLists, Metasploit word lists): the hash in the image was verified against it, or the image holds it "
    "in plain text. Every device of the model accepts it until the owner changes it, and botnets try it "
    "first.",
    ("EN303645:5.1-1", "TS33117:4.2.3.4.2.3"),
    (_CWE1393, _CWE798, _MIRAI, _EN),
)
PLAINTEXT = Rule(
    "VER-ACC-005",
    "credential.hardcoded",
    "high",
    "Account password stored in plain text",
    "An account's password is written in plain text in an account or default-configuration file. It is the "
    "same on every device built from the image, and anyone who downloads the firmware can read it.",
    ("TS33117:4.2.3.2.3", "EN303645:5.4-1", "EN303645:5.1-1", "TS33117:4.2.3.4.2.3"),
    (_CWE256, _CWE798, _EN),
)
WEAK_HASH = Rule(
    "VER-ACC-006",
    "config.insecure",
    "low",
    "Passwords hashed with a weak scheme",
    "Passwords are stored with a scheme that current hardware cracks quickly: DES crypt (8 characters at "
    "most), MD5-crypt or Apache MD5 (one fast hash function, 1000 rounds), or an unsalted digest. Current "
    "systems use yescrypt, bcrypt or SHA-512 crypt with many rounds.",
    ("EN303645:5.1-3", "TS33117:4.2.3.2.3"),
    (_CRYPT5, _CWE916),
)
MALFORMED = Rule(
    "VER-ACC-007",
    "analysis.incomplete",
    "low",
    "Account database could not be read completely",
    "An account file has malformed lines, is missing (a link into a folder that only exists at run time) "
    "or refers to a shadow file the image does not hold: some accounts or passwords were not assessed.",
)
NOT_CHECKED = Rule(
    "VER-ACC-008",
    "analysis.incomplete",
    "info",
    "Password hash not fully checked against default passwords",
    "The hash scheme is not supported by this system's crypt(), or the scheme is so slow that only the most "
    "prevalent default passwords fitted in the time budget. The password may still be a default one.",
)
BOOT_ACCOUNTS = Rule(
    "VER-ACC-009",
    "account.hidden",
    "medium",
    "Program creates privileged accounts at boot",
    "A program of the image writes the account database when the device starts, with account entries "
    "compiled into it (a group line that puts several accounts into the root group, or passwd lines). "
    "These accounts exist on every device although no account file of the image lists them.",
    ("TS33117:4.2.3.4.2.2", "TS33117:4.2.4.2.2", "GDSI:7"),
    (_PASSWD5, _TS),
)

PRESET = Rule(
    "VER-ACC-010",
    "credential.hardcoded",
    "medium",
    "Account has a pre-set password (the same on every device)",
    "A login-capable account, or a web or service account, ships with a password hash: every device built "
    "from the image has the same password until its owner changes it, and whoever cracks the hash once can "
    "log in to all of them. The password is not in the default-credential lists (it may still be weak). "
    "Accounts should ship locked, or with a per-device password set at manufacturing or first boot.",
    ("EN303645:5.1-1", "TS33117:4.2.3.4.2.3"),
    (_CWE798, _EN),
)

# -- patterns (one Hyperscan pass over every file; the hits are confirmed here) ----------------------------

_PATTERNS: tuple[Pattern, ...] = (
    # Passwd or shadow lines in scripts and programs: a crypt hash followed by numeric fields, or an empty
    # password with uid 0. Only the end of a match is used (to find its line), so the patterns start late.
    Pattern("VER-ACC-001/entry-hash", rb":\$(?:1|5|6|2[abxy]?|y)\$[./0-9A-Za-z$=,]+:[0-9]*:[0-9]*:"),
    Pattern("VER-ACC-001/entry-des", rb":[./0-9A-Za-z]{13}:[0-9]+:[0-9]*:"),
    Pattern("VER-ACC-001/entry-empty", rb"[A-Za-z0-9_]::0:[0-9]*:"),
    # A group line with gid 0 and several members ("root::0:root,admin,support,user").
    Pattern("VER-ACC-009/group0", rb"[A-Za-z0-9_]:[A-Za-z0-9_.*!\-]*:0:[A-Za-z0-9_.\-]+,[A-Za-z0-9_.,\-]+"),
    # user/password pairs of vendor defaults: http_passwd=admin, <sysPassword value="..."/>
    Pattern(
        "VER-ACC-005/pair",
        rb"(?:passwd|password|passwort|pwd|pass|_pw)[A-Za-z0-9_\]\[]{0,8}[\"']?\s*(?:=|\s+value\s*=)\s*[\"']?[^\s\"'<>;\x00]",
        caseless=True,
        first_only=True,  # whether a file holds one decides; where is not needed (and tracking it costs 5x)
    ),
)

# -- account records ---------------------------------------------------------------------------------------

_NON_LOGIN = frozenset({"false", "nologin", "true", "sync", "shutdown", "halt", "null"})
_LOCKED_PREFIX = ("*", "!")


@dataclass(slots=True)
class Account:
    tree: Tree
    source: str
    """Path of the file that defines the account."""
    line: int | None
    name: str
    kind: str
    """system (passwd/shadow), embedded (a line in a script or program), web, mqtt, rpc, config."""
    uid: int | None = None
    gid: int | None = None
    home: str | None = None
    shell: str | None = None
    field: str = ""
    """The effective password field: empty, a lock marker, a hash or a plaintext password."""
    field_path: str = ""
    field_line: int | None = None
    context: str = "crypt"
    realm: str = ""
    plaintext_allowed: bool = False
    primary: bool = True
    """False for copies of an account database (passwd-, passwd.bak), which add findings only when different."""
    note: str = ""
    groups: tuple[str, ...] = ()
    # computed
    state: str = "locked"
    scheme: str | None = None
    login: bool = False
    password: str | None = None
    result: kb_mod.Result | None = None
    finding: str | None = None

    @property
    def container(self) -> tuple[str, ...]:
        return self.tree.container

    def where(self) -> str:
        return self.field_path or self.source


def _classify(acc: Account, shadow_missing: bool = False) -> None:
    f = acc.field
    if acc.kind in ("system", "embedded"):
        if f == "":
            acc.state = "empty"
        elif f.startswith(_LOCKED_PREFIX) or f == "x" or shadow_missing or f in ("LK", "NP", "*LK*"):
            acc.state = "locked"
        else:
            scheme = kb_mod.identify(f, context="crypt")
            acc.scheme = scheme
            acc.state = f"hash:{scheme}" if scheme else "hash:unknown"
        shell = acc.shell if acc.shell is not None else "/bin/sh"
        base = posixpath.basename(shell.rstrip("/")) if shell else "sh"
        real_shell = shell != "/dev/null" and base not in _NON_LOGIN
        acc.login = real_shell and acc.state != "locked" and acc.state != "hash:unknown"
        return
    if f == "":
        acc.state = "empty"
        return
    if acc.kind == "rpc" and f.startswith("$p$"):
        acc.state = "locked"
        acc.note = f"uses the password of system account {f[3:]!r}"
        return
    if f.startswith(_LOCKED_PREFIX) and acc.kind in ("web", "mqtt", "rpc") and len(f) <= 2:
        acc.state = "locked"
        return
    scheme = "htdigest" if acc.context == "htdigest" else kb_mod.identify(f, context=acc.context)
    if scheme:
        acc.scheme = scheme
        acc.state = f"hash:{scheme}"
    elif acc.plaintext_allowed:
        acc.state = "plaintext"
        acc.password = f
    else:
        acc.state = "hash:unknown"


# -- parsers -----------------------------------------------------------------------------------------------

_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.\-@$]{0,63}"
_PASSWD_RX = re.compile(rf"({_NAME}):([^:]*):(-?\d+):(-?\d+):([^:]*):([^:]*):([^:]*)")
_SHADOW_RX = re.compile(rf"({_NAME}):([^:]*)(?::(\d*)(?::[^:]*){{0,6}})?")
_GROUP_RX = re.compile(rf"({_NAME}):([^:]*):(\d+):([^:]*)")


MAX_ENTRIES = 2000
"""Entries read from one account file; a longer file is reported as partly assessed."""


@dataclass(slots=True)
class Parsed:
    rows: list[tuple[int, tuple[str, ...]]]
    bad: list[int]
    dropped: int = 0
    """Entries beyond MAX_ENTRIES, not read."""

    @property
    def valid(self) -> bool:
        return bool(self.rows) and len(self.rows) >= len(self.bad)


def _parse(text: str, rx: re.Pattern[str]) -> Parsed:
    rows: list[tuple[int, tuple[str, ...]]] = []
    bad: list[int] = []
    dropped = 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#") or line.startswith(("+", "-")):  # NIS +/- lines
            continue
        if len(rows) + len(bad) >= MAX_ENTRIES:
            dropped += 1
            continue
        m = rx.fullmatch(line)
        if m is None:
            bad.append(n)
        else:
            rows.append((n, m.groups()))
    return Parsed(rows, bad, dropped)


def parse_passwd(text: str) -> Parsed:
    return _parse(text, _PASSWD_RX)


def parse_shadow(text: str) -> Parsed:
    return _parse(text, _SHADOW_RX)


def parse_group(text: str) -> Parsed:
    return _parse(text, _GROUP_RX)


_PASSWD_NAME = re.compile(r"^(?:passwd|master\.passwd)(?:$|[-~.])|[._-]passwd$", re.IGNORECASE)
_SHADOW_NAME = re.compile(r"^shadow(?:$|[-~.])|[._-]shadow$", re.IGNORECASE)
_GROUP_NAME = re.compile(r"^group(?:$|[-~.])", re.IGNORECASE)
_HTPASSWD_NAME = re.compile(r"htpasswd|\.htdigest$|^htdigest|^lighttpd\.user$|^lighttpd-htdigest\.user$", re.IGNORECASE)
_MOSQUITTO_FILE = re.compile(r"passw|pwfile|^pwd|\.pw$", re.IGNORECASE)
_BACKUP = re.compile(r"[-~]$|\.(?:bak|old|orig|save|sav|dpkg-\w+|rpm\w+)$", re.IGNORECASE)


def _counterpart(path: str, frm: str, to: str) -> str:
    d, base = posixpath.split(path)
    return posixpath.join(d, base.replace(frm, to).replace(frm.upper(), to.upper()))


# -- the check ---------------------------------------------------------------------------------------------


class AccountsCheck:
    ID: ClassVar[str] = "accounts"
    TITLE: ClassVar[str] = "Accounts, empty and default passwords"
    RULES: ClassVar[tuple[Rule, ...]] = (
        SECOND_ROOT, LOGIN_ACCOUNT, EMPTY, DEFAULT, PLAINTEXT, WEAK_HASH, MALFORMED, NOT_CHECKED, BOOT_ACCOUNTS,
        PRESET,
    )
    PATTERNS: ClassVar[tuple[Pattern, ...]] = _PATTERNS

    @staticmethod
    def warm() -> None:
        """Parse the credential knowledge base now (the scan does, in the background while it unpacks)."""
        kb_mod.load()

    def run(self, inv: Inventory, sections: dict[str, list[dict]]) -> Iterable[Finding]:
        collector = _Collector(inv)
        for tree in inv.trees:
            collector.tree(tree)
        collector.embedded()
        if not collector.accounts and not collector.findings and not collector.looked:
            raise NotApplicable("no account database, web password file or vendor default configuration")
        findings = list(collector.findings)
        findings.extend(_assess(collector.accounts))
        sections["accounts"] = [_row(a) for a in _sorted(collector.accounts)]
        return findings


def _sorted(accounts: list[Account]) -> list[Account]:
    return sorted(accounts, key=lambda a: (a.source, a.container, a.line or 0, a.name))


def _row(a: Account) -> dict:
    state = a.state
    hint = kb_mod.mask(a.password) if a.password is not None and state in ("cracked", "plaintext") else None
    return {
        "name": a.name,
        "uid": a.uid,
        "gid": a.gid,
        "shell": a.shell,
        "home": a.home,
        "password_state": state,
        "source": a.source,
        "container": list(a.container),
        "login": a.login,
        "password_hint": hint,
        "finding": a.finding,
    }


class _Collector:
    """Reads every account source of an inventory into :class:`Account` records."""

    def __init__(self, inv: Inventory):
        self.inv = inv
        self.accounts: list[Account] = []
        self.findings: list[Finding] = []
        self.looked = False
        """Something account-like was there (a dangling /etc/passwd), even if no account could be read."""
        self.db_paths: set[tuple[int, str]] = set()
        self.by_tree: dict[int, list[Item]] = {}
        for item in inv.items:  # one pass: images with a thousand nested trees are common
            self.by_tree.setdefault(id(item.tree), []).append(item)

    # -- per tree ---------------------------------------------------------------------------------------

    def tree(self, tree: Tree) -> None:
        named = [(i, i.node.name) for i in self.by_tree.get(id(tree), ()) if not nonproduct_item(i)]
        items = [i for i, _ in named]
        passwd_items = [i for i, name in named if _PASSWD_NAME.search(name) and not _HTPASSWD_NAME.search(name)]
        shadow_items = {i.node.path: i for i, name in named if _SHADOW_NAME.search(name)}
        group_items = {i.node.path: i for i, name in named if _GROUP_NAME.search(name)}
        main = self.inv.item(tree, "/etc/passwd")
        passwd_items.sort(key=lambda i: (i is not main, _BACKUP.search(i.node.name) is not None, i.node.path))
        groups = self._groups(tree, group_items)
        have_db = False
        used_shadows: set[str] = set()
        for item in passwd_items:
            parsed = parse_passwd(item.facts.text or "")
            if not parsed.valid:
                if item is main:
                    self.looked = True
                    self.findings.append(MALFORMED.finding(
                        path=item.node.path, container=tree.container, key="unreadable",
                        evidence=f"{item.node.path} is not a passwd file ({item.facts.detail or item.facts.kind}, "
                                 f"{len(parsed.bad)} lines that are not passwd entries); its accounts were not assessed",
                    ))
                continue
            have_db = True
            self.db_paths.add((id(tree), item.node.path))
            primary = not _BACKUP.search(item.node.name) and (main is None or item is main)
            shadow = self._shadow_for(tree, item, shadow_items)
            if shadow is not None:
                used_shadows.add(shadow.node.path)
            self._system(tree, item, parsed, shadow, groups, primary)
        for path, item in sorted(shadow_items.items()):
            if path in used_shadows or item.facts.text is None:
                continue
            parsed = parse_shadow(item.facts.text)
            if not parsed.valid:
                continue
            self.db_paths.add((id(tree), path))
            if not have_db:  # a shadow file without its passwd: accounts from it alone
                self._shadow_only(tree, item, parsed)
                have_db = True
        node = tree.get("/etc/passwd")
        if not have_db and node is not None and node.kind == "symlink" and main is None:
            self.looked = True
            self.findings.append(MALFORMED.finding(
                path="/etc/passwd", container=tree.container, key="runtime",
                evidence=f"/etc/passwd is a link to {node.link_target}, which the image does not contain (created "
                         "at boot); no default account file was found in the image, so its accounts and "
                         "passwords were not assessed",
            ))
        for item, name in named:
            if _HTPASSWD_NAME.search(name) and item.facts.text is not None:
                self._htpasswd(tree, item)
            elif name == "httpd.conf" and item.facts.text is not None:
                self._busybox_httpd(tree, item)
            elif name == "mosquitto.conf" and item.facts.text is not None:
                self._mosquitto_conf(tree, item)
        for item, name in named:
            if "/mosquitto/" in item.node.path and _MOSQUITTO_FILE.search(name) and \
                    item.facts.text is not None and (id(tree), item.node.path) not in self.db_paths:
                self.db_paths.add((id(tree), item.node.path))
                self._mosquitto(tree, item)
        rpcd = self.inv.item(tree, "/etc/config/rpcd")
        if rpcd is not None and rpcd.facts.text is not None:
            self._rpcd(tree, rpcd)
        for item in items:
            if item.facts.matched("VER-ACC-005/pair") and _config_candidate(item):
                self._pairs(tree, item)

    def _groups(self, tree: Tree, group_items: dict[str, Item]) -> dict[str, list[str]]:
        """user -> names of the privileged groups (gid 0, wheel, sudo, admin) it belongs to."""
        out: dict[str, list[str]] = defaultdict(list)
        main = self.inv.item(tree, "/etc/group")
        for item in [main] if main is not None else list(group_items.values())[:1]:
            if item is None or item.facts.text is None:
                continue
            parsed = parse_group(item.facts.text)
            for _n, (gname, _pw, gid, members) in parsed.rows:
                if gid == "0" or gname in ("wheel", "sudo", "admin"):
                    for m in filter(None, members.split(",")):
                        out[m.strip()].append(gname)
        return out

    def _shadow_for(self, tree: Tree, passwd: Item, shadows: dict[str, Item]) -> Item | None:
        path = passwd.node.path
        twin = _counterpart(path, "passwd", "shadow")
        if twin in shadows:
            return shadows[twin]
        hit = self.inv.item(tree, twin)
        if hit is not None:
            return hit
        if posixpath.dirname(path) == "/etc":
            return self.inv.item(tree, "/etc/shadow")
        return None

    def _system(self, tree, item: Item, parsed: Parsed, shadow: Item | None, groups, primary: bool) -> None:
        path = item.node.path
        for n in parsed.bad[:20]:
            self.findings.append(MALFORMED.finding(
                path=path, container=tree.container, line=n, key=f"line{n}",
                evidence=f"line {n} is not a passwd entry (name:password:uid:gid:gecos:home:shell)",
            ))
        if len(parsed.bad) > 20 or parsed.dropped:
            self.findings.append(MALFORMED.finding(
                path=path, container=tree.container, key="truncated",
                evidence=f"{len(parsed.bad)} malformed lines; {parsed.dropped} entries beyond the first "
                         f"{MAX_ENTRIES} not assessed",
            ))
        shadow_rows: dict[str, tuple[int, str]] = {}
        if shadow is not None and shadow.facts.text is not None:
            sp = parse_shadow(shadow.facts.text)
            for n, row in sp.rows:
                shadow_rows.setdefault(row[0], (n, row[1]))
            for n in sp.bad[:20]:
                self.findings.append(MALFORMED.finding(
                    path=shadow.node.path, container=tree.container, line=n, key=f"line{n}",
                    evidence=f"line {n} is not a shadow entry (name:password:...)",
                ))
        missing_shadow = False
        for n, (name, pw, uid, gid, _gecos, home, shell) in parsed.rows:
            acc = Account(tree, path, n, name, "system", _int(uid), _int(gid), home or None, shell,
                          field=pw, field_path=path, field_line=n, primary=primary,
                          groups=tuple(groups.get(name, ())))
            shadow_missing = False
            if pw == "x":
                if name in shadow_rows:
                    sn, spw = shadow_rows[name]
                    acc.field, acc.field_path, acc.field_line = spw, shadow.node.path, sn  # type: ignore[union-attr]
                elif shadow is None:
                    shadow_missing = True
                    missing_shadow = True
            _classify(acc, shadow_missing)
            self.accounts.append(acc)
        if missing_shadow and primary:
            self.findings.append(MALFORMED.finding(
                path=path, container=tree.container, key="no-shadow",
                evidence=f"{path} keeps its passwords in a shadow file ('x' fields) that the image does not contain; "
                         "those passwords were not assessed",
            ))

    def _shadow_only(self, tree, item: Item, parsed: Parsed) -> None:
        for n, row in parsed.rows:
            acc = Account(tree, item.node.path, n, row[0], "system", field=row[1], field_path=item.node.path,
                          field_line=n, note="listed in a shadow file without a passwd file")
            acc.shell = None
            _classify(acc)
            self.accounts.append(acc)

    # -- web and service accounts -----------------------------------------------------------------------

    def _numbered(self, tree: Tree, item: Item) -> Iterator[tuple[int, str]]:
        """(line number, line) of a text file, at most MAX_ENTRIES non-empty lines (the rest is reported)."""
        lines = (item.facts.text or "").splitlines()
        taken = 0
        for n, raw in enumerate(lines, 1):
            if raw.strip():
                taken += 1
                if taken > MAX_ENTRIES:
                    self.findings.append(MALFORMED.finding(
                        path=item.node.path, container=tree.container, key="truncated",
                        evidence=f"lines after {n - 1} (beyond {MAX_ENTRIES} entries) not assessed",
                    ))
                    return
            yield n, raw

    def _bad_line(self, tree: Tree, item: Item, n: int, what: str) -> None:
        if sum(1 for f in self.findings if f.path == item.node.path and f.rule == MALFORMED.id) < 20:
            self.findings.append(MALFORMED.finding(
                path=item.node.path, container=tree.container, line=n, key=f"line{n}",
                evidence=f"line {n} is not {what}"))

    def _htpasswd(self, tree, item: Item) -> None:
        path = item.node.path
        name = item.node.name.lower()
        digest = "htdigest" in name
        plain = name.endswith(".user")  # lighttpd's plain file
        for n, raw in self._numbered(tree, item):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(":")
            if digest and len(parts) == 3:
                acc = Account(tree, path, n, parts[0], "web", field=parts[2], field_path=path, field_line=n,
                              context="htdigest", realm=parts[1])
            elif len(parts) >= 2 and parts[0]:
                acc = Account(tree, path, n, parts[0], "web", field=":".join(parts[1:]) if plain else parts[1],
                              field_path=path, field_line=n, context="web", plaintext_allowed=True)
            else:
                self._bad_line(tree, item, n, "a user:password entry")
                continue
            _classify(acc)
            self.accounts.append(acc)
        self.db_paths.add((id(tree), path))

    def _busybox_httpd(self, tree, item: Item) -> None:
        # BusyBox httpd: "/path:user:password" protects /path with Basic auth (password plain or $1$).
        path = item.node.path
        for n, raw in self._numbered(tree, item):
            line = raw.strip()
            if not line.startswith("/") or line.count(":") < 2:
                continue
            _prefix, user, pw = line.split(":", 2)
            if not user or " " in user:
                continue
            acc = Account(tree, path, n, user, "web", field=pw, field_path=path, field_line=n,
                          context="web", plaintext_allowed=True, note=f"protects {_prefix}")
            _classify(acc)
            self.accounts.append(acc)

    def _mosquitto_conf(self, tree, item: Item) -> None:
        for raw in item.facts.text.splitlines():  # type: ignore[union-attr]
            parts = raw.split()
            if len(parts) == 2 and parts[0] == "password_file":
                target = parts[1] if parts[1].startswith("/") else posixpath.join(posixpath.dirname(item.node.path), parts[1])
                pw_item = self.inv.item(tree, posixpath.normpath(target))
                if pw_item is not None and pw_item.facts.text is not None and (id(tree), pw_item.node.path) not in self.db_paths:
                    self.db_paths.add((id(tree), pw_item.node.path))
                    self._mosquitto(tree, pw_item)

    def _mosquitto(self, tree, item: Item) -> None:
        path = item.node.path
        for n, raw in self._numbered(tree, item):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, pw = line.partition(":")
            if not sep or not user:
                self._bad_line(tree, item, n, "a user:password entry")
                continue
            acc = Account(tree, path, n, user, "mqtt", field=pw, field_path=path, field_line=n,
                          context="mosquitto", plaintext_allowed=True)
            _classify(acc)
            self.accounts.append(acc)

    def _rpcd(self, tree, item: Item) -> None:
        path = item.node.path
        user: tuple[int, str] | None = None
        in_login = False
        for n, raw in self._numbered(tree, item):
            words = _uci_words(raw)
            if not words:
                continue
            if words[0] == "config":
                in_login = len(words) > 1 and words[1] == "login"
                user = None
            elif in_login and words[0] == "option" and len(words) >= 3:
                if words[1] == "username":
                    user = (n, words[2])
                elif words[1] == "password":
                    name = user[1] if user else "(unnamed)"
                    acc = Account(tree, path, n, name, "rpc", field=words[2], field_path=path, field_line=n,
                                  context="web", plaintext_allowed=True)
                    _classify(acc)
                    self.accounts.append(acc)
        self.db_paths.add((id(tree), path))

    # -- vendor default configurations --------------------------------------------------------------------

    def _pairs(self, tree, item: Item) -> None:
        path = item.node.path
        if (id(tree), path) in self.db_paths:
            return
        lines: list[tuple[int | None, str]]
        if item.facts.text is not None:
            lines = list(self._numbered(tree, item))
        else:
            lines = [(None, s) for _o, s in self.inv.strings(item)[: MAX_ENTRIES * 4]]
        pairs: list[tuple[int | None, str, str]] = []
        for n, line in lines:
            for key, value in _assignments(line):
                pairs.append((n, key, value))
        if any(_DIALUP_KEY.match(k) for _n, k, _v in pairs):
            return  # a mobile carrier's dial-up profile: public carrier data, not an account of the device
        users = [(i, k, v) for i, (n, k, v) in enumerate(pairs) if _USER_KEY.search(k)]
        for i, (n, key, value) in enumerate(pairs):
            if not _PASS_KEY.search(key) or _other_service(key):
                continue
            value = value.strip()
            if not _plausible(value, key):
                continue
            prefix = _PASS_KEY.sub("", key)
            user = _pair_user(prefix, i, users)
            acc = Account(tree, path, n, user or key, "config", field=value, field_path=path, field_line=n,
                          context="web", plaintext_allowed=True, note="" if user is not None else f"value of {key}")
            _classify(acc)
            if acc.state == "plaintext" and user is None and kb_mod.load().lookup(value) is None:
                continue  # an unnamed, unknown password: the secrets check's concern
            self.accounts.append(acc)

    # -- accounts written by programs and scripts ---------------------------------------------------------

    def embedded(self) -> None:
        for item in self.inv.items:
            entry_hits = item.facts.matched("VER-ACC-001/entry")
            group_hits = item.facts.matched("VER-ACC-009/group0")
            if not entry_hits and not group_hits:
                continue
            if nonproduct_item(item) or (id(item.tree), item.node.path) in self.db_paths:
                continue
            name = item.node.name
            if _PASSWD_NAME.search(name) or _SHADOW_NAME.search(name) or _GROUP_NAME.search(name):
                continue
            if entry_hits:
                self._entries(item, entry_hits)
            if group_hits:
                self._group0(item, group_hits)

    def _lines_at(self, item: Item, hits: list[tuple[str, int, int]]) -> list[tuple[int | None, int, str]]:
        """(line number, offset, text) of the lines or strings holding each hit, once each."""
        out: dict[int, tuple[int | None, int, str]] = {}
        if item.facts.text is not None:
            data = item.facts.text.encode("utf-8", "surrogateescape")
            for _pid, _start, end in hits:
                at = max(end - 1, 0)  # the end is inside the line; a pattern may start on the newline before it
                a = data.rfind(b"\n", 0, at) + 1
                b = data.find(b"\n", at)
                b = len(data) if b < 0 else b
                if a not in out:
                    out[a] = (data.count(b"\n", 0, a) + 1, a, data[a:b].decode("utf-8", "surrogateescape"))
        else:
            strings = self.inv.strings(item)
            offsets = [o for o, _s in strings]
            for _pid, _start, end in hits:
                at = max(end - 1, 0)
                k = bisect.bisect_right(offsets, at) - 1
                if k >= 0 and offsets[k] <= at < offsets[k] + len(strings[k][1]):
                    o, s = strings[k]
                    out.setdefault(o, (None, o, s))
        return [out[k] for k in sorted(out)]

    def _entries(self, item: Item, hits) -> None:
        tree = item.tree
        path = item.node.path
        seen: set[tuple[str, str]] = set()
        for n, offset, text in self._lines_at(item, hits):
            for m in _EMBEDDED_PASSWD.finditer(text):
                name, pw, uid, gid, home, shell = m.group("name", "pw", "uid", "gid", "home", "shell")
                if (name, pw) in seen or (pw in ("", "x", "*") and uid != "0"):
                    continue
                seen.add((name, pw))
                acc = Account(tree, path, n, name, "embedded", _int(uid), _int(gid), home or None, shell,
                              field=pw, field_path=path, field_line=n,
                              note="in a passwd line written by this file" + ("" if n else f" (offset {offset})"))
                _classify(acc)
                if acc.state in ("locked", "hash:unknown"):
                    continue
                self.accounts.append(acc)
            for m in _EMBEDDED_SHADOW.finditer(text):
                name, pw = m.group("name", "pw")
                if (name, pw) in seen or not pw or kb_mod.identify(pw) is None:
                    continue
                seen.add((name, pw))
                acc = Account(tree, path, n, name, "embedded", field=pw, field_path=path, field_line=n,
                              note="in a shadow line written by this file" + ("" if n else f" (offset {offset})"))
                acc.shell = None
                _classify(acc)
                self.accounts.append(acc)

    def _group0(self, item: Item, hits) -> None:
        if item.facts.kind not in ("elf", "data", "script", "text"):
            return
        if item.facts.text is None:
            refs = {s for _o, s in self.inv.strings(item) if s in ("/etc/passwd", "/var/passwd", "/etc/group", "/var/group")}
            if not refs:
                return
        for n, offset, text in self._lines_at(item, hits):
            m = _GROUP0.search(text)
            if m is None:
                continue
            members = [x for x in m.group("members").split(",") if x and x != "root"]
            if not members:
                continue
            self.findings.append(BOOT_ACCOUNTS.finding(
                path=item.node.path, container=item.tree.container, line=n, offset=None if n else offset,
                key=f"group0:{m.group('group')}:{','.join(members)}",
                evidence=f"group entry {m.group(0)!r} written at boot: accounts {', '.join(members)} are members "
                         f"of group {m.group('group')} (gid 0); their passwords are not in the image",
            ))


_EMBEDDED_PASSWD = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]{0,31}):(?P<pw>[^:\s\"']*):(?P<uid>\d{1,10}):"
    r"(?P<gid>\d{1,10}):(?P<gecos>[^:\n\"']*):(?P<home>/[^:\s\"']*|):(?P<shell>[^:\s\"';)\\]*)"
)
_EMBEDDED_SHADOW = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]{0,31}):(?P<pw>\$[^:\s\"']+|[./0-9A-Za-z]{13}):"
    r"\d{0,6}:\d{0,6}:\d{0,6}:"
)
_GROUP0 = re.compile(r"(?P<group>[A-Za-z0-9_\-]{1,32}):[^:\x00\n]{0,16}:0:(?P<members>[A-Za-z0-9_.\-]+(?:,[A-Za-z0-9_.\-]+)+)")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _uci_words(line: str) -> list[str]:
    out = []
    for m in re.finditer(r"'([^']*)'|\"([^\"]*)\"|(\S+)", line.split("#", 1)[0] if not line.strip().startswith("#") else ""):
        out.append(next(g for g in m.groups() if g is not None))
    return out


# -- vendor configuration pairs ------------------------------------------------------------------------------

_CONFIG_NAME = re.compile(
    r"nvram|default|factory|\.(?:cfg|conf|ini|dat|xml|config|txt|cnf|env)$|^config$|^[^.]+$", re.IGNORECASE
)
_NOT_CONFIG = re.compile(r"\.(?:html?|js|css|asp|php|lua|py|pl|rb|c|h|sh|md|rst|json|pem|crt|key)$", re.IGNORECASE)
_PASS_KEY = re.compile(r"(?:passwd|password|passwort|pwd|passphrase|(?:^|[_.\-])(?:pass|pw))(?:\[\d+\])?$", re.IGNORECASE)
_USER_KEY = re.compile(r"(?:user|username|usr|user_?name|login|login_?name|account|uname)(?:\[\d+\])?$", re.IGNORECASE)
_OTHER_SERVICE = frozenset({
    # credentials of other things than the device's own accounts (the secrets check's concern), and
    # password policy settings
    "wpa", "wpa2", "psk", "wep", "wifi", "wlan", "ssid", "radius", "ppp", "pppoe", "wan", "l2tp", "pptp",
    "ddns", "dyndns", "smtp", "mail", "email", "snmp", "vpn", "ipsec", "tr069", "acs", "cwmp", "sip", "voip",
    "proxy", "sql", "mysql", "db", "ldap", "ntp", "wps", "pin", "key", "ploam", "gpon", "cert", "ssl", "tls",
    "min", "max", "len", "length", "file", "enc", "type", "policy", "hint", "expire", "change", "retry",
    "timeout", "old", "new", "confirm", "salt", "mode", "enable", "enabled", "encode", "encoded", "encrypt",
    "encrypted", "encryption", "crypt", "show", "hide", "need", "refresh", "auth", "level", "strength",
})
_FLAGS = frozenset({"enable", "disable", "enabled", "disabled", "on", "off", "yes", "no", "0", "1", "-1"})
_WIFI_IFACE = re.compile(r"^(?:wl|ath|wlan|ra|rai|apcli)\d+$")


def _other_service(key: str) -> bool:
    tokens = [t.lower() for t in re.split(r"[_.\-\[\]:/]+|(?<=[a-z])(?=[A-Z])", key) if t]
    return any(t in _OTHER_SERVICE or _WIFI_IFACE.match(t) for t in tokens)


_DIALUP_KEY = re.compile(r"^(?:apn|dial_?num(?:ber)?|dialstring|init_?string)$", re.IGNORECASE)
_ASSIGN = re.compile(r"^\s*(?:export\s+|set\s+)?([A-Za-z_][A-Za-z0-9_.\-\[\]]{0,63})\s*=\s*(.*)$")
_UCI_OPTION = re.compile(r"^\s*option\s+([A-Za-z_][A-Za-z0-9_]*)\s+(?:'([^']*)'|\"([^\"]*)\"|(\S+))")
_XML_VALUE = re.compile(r"<([A-Za-z_][A-Za-z0-9_.\-]*)\s+value\s*=\s*\"([^\"]*)\"")
_XML_TEXT = re.compile(r"<([A-Za-z_][A-Za-z0-9_.\-]*)>([^<]*)</\1>")
_XML_ATTR = re.compile(r"\b([A-Za-z_][A-Za-z0-9_.\-]*)\s*=\s*\"([^\"]*)\"")


def _config_candidate(item: Item) -> bool:
    name = item.node.name
    if item.facts.kind not in ("text", "data", "script") or _NOT_CONFIG.search(name):
        return False
    if item.facts.kind == "script":
        return False
    return bool(_CONFIG_NAME.search(name))


def _assignments(line: str) -> Iterator[tuple[str, str]]:
    m = _ASSIGN.match(line)
    if m:
        value = m.group(2).strip()
        if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].strip()
        yield m.group(1), value
        return
    m = _UCI_OPTION.match(line)
    if m:
        yield m.group(1), next(g for g in m.groups()[1:] if g is not None)
        return
    if "<" in line:
        yielded = False
        for m in _XML_VALUE.finditer(line):
            yielded = True
            yield m.group(1), m.group(2)
        for m in _XML_TEXT.finditer(line):
            yielded = True
            yield m.group(1), m.group(2)
        if not yielded:
            for m in _XML_ATTR.finditer(line):
                yield m.group(1), m.group(2)


_VARIABLE = re.compile(r"^\$\{?\w+\}?$|%[sd]|\$\(|`|\{\{|^<.*>$|^\*+$|^x{3,}$", re.IGNORECASE)


def _plausible(value: str, key: str) -> bool:
    if not value or len(value) > 128 or " " in value or value.lower() in (key.lower(), "none", "null", "true", "false") \
            or value.lower() in _FLAGS:
        return False
    return not (value.startswith("/") or "://" in value or _VARIABLE.search(value))


def _pair_user(prefix: str, index: int, users: list[tuple[int, str, str]]) -> str | None:
    """The user name paired with a password key: the user key with the same prefix (``http_passwd`` ->
    ``http_username``, ``sysPassword`` -> ``sysUserName``), the nearest one before it for a bare key."""
    p = prefix.lower().rstrip("_.-")
    best: tuple[int, str] | None = None
    for i, key, value in users:
        k = _USER_KEY.sub("", key).lower().rstrip("_.-")
        if k == p and value.strip() and _plausible(value.strip(), key):
            dist = abs(i - index)
            if best is None or dist < best[0]:
                best = (dist, value.strip())
    return best[1] if best else None


# -- assessment ----------------------------------------------------------------------------------------------


def _assess(accounts: list[Account]) -> list[Finding]:
    kb = kb_mod.load()
    _crack(accounts, kb)
    out: list[Finding] = []
    seen_hidden: dict[tuple[int, str, int | None, bool], Finding | None] = {}
    seen_cred: dict[tuple[int, str, str], Finding | None] = {}
    weak: dict[tuple[int, str, str], list[Account]] = defaultdict(list)
    # Superusers per account file: root, or the first UID-0 entry when there is no root.
    supers: dict[tuple[int, str], str] = {}
    for acc in accounts:
        if acc.kind == "system" and acc.uid == 0:
            key = (id(acc.tree), acc.source)
            if (acc.name == "root" or key not in supers) and supers.get(key) != "root":
                supers[key] = acc.name
    ordered = sorted(accounts, key=lambda a: (not a.primary, a.source, a.container, a.line or 0))
    for acc in ordered:
        tid = id(acc.tree)
        # credentials
        cred_key = (tid, acc.name, acc.field)
        if cred_key in seen_cred:
            f = seen_cred[cred_key]
            acc.finding = f.fingerprint if f is not None else None
        else:
            f = _credential(acc, kb)
            seen_cred[cred_key] = f
            if f is not None:
                acc.finding = f.fingerprint
                out.append(f)
            nc = _not_checked(acc)
            if nc is not None:
                out.append(nc)
            if acc.scheme in kb_mod.WEAK_SCHEMES and (acc.login or acc.kind not in ("system", "embedded")):
                weak[(tid, acc.where(), acc.scheme)].append(acc)
        # hidden accounts (system accounts only)
        if acc.kind not in ("system", "embedded"):
            continue
        hkey = (tid, acc.name, acc.uid, acc.login)
        if hkey in seen_hidden:
            continue
        seen_hidden[hkey] = None
        superuser = supers.get((tid, acc.source), "root")
        if acc.uid == 0 and acc.name != superuser:
            out.append(SECOND_ROOT.finding(
                path=acc.source, container=acc.container, line=acc.line, key=acc.name,
                severity=None if acc.login else "low",
                evidence=f"account {acc.name!r} has uid 0 like {superuser!r}; " + _describe(acc),
            ))
        elif acc.login and acc.uid is not None and acc.uid != 0 and acc.kind == "system":
            out.append(LOGIN_ACCOUNT.finding(
                path=acc.source, container=acc.container, line=acc.line, key=acc.name,
                evidence=f"account {acc.name!r} can log in: " + _describe(acc),
            ))
    for (_tid, where, scheme), accs in sorted(weak.items(), key=lambda kv: (kv[0][1], kv[0][2])):
        first = accs[0]
        names = sorted({a.name for a in accs})
        out.append(WEAK_HASH.finding(
            path=where, container=first.container, line=first.field_line, key=scheme,
            evidence=f"{scheme} hashes for {', '.join(repr(n) for n in names[:8])}"
                     + (f" and {len(names) - 8} more" if len(names) > 8 else ""),
        ))
    return out


def _describe(acc: Account, password: bool = True) -> str:
    parts = [f"uid {acc.uid}" if acc.uid is not None else "uid unknown"]
    if acc.gid is not None:
        parts.append(f"gid {acc.gid}" + (" (root group)" if acc.gid == 0 else ""))
    if acc.groups:
        parts.append("member of " + ", ".join(sorted(set(acc.groups))))
    parts.append(f"shell {acc.shell or '/bin/sh (empty field)'}")
    if password:
        state = acc.state
        if state == "cracked":
            state = f"known default password {kb_mod.mask(acc.password or '')}"
        elif state == "plaintext":
            state = f"plaintext password {kb_mod.mask(acc.password or '')}"
        parts.append(f"password {state}")
    return ", ".join(parts)


def _service(acc: Account) -> str:
    return {
        "web": "web login", "mqtt": "MQTT broker login", "rpc": "OpenWrt ubus/rpcd login",
        "config": "login from the vendor's default configuration",
    }.get(acc.kind, "system login")


def _credential(acc: Account, kb: kb_mod.KnowledgeBase) -> Finding | None:
    where = acc.where()
    system = acc.kind in ("system", "embedded")
    label = f"account {acc.name!r} ({_describe(acc, password=False) if system else _service(acc)})"
    if acc.note:
        label += f" {acc.note}"
    if acc.state == "empty":
        if system and not acc.login:
            return None
        severity = "critical" if acc.uid == 0 else None
        return EMPTY.finding(
            path=where, container=acc.container, line=acc.field_line, key=acc.name, severity=severity,
            evidence=f"{label}: empty password field",
        )
    if acc.state == "cracked" and acc.password is not None and acc.result is not None:
        known = kb.lookup(acc.password)
        origin = _origin(acc, known)
        r = acc.result
        return DEFAULT.finding(
            path=where, container=acc.container, line=acc.field_line, key=acc.name,
            severity=_default_severity(acc),
            evidence=f"{label}: {acc.scheme} hash matches {origin}; found at candidate {r.tried} "
                     f"({r.planned} of {r.available} candidates in budget)",
        )
    if acc.state == "plaintext" and acc.password is not None:
        known = kb.lookup(acc.password)
        if known is not None or acc.password == acc.name:
            return DEFAULT.finding(
                path=where, container=acc.container, line=acc.field_line, key=acc.name,
                severity=_default_severity(acc),
                evidence=f"{label}: plaintext password is {_origin(acc, known)}",
            )
        return PLAINTEXT.finding(
            path=where, container=acc.container, line=acc.field_line, key=acc.name,
            evidence=f"{label}: plaintext password {kb_mod.mask(acc.password)}",
        )
    if acc.state.startswith("hash:") and acc.state != "hash:unknown" and (acc.login or not system):
        r = acc.result
        tried = f"{r.planned} default-password candidates tried" if r is not None and r.supported else \
            "not compared with default passwords"
        return PRESET.finding(
            path=where, container=acc.container, line=acc.field_line, key=acc.name,
            evidence=f"{label}: pre-set {acc.scheme} password hash ({tried}, no match)",
        )
    return None


def _origin(acc: Account, known: kb_mod.Known | None) -> str:
    hint = kb_mod.mask(acc.password or "")
    if known is None:
        return f"the account's own name {hint}"
    lists = ", ".join(known.sources[:6]) + (" ..." if len(known.sources) > 6 else "")
    paired = "listed for this user name; " if acc.name.lower() in {u.lower() for u in known.users} else ""
    return f"the known default password {hint} ({paired}{known.prevalence} records in public lists: {lists})"


def _default_severity(acc: Account) -> str | None:
    if acc.kind in ("system", "embedded"):
        return None if acc.login else "medium"
    return "high"


def _not_checked(acc: Account) -> Finding | None:
    if acc.scheme is None or not acc.state.startswith("hash:"):
        return None
    r = acc.result
    if r is not None and r.supported and not r.limited:
        return None
    if r is None or not r.supported:
        why = r.skipped if r is not None and r.skipped else "hashes of this scheme cannot be verified on this system"
        evidence = f"account {acc.name!r}: {acc.scheme} hash not compared with default passwords ({why})"
    else:
        evidence = (f"account {acc.name!r}: {acc.scheme} hash; only the {r.planned} most likely of {r.available} "
                    "candidates fitted in the time budget, none matched")
    return NOT_CHECKED.finding(path=acc.where(), container=acc.container, line=acc.field_line, key=acc.name,
                               evidence=evidence)


def _crack(accounts: list[Account], kb: kb_mod.KnowledgeBase) -> None:
    """Try the knowledge base against every hash, once per distinct hash."""
    targets = [a for a in accounts if a.scheme is not None and a.state.startswith("hash:")]
    by_field: dict[tuple[str, str, str], list[Account]] = {}
    for acc in targets:
        by_field.setdefault((acc.field, acc.realm, acc.name if acc.scheme == "htdigest" else ""), []).append(acc)
    keys = sorted(by_field, key=lambda k: k)
    jobs: list[kb_mod.Job] = []
    job_keys: list[tuple[str, str, str]] = []
    unsupported: list[tuple[str, str, str]] = []
    for key in keys:
        accs = by_field[key]
        scheme = accs[0].scheme or ""
        if not kb_mod.supported(scheme) or len(jobs) >= kb_mod.MAX_HASHES:
            unsupported.append(key)
            continue
        names = tuple(dict.fromkeys(a.name for a in accs))
        cands = kb.candidates(names)
        jobs.append(kb_mod.Job(scheme, key[0], cands, len(cands), user=accs[0].name, realm=accs[0].realm))
        job_keys.append(key)
    limits = kb_mod.plan([(j.scheme, j.field, len(j.candidates)) for j in jobs])
    jobs = [kb_mod.Job(j.scheme, j.field, j.candidates, n, j.user, j.realm) for j, n in zip(jobs, limits, strict=True)]
    results = kb_mod.crack(jobs)
    for key, job, (password, tried) in zip(job_keys, jobs, results, strict=True):
        res = kb_mod.Result(job.scheme, True, password, tried, job.limit, len(job.candidates))
        for acc in by_field[key]:
            acc.result = res
            if password is not None:
                acc.state = "cracked"
                acc.password = password
    for key in unsupported:
        for acc in by_field[key]:
            why = "hashes of this scheme cannot be verified on this system" if not kb_mod.supported(acc.scheme or "") \
                else f"more than {kb_mod.MAX_HASHES} distinct hashes in the image; the first ones were tried"
            acc.result = kb_mod.Result(acc.scheme or "", False, None, 0, 0, len(kb), why)
