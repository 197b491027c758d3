"""The user's own YARA rules (``--yara-rules DIR``), run with yara-x over every file of the image.

Every ``*.yar``/``*.yara`` file under the directory (recursively, in sorted order) is compiled in its own
namespace (its path relative to the directory), so two files may use the same rule names. A file that does
not compile is reported (``analysis.incomplete``) and left out; the others still run. Includes are resolved
relative to the rules directory.

A matching rule becomes a finding whose category is the rule's ``category`` meta when it is one of the
report contract's categories (else ``code.malicious``) and whose severity is its ``severity`` meta when
valid (else ``high``); ``description`` becomes the title, ``reference``/``url`` metas the references, a
``backdoor_id`` meta the finding's ``backdoor_id``. There is one rule id per category (``VER-YAR-1NN``) so
that a rule's id always says its category.

Bytes: the inventory reads every file once and keeps no bytes; YARA needs them, so when (and only when) the
user gives YARA rules each distinct file content is read a second time, from the unpacked tree on disk, by
yara-x itself (``scan_file``; identical contents are scanned once). Each file has a time budget
(``TIMEOUT_S``); a file that exceeds it or cannot be read is reported as ``analysis.incomplete``.

yara-x (BSD-3-Clause) is an optional dependency: ``pip install 'veracity[yara]'``. Without it, asking for
YARA rules gives one ``analysis.incomplete`` finding instead of a silent skip.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from ..findings import CATEGORIES, SEVERITIES, Finding, Rule
from ..inventory import Inventory, Item
from ..options import ScanOptions
from ..patterns import Pattern
from ..tree import on_disk
from .base import NotApplicable

TIMEOUT_S = 30
MAX_EVIDENCE = 3
SUFFIXES = (".yar", ".yara")

_YARA_X = "https://virustotal.github.io/yara-x/"

COMPILE_ERROR = Rule(
    "VER-YAR-001",
    "analysis.incomplete",
    "medium",
    "A YARA rule file could not be compiled",
    "One of the user's YARA rule files has an error; its rules were not run (the other files were).",
    (),
    (_YARA_X,),
)
SCAN_ERROR = Rule(
    "VER-YAR-002",
    "analysis.incomplete",
    "low",
    "A file could not be scanned with the YARA rules",
    "yara-x could not scan the file (time budget exceeded or file unreadable); the user's rules did not see it.",
    (),
    (_YARA_X,),
)
UNAVAILABLE = Rule(
    "VER-YAR-003",
    "analysis.incomplete",
    "medium",
    "YARA rules were given but yara-x is not installed",
    "The scan was asked to run YARA rules, but the yara-x module is missing (pip install 'veracity[yara]').",
    (),
    (_YARA_X,),
)
BY_CATEGORY: dict[str, Rule] = {
    category: Rule(
        f"VER-YAR-{100 + n:03d}",
        category,
        "high",
        f"User YARA rule matched ({category})",
        f"A rule of the user's YARA rule set whose category meta is {category!r} matched this file.",
        (),
        (_YARA_X,),
    )
    for n, category in enumerate(c for c in CATEGORIES if c != "analysis.incomplete")
}
DEFAULT_CATEGORY = "code.malicious"

_configured: Path | None = None


def configure(rules_dir: Path | None) -> None:
    """Set the rules directory used by checks made without options (e.g. by ``registry.all_rules``)."""
    global _configured
    _configured = rules_dir


class YaraCheck:
    """The user's YARA rules over every file (see the module docstring)."""

    ID: ClassVar[str] = "yara"
    TITLE: ClassVar[str] = "User YARA rules"
    RULES: ClassVar[tuple[Rule, ...]] = (COMPILE_ERROR, SCAN_ERROR, UNAVAILABLE, *BY_CATEGORY.values())
    PATTERNS: ClassVar[tuple[Pattern, ...]] = ()

    def __init__(self, options: ScanOptions | None = None, *, rules_dir: Path | None = None):
        self.rules_dir = rules_dir or (options.yara_rules if options is not None else None) or _configured

    def run(self, inv: Inventory, sections: dict[str, list[dict]]) -> Iterable[Finding]:
        if self.rules_dir is None:
            raise NotApplicable("no YARA rules given (--yara-rules DIR)")
        top = inv.trees[0].container[:1] if inv.trees else ()
        try:
            import yara_x
        except ImportError:
            return [UNAVAILABLE.finding(path=None, container=top, evidence=f"rules in {self.rules_dir}; yara-x not importable")]
        findings: list[Finding] = []
        rules = self._compile(yara_x, Path(self.rules_dir), top, findings)
        if rules is None:
            return findings
        scanner = yara_x.Scanner(rules)
        scanner.set_timeout(TIMEOUT_S)
        by_hash: dict[str, list[Item]] = {}
        for item in inv.items:
            if item.node.disk_path and item.facts.size:
                by_hash.setdefault(item.facts.sha256, []).append(item)
        for sha, items in sorted(by_hash.items()):
            first = items[0]
            try:
                result = scanner.scan_file(str(on_disk(first.node)))
            except Exception as exc:  # noqa: BLE001 - yara_x raises TimeoutError, ScanError, OSError
                for item in items:
                    findings.append(SCAN_ERROR.finding(path=item.node.path, container=item.tree.container,
                                                       evidence=f"{type(exc).__name__}: {exc}"))
                continue
            for match in result.matching_rules:
                for item in items:
                    findings.append(_finding(item, match))
        return findings

    @staticmethod
    def _compile(yara_x: Any, root: Path, top: tuple[str, ...], findings: list[Finding]) -> Any:
        if not root.is_dir():
            findings.append(COMPILE_ERROR.finding(path=None, container=top, evidence=f"{root}: not a directory",
                                                  key=str(root)))
            return None
        sources: list[tuple[str, str, str]] = []
        for path in sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file()):
            rel = path.relative_to(root).as_posix()
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                findings.append(COMPILE_ERROR.finding(path=None, container=top, evidence=f"{rel}: {exc}", key=rel))
                continue
            probe = _compiler(yara_x, root)
            try:
                probe.new_namespace(rel)
                probe.add_source(text, origin=rel)
            except yara_x.CompileError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else "compile error"
                findings.append(COMPILE_ERROR.finding(path=None, container=top, evidence=f"{rel}: {first}", key=rel))
                continue
            sources.append((rel, text, rel))
        if not sources:
            if not findings:
                findings.append(COMPILE_ERROR.finding(path=None, container=top,
                                                      evidence=f"{root}: no *.yar or *.yara file", key=str(root)))
            return None
        compiler = _compiler(yara_x, root)
        for ns, text, origin in sources:
            compiler.new_namespace(ns)
            compiler.add_source(text, origin=origin)
        return compiler.build()


def _compiler(yara_x: Any, root: Path) -> Any:
    compiler = yara_x.Compiler()
    try:
        compiler.add_include_dir(str(root))
    except (AttributeError, ValueError):
        pass
    return compiler


def _finding(item: Item, match: Any) -> Finding:
    meta = dict(match.metadata)
    category = str(meta.get("category")) if meta.get("category") in BY_CATEGORY else DEFAULT_CATEGORY
    rule = BY_CATEGORY[category]
    wanted = str(meta.get("severity", "")).lower()
    severity = wanted if wanted in SEVERITIES else None
    hits: list[str] = []
    first: int | None = None
    for pattern in match.patterns:
        for m in pattern.matches:
            first = m.offset if first is None else min(first, m.offset)
            if len(hits) < MAX_EVIDENCE:
                hits.append(f"{pattern.identifier}@0x{m.offset:x}")
    name = f"{match.namespace}:{match.identifier}"
    evidence = name + (f" ({', '.join(hits)})" if hits else "")
    description = meta.get("description")
    f = rule.finding(
        path=item.node.path,
        container=item.tree.container,
        evidence=evidence,
        title=f"YARA {match.identifier}: {description}" if isinstance(description, str) and description else None,
        offset=first,
        severity=severity,
        backdoor_id=str(meta["backdoor_id"]) if category == "backdoor.known" and meta.get("backdoor_id") else None,
        key=name,
    )
    refs = tuple(str(meta[k]) for k in ("reference", "url", "references") if str(meta.get(k, "")).startswith("http"))
    return replace(f, references=f.references + refs) if refs else f
