"""Known backdoors and implants: every indicator of the shared backdoor catalogue, compiled into rules.

The catalogue (``knowledge/backdoor_catalogue.json``: D-Link's ``xmlset_roodkcableoj28840ybtide``,
Sercomm's port 32764, the xz-utils liblzma code, Mirai's credential table, SolarWinds SUNBURST, ...) is
compiled by ``tools/build_backdoor_rules.py`` into ``data/backdoor_rules.json``, which records for every
indicator whether one match is enough (``alone``), whether it only counts next to another indicator of
the same entry in the same file (``corroborating``: a port number, a legitimate file name), or why it is
not used. This check applies those rules:

- strings and byte patterns are Hyperscan patterns of the inventory's one pass over every file (escaped
  literals, ``??`` wildcards); a few are limited to ELF programs or to text files;
- file hashes are compared with each file's SHA-256; file paths with every tree's paths;
- credential pairs are verified against the image's own ``/etc/shadow`` and ``/etc/passwd`` hashes with
  ``crypt`` (the ``accounts`` section never exposes more than a masked hint, so the hashes are read here),
  and against the other account files an earlier accounts check listed as sources (``/etc_ro/passwd``,
  ``passwd-``, htpasswd files); a backdoor-only account name (``zyfwp``, ``mateidu``) is enough by itself;
- package versions are compared with the ``components`` section when an earlier check filled it, else
  with npm ``package.json`` and Python ``METADATA``/``PKG-INFO`` manifests (components without a manifest
  are then not assessed, which one ``info`` finding says);
- SSH key fingerprints of the catalogue are reported by the ``keys`` check (VER-KEY-006, with the
  ``backdoor_id``), not twice here.

Every finding is ``backdoor.known`` with ``backdoor_id`` = the catalogue id, the entry's sources as
references and a severity from the entry's confidence (high -> critical, medium -> high). One finding per
entry and file (or account): its evidence lists the indicators that matched. Secrets are masked.
"""

from __future__ import annotations

import json
import posixpath
import re
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import ClassVar

from ..findings import Finding, Rule
from ..inventory import Inventory, Item
from ..patterns import Pattern
from ..tree import Tree

_STANDARDS = ("GDSI:7", "EN303645:5.4-3")
_CRED_STANDARDS = ("GDSI:7", "EN303645:5.1-1", "EN303645:5.4-3", "TS33117:4.2.3.4.2.3")

CONTENT = Rule(
    "VER-BKD-001",
    "backdoor.known",
    "critical",
    "Known backdoor indicator in a file",
    "A file contains a string or byte sequence of a documented backdoor or implant (magic user agent, "
    "hidden debug page, hard-coded backdoor secret, implant code). Strings that mean nothing alone (port "
    "numbers, legitimate file names) are only reported next to another indicator of the same backdoor.",
    _STANDARDS,
)
HASH = Rule(
    "VER-BKD-002",
    "backdoor.known",
    "critical",
    "File identical to a known backdoor sample",
    "The file's SHA-256 equals a published sample of a backdoored build or an implant dropper.",
    _STANDARDS,
)
PATH = Rule(
    "VER-BKD-003",
    "backdoor.known",
    "critical",
    "File of a known backdoor present",
    "The image contains a file whose name is an indicator of a documented backdoor (the hidden enabler "
    "daemon, the file that switches a developer shell on, an implant's start-up hook).",
    _STANDARDS,
)
CREDENTIAL = Rule(
    "VER-BKD-004",
    "backdoor.known",
    "critical",
    "Account password is a known backdoor or botnet credential",
    "The password of an account of the image (verified against its own crypt hash) is a documented "
    "backdoor credential or an entry of a botnet's credential list (Mirai, Gafgyt): the device is open to "
    "whoever knows the list.",
    _CRED_STANDARDS,
)
ACCOUNT = Rule(
    "VER-BKD-005",
    "backdoor.known",
    "critical",
    "Account of a known backdoor present",
    "The image defines an account that exists only as a documented backdoor (e.g. ZyXEL's zyfwp).",
    ("GDSI:7", "TS33117:4.2.3.4.2.2"),
)
PACKAGE = Rule(
    "VER-BKD-007",
    "backdoor.known",
    "critical",
    "Known backdoored package version",
    "A component in the image is a release that was published with a backdoor (a hijacked npm release, a "
    "typosquatted PyPI package, the xz-utils 5.6.0/5.6.1 releases).",
    ("GDSI:7", "TS33117:4.3.2.5"),
)
NOT_ASSESSED = Rule(
    "VER-BKD-008",
    "analysis.incomplete",
    "info",
    "Known-backdoor package versions not assessed",
    "Some catalogue indicators are package versions of components that have no manifest (xz-utils, "
    "RomPager). Without a component inventory (the components section) they could not be compared.",
)
UNPARSED = Rule(
    "VER-BKD-009",
    "analysis.incomplete",
    "low",
    "Account hash could not be checked against known backdoor credentials",
    "An account's password hash uses a scheme this system's crypt() cannot compute, so it could not be "
    "compared with the catalogue's backdoor credentials.",
)

_SEVERITY = {"high": "critical", "medium": "high", "low": "medium"}
_SECRET_TYPES = ("password", "credential-pair")


# -- the compiled catalogue ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Indicator:
    entry: str
    index: int
    type: str
    value: str
    use: str
    scope: str = "any"
    content: dict | None = None
    path: dict | None = None
    sha256: str | None = None
    account: dict | None = None
    package: dict | None = None

    @property
    def group(self) -> str | None:
        return self.use.split(":", 1)[1] if self.use.startswith("group:") else None

    @property
    def is_port(self) -> bool:
        return self.type in ("tcp-port", "udp-port")

    def shown(self) -> str:
        """The indicator as evidence: secrets masked."""
        if self.type in _SECRET_TYPES:
            return f"{self.type} {_mask(self.value)}"
        value = self.value if len(self.value) <= 60 else self.value[:57] + "..."
        return f"{self.type} {value!r}"


@dataclass(slots=True)
class Entry:
    id: str
    vendor: str
    product: str
    severity: str
    sources: tuple[str, ...]
    cve: str | None
    indicators: list[Indicator] = field(default_factory=list)

    @property
    def title(self) -> str:
        what = f" ({self.cve})" if self.cve else ""
        return f"Known backdoor {self.id}{what}: {self.vendor}"


@cache
def catalogue() -> dict[str, Entry]:
    raw = json.loads(resources.files("veracity").joinpath("data/backdoor_rules.json").read_text())
    out: dict[str, Entry] = {}
    for e in raw["entries"]:
        entry = Entry(e["id"], e["vendor"], e["product"], e["severity"], tuple(e["sources"]), e.get("cve"))
        for n, ind in enumerate(e["indicators"]):
            match = ind.get("match") or {}
            content = match.get("content")
            if content and ind.get("encodings"):
                content = {**content, "encodings": ind["encodings"]}
            entry.indicators.append(
                Indicator(
                    entry=e["id"], index=n, type=ind["type"], value=ind["value"], use=ind["use"],
                    scope=ind.get("scope", "any"), content=content, path=match.get("path"),
                    sha256=match.get("sha256"), account=match.get("account"), package=match.get("package"),
                )
            )
        out[entry.id] = entry
    return out


def _active(ind: Indicator) -> bool:
    return ind.use not in ("skip", "delegated")


def _hex_regex(hx: str) -> bytes:
    return b"".join(b"." if t == "??" else b"\\x" + t.encode() for t in hx.split())


def _literal_regex(data: bytes) -> bytes:
    return b"".join(b"\\x%02x" % c for c in data)


def _patterns() -> tuple[Pattern, ...]:
    out = []
    for entry in catalogue().values():
        for ind in entry.indicators:
            c = ind.content
            if not c or not _active(ind):
                continue
            pid = f"VER-BKD-001/{entry.id}/{ind.index}"
            caseless = bool(c.get("caseless"))
            if "hex" in c:
                out.append(Pattern(pid, _hex_regex(c["hex"])))
            elif "regex" in c:
                out.append(Pattern(pid, c["regex"].encode()))
            else:
                lit = c["literal"]
                out.append(Pattern(pid, _literal_regex(lit.encode()), caseless=caseless))
                if "utf-16le" in c.get("encodings", ()):
                    out.append(Pattern(pid + "/u16", _literal_regex(lit.encode("utf-16-le")), caseless=caseless))
    return tuple(out)


def _mask(secret: str) -> str:
    user, sep, password = secret.partition(":")
    if sep and user and " " not in user:
        return f"{user}:{_mask(password)}"
    if not secret:
        return "(empty)"
    return secret[0] + "*" * min(len(secret) - 1, 8)


# -- the check ------------------------------------------------------------------------------------------


class BackdoorsCheck:
    """Documented backdoors and implants, from the shared catalogue (see the module docstring)."""

    ID: ClassVar[str] = "backdoors"
    TITLE: ClassVar[str] = "Known backdoors and implants"
    RULES: ClassVar[tuple[Rule, ...]] = (CONTENT, HASH, PATH, CREDENTIAL, ACCOUNT, PACKAGE, NOT_ASSESSED, UNPARSED)
    PATTERNS: ClassVar[tuple[Pattern, ...]] = _patterns()

    def run(self, inv: Inventory, sections: dict[str, list[dict]]) -> Iterable[Finding]:
        findings: list[Finding] = []
        findings.extend(self._files(inv))
        findings.extend(self._accounts(inv, sections))
        findings.extend(self._packages(inv, sections))
        return findings

    # -- content, paths and hashes ------------------------------------------------------------------

    def _files(self, inv: Inventory) -> Iterator[Finding]:
        cat = catalogue()
        by_basename: dict[str, list[Indicator]] = defaultdict(list)
        by_suffix: list[tuple[str, Indicator]] = []
        by_hash: dict[str, list[Indicator]] = defaultdict(list)
        for entry in cat.values():
            for ind in entry.indicators:
                if not _active(ind):
                    continue
                if ind.path:
                    if "basename" in ind.path:
                        by_basename[ind.path["basename"]].append(ind)
                    else:
                        by_suffix.append(("/" + ind.path["suffix"].lstrip("/"), ind))
                if ind.sha256:
                    by_hash[ind.sha256].append(ind)

        # (tree id, path) -> entry id -> {indicator index: offset or None}
        # (tree id, path) -> entry id -> {indicator index: offsets of its matches ([] for a path indicator)}
        hits: dict[tuple[int, str], dict[str, dict[int, list[int]]]] = defaultdict(lambda: defaultdict(dict))
        where: dict[tuple[int, str], tuple[Tree, Item | None]] = {}
        items = {(id(i.tree), i.node.path): i for i in inv.items}
        suffixes = tuple(suffix for suffix, _ind in by_suffix)  # one test per file before the one per indicator
        for tree in inv.trees:
            for node in tree.nodes.values():
                if node.kind == "dir":
                    continue
                found = list(by_basename.get(posixpath.basename(node.path), ()))
                if node.path.endswith(suffixes):
                    found += [ind for suffix, ind in by_suffix if node.path.endswith(suffix)]
                for ind in found:
                    key = (id(tree), node.path)
                    hits[key][ind.entry].setdefault(ind.index, [])
                    where[key] = (tree, items.get(key))
        for item in inv.items:
            key = (id(item.tree), item.node.path)
            for pid, start, _end in item.facts.matched("VER-BKD-001/"):
                _, entry_id, index = pid.split("/")[:3]
                ind = cat[entry_id].indicators[int(index)]
                if not _in_scope(ind, item):
                    continue
                hits[key][entry_id].setdefault(ind.index, []).append(start)
                where[key] = (item.tree, item)
            for ind in by_hash.get(item.facts.sha256, ()):
                yield self._finding(HASH, cat[ind.entry], item.tree, item.node.path, [ind], None, None)

        for key in sorted(hits, key=lambda k: (where[k][0].container, k[1])):
            tree, holder = where[key]
            for entry_id, at in sorted(hits[key].items()):
                entry = cat[entry_id]
                matched = [entry.indicators[i] for i in sorted(at)]
                if not _enough(entry, matched, at):
                    continue
                offsets = [o for i in matched for o in at[i.index]]
                offset = min(offsets) if offsets else None
                rule = CONTENT if offsets else PATH
                line = _line(holder, offset) if holder is not None and offset is not None else None
                yield self._finding(rule, entry, tree, key[1], matched, offset, line)

    @staticmethod
    def _finding(rule: Rule, entry: Entry, tree: Tree, path: str, matched: list[Indicator],
                 offset: int | None, line: int | None, evidence: str | None = None, key: str | None = None) -> Finding:
        shown = "; ".join(i.shown() for i in matched[:4]) + (f"; +{len(matched) - 4} more" if len(matched) > 4 else "")
        f = rule.finding(
            path=path,
            container=tree.container,
            evidence=evidence or f"{entry.id}: {shown}",
            title=entry.title,
            line=line,
            offset=offset,
            severity=entry.severity,
            backdoor_id=entry.id,
            key=key or entry.id,
        )
        return replace(f, references=entry.sources)

    # -- accounts ---------------------------------------------------------------------------------

    def _accounts(self, inv: Inventory, sections: dict[str, list[dict]]) -> Iterator[Finding]:
        cat = catalogue()
        account_inds = [i for e in cat.values() for i in e.indicators if i.account and i.use != "skip"]
        # account files an accounts check found besides /etc/passwd and /etc/shadow (copies, defaults, htpasswd)
        extra = sorted({a.get("source") or "" for a in sections.get("accounts") or ()
                        if _ACCOUNT_FILE.search(posixpath.basename(a.get("source") or ""))} - {"", "/etc/passwd", "/etc/shadow"})
        for tree in inv.trees:
            databases = [(_users(inv, tree), True)]
            for path in extra:
                item = inv.item(tree, path)
                if item is not None and item.facts.text:
                    databases.append((_parse_accounts(item), False))
            done: set[tuple[str, str]] = set()
            seen_hashes: set[tuple[str, str, str]] = set()
            unparsed: dict[str, _User] = {}
            for users, main in databases:
                if not users:  # most trees of an image (a decompressed file, a package) hold no accounts
                    continue
                for ind in account_inds:
                    yield from self._account_indicator(cat[ind.entry], ind, users, main, tree, done, seen_hashes, unparsed)
            for name, u in sorted(unparsed.items()):
                yield UNPARSED.finding(path=u.hash_path, container=tree.container, line=u.hash_line,
                                       evidence=f"account {name!r}: {u.scheme} hash not supported by crypt()",
                                       key=name)

    def _account_indicator(self, entry: Entry, ind: Indicator, users: dict[str, _User], main: bool, tree: Tree,
                           done: set[tuple[str, str]], seen_hashes: set[tuple[str, str, str]],
                           unparsed: dict[str, _User]) -> Iterator[Finding]:
        acc = ind.account or {}
        password = acc.get("password")
        named = [acc["user"]] if acc.get("user") else list(acc.get("users") or [])
        if password is None:  # the account's existence is the indicator
            for name in named:
                u = users.get(name)
                if u and (entry.id, name) not in done:
                    done.add((entry.id, name))
                    yield self._finding(ACCOUNT, entry, tree, u.path, [ind], None, u.line,
                                        evidence=f"{entry.id}: account {name!r} defined", key=f"{entry.id}:{name}")
            return
        for name in list(users) if acc.get("any_account") else named:
            u = users.get(name)
            if u is None or (entry.id, name, u.hash) in seen_hashes:
                continue
            verdict = _verify(password, u.hash)
            if verdict is None:
                if main:
                    unparsed[name] = u
                continue
            if not verdict:
                continue
            seen_hashes.add((entry.id, name, u.hash))
            how = "the" if name in named else "a vendor backdoor"
            yield self._finding(
                CREDENTIAL, entry, tree, u.hash_path, [ind], None, u.hash_line,
                evidence=f"{entry.id}: account {name!r} has {how} password {_mask(password)} "
                         f"({ind.type} of the catalogue, verified against its {u.scheme} hash)",
                key=f"{entry.id}:{name}" + ("" if main else f":{u.hash_path}"),
            )

    # -- packages ---------------------------------------------------------------------------------

    def _packages(self, inv: Inventory, sections: dict[str, list[dict]]) -> Iterator[Finding]:
        cat = catalogue()
        watch: dict[str, list[Indicator]] = defaultdict(list)
        for entry in cat.values():
            for ind in entry.indicators:
                if ind.package and _active(ind):
                    for name in ind.package["names"]:
                        watch[_norm(name)].append(ind)
        components = sections.get("components")
        found: list[tuple[str, str, str | None, Tree | None]]
        if components is not None:
            found = [(c.get("name") or "", c.get("version") or "", (c.get("paths") or [None])[0], None)
                     for c in components]
        else:
            found = list(_manifests(inv, set(watch)))
            manifestless = sorted({(i.package or {})["names"][0] for inds in watch.values() for i in inds
                                   if i.type == "package-version" and "@" not in i.value and "==" not in i.value})
            if manifestless:
                yield NOT_ASSESSED.finding(
                    path=None, container=inv.trees[0].container[:1] if inv.trees else (),
                    evidence="no component inventory: versions of " + ", ".join(manifestless) + " not compared",
                    key="components",
                )
        seen: set[tuple[str, str, str, int]] = set()
        for name, version, path, tree in found:
            for ind in watch.get(_norm(name), ()):
                if not _version_matches(ind.package or {}, version):
                    continue
                entry = cat[ind.entry]
                if (entry.id, _norm(name), version, id(tree)) in seen:
                    continue
                seen.add((entry.id, _norm(name), version, id(tree)))
                f = PACKAGE.finding(
                    path=path,
                    container=tree.container if tree is not None else (),
                    evidence=f"{entry.id}: {name} {version} ({ind.type} {ind.value!r})",
                    title=entry.title,
                    severity=entry.severity,
                    backdoor_id=entry.id,
                    key=f"{entry.id}:{name}:{version}",
                )
                yield replace(f, references=entry.sources)


# -- helpers ----------------------------------------------------------------------------------------


def _in_scope(ind: Indicator, item: Item) -> bool:
    if ind.scope == "elf":
        return item.facts.kind == "elf"
    if ind.scope == "text":
        return item.facts.kind in ("script", "text")
    return True


NEAR = 64 * 1024
"""Corroborating strings must lie this close to each other: one implant's strings sit together in a
program's data; a word and a number 10 MB apart in a package list are unrelated."""


def _enough(entry: Entry, matched: list[Indicator], at: dict[int, list[int]] | None = None) -> bool:
    """Whether the indicators of ``entry`` found in one file prove it (see the data file's policy). ``at``
    gives the offsets of each indicator's matches (none for a file-path indicator, which matches the file)."""
    if any(i.use == "alone" for i in matched):
        return True
    names = {i.index for i in matched}
    groups = {i.group for i in entry.indicators if i.group}
    for g in groups:
        members = {i.index for i in entry.indicators if i.group == g}
        if members <= names:
            return True
    counted = [i for i in matched if i.use == "corroborating"]
    # two indicators, one of them content other than a port number (a program named httpd that happens to
    # contain the number 7329 is not Tenda's backdoor), close to each other
    for a in counted:
        if not a.content or a.is_port:
            continue
        for b in counted:
            if b is a:
                continue
            if at is None or not b.content:
                return True
            if any(abs(x - y) <= NEAR for x in at.get(a.index, ()) for y in at.get(b.index, ())):
                return True
    return False


def _line(item: Item, offset: int) -> int | None:
    text = item.facts.text
    if text is None:
        return None
    return text.encode("utf-8", "surrogateescape")[:offset].count(b"\n") + 1


@dataclass(frozen=True, slots=True)
class _User:
    name: str
    path: str
    line: int
    hash: str
    hash_path: str
    hash_line: int

    @property
    def scheme(self) -> str:
        h = self.hash
        if h.startswith("$"):
            return {"1": "md5crypt", "5": "sha256crypt", "6": "sha512crypt", "y": "yescrypt", "2a": "bcrypt",
                    "2b": "bcrypt", "2y": "bcrypt", "gy": "gost-yescrypt", "7": "scrypt"}.get(h.split("$")[1], "unknown")
        return "descrypt" if len(h) == 13 else "empty" if h == "" else "unknown"


_ACCOUNT_FILE = re.compile(r"passwd|shadow", re.IGNORECASE)


def _parse_accounts(item: Item) -> dict[str, _User]:
    """``user:hash...`` lines of one account file (a copy of passwd or shadow, an htpasswd file)."""
    out: dict[str, _User] = {}
    for n, line in enumerate((item.facts.text or "").splitlines(), 1):
        parts = line.split(":")
        if len(parts) < 2 or not parts[0] or line.startswith("#") or parts[1] in ("x", ""):
            continue
        out.setdefault(parts[0], _User(parts[0], item.node.path, n, parts[1], item.node.path, n))
    return out


def _users(inv: Inventory, tree: Tree) -> dict[str, _User]:
    passwd = inv.item(tree, "/etc/passwd")
    shadow = inv.item(tree, "/etc/shadow")
    out: dict[str, _User] = {}
    if passwd is not None and passwd.facts.text:
        for n, line in enumerate(passwd.facts.text.splitlines(), 1):
            parts = line.split(":")
            if len(parts) < 2 or not parts[0] or line.startswith("#"):
                continue
            out[parts[0]] = _User(parts[0], passwd.node.path, n, parts[1], passwd.node.path, n)
    if shadow is not None and shadow.facts.text:
        for n, line in enumerate(shadow.facts.text.splitlines(), 1):
            parts = line.split(":")
            if len(parts) < 2 or not parts[0] or line.startswith("#"):
                continue
            prev = out.get(parts[0])
            path, pline = (prev.path, prev.line) if prev else (shadow.node.path, n)
            if prev is None or prev.hash in ("x", "*", "!", ""):
                out[parts[0]] = _User(parts[0], path, pline, parts[1], shadow.node.path, n)
    return out


@cache
def _crypt_module():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt

        return crypt
    except ImportError:
        return None


@cache
def _verify(password: str, hashed: str) -> bool | None:
    """Whether ``password`` verifies against a passwd/shadow hash field; None when it cannot be computed.
    Locked (``!``, ``*``) and placeholder (``x``) fields never verify."""
    if hashed == "":
        return password == ""
    if hashed[0] in "!*" or hashed in ("x", "NP", "LK"):
        return False
    mod = _crypt_module()
    if mod is None:
        return None
    try:
        out = mod.crypt(password, hashed)
    except (OSError, ValueError):
        return None
    if not out or out.startswith("*"):
        return None
    return out == hashed


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:4])


def _version_matches(spec: dict, version: str) -> bool:
    if "below" in spec:
        return bool(version) and _version_key(version) < _version_key(spec["below"])
    versions = spec.get("versions") or []
    return "*" in versions or version in versions


_DIST_INFO = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+?)-(?P<version>[0-9][^-/]*?)\.(?:dist-info|egg-info)$")


def _manifests(inv: Inventory, names: set[str]) -> Iterator[tuple[str, str, str, Tree]]:
    """(name, version, path, tree) of npm and Python packages whose (normalised) name is in ``names``."""
    for item in inv.items:
        base = posixpath.basename(item.node.path)
        text = item.facts.text
        if base == "package.json" and text and '"name"' in text:
            try:
                data = json.loads(text)
            except ValueError:
                continue
            if isinstance(data, dict) and isinstance(data.get("name"), str) and _norm(data["name"]) in names:
                yield data["name"], str(data.get("version", "")), item.node.path, item.tree
        elif base in ("METADATA", "PKG-INFO") and text:
            head = text[:4096]
            name = re.search(r"^Name:\s*(\S+)", head, re.MULTILINE)
            version = re.search(r"^Version:\s*(\S+)", head, re.MULTILINE)
            if name and _norm(name[1]) in names:
                yield name[1], version[1] if version else "", item.node.path, item.tree
    for tree in inv.trees:
        for node in tree.nodes.values():
            if node.kind != "dir":
                continue
            m = _DIST_INFO.match(posixpath.basename(node.path))
            if m and _norm(m["name"]) in names:
                yield m["name"], m["version"], node.path, tree
