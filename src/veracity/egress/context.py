"""What surrounds a candidate: the configuration key it is assigned to, the command that uses it, and whether
it sits in a web page as a link or as text shown to the user."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from .extract import Candidate

_UCI = re.compile(r"^\s*(?:option|list)\s+['\"]?([\w-]+)['\"]?\s+['\"]?$")
_ASSIGN = re.compile(r"([A-Za-z_][\w.\-]{0,63})(?:\[[^\]]{0,8}\])?['\"]?\s*(?:=>|:=|==|!=|=|:)\s*['\"]?$")
_XML_ELEMENT = re.compile(r"<([A-Za-z_][\w:.-]{0,63})(?:\s[^<>]*)?>\s*$")
_OPTION = re.compile(r"(?:^|\s)(--?[A-Za-z][\w-]{0,31})[\s=]+['\"]?$")
_PAREN_KEY = re.compile(r"[{(,]\s*[\"']([A-Za-z_][\w.-]{0,63})[\"']\s*,\s*[\"']$")
_IDENT = re.compile(r"^[A-Za-z_][\w.\-]{1,63}$")
_SHELL_SKIP = frozenset({"sudo", "exec", "nohup", "then", "do", "else", "if", "while", "until", "!", "time", "command",
                         "busybox", "eval", "env", "-", "&&", "||", "{", "(", "`", "$("})
_WORD = re.compile(r"[A-Za-z0-9_./-]+")

WEB_EXT = frozenset({".htm", ".html", ".shtml", ".xhtml", ".asp", ".aspx", ".php", ".jsp", ".stm", ".cgi", ".js",
                     ".mjs", ".css", ".vue", ".tpl", ".lp", ".lua.html"})
_WEB_DIRS = ("/www/", "/web/", "/webs/", "/htdocs/", "/html/", "/webroot/", "/usr/www/", "/usr/share/www/",
             "/home/httpd/", "/var/www/", "/webui/", "/luci-static/")
_LINK_BEFORE = re.compile(
    r"(?:\bhref\s*=\s*[\"']?(?:javascript:\s*\w+\(\s*[\"'])?|\baction\s*=\s*[\"']?|window\.open\(\s*[\"']|"
    r"\.open\(\s*[\"']|location(?:\.href)?\s*=\s*[\"']|location\.(?:assign|replace)\(\s*[\"']|goUrl\(\s*[\"']|"
    r"openWindow\w*\(\s*[\"'])$", re.IGNORECASE)
_IN_TAG = re.compile(r"<[A-Za-z][\w:-]*\s[^<>]*=\s*[\"']?$")
_SRC_BEFORE = re.compile(r"\bsrc\s*=\s*[\"']?$|@import\s+(?:url\()?[\"']?$|url\(\s*[\"']?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Context:
    key: str | None
    """The configuration key the candidate is the value of (UCI option, key=value, JSON/XML, nvram pair)."""
    command: str | None
    """The program of the shell command line holding the candidate."""
    web: str | None
    """In a web page: ``link`` (href, window.open), ``src`` (loaded by the page), ``text`` (shown to the user),
    ``code`` (script code); None outside web assets."""
    words: str
    """The candidate's line or string and its neighbours, lower case, for the purpose rules."""


def is_web_asset(path: str) -> bool:
    ext = posixpath.splitext(path)[1].lower()
    return ext in WEB_EXT or (path.startswith(_WEB_DIRS) and ext in ("", ".txt", ".json", ".xml"))


def of(cand: Candidate, path: str, binary: bool) -> Context:
    prefix = cand.prefix
    key = _key(cand, prefix, binary)
    command = _command(cand.text, prefix)
    web = _web(cand, path, prefix) if is_web_asset(path) else None
    words = " ".join((cand.text, *cand.before[:3], *cand.after[:2], cand.section or "")).lower()
    return Context(key, command, web, words)


def _key(cand: Candidate, prefix: str, binary: bool) -> str | None:
    tail = prefix[-160:]
    m = _UCI.search(tail)
    if m:
        return m.group(1)
    m = _XML_ELEMENT.search(tail)
    if m:
        return m.group(1).split(":")[-1]
    m = _PAREN_KEY.search(tail)
    if m:
        return m.group(1)
    m = _ASSIGN.search(tail) if _ends_like_assignment(tail) else None
    if m:
        return m.group(1).rsplit(".", 1)[-1] if not m.group(1).startswith(".") else m.group(1)
    m = _OPTION.search(tail)
    if m:
        return m.group(1)
    if binary and not prefix.strip() and not cand.suffix.strip() and cand.before:
        prev = cand.before[0].strip()
        if _IDENT.match(prev) and not prev.replace(".", "").isdigit():
            return prev
    return None


def _ends_like_assignment(tail: str) -> bool:
    """Whether ``tail`` ends as every match of _ASSIGN does: an operator, then white space and a quote at most
    (before a last newline, as ``$`` allows). Cheaper than the search, which tries every start."""
    tail = tail.removesuffix("\n")
    if tail.endswith(("'", '"')):
        tail = tail[:-1]
    return tail.rstrip().endswith(("=", ":", ">"))


def _command(text: str, prefix: str) -> str | None:
    segment = re.split(r"[;|&`]|\$\(", prefix)[-1]
    tokens = _WORD.findall(segment)
    for tok in tokens:
        if tok in _SHELL_SKIP or "=" in tok:
            continue
        name = posixpath.basename(tok)
        if re.fullmatch(r"[a-z][a-z0-9_.-]{1,31}", name):
            return name
        return None
    return None


def _web(cand: Candidate, path: str, prefix: str) -> str:
    tail = prefix[-120:]
    if _LINK_BEFORE.search(tail):
        return "link"
    if _SRC_BEFORE.search(tail):
        return "src"
    ext = posixpath.splitext(path)[1].lower()
    if ext not in (".js", ".mjs", ".css", ".json"):
        lt, gt = prefix.rfind("<"), prefix.rfind(">")
        if gt > lt:
            return "text"
        if lt > gt and _IN_TAG.match(prefix[lt:]):
            return "text"
        if lt < 0 and gt < 0 and not re.search(r"[=(:]\s*[\"']?$", tail):
            return "text"
    return "code"
