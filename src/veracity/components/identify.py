"""From the inventory to a list of components: version signatures, package databases and OS release files,
merged so that one piece of software is listed once with every place it was seen."""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field

from ..inventory import Inventory, Item
from . import busybox, ids, packages, signatures, versions

CONFIDENCE_RANK = {"high": 3, "medium": 2, "low": 1}
MAX_EVIDENCE = 3

_OS_CPE = {
    "openwrt": ("o", "openwrt", "openwrt"),
    "debian": ("o", "debian", "debian_linux"),
    "ubuntu": ("o", "canonical", "ubuntu_linux"),
    "alpine": ("o", "alpinelinux", "alpine_linux"),
}
_OSV_ECOSYSTEM = {"python": "PyPI", "npm": "npm", "dpkg": "Debian", "apk": "Alpine"}
_PURL_TYPE = {"python": "pypi", "npm": "npm", "dpkg": "deb", "apk": "apk"}


@dataclass(slots=True)
class Location:
    container: tuple[str, ...]
    path: str
    sha256: str | None = None
    offset: int | None = None


@dataclass(slots=True)
class Component:
    name: str
    version: str | None
    key: str | None
    """The knowledge entry (``signatures.json``) this is, if any."""
    type: str = "library"
    source: str = "signature"
    """``signature``, ``filename``, ``package-db:<manager>`` or ``os-release``."""
    confidence: str = "medium"
    cpes: tuple[tuple[str, str, str], ...] = ()
    purl: str | None = None
    locations: list[Location] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    depends: set[str] = field(default_factory=set)
    """Names of packages (package databases) this one depends on."""
    applets: list[str] | None = None
    applet_source: str | None = None
    ecosystem: str | None = None
    """OSV ecosystem for package-database components."""
    branch_only: bool = False
    manager: str | None = None
    license: str | None = None
    id: str = ""
    items: list[Item] = field(default_factory=list)

    @property
    def match_version(self) -> str | None:
        """The version compared with vulnerability ranges (upstream part of a package version)."""
        if self.version is None or self.branch_only:
            return None
        return versions.upstream(self.version) if self.manager else self.version

    @property
    def cpe(self) -> str | None:
        if not self.cpes:
            return None
        part, vendor, product = self.cpes[0]
        return ids.cpe(part, vendor, product, self.match_version if not self.branch_only else None)

    def add(self, item: Item, offset: int | None = None, evidence: str | None = None) -> None:
        if not any(loc.path == item.node.path and loc.container == item.tree.container for loc in self.locations):
            self.locations.append(Location(item.tree.container, item.node.path, item.facts.sha256, offset))
            self.items.append(item)
        if evidence and evidence not in self.evidence and len(self.evidence) < MAX_EVIDENCE:
            self.evidence.append(evidence)


@dataclass(slots=True)
class Identified:
    components: list[Component]
    problems: list[packages.Problem]
    distro: str | None = None


def identify(inv: Inventory) -> Identified:
    know = signatures.knowledge()
    result = packages.read(inv)
    distro, os_components = _os_release(inv)
    comps: list[Component] = list(os_components)

    # Package databases first: the strongest evidence.
    by_key: dict[str, list[Component]] = {}
    for pkg in sorted(result.packages, key=lambda p: (p.manager, p.name, p.version, p.item.node.path)):
        info = _owner(know, pkg)
        comp = _package_component(pkg, info, distro)
        comps.append(comp)
        if info is not None:
            by_key.setdefault(info.key, []).append(comp)

    # Signatures and file names; a hit confirming a package's version joins that package.
    groups: dict[tuple[str, str | None], Component] = {}
    for hit in signatures.Identifier(inv).hits():
        info = know[hit.component]
        owner = _package_for(by_key.get(hit.component, ()), hit.version)
        if owner is not None:
            owner.add(hit.item, hit.offset, hit.evidence)
            continue
        found = groups.get((hit.component, hit.version))
        if found is None:
            comp = Component(
                name=info.key, version=hit.version, key=info.key, type=info.type,
                source="filename" if hit.method == "filename" else "signature",
                confidence=hit.confidence, cpes=info.cpes, branch_only=hit.branch_only,
            )
            groups[(hit.component, hit.version)] = comp
        else:
            comp = found
        if CONFIDENCE_RANK[hit.confidence] > CONFIDENCE_RANK[comp.confidence]:
            comp.confidence = hit.confidence
        comp.add(hit.item, hit.offset, hit.evidence)
    # A version-less hit joins the one version found for that component, if there is exactly one.
    for (key, version), comp in list(groups.items()):
        if version is not None:
            continue
        versioned = [c for (k, v), c in groups.items() if k == key and v is not None]
        packaged = by_key.get(key, [])
        target = versioned[0] if len(versioned) == 1 else packaged[0] if len(packaged) == 1 and not versioned else None
        if target is not None:
            for loc, item in zip(comp.locations, comp.items, strict=True):
                target.add(item, loc.offset)
            del groups[(key, version)]
    for comp in groups.values():
        info = know[comp.key or ""]
        comp.purl = ids.purl(info.purl_type, info.purl_name, comp.version)
        comps.append(comp)

    for comp in comps:
        if comp.key == "busybox":
            _applets(inv, comp)
    _ids(comps)
    _elf_dependencies(comps)
    comps.sort(key=lambda c: (c.name, versions.sort_key(c.version or ""), c.id))
    return Identified(comps, result.problems, distro)


def _owner(know: dict[str, signatures.Info], pkg: packages.Package) -> signatures.Info | None:
    if pkg.manager in ("python", "npm"):
        info = know.get(pkg.name.lower())
        return info if info is not None and info.purl_type == _PURL_TYPE[pkg.manager] else None
    for name in (pkg.source, pkg.name):
        if not name:
            continue
        for info in know.values():
            if info.owns_package(name):
                return info
    return None


def _package_component(pkg: packages.Package, info: signatures.Info | None, distro: str | None) -> Component:
    qualifiers = {"arch": pkg.arch} if pkg.arch else None
    if pkg.manager in _PURL_TYPE:
        kind = _PURL_TYPE[pkg.manager]
        namespace = None
        name = pkg.name
        if kind == "deb":
            namespace = distro if distro in ("debian", "ubuntu") else "debian"
        elif kind == "apk":
            namespace = "alpine"
        elif kind == "npm" and name.startswith("@") and "/" in name:
            namespace, name = name.split("/", 1)
        elif kind == "pypi":
            name = re.sub(r"[-_.]+", "-", name).lower()
        purl = ids.purl(kind, name, pkg.version, namespace, qualifiers)
    else:  # opkg / ipkg: no registered purl type
        purl = ids.purl("generic", pkg.name, pkg.version, "openwrt" if pkg.manager == "opkg" else None, qualifiers)
    comp = Component(
        name=pkg.name, version=pkg.version, key=info.key if info else None,
        type=info.type if info else ("library" if pkg.manager in ("python", "npm") else "application"),
        source=f"package-db:{pkg.manager}", confidence="high", cpes=info.cpes if info else (), purl=purl,
        depends=set(pkg.depends), ecosystem=_OSV_ECOSYSTEM.get(pkg.manager), manager=pkg.manager,
        license=pkg.license,
    )
    if pkg.manager == "dpkg" and pkg.source:
        comp.ecosystem = "Debian"
    comp.add(pkg.item, None, f"{pkg.manager} {pkg.item.node.path}: {pkg.name} {pkg.version}")
    for path in pkg.files:
        comp.locations.append(Location(pkg.item.tree.container, path))
    return comp


def _package_for(candidates, version: str | None) -> Component | None:
    for comp in candidates:
        if version is None or versions.compare(versions.upstream(comp.version or ""), version) == 0:
            return comp
    return None


def _os_release(inv: Inventory) -> tuple[str | None, list[Component]]:
    distro: str | None = None
    out: list[Component] = []
    for path in ("/etc/openwrt_release", "/etc/os-release", "/usr/lib/os-release"):
        for item in inv.by_path(path):
            fields = _shell_vars(item.facts.text or "")
            os_id: str | None
            if path == "/etc/openwrt_release":
                os_id, version = "openwrt", fields.get("DISTRIB_RELEASE")
            else:
                os_id, version = fields.get("ID", "").lower() or None, fields.get("VERSION_ID")
            if not os_id:
                continue
            distro = distro or os_id
            if any(c.name == os_id for c in out):
                continue
            comp = Component(name=os_id, version=version or None, key="openwrt" if os_id == "openwrt" else None,
                             type="operating-system", source="os-release", confidence="high",
                             cpes=(_OS_CPE[os_id],) if os_id in _OS_CPE else ())
            comp.purl = ids.purl("generic", os_id, comp.version)
            comp.add(item, None, f"{path}: {os_id} {version or ''}".strip())
            out.append(comp)
    return distro, out


def _shell_vars(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", key.strip()):
            continue
        try:
            parts = shlex.split(value, comments=True)
        except ValueError:
            parts = [value.strip().strip("'\"")]
        out[key.strip()] = parts[0] if parts else ""
    return out


def _applets(inv: Inventory, comp: Component) -> None:
    for item in comp.items:
        if item.facts.kind not in ("elf", "data"):
            continue
        table = _applet_table(inv, item)
        if table:
            comp.applets, comp.applet_source = table, f"applet table of {item.node.path}"
            return
        linked = busybox.linked_applets(inv, item)
        if linked:
            comp.applets, comp.applet_source = linked, f"links to {item.node.path}"


APPLETS_NAMESPACE = "busybox-applets"


def _applet_table(inv: Inventory, item: Item) -> list[str]:
    """busybox.applets_in, kept by content (reading the table costs a twentieth of a second per image)."""
    kept = inv.recall(APPLETS_NAMESPACE, item.facts.sha256)
    if isinstance(kept, list) and all(isinstance(a, str) for a in kept):
        return kept
    table = busybox.applets_in(item)
    inv.keep(APPLETS_NAMESPACE, item.facts.sha256, table)
    return table


def _ids(comps: list[Component]) -> None:
    seen: dict[str, int] = {}
    for comp in sorted(comps, key=lambda c: (c.name, c.version or "", c.source, c.locations[0].path if c.locations else "")):
        base = f"{comp.name}@{comp.version or 'unknown'}"
        n = seen.get(base, 0)
        seen[base] = n + 1
        comp.id = base if n == 0 else f"{base}#{n + 1}"


def _elf_dependencies(comps: list[Component]) -> None:
    """Which component provides each shared library a component's programs need (from ELF NEEDED)."""
    provider: dict[tuple[tuple[str, ...], str], str] = {}
    for comp in comps:
        for item in comp.items:
            names = {posixpath.basename(item.node.path)}
            if item.facts.elf is not None and item.facts.elf.soname:
                names.add(item.facts.elf.soname)
            for name in names:
                provider.setdefault((item.tree.container, name), comp.id)
    by_name = {c.name: c.id for c in comps}
    for comp in comps:
        deps = {by_name[d] for d in comp.depends if d in by_name and by_name[d] != comp.id}
        for item in comp.items:
            if item.facts.elf is None:
                continue
            for needed in item.facts.elf.needed:
                dep = provider.get((item.tree.container, needed))
                if dep is not None and dep != comp.id:
                    deps.add(dep)
        comp.depends = deps
