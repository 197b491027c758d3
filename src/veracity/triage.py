"""CI and triage conventions (like trivy and grype): ignore file, severity filter, baseline, config file,
``VERACITY_*`` environment variables and repeatable ``--format NAME[=FILE]``.

Precedence of a ``veracity scan`` setting: command line, then ``VERACITY_<FLAG>`` (e.g. ``VERACITY_FAIL_ON=high``,
``VERACITY_SEVERITY=critical,high``), then the config file (``--config``, ``$VERACITY_CONFIG``, or ``veracity.yaml``
in the working directory), then the built-in default.

The ignore file (``--ignore-file``, default ``.veracityignore.yaml`` in the working directory)::

    ignore:
      - fingerprint: 3f0c9a1e5b7d2c4e6f8a0b1c2d3e4f50
        reason: device-unique key generated at first boot, see ticket SEC-12
        expires: 2026-06-30
      - rule: VER-SVC-004            # a rule id, or a glob such as VER-SVC-*
        path: /usr/sbin/**           # * stays inside a directory, ** crosses directories
        reason: listeners reviewed in the threat model

An entry matches a finding when all of its selectors (``fingerprint``, ``rule``, ``path``) match. Expired
entries no longer hide anything and are reported as warnings. Ignored findings, findings already in the
``--baseline`` report and findings below ``--severity`` leave the outputs and no longer count for
``--fail-on``; the conformance verdicts stay those of the whole scan (a waiver is not a fix), and the report
records what was hidden in its ``triage`` section.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .findings import SEVERITIES, SEVERITY_RANK

DEFAULT_IGNORE_FILE = ".veracityignore.yaml"
DEFAULT_CONFIG_FILES = ("veracity.yaml", ".veracity.yaml")
ENV_PREFIX = "VERACITY_"
FORMATS = ("json", "table", "sarif", "html", "markdown", "cyclonedx", "spdx")
_RENDERERS = {"sarif": "sarif", "html": "html", "markdown": "markdown", "cyclonedx": "cyclonedx", "spdx": "spdx"}
_FORMAT_ALIASES = {"md": "markdown", "htm": "html", "cdx": "cyclonedx"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class UsageError(ValueError):
    """A bad flag, environment variable, config or ignore file: the CLI exits with status 2."""


# -- formats ------------------------------------------------------------------------------------------------


def parse_format(text: str) -> tuple[str, Path | None]:
    """``NAME`` or ``NAME=FILE`` (argparse ``type``): the renderer name and where to write it (None: stdout)."""
    name, sep, file = text.partition("=")
    name = _FORMAT_ALIASES.get(name.strip().lower(), name.strip().lower())
    if name not in FORMATS:
        raise argparse.ArgumentTypeError(f"unknown format {name!r} (choose from {', '.join(FORMATS)})")
    if sep and not file:
        raise argparse.ArgumentTypeError(f"no file name after '=' in {text!r}")
    return name, Path(file) if sep else None


def render(name: str, report: dict[str, Any]) -> str:
    """The report in format ``name`` (every renderer is a pure function of the report)."""
    if name == "json":
        from .report import dumps

        return dumps(report)
    if name == "table":
        import io

        from rich.console import Console

        from .render import table

        buf = io.StringIO()
        table.render(report, Console(file=buf, width=140, color_system=None, force_terminal=False))
        return buf.getvalue()
    module = _RENDERERS.get(name)
    if module is None:
        raise UsageError(f"unknown format {name!r}")
    import importlib

    try:
        renderer = importlib.import_module(f"veracity.render.{module}")
    except ImportError:
        raise UsageError(f"the {name} format is not available in this version") from None
    return renderer.render(report)


def outputs(formats: Sequence[tuple[str, Path | None]], output: Path | None, *, tty: bool) -> list[tuple[str, Path | None]]:
    """Where each requested format goes: ``--format X`` without a file goes to ``--output`` or stdout.

    With no ``--format``: ``table`` on a terminal (without ``--output``), ``json`` otherwise. At most one
    format may go to stdout.
    """
    if not formats:
        return [("table" if tty and output is None else "json", output)]
    out = [(name, path if path is not None else output) for name, path in formats]
    to_stdout = [name for name, path in out if path is None]
    if len(to_stdout) > 1:
        raise UsageError(f"formats {', '.join(to_stdout)} would all go to stdout: give them files (NAME=FILE)")
    files = [str(p) for _, p in out if p is not None]
    if len(files) != len(set(files)):
        raise UsageError("two formats would be written to the same file")
    return out


# -- ignore file --------------------------------------------------------------------------------------------


def _glob(pattern: str) -> re.Pattern[str]:
    """Path glob: ``**`` crosses directories, ``*`` and ``?`` do not, ``[...]`` is a character class."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif ch == "*":
            out.append("[^/]*")
            i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                out.append(re.escape(ch))
                i += 1
            else:
                body = pattern[i + 1 : j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = j + 1
        else:
            out.append(re.escape(ch))
            i += 1
    return re.compile("".join(out) + r"\Z")


@dataclass(frozen=True)
class IgnoreEntry:
    index: int
    reason: str
    fingerprint: str | None = None
    rule: str | None = None
    path: str | None = None
    expires: dt.date | None = None

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and today > self.expires

    def matches(self, f: Mapping[str, Any]) -> bool:
        if self.fingerprint is not None and f.get("fingerprint") != self.fingerprint:
            return False
        if self.rule is not None and not _glob(self.rule).match(f.get("rule") or ""):
            return False
        if self.path is not None:
            path = f.get("path")
            if path is None:
                return False
            pattern = self.path if self.path.startswith("/") else "/" + self.path
            if not _glob(pattern).match(path):
                return False
        return True

    def describe(self) -> str:
        sel = [f"{k}={v}" for k, v in (("fingerprint", self.fingerprint), ("rule", self.rule), ("path", self.path)) if v]
        return f"entry {self.index + 1} ({', '.join(sel)})"


@dataclass
class IgnoreFile:
    path: Path | None
    entries: list[IgnoreEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise UsageError(f"{where}: expires must be a date like 2026-06-30, not {value!r}") from None


def parse_ignore(data: Any, source: str = "ignore file") -> IgnoreFile:
    """An ignore file's content (parsed YAML/JSON) as entries; problems that do not stop a scan are warnings."""
    out = IgnoreFile(None)
    if data is None:
        return out
    items = data.get("ignore", data.get("ignores")) if isinstance(data, dict) else data
    if isinstance(data, dict):
        extra = set(data) - {"ignore", "ignores"}
        if extra:
            out.warnings.append(f"{source}: unknown top-level key(s) {', '.join(sorted(map(str, extra)))} ignored")
    if items is None:
        return out
    if not isinstance(items, list):
        raise UsageError(f"{source}: 'ignore' must be a list of entries")
    for i, item in enumerate(items):
        where = f"{source}: entry {i + 1}"
        if not isinstance(item, dict):
            raise UsageError(f"{where}: must be a mapping with fingerprint/rule/path and reason")
        unknown = set(item) - {"fingerprint", "rule", "path", "reason", "expires", "id"}
        if unknown:
            out.warnings.append(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))} ignored")
        fp = item.get("fingerprint", item.get("id"))
        rule, path = item.get("rule"), item.get("path")
        if fp is None and rule is None and path is None:
            raise UsageError(f"{where}: needs at least one of fingerprint, rule, path")
        reason = str(item.get("reason") or "").strip()
        if not reason:
            out.warnings.append(f"{where}: no reason given (say why the finding is accepted)")
        expires = _date(item["expires"], where) if item.get("expires") is not None else None
        out.entries.append(
            IgnoreEntry(
                index=i,
                reason=reason,
                fingerprint=str(fp).strip().lower() if fp is not None else None,
                rule=str(rule).strip() if rule is not None else None,
                path=str(path) if path is not None else None,
                expires=expires,
            )
        )
    return out


def load_ignore(path: Path) -> IgnoreFile:
    """Read an ignore file (YAML, which includes JSON)."""
    import yaml  # type: ignore[import-untyped]

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read ignore file {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"ignore file {path} is not valid YAML: {exc}") from None
    out = parse_ignore(data, str(path))
    out.path = path
    return out


# -- applying triage to a report ----------------------------------------------------------------------------


def _summary(findings: list[dict[str, Any]]) -> dict[str, Any]:
    by_sev = {s: 0 for s in SEVERITIES}
    by_cat: dict[str, int] = {}
    for f in findings:
        by_sev[f["severity"]] += 1
        by_cat[f["category"]] = by_cat.get(f["category"], 0) + 1
    return {"by_severity": by_sev, "by_category": dict(sorted(by_cat.items()))}


def load_baseline(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"baseline {path} is not a JSON report: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise UsageError(f"baseline {path} is not a veracity report (no findings list)")
    return data


def apply(
    report: dict[str, Any],
    *,
    ignore: IgnoreFile | None = None,
    baseline: dict[str, Any] | None = None,
    baseline_path: Path | str | None = None,
    severities: Sequence[str] | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """A copy of ``report`` with ignored, known (baseline) and filtered-out findings removed.

    The ``triage`` section records each hidden finding and why, and the warnings (expired entries...).
    """
    today = today or dt.date.today()
    warnings: list[str] = list(ignore.warnings) if ignore else []
    active: list[IgnoreEntry] = []
    if ignore:
        for e in ignore.entries:
            if e.expired(today):
                warnings.append(
                    f"{ignore.path or 'ignore file'}: {e.describe()} expired on {e.expires}; "
                    "its findings are shown again"
                )
            else:
                active.append(e)
    known: set[tuple[str, str]] = set()
    if baseline is not None:
        known = {(f.get("fingerprint"), f.get("rule")) for f in baseline.get("findings", [])}
    keep_sev = set(severities) if severities else None
    kept, ignored, old, filtered = [], [], [], 0
    used: set[int] = set()
    for f in report.get("findings", []):
        hit = next((e for e in active if e.matches(f)), None)
        if hit is not None:
            used.add(hit.index)
            ignored.append(
                {
                    "fingerprint": f["fingerprint"],
                    "rule": f["rule"],
                    "severity": f["severity"],
                    "path": f.get("path"),
                    "entry": hit.index + 1,
                    "reason": hit.reason,
                    "expires": hit.expires.isoformat() if hit.expires else None,
                }
            )
            continue
        if (f["fingerprint"], f["rule"]) in known:
            old.append(f["fingerprint"])
            continue
        if keep_sev is not None and f["severity"] not in keep_sev:
            filtered += 1
            continue
        kept.append(f)
    for e in active:
        if e.index not in used:
            warnings.append(f"{ignore.path if ignore else 'ignore file'}: {e.describe()} matched no finding")
    out = dict(report)
    out["findings"] = kept
    out["summary"] = _summary(kept)
    section: dict[str, Any] = {
        "ignore_file": str(ignore.path) if ignore and ignore.path else None,
        "ignored": ignored,
        "severity": sorted(keep_sev, key=SEVERITY_RANK.__getitem__) if keep_sev else None,
        "hidden_by_severity": filtered,
        "baseline": None,
        "warnings": warnings,
        "total_findings": len(report.get("findings", [])),
    }
    if baseline is not None:
        current = {(f["fingerprint"], f["rule"]) for f in report.get("findings", [])}
        section["baseline"] = {
            "path": str(baseline_path) if baseline_path else None,
            "known": len(old),
            "new": sum(1 for f in report.get("findings", []) if (f["fingerprint"], f["rule"]) not in known),
            "fixed": sum(1 for k in known if k not in current),
            "known_findings": sorted(set(old)),
        }
    out["triage"] = section
    return out


def exceeds(report: Mapping[str, Any], severity: str | None) -> bool:
    """Whether a (triaged) report has a finding at or above ``severity`` (``--fail-on``)."""
    if not severity:
        return False
    limit = SEVERITY_RANK[severity]
    return any(SEVERITY_RANK[f["severity"]] <= limit for f in report.get("findings", []))


# -- command line, environment and config file --------------------------------------------------------------


def _severity_list(text: str) -> list[str]:
    out = []
    for part in text.split(","):
        p = part.strip().lower()
        if not p:
            continue
        if p not in SEVERITIES:
            raise argparse.ArgumentTypeError(f"unknown severity {part.strip()!r} (choose from {', '.join(SEVERITIES)})")
        out.append(p)
    return out


def _name_list(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def add_scan_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--format`` (repeatable NAME[=FILE]), ``--standard``, ``--severity``, ``--ignore-file``, ``--baseline``
    and ``--config`` to the ``scan`` subparser. Call :func:`options_from` right after parsing."""
    parser.add_argument(
        "--format",
        dest="format",
        action="append",
        type=parse_format,
        default=None,
        metavar="NAME[=FILE]",
        help=f"output format, repeatable: {', '.join(FORMATS)}; NAME=FILE writes that format to FILE "
        "(default: table on a terminal, json otherwise)",
    )
    parser.add_argument(
        "--standard",
        dest="standard",
        action="append",
        type=_name_list,
        default=None,
        metavar="NAME",
        help="standards profile to assess, repeatable or comma-separated (default: all; see `veracity standards`)",
    )
    parser.add_argument(
        "--severity",
        dest="severity",
        action="append",
        type=_severity_list,
        default=None,
        metavar="LIST",
        help="show only findings of these severities, e.g. critical,high (default: all)",
    )
    parser.add_argument(
        "--ignore-file",
        dest="ignore_file",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"findings to ignore, with reason and expiry (default: {DEFAULT_IGNORE_FILE} if present)",
    )
    parser.add_argument(
        "--baseline",
        dest="baseline",
        type=Path,
        default=None,
        metavar="REPORT.json",
        help="an earlier JSON report: show only findings that are not in it",
    )
    parser.add_argument(
        "--config",
        dest="config",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"config file of defaults (default: $VERACITY_CONFIG, or {DEFAULT_CONFIG_FILES[0]} if present)",
    )
    parser.set_defaults(_veracity_scan_parser=parser)


def _flatten(value: Any) -> Any:
    """append + list-typed flags produce lists of lists; flatten them, keeping order and dropping duplicates."""
    if not isinstance(value, list):
        return value
    flat: list[Any] = []
    for v in value:
        for x in v if isinstance(v, list) else [v]:
            if x not in flat:
                flat.append(x)
    return flat


def _explicit(action: argparse.Action, argv: Sequence[str] | None, value: Any) -> bool:
    if argv is None:
        return value != action.default
    for tok in argv:
        if tok == "--":
            break
        for opt in action.option_strings:
            if tok == opt or (opt.startswith("--") and tok.startswith(opt + "=")):
                return True
            if not opt.startswith("--") and tok.startswith(opt) and len(tok) > len(opt) and not tok.startswith("--"):
                return True
    return False


def _convert(action: argparse.Action, raw: Any, where: str) -> Any:
    """A value from the environment (a string) or the config file (any YAML value) for ``action``."""
    try:
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            if isinstance(raw, bool):
                flag = raw
            else:
                text = str(raw).strip().lower()
                if text not in _TRUE | _FALSE:
                    raise UsageError(f"{where}: expected true or false, not {raw!r}")
                flag = text in _TRUE
            return flag if isinstance(action, argparse._StoreTrueAction) else not flag
        conv: Callable[[str], Any] = action.type if callable(action.type) else (lambda s: s)
        if isinstance(action, argparse._AppendAction):
            items = raw if isinstance(raw, list) else (str(raw).split(",") if isinstance(raw, str) else [raw])
            values = []
            for item in items:
                if isinstance(item, str) and not item.strip():
                    continue
                v = conv(str(item).strip()) if not isinstance(item, (list, tuple)) else item
                values.append(v)
            for v in values:
                _check_choice(action, v, where)
            return values
        value = conv(str(raw).strip()) if not isinstance(raw, bool) else raw
        _check_choice(action, value, where)
        return value
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        if isinstance(exc, UsageError):
            raise
        raise UsageError(f"{where}: invalid value {raw!r}") from None


def _check_choice(action: argparse.Action, value: Any, where: str) -> None:
    if action.choices is not None and value not in action.choices:
        raise UsageError(f"{where}: {value!r} is not one of {', '.join(map(str, action.choices))}")


def load_config(path: Path) -> dict[str, Any]:
    import yaml  # type: ignore[import-untyped]

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"config file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"config file {path}: expected a mapping of option names to values")
    if isinstance(data.get("scan"), dict):  # an optional `scan:` section
        data = {**{k: v for k, v in data.items() if k != "scan"}, **data["scan"]}
    return {str(k).replace("-", "_").lower(): v for k, v in data.items()}


def _config_path(args: argparse.Namespace, argv: Sequence[str] | None, environ: Mapping[str, str]) -> Path | None:
    explicit = getattr(args, "config", None)
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(f"config file not found: {explicit}")
        return explicit
    env = environ.get(ENV_PREFIX + "CONFIG")
    if env:
        p = Path(env)
        if not p.is_file():
            raise UsageError(f"config file not found: {p} (from ${ENV_PREFIX}CONFIG)")
        return p
    for name in DEFAULT_CONFIG_FILES:
        p = Path(name)
        if p.is_file():
            return p
    return None


def options_from(
    args: argparse.Namespace,
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Resolve the scan's settings and return what the scan and the outputs need.

    Fills every ``scan`` flag not given on the command line from ``VERACITY_<FLAG>``, then the config file
    (``args`` is updated in place, so ``--fail-on``, ``--timeout`` etc. get their defaults from there too).
    ``argv`` (the command line without the program name) tells explicit flags apart; without it a value equal
    to the built-in default counts as not given. Raises :class:`UsageError`.

    Returns ``{"standards": tuple, "severities": tuple | None, "ignore_file": Path | None, "baseline": Path | None,
    "formats": [(name, Path | None), ...], "config": Path | None, "warnings": [str, ...]}``.
    """
    environ = os.environ if environ is None else environ
    parser: argparse.ArgumentParser | None = getattr(args, "_veracity_scan_parser", None)
    warnings: list[str] = []
    config_path = _config_path(args, argv, environ)
    config = load_config(config_path) if config_path else {}
    if parser is not None:
        known = set()
        for action in parser._actions:
            dest = action.dest
            if dest in (argparse.SUPPRESS, "help", "version", "config") or not action.option_strings:
                continue
            known.add(dest)
            value = getattr(args, dest, None)
            if _explicit(action, argv, value):
                continue
            env_name = ENV_PREFIX + dest.upper()
            if env_name in environ:
                setattr(args, dest, _convert(action, environ[env_name], f"${env_name}"))
            elif dest in config:
                setattr(args, dest, _convert(action, config[dest], f"{config_path}: {dest.replace('_', '-')}"))
        unknown = sorted(set(config) - known - {"config"})
        if unknown:
            warnings.append(f"{config_path}: unknown option(s) {', '.join(unknown)} ignored")
    standards = tuple(_flatten(getattr(args, "standard", None) or []))
    if standards:
        from .standards import UnknownStandard, resolve

        try:
            resolve(standards)
        except UnknownStandard as exc:
            raise UsageError(exc.diagnostics()) from None
    severities = _flatten(getattr(args, "severity", None) or []) or None
    ignore_file = getattr(args, "ignore_file", None)
    if ignore_file is not None and not ignore_file.is_file():
        raise UsageError(f"ignore file not found: {ignore_file}")
    if ignore_file is None and Path(DEFAULT_IGNORE_FILE).is_file():
        ignore_file = Path(DEFAULT_IGNORE_FILE)
    baseline = getattr(args, "baseline", None)
    if baseline is not None and not baseline.is_file():
        raise UsageError(f"baseline report not found: {baseline}")
    return {
        "standards": standards,
        "severities": tuple(severities) if severities else None,
        "ignore_file": ignore_file,
        "baseline": baseline,
        "formats": list(_flatten(getattr(args, "format", None) or [])),
        "config": config_path,
        "warnings": warnings,
    }


def triage(report: dict[str, Any], opts: Mapping[str, Any], today: dt.date | None = None) -> dict[str, Any]:
    """Apply the ignore file, baseline and severity filter of ``opts`` (from :func:`options_from`)."""
    ignore = load_ignore(opts["ignore_file"]) if opts.get("ignore_file") else None
    baseline = load_baseline(opts["baseline"]) if opts.get("baseline") else None
    out = apply(
        report,
        ignore=ignore,
        baseline=baseline,
        baseline_path=opts.get("baseline"),
        severities=opts.get("severities"),
        today=today,
    )
    out["triage"]["warnings"] = [*opts.get("warnings", []), *out["triage"]["warnings"]]
    return out


__all__ = [
    "FORMATS",
    "IgnoreEntry",
    "IgnoreFile",
    "UsageError",
    "add_scan_arguments",
    "apply",
    "exceeds",
    "load_baseline",
    "load_ignore",
    "options_from",
    "outputs",
    "parse_format",
    "parse_ignore",
    "render",
    "triage",
]
