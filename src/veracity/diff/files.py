"""Files of two versions: matched by path (and by content for renamed ones), then sorted into what only a
build stamp changed, what changed without new capabilities, and what gained something.

Noise control: text is compared after dates, times, version numbers and build hashes are normalised
(:func:`normalise`); binaries by their ELF facts and normalised strings. A file whose only difference is a
build stamp is counted, not listed.
"""

from __future__ import annotations

import difflib
import re
import stat
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from ..inventory import Item
from . import traits as traits_mod
from .load import Side, chain_of

STARTUP = re.compile(
    r"^/(?:etc/(?:inittab|rc\.local|rc\.common|rc|rcS|preinit|profile|crontab|inetd\.conf|rc\.d/.+|init\.d/[^/]+"
    r"|rc[0-6S]\.d/[^/]+|init/[^/]+\.conf|systemd/.+|cron\.(?:d|hourly|daily|weekly|monthly)/[^/]+|crontabs/[^/]+"
    r"|profile\.d/[^/]+|hotplug\.d/.+|udev/rules\.d/[^/]+|uci-defaults/[^/]+|xinetd\.d/[^/]+|inetd\.d/[^/]+)"
    r"|(?:usr/)?lib/(?:systemd/system/.+|udev/rules\.d/[^/]+|preinit/[^/]+)|var/spool/cron/crontabs/[^/]+)$"
)
"""Files that start things: init scripts and tables, cron tables, systemd units, hotplug and udev rules."""

STAMP_SLACK = 64
"""Two binaries whose strings differ only in stamps may still differ this many bytes in size."""
MAX_DIFF_LINES = 300
MAX_LISTED = 500

_DAY = re.compile(r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\b")
_MONTH = re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b")
_HEX = re.compile(r"\b(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{7,64}\b")
_DIGITS = re.compile(r"[0-9]+")
_BLANKS = re.compile(r"[ \t]+")
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff"
                        r"\ud800-\udfff]")


def normalise(text: str) -> str:
    """Text with what changes from one build to the next (dates, times, numbers, build hashes) blanked."""
    text = _HEX.sub("H", text)
    text = _DAY.sub("D", text)
    text = _MONTH.sub("M", text)
    text = _DIGITS.sub("0", text)
    return _BLANKS.sub(" ", text)


def visible(text: str) -> str:
    """Undecodable bytes (kept by surrogateescape), control and bidirectional-override characters as visible
    escapes (``\\xNN``, ``\\uNNNN``), so a diff can be printed and stored and shows what is there."""

    def one(m: re.Match[str]) -> str:
        code = ord(m.group(0))
        if 0xDC80 <= code <= 0xDCFF:
            return f"\\x{code - 0xDC00:02x}"
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"

    return _INVISIBLE.sub(one, text)


def is_startup(path: str) -> bool:
    return bool(STARTUP.match(path))


def _mode(rec: dict[str, Any]) -> int:
    try:
        return int(str(rec.get("mode") or "0"), 8)
    except ValueError:
        return 0


def _public(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: rec.get(k) for k in ("path", "container", "size", "mode", "uid", "gid", "sha256", "type", "kind")}


@dataclass
class ExecDelta:
    """An executable (ELF or script) that is new or whose content changed, with what it gained."""

    status: str
    """``added`` or ``changed``."""
    old: dict[str, Any] | None
    new: dict[str, Any]
    old_profile: traits_mod.Profile | None
    new_profile: traits_mod.Profile
    added: dict[str, tuple[str, ...]]
    lost: list[str] = field(default_factory=list)
    new_needed: list[str] = field(default_factory=list)
    size_delta: int | None = None


@dataclass
class ScriptDelta:
    status: str
    """``added``, ``changed`` or ``removed``."""
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    diff: str | None
    added_lines: int = 0
    removed_lines: int = 0
    risky: tuple[str, ...] = ()


@dataclass
class FilesResult:
    contents: bool
    """Whether contents were compared (both sides are images) or only hashes (a side is a saved report)."""
    unchanged: int = 0
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    renamed: list[dict[str, Any]] = field(default_factory=list)
    stamp_only: list[str] = field(default_factory=list)
    changed_quiet: list[dict[str, Any]] = field(default_factory=list)
    """Changed without new capabilities (binaries, data)."""
    changed_text: list[dict[str, Any]] = field(default_factory=list)
    changed_unknown: list[dict[str, Any]] = field(default_factory=list)
    permissions: list[dict[str, Any]] = field(default_factory=list)
    executables: list[ExecDelta] = field(default_factory=list)
    scripts: list[ScriptDelta] = field(default_factory=list)
    links: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "compared": "contents" if self.contents else "hashes",
            "unchanged": self.unchanged,
            "added_count": len(self.added),
            "added": self.added[:MAX_LISTED],
            "removed_count": len(self.removed),
            "removed": self.removed[:MAX_LISTED],
            "renamed": self.renamed[:MAX_LISTED],
            "stamp_only": {"count": len(self.stamp_only), "examples": self.stamp_only[:10]},
            "changed_without_new_capabilities": {
                "count": len(self.changed_quiet), "files": self.changed_quiet[:MAX_LISTED]},
            "changed_text": self.changed_text[:MAX_LISTED],
            "changed_not_compared": self.changed_unknown[:MAX_LISTED],
            "links": {k: v[:MAX_LISTED] for k, v in self.links.items()},
        }


def compare_files(old: Side, new: Side) -> FilesResult:
    contents = old.inventory is not None and new.inventory is not None
    res = FilesResult(contents)
    o = {(chain_of(r["container"]), r["path"]): r for r in old.report.get("files", [])}
    n = {(chain_of(r["container"]), r["path"]): r for r in new.report.get("files", [])}
    pairs = [(o[k], n[k]) for k in sorted(o.keys() & n.keys())]
    old_only = {k: o[k] for k in o.keys() - n.keys()}
    new_only = {k: n[k] for k in n.keys() - o.keys()}
    # a container chain that changed (a rootfs now carved from another offset or format): match by path alone
    by_path_old: dict[str, list[tuple[str, str]]] = defaultdict(list)
    by_path_new: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for k in old_only:
        by_path_old[k[1]].append(k)
    for k in new_only:
        by_path_new[k[1]].append(k)
    for path in sorted(by_path_old.keys() & by_path_new.keys()):
        if len(by_path_old[path]) == 1 and len(by_path_new[path]) == 1:
            pairs.append((old_only.pop(by_path_old[path][0]), new_only.pop(by_path_new[path][0])))
    # renamed: the same content under another path
    old_by_sha: dict[str, list[dict]] = defaultdict(list)
    for r in sorted(old_only.values(), key=lambda r: r["path"]):
        old_by_sha[r["sha256"]].append(r)
    for key in sorted(new_only, key=lambda k: k[1]):
        r = new_only[key]
        cands = old_by_sha.get(r["sha256"])
        if not cands or r.get("kind") == "empty" or not r.get("size"):
            continue
        base = r["path"].rsplit("/", 1)[-1]
        pick = next((c for c in cands if c["path"].rsplit("/", 1)[-1] == base), cands[0])
        cands.remove(pick)
        old_only.pop((chain_of(pick["container"]), pick["path"]))
        del new_only[key]
        res.renamed.append({"old_path": pick["path"], "new_path": r["path"], "container": r["container"],
                            "sha256": r["sha256"], "size": r.get("size")})
        _permissions(res, pick, r)
    for a, b in pairs:
        _permissions(res, a, b)
        if a["sha256"] == b["sha256"]:
            res.unchanged += 1
            continue
        _changed(res, old, new, a, b)
    for r in sorted(new_only.values(), key=lambda r: (r["container"], r["path"])):
        res.added.append(_public(r))
        _added(res, new, r)
    for r in sorted(old_only.values(), key=lambda r: (r["container"], r["path"])):
        res.removed.append(_public(r))
        if is_startup(r["path"]):
            item = old.item(chain_of(r["container"]), r["path"])
            text = item.facts.text if item is not None else None
            diff = _unified(text, "", r["path"]) if text is not None else None
            res.scripts.append(ScriptDelta("removed", _public(r), None, diff, 0, len((text or "").splitlines())))
    res.links = _links(old, new)
    return res


def _permissions(res: FilesResult, a: dict[str, Any], b: dict[str, Any]) -> None:
    ma, mb = _mode(a), _mode(b)
    notes = []
    gained = mb & ~ma
    if gained & stat.S_ISUID and b.get("uid") == 0:
        notes.append(("setuid root gained", "high"))
    elif gained & stat.S_ISUID:
        notes.append(("setuid gained", "medium"))
    if gained & stat.S_ISGID:
        notes.append(("setgid gained", "medium"))
    if gained & stat.S_IWOTH:
        notes.append(("world-writable", "medium"))
    if a.get("uid") != b.get("uid") and b.get("uid") == 0 and mb & (stat.S_ISUID | stat.S_ISGID):
        notes.append(("now owned by root with a set-id bit", "high"))
    if notes:
        res.permissions.append({
            "path": b["path"], "container": b["container"], "old_mode": a.get("mode"), "new_mode": b.get("mode"),
            "old_owner": f"{a.get('uid')}:{a.get('gid')}", "new_owner": f"{b.get('uid')}:{b.get('gid')}",
            "notes": [t for t, _ in notes], "severity": min((s for _, s in notes), key=_rank),
            "old_path": a["path"],
        })


def _rank(sev: str) -> int:
    return ("critical", "high", "medium", "low", "info").index(sev)


def _items(old: Side, new: Side, a: dict[str, Any], b: dict[str, Any]) -> tuple[Item | None, Item | None]:
    return old.item(chain_of(a["container"]), a["path"]), new.item(chain_of(b["container"]), b["path"])


def _strings(side: Side, item: Item) -> list[str]:
    if side.inventory is None:
        return []
    return [s for _off, s in side.inventory.strings(item)]


def _changed(res: FilesResult, old: Side, new: Side, a: dict[str, Any], b: dict[str, Any]) -> None:
    oi, ni = _items(old, new, a, b)
    path = b["path"]
    delta = (b.get("size") or 0) - (a.get("size") or 0)
    if oi is None or ni is None:
        res.changed_unknown.append({"path": path, "container": b["container"], "kind": b.get("kind"),
                                    "old_sha256": a["sha256"], "new_sha256": b["sha256"], "size_delta": delta})
        return
    ot, nt = oi.facts.text, ni.facts.text
    if ot is not None and nt is not None:
        if normalise(ot) == normalise(nt):
            res.stamp_only.append(path)
            return
        diff = _unified(ot, nt, path, a["path"])
        plus, minus = _counts(ot, nt)
        if is_startup(path) or is_startup(a["path"]):
            risky = traits_mod.script_lines(_added_lines(ot, nt))
            res.scripts.append(ScriptDelta("changed", _public(a), _public(b), diff, plus, minus, risky))
        elif ni.facts.kind == "script":
            _exec_script(res, a, b, ot, nt)
        else:
            res.changed_text.append({"path": path, "container": b["container"], "added_lines": plus,
                                     "removed_lines": minus, "diff": diff})
        return
    if nt is not None and ni.facts.kind == "script":  # a program replaced by a script
        _exec_script(res, a, b, "", nt)
        return
    os_, ns_ = _strings(old, oi), _strings(new, ni)
    same_strings = {normalise(s) for s in os_} == {normalise(s) for s in ns_}
    oe, ne = oi.facts.elf, ni.facts.elf
    same_facts = (asdict(oe) if oe else None) == (asdict(ne) if ne else None)
    if same_strings and same_facts and abs(delta) <= STAMP_SLACK:
        res.stamp_only.append(path)
        return
    if ni.facts.kind == "elf":
        # strings the old version already had are no news: profile the new ones only, imports in full
        np_ = traits_mod.profile(path, ne, _new_only(ns_, os_))
        op_full = traits_mod.profile(a["path"], oe, os_)
        added = traits_mod.gained(op_full, np_)
        lost = sorted(set(op_full.imports) - set(np_.imports))[:20]
        needed = sorted(set(ne.needed if ne else ()) - set(oe.needed if oe else ()))
        if added or needed:
            res.executables.append(ExecDelta("changed", _public(a), _public(b), op_full, np_, added, lost, needed,
                                             delta))
            return
    res.changed_quiet.append({"path": path, "container": b["container"], "kind": ni.facts.kind,
                              "size_delta": delta, "old_path": a["path"]})


def _new_only(strings: list[str], before: list[str]) -> list[str]:
    """Strings of ``strings`` whose normalised form ``before`` does not have."""
    seen = {normalise(s) for s in before}
    return [s for s in strings if normalise(s) not in seen]


def _exec_script(res: FilesResult, a: dict[str, Any], b: dict[str, Any], ot: str, nt: str) -> None:
    risky = traits_mod.script_lines(_added_lines(ot, nt))
    np_ = traits_mod.Profile({"script-shell": risky} if risky else {}, frozenset(), False)
    added = {"script-shell": risky} if risky else {}
    res.executables.append(ExecDelta("changed", _public(a), _public(b), traits_mod.Profile({}, frozenset(), False),
                                     np_, added, [], [], (b.get("size") or 0) - (a.get("size") or 0)))


def _added(res: FilesResult, new: Side, r: dict[str, Any]) -> None:
    item = new.item(chain_of(r["container"]), r["path"])
    path = r["path"]
    if item is None:
        if r.get("kind") == "elf" or (_mode(r) & 0o111 and r.get("kind") in ("script", "elf")):
            res.executables.append(ExecDelta("added", None, _public(r), None,
                                             traits_mod.Profile({}, frozenset(), False), {}, [], [], None))
        if is_startup(path):
            res.scripts.append(ScriptDelta("added", None, _public(r), None))
        return
    if is_startup(path) and item.facts.text is not None:
        risky = traits_mod.script_lines(item.facts.text.splitlines())
        res.scripts.append(ScriptDelta("added", None, _public(r), _unified("", item.facts.text, path),
                                       len(item.facts.text.splitlines()), 0, risky))
        return
    if item.facts.kind == "elf":
        prof = traits_mod.profile(path, item.facts.elf, _strings(new, item))
        res.executables.append(ExecDelta("added", None, _public(r), None, prof, dict(prof.traits), [],
                                         list(item.facts.elf.needed) if item.facts.elf else [], None))
    elif item.facts.kind == "script" and item.facts.text is not None:
        risky = traits_mod.script_lines(item.facts.text.splitlines())
        prof = traits_mod.Profile({"script-shell": risky} if risky else {}, frozenset(), False)
        res.executables.append(ExecDelta("added", None, _public(r), None, prof, dict(prof.traits), [], [], None))


def _added_lines(old: str, new: str) -> list[str]:
    out = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), n=0, lineterm=""):
        if line.startswith("+") and not line.startswith("+++"):
            out.append(line[1:])
    return out


def _counts(old: str, new: str) -> tuple[int, int]:
    plus = minus = 0
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), n=0, lineterm=""):
        if line.startswith("+") and not line.startswith("+++"):
            plus += 1
        elif line.startswith("-") and not line.startswith("---"):
            minus += 1
    return plus, minus


def _unified(old: str, new: str, path: str, old_path: str | None = None) -> str:
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), fromfile=f"OLD{old_path or path}",
                                      tofile=f"NEW{path}", n=2, lineterm=""))
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + [f"... {len(lines) - MAX_DIFF_LINES} more lines"]
    return visible("\n".join(lines))


def _links(old: Side, new: Side) -> dict[str, list[dict[str, Any]]]:
    o = {(chain_of(r["container"]), r["path"]): r for r in old.report.get("links", []) or []}
    n = {(chain_of(r["container"]), r["path"]): r for r in new.report.get("links", []) or []}
    out: dict[str, list[dict[str, Any]]] = {"added": [], "removed": [], "retargeted": []}
    for k in sorted(n.keys() - o.keys()):
        out["added"].append({"path": k[1], "target": n[k].get("target")})
    for k in sorted(o.keys() - n.keys()):
        out["removed"].append({"path": k[1], "target": o[k].get("target")})
    for k in sorted(o.keys() & n.keys()):
        if o[k].get("target") != n[k].get("target"):
            out["retargeted"].append({"path": k[1], "old_target": o[k].get("target"),
                                      "new_target": n[k].get("target")})
    return out
