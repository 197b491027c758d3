"""Findings: frozen, typed values; the report reads back from its own JSON."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, fields
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

CATEGORIES = (
    "backdoor.known",
    "backdoor.magic-auth",
    "backdoor.bind-shell",
    "account.hidden",
    "credential.empty",
    "credential.default",
    "credential.hardcoded",
    "credential.authorized-key",
    "key.private",
    "key.known-compromised",
    "service.remote-access",
    "service.listener",
    "code.reverse-shell",
    "code.download-exec",
    "code.obfuscated",
    "code.exfiltration",
    "code.malicious",
    "egress.endpoint",
    "egress.undeclared",
    "egress.cross-border",
    "component.vulnerable",
    "component.end-of-life",
    "binary.hardening",
    "config.insecure",
    "update.insecure",
    "analysis.incomplete",
)

# Container names carry offsets ("squashfs@0x120200"); a fingerprint must survive a kernel that grew by a
# few bytes, so offsets are dropped from the chain before hashing.
_OFFSET = re.compile(r"@0x[0-9a-f]+$")


@dataclass(frozen=True, slots=True)
class Rule:
    """What a finding is an instance of: data, so that registries and SARIF can list it."""

    id: str
    category: str
    severity: str
    title: str
    description: str = ""
    standards: tuple[str, ...] = ()
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"rule {self.id}: unknown category {self.category!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.id}: unknown severity {self.severity!r}")

    def finding(
        self,
        *,
        path: str | None,
        container: tuple[str, ...] | list[str] = (),
        evidence: str = "",
        title: str | None = None,
        line: int | None = None,
        offset: int | None = None,
        severity: str | None = None,
        backdoor_id: str | None = None,
        key: str | None = None,
    ) -> Finding:
        """An instance of this rule. ``key`` distinguishes several findings of one rule on one path."""
        container = tuple(container)
        return Finding(
            rule=self.id,
            category=self.category,
            severity=severity or self.severity,
            title=title or self.title,
            path=path,
            container=container,
            line=line,
            offset=offset,
            evidence=evidence,
            backdoor_id=backdoor_id,
            standards=self.standards,
            references=self.references,
            fingerprint=fingerprint(self.id, path, container, key if key is not None else evidence),
        )


def fingerprint(rule: str, path: str | None, container: tuple[str, ...], key: str) -> str:
    chain = "/".join(_OFFSET.sub("", c) for c in container[1:])  # the outer file name may change too
    material = "\x00".join((rule, chain, path or "", key))
    return hashlib.sha256(material.encode("utf-8", "surrogateescape")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    category: str
    severity: str
    title: str
    path: str | None
    container: tuple[str, ...]
    evidence: str
    fingerprint: str
    line: int | None = None
    offset: int | None = None
    backdoor_id: str | None = None
    standards: tuple[str, ...] = field(default=())
    references: tuple[str, ...] = field(default=())

    def sort_key(self) -> tuple[Any, ...]:
        return (
            SEVERITY_RANK[self.severity],
            self.category,
            self.path or "",
            self.rule,
            self.container,
            self.offset if self.offset is not None else -1,
            self.line if self.line is not None else -1,
            self.fingerprint,
        )

    def to_dict(self) -> dict[str, Any]:
        # field by field (every field is a str, an int, None or a tuple of str): dataclasses.asdict copies each
        # value deeply, ten times slower, and a report has thousands of findings
        d = {name: getattr(self, name) for name in _FINDING_FIELDS}
        d["container"] = list(self.container)
        d["standards"] = list(self.standards)
        d["references"] = list(self.references)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(
            rule=d["rule"],
            category=d["category"],
            severity=d["severity"],
            title=d["title"],
            path=d.get("path"),
            container=tuple(d.get("container", ())),
            evidence=d.get("evidence", ""),
            fingerprint=d["fingerprint"],
            line=d.get("line"),
            offset=d.get("offset"),
            backdoor_id=d.get("backdoor_id"),
            standards=tuple(d.get("standards", ())),
            references=tuple(d.get("references", ())),
        )


_FINDING_FIELDS = tuple(f.name for f in fields(Finding))
