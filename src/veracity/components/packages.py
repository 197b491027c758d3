"""Package databases and manifests: what a package manager says it installed.

opkg/ipkg (``/usr/lib/opkg/status``, ``/usr/lib/opkg/info/*.control``, the same under ``/var/lib`` and
``ipkg``), dpkg (``/var/lib/dpkg/status``, ``status.d/*`` of distroless images), apk
(``/lib/apk/db/installed``), Python (``*.dist-info/METADATA``, ``*.egg-info/PKG-INFO`` or an ``.egg-info``
file) and npm (``package.json``, ``package-lock.json``). The files are read from the inventory's text;
a file that cannot be parsed is a *problem* (reported as ``analysis.incomplete``), never an exception.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..inventory import Inventory, Item

MAX_NPM_MANIFESTS = 20000


@dataclass(frozen=True, slots=True)
class Package:
    manager: str
    """opkg, ipkg, dpkg, apk, python, npm."""
    name: str
    version: str
    item: Item
    """The database or manifest file that lists it."""
    arch: str | None = None
    source: str | None = None
    """The source package (dpkg ``Source:``), when it differs from the name."""
    depends: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    license: str | None = None


@dataclass(slots=True)
class Problem:
    item: Item
    message: str


@dataclass(slots=True)
class Result:
    packages: list[Package] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


_STATUS_PATHS = {
    "/usr/lib/opkg/status": "opkg",
    "/var/lib/opkg/status": "opkg",
    "/usr/lib/ipkg/status": "ipkg",
    "/var/lib/ipkg/status": "ipkg",
    "/var/lib/dpkg/status": "dpkg",
}
_CONTROL = re.compile(r"^/(?:usr|var)/lib/(opkg|ipkg)/info/[^/]+\.control$")
_DPKG_D = re.compile(r"^/var/lib/dpkg/status\.d/[^/]+$")
_LIST = {"opkg": "/usr/lib/opkg/info/{}.list", "ipkg": "/usr/lib/ipkg/info/{}.list", "dpkg": "/var/lib/dpkg/info/{}.list"}
_DEP_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9+._-]*)")


def read(inv: Inventory) -> Result:
    out = Result()
    seen: set[tuple[int, str, str, str]] = set()

    def add(pkg: Package) -> None:
        key = (id(pkg.item.tree), pkg.manager, pkg.name, pkg.version)
        if key not in seen:
            seen.add(key)
            out.packages.append(pkg)

    for item in inv.items:
        path = item.node.path
        manager = _STATUS_PATHS.get(path)
        try:
            if manager is not None or _DPKG_D.match(path):
                for pkg in _control_file(inv, item, manager or "dpkg", status=True):
                    add(pkg)
            elif m := _CONTROL.match(path):
                for pkg in _control_file(inv, item, m.group(1), status=False):
                    add(pkg)
            elif path == "/lib/apk/db/installed":
                for pkg in _apk(item):
                    add(pkg)
            elif path.endswith((".dist-info/METADATA", ".egg-info/PKG-INFO")) or (
                path.endswith(".egg-info") and item.facts.text is not None
            ):
                found = _python(item)
                if found is not None:
                    add(found)
            elif posixpath.basename(path) == "package.json":
                found = _npm_manifest(item)
                if found is not None:
                    add(found)
            elif posixpath.basename(path) == "package-lock.json":
                for pkg in _npm_lock(item):
                    add(pkg)
        except _Malformed as exc:
            out.problems.append(Problem(item, str(exc)))
    return out


class _Malformed(Exception):
    pass


def _text(item: Item) -> str:
    text = item.facts.text
    if text is None:
        raise _Malformed(f"not a text file ({item.facts.kind}, {item.facts.size} bytes)")
    return text


def paragraphs(text: str) -> Iterator[dict[str, str]]:
    """RFC 822-style paragraphs (Debian control format): ``Key: value`` with indented continuations."""
    current: dict[str, str] = {}
    last = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                yield current
            current, last = {}, None
            continue
        if line[0] in " \t" and last is not None:
            current[last] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        last = key.strip()
        current[last] = value.strip()
    if current:
        yield current


def _depends(value: str) -> tuple[str, ...]:
    out = []
    for part in re.split(r"[,|]", value or ""):
        m = _DEP_NAME.match(part)
        if m:
            out.append(m.group(1))
    return tuple(dict.fromkeys(out))


def _control_file(inv: Inventory, item: Item, manager: str, *, status: bool) -> Iterator[Package]:
    text = _text(item)
    found = False
    for para in paragraphs(text):
        name, version = para.get("Package"), para.get("Version")
        if not name:
            continue
        found = True
        if not version:
            continue
        state = para.get("Status", "").split()
        if status and state and state[-1] != "installed":  # "install ok installed"; not config-files etc.
            continue
        source = para.get("Source", "").split(" ")[0] or None
        files = _files(inv, item, manager, name)
        yield Package(manager, name, version, item, para.get("Architecture"), source,
                      _depends(para.get("Depends", "") + "," + para.get("Pre-Depends", "")), files,
                      para.get("License"))
    if not found and text.strip():
        raise _Malformed(f"{manager} database has no Package: entries")


def _files(inv: Inventory, db: Item, manager: str, name: str) -> tuple[str, ...]:
    pattern = _LIST.get(manager)
    if pattern is None:
        return ()
    listing = inv.item(db.tree, pattern.format(name))
    if listing is None and manager in ("opkg", "ipkg"):
        listing = inv.item(db.tree, pattern.format(name).replace("/usr/lib/", "/var/lib/"))
    if listing is None or listing.facts.text is None:
        return ()
    out = []
    for line in listing.facts.text.splitlines():
        path = line.split("\t")[0].strip()
        if path.startswith("/") and path not in ("/", "/."):
            out.append(path)
    return tuple(out)


def _apk(item: Item) -> Iterator[Package]:
    text = _text(item)
    found = False
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, list[str]] = {}
        files = []
        directory = ""
        for line in block.splitlines():
            if len(line) < 2 or line[1] != ":":
                continue
            key, value = line[0], line[2:]
            fields.setdefault(key, []).append(value)
            if key == "F":
                directory = value
            elif key == "R":
                files.append("/" + posixpath.join(directory, value).lstrip("/"))
        name, version = _first(fields, "P"), _first(fields, "V")
        if not name or not version:
            continue
        found = True
        deps = tuple(d for d in " ".join(fields.get("D", [])).split() if not d.startswith(("so:", "cmd:", "pc:", "!")))
        yield Package("apk", name, version, item, _first(fields, "A"), _first(fields, "o"),
                      tuple(re.split(r"[<>=~]", d, maxsplit=1)[0] for d in deps), tuple(files),
                      _first(fields, "L"))
    if not found and text.strip():
        raise _Malformed("apk database has no P:/V: records")


def _first(fields: dict[str, list[str]], key: str) -> str | None:
    values = fields.get(key)
    return values[0] if values else None


def _python(item: Item) -> Package | None:
    text = _text(item)
    head = text.split("\n\n", 1)[0]
    fields: dict[str, str] = {}
    for line in head.splitlines():
        key, sep, value = line.partition(":")
        if sep and key and not key.startswith((" ", "\t")):
            fields.setdefault(key.strip(), value.strip())
    name, version = fields.get("Name"), fields.get("Version")
    if not name or not version:
        raise _Malformed("Python package metadata without Name and Version")
    return Package("python", name, version, item, license=fields.get("License-Expression") or fields.get("License"))


def _json(item: Item):
    try:
        return json.loads(_text(item))
    except json.JSONDecodeError as exc:
        raise _Malformed(f"invalid JSON: {exc.msg} at line {exc.lineno}") from None


def _npm_manifest(item: Item) -> Package | None:
    if item.facts.text is None:
        return None
    data = _json(item)
    if not isinstance(data, dict):
        raise _Malformed("package.json is not an object")
    name, version = data.get("name"), data.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return None  # a private project manifest without identity: not a component
    deps: dict = data["dependencies"] if isinstance(data.get("dependencies"), dict) else {}
    lic = data.get("license") if isinstance(data.get("license"), str) else None
    return Package("npm", name, version, item, depends=tuple(sorted(deps)), license=lic)


def _npm_lock(item: Item) -> Iterator[Package]:
    data = _json(item)
    if not isinstance(data, dict):
        raise _Malformed("package-lock.json is not an object")
    packages = data.get("packages")
    if isinstance(packages, dict):  # lockfile v2/v3
        for key, meta in list(packages.items())[:MAX_NPM_MANIFESTS]:
            if not key or not isinstance(meta, dict) or not isinstance(meta.get("version"), str):
                continue
            name = meta.get("name") or key.rsplit("node_modules/", 1)[-1]
            deps: dict = meta["dependencies"] if isinstance(meta.get("dependencies"), dict) else {}
            yield Package("npm", name, meta["version"], item, depends=tuple(sorted(deps)),
                          license=meta.get("license") if isinstance(meta.get("license"), str) else None)
        return
    top = data.get("dependencies")
    if isinstance(top, dict):  # lockfile v1
        stack = list(top.items())
        n = 0
        while stack and n < MAX_NPM_MANIFESTS:
            name, meta = stack.pop()
            n += 1
            if isinstance(meta, dict) and isinstance(meta.get("version"), str):
                requires: dict = meta["requires"] if isinstance(meta.get("requires"), dict) else {}
                yield Package("npm", name, meta["version"], item, depends=tuple(sorted(requires)))
                if isinstance(meta.get("dependencies"), dict):
                    stack.extend(meta["dependencies"].items())
