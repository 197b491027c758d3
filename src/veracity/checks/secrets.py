"""Hard-coded passwords, tokens and cloud keys in configuration files, scripts and programs.

Every device built from an image carries the same copy of a credential written into it: a cloud access
key, an MQTT broker password, a TR-069 ACS password, a Wi-Fi passphrase, a token for the vendor's API.
Whoever downloads the firmware has it. This check finds them with one Hyperscan pass (the inventory's)
and confirms each candidate here:

- provider credentials with a documented shape: AWS access key ids (+ the secret next to them), GCP
  service-account JSON, Azure storage / IoT Hub shared keys, Alibaba Cloud ``LTAI...`` and Tencent Cloud
  ``AKID...`` key ids, generic AK/SK pairs (Huawei OBS style);
- service tokens: GitHub, GitLab, Slack (tokens and webhooks), Stripe live keys, SendGrid, npm, PyPI,
  Telegram bot tokens, Google API keys;
- JSON Web Tokens (the header is decoded to confirm);
- URLs with credentials (``mqtt://user:pass@broker``, ``ftp://...``);
- ``password=``/``passwd:``/``secret``/``token``/``api_key``/``psk`` assignments in configs, scripts and
  program strings, UCI ``option password '...'`` and XML ``<password>`` elements;
- PPP ``chap-secrets``/``pap-secrets`` and IPsec ``ipsec.secrets`` entries.

Evidence always carries the secret masked (``ad***``), never in full; fingerprints never depend on it.

Decisions (allow-lists):
- Not a secret: empty values, variables and substitutions (``$PASS``, ``${X}``, ``%s``, ``{{x}}``,
  ``<password>``), values that repeat the key's name or are type names, booleans, paths and URLs, values
  with spaces (prose), masks (``****``, ``xxxx``) and documented examples (``AKIAIOSFODNN7EXAMPLE``).
- In source code (``.py``, ``.js``, ``.lua``, ``.c``...), only quoted literals count (``password =
  get()`` is not a credential); in configs and shell scripts plain values count.
- Documentation, tests, examples and translations (``/usr/share/doc``, ``tests/``, ``*.md``, ``i18n``):
  generic assignments and URLs are skipped; provider tokens there are reported at ``low``.
- ``changeme``, ``admin``, ``default``... are reported, not skipped: a placeholder that nobody changes is
  the default password of every device.
- Mobile-carrier dial-up credentials (an ``apn=`` next to them) are public carrier data: ``low``.
- PPP secrets authenticate the device to its ISP; shipped entries are reported at ``low``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import posixpath
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import ClassVar

from ..findings import SEVERITIES, Finding, Rule
from ..inventory import Inventory, Item, read_region
from ..patterns import Pattern
from .base import NotApplicable, file_key, nonproduct, nonproduct_item

_EN = "https://www.etsi.org/deliver/etsi_en/303600_303699/303645/02.01.01_60/en_303645v020101p.pdf"
_CWE798 = "https://cwe.mitre.org/data/definitions/798.html"
_CWE259 = "https://cwe.mitre.org/data/definitions/259.html"
_CWE522 = "https://cwe.mitre.org/data/definitions/522.html"
_AWS_KEYS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html"
_GH_TOKENS = "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/about-authentication-to-github#githubs-token-formats"
_JWT = "https://www.rfc-editor.org/rfc/rfc7519"

CLOUD = Rule(
    "VER-SEC-001",
    "credential.hardcoded",
    "high",
    "Cloud provider access key written into the image",
    "A cloud access key (AWS, Google Cloud service account, Azure shared key, Alibaba, Tencent, Huawei-style "
    "AK/SK) is part of the image. Every device carries the same key, so anyone who downloads the firmware can "
    "use the vendor's cloud account with the key's rights (device fleets, storage buckets, telemetry).",
    ("EN303645:5.4-3", "EN303645:5.4-4", "TS33117:4.2.3.4.2.3", "TS33117:4.2.3.2.3"),
    (_CWE798, _AWS_KEYS, _EN),
)
SERVICE_TOKEN = Rule(
    "VER-SEC-002",
    "credential.hardcoded",
    "high",
    "API token of an online service written into the image",
    "A token for an online service (GitHub, GitLab, Slack, Stripe, SendGrid, npm, PyPI, Telegram bot, Google "
    "API) is part of the image: anyone holding the image can act as the vendor on that service.",
    ("EN303645:5.4-3", "EN303645:5.4-4", "TS33117:4.2.3.4.2.3"),
    (_CWE798, _GH_TOKENS, _EN),
)
JWT = Rule(
    "VER-SEC-003",
    "credential.hardcoded",
    "medium",
    "JSON Web Token written into the image",
    "A signed bearer token is part of the image. Unless it has expired or is bound to nothing, it "
    "authenticates whoever presents it, on every device.",
    ("EN303645:5.4-3", "TS33117:4.2.3.4.2.3"),
    (_CWE798, _JWT),
)
URL_CREDENTIALS = Rule(
    "VER-SEC-004",
    "credential.hardcoded",
    "high",
    "URL with an embedded user name and password",
    "A URL carries its credentials (``scheme://user:password@host``): a broker, database, FTP or update "
    "server login shared by every device of the model.",
    ("EN303645:5.4-3", "EN303645:5.1-1", "TS33117:4.2.3.4.2.3", "TS33117:4.2.3.2.3"),
    (_CWE798, _CWE522, _EN),
)
ASSIGNMENT = Rule(
    "VER-SEC-005",
    "credential.hardcoded",
    "medium",
    "Password or secret written into a configuration file, script or program",
    "A password, passphrase, pre-shared key, token or API key is assigned a literal value in the image "
    "(key=value, YAML/JSON, UCI ``option password``, XML, strings of a program). It is the same on every "
    "device: a universal default unless the device forces a change. Credentials for remote services (MQTT, "
    "cloud, TR-069 ACS, SMTP, FTP, DDNS) are reported at high severity.",
    ("EN303645:5.1-1", "EN303645:5.4-3", "TS33117:4.2.3.4.2.3", "TS33117:4.2.3.2.3"),
    (_CWE259, _CWE798, _EN),
)
PPP_SECRETS = Rule(
    "VER-SEC-006",
    "credential.hardcoded",
    "low",
    "Credentials in a PPP or IPsec secrets file",
    "chap-secrets, pap-secrets or ipsec.secrets ship with entries. They usually authenticate the device to "
    "its ISP or VPN peer and are replaced at set-up; a shared IPsec pre-shared key is a real weakness.",
    ("EN303645:5.4-3", "TS33117:4.2.3.2.3"),
    (_CWE798,),
)
CAPPED = Rule(
    "VER-SEC-007",
    "analysis.incomplete",
    "info",
    "Too many secret candidates in one file; only the first were examined",
    "A file matched a secret pattern more often than the per-file cap of the pattern pass; later candidates "
    "in it were not examined.",
)

_KW = rb"(?:pass|pwd|secret|token|api_?key|apikey|access_?key|auth_?key|psk|credential)"
_VALUE_START = rb"[^\x00-\x20\x7f-\xff%$\"'<{]"

_PATTERNS: tuple[Pattern, ...] = (
    Pattern("VER-SEC-001/aws-id", rb"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b"),
    Pattern("VER-SEC-001/aws-secret", rb"(?:aws_?secret_?access_?key|aws_?secret_?key|secretaccesskey)[\"']?[ \t]{0,4}(?:=|:)",
            caseless=True),
    Pattern("VER-SEC-001/gcp-sa", rb"\"type\"[ \t]{0,4}:[ \t]{0,4}\"service_account\""),
    Pattern("VER-SEC-001/azure", rb"(?:AccountKey|SharedAccessKey)=[A-Za-z0-9+/]{20}"),
    Pattern("VER-SEC-001/aksk", rb"\b(?:ak|sk|access_?key_?id|secret_?key)[\"']?[ \t]{0,4}(?:=|:)[ \t]{0,4}[\"']?[A-Za-z0-9/+]{16}",
            caseless=True),
    Pattern("VER-SEC-001/alibaba", rb"\bLTAI[0-9A-Za-z]{12,20}\b"),
    Pattern("VER-SEC-001/tencent", rb"\bAKID[0-9A-Za-z]{13,32}\b"),
    Pattern("VER-SEC-002/github", rb"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22})"),
    Pattern("VER-SEC-002/gitlab", rb"\bglpat-[A-Za-z0-9_-]{20}"),
    Pattern("VER-SEC-002/slack", rb"\bxox[abposr]-[0-9A-Za-z]{8}|hooks\.slack\.com/services/T[A-Z0-9]{6}"),
    Pattern("VER-SEC-002/stripe", rb"\b[sr]k_live_[0-9A-Za-z]{20}"),
    Pattern("VER-SEC-002/sendgrid", rb"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b"),
    Pattern("VER-SEC-002/npm", rb"\bnpm_[A-Za-z0-9]{36}\b"),
    Pattern("VER-SEC-002/pypi", rb"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{20}"),
    Pattern("VER-SEC-002/telegram", rb"\b[0-9]{8,10}:AA[0-9A-Za-z_-]{33}\b"),
    Pattern("VER-SEC-002/google", rb"\bAIza[0-9A-Za-z_-]{35}"),
    Pattern("VER-SEC-003/jwt", rb"\beyJ[A-Za-z0-9_-]{8}[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]{8}"),
    Pattern("VER-SEC-004/url", rb"\b[a-z][a-z0-9+.-]{1,15}://[^\s:/@\"'<>]+:[^\s@/\"'<>]+@", caseless=True),
    Pattern("VER-SEC-005/assign", _KW + rb"[A-Za-z0-9_.-]{0,24}[\"']?[ \t]{0,4}(?:=>|:=|=|:)[ \t]{0,4}[\"']?" + _VALUE_START,
            caseless=True),
    Pattern("VER-SEC-005/uci", rb"^[ \t]*option[ \t]+['\"]?[A-Za-z0-9_]*(?:pass|pwd|secret|token|key|psk)[A-Za-z0-9_]*['\"]?[ \t]+"
            rb"['\"]?[^\s'\"]", caseless=True, multiline=True),
    Pattern("VER-SEC-005/xml", rb"<[A-Za-z_:-]{0,20}(?:pass|pwd|secret|token|psk)[A-Za-z_:-]{0,20}>[^<\x00-\x20]", caseless=True),
)

# -- vocabulary ---------------------------------------------------------------------------------------------

_PASSWORD_WORDS = frozenset({"password", "passwd", "pass", "pwd", "pw", "passw", "passphrase", "passcode", "psk"})
_SECRET_WORDS = frozenset({"secret", "token", "apikey", "credential", "credentials"})
_KEY_QUALIFIERS = frozenset({
    "api", "access", "auth", "secret", "private", "client", "app", "master", "shared", "wpa", "wep",
    "encryption", "enc", "account", "signing", "sign", "hmac", "aes", "crypt", "session", "device", "cloud",
})
_EXCLUDED_PARTS = frozenset({
    "file", "files", "path", "dir", "directory", "length", "len", "min", "max", "minimum", "maximum", "required",
    "require", "policy", "type", "types", "prompt", "hint", "label", "field", "url", "uri", "enable", "enabled",
    "disable", "disabled", "mode", "method", "methods", "expire", "expires", "expired", "expiry", "expiration",
    "age", "timeout", "format", "name", "id", "ids", "header", "param", "params", "parameter", "pattern", "regex",
    "regexp", "authentication", "hash", "hashed", "crypted", "encrypted", "md5", "sha", "sha1", "sha256", "salt",
    "cmd", "command", "script", "program", "helper", "reset", "change", "changed", "strength", "retry", "retries",
    "attempts", "count", "size", "env", "var", "variable", "query", "cache", "endpoint", "lifetime", "ttl",
    "validity", "limit", "level", "rule", "rules", "check", "verify", "validation", "valid", "prefix", "suffix",
    "char", "chars", "characters", "complexity", "history", "store", "storage", "manager", "input", "form", "box",
    "text", "placeholder", "title", "error", "msg", "message", "desc", "description", "help", "button", "btn",
    "link", "page", "html", "tab", "idx", "index", "flag", "flags", "option", "options", "status", "state",
    "result", "response", "request", "req", "res", "source", "src", "class", "style", "color", "width", "height",
    "img", "icon", "show", "hide", "visible", "bytes", "bits", "algorithm", "algo", "cipher", "version", "ver",
    "kind", "category", "provider", "generator", "gen", "through", "thru", "word", "words", "list", "table",
    "db", "database", "dict", "mask", "masked", "confirm", "confirmation", "old", "new", "current",
    "empty", "null", "used", "usage", "use", "less", "only", "set", "get", "func", "function", "callback", "handler",
    "event", "events", "key2", "keys", "tries", "interval", "period", "duration", "time", "date", "timestamp",
    "counter", "number", "num", "location", "host", "port", "server", "user", "username", "login",
    "account", "email", "mail", "scope", "scopes", "audience", "issuer", "alg", "encoding",
    "charset", "keychain", "keyring", "agent", "socket", "sock", "fd", "pipe", "stdin", "tty",
    "encryption", "fds", "environment", "to", "hashes",
})
_NONSECRET_VALUES = frozenset({
    "none", "null", "nil", "true", "false", "yes", "no", "on", "off", "enable", "enabled", "disable", "disabled",
    "required", "optional", "string", "str", "int", "integer", "bool", "boolean", "undefined", "object", "bytes",
    "example", "sample", "dummy", "placeholder", "your_password", "yourpassword", "your-password", "your_token",
    "your_secret", "your_api_key", "yourapikey", "mypassword", "secret", "password", "passwd", "pass", "pwd",
    "token", "apikey", "api_key", "credentials", "hidden", "redacted", "masked", "unset", "default_password",
    "text", "hash", "sha256", "sha512", "md5", "bcrypt", "plain", "plaintext", "auto", "any", "all", "self",
    "this", "value", "na", "n/a", "tbd", "todo", "fixme", "xxx", "changeit_placeholder", "test_password",
    "psk", "psk2", "wpa", "wpa2", "wpa3", "sae", "open", "wep", "mixed-psk", "aes", "tkip", "ccmp",
    "compat", "files", "nis", "nisplus", "ldap", "systemd", "sss", "winbind", "db", "hesiod",
    "define", "undef",
})
_WEAK_DEFAULTS = frozenset({"changeme", "change_me", "changeit", "default", "admin", "root", "1234", "12345",
                            "123456", "12345678", "test", "guest", "user"})
_REMOTE_HINTS = re.compile(
    r"mqtt|broker|cloud|aws|azure|iot|acs|cwmp|tr069|tr-069|easycwmp|ddns|dyndns|smtp|mail|ftp|upload|s3|oss|obs|"
    r"remote|server|api|push|telemetry", re.IGNORECASE)
_CODE_EXT = frozenset({
    ".py", ".pyw", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".rb", ".php", ".go", ".java", ".kt", ".c", ".h",
    ".cc", ".cpp", ".hpp", ".cs", ".lua", ".pl", ".pm", ".swift", ".rs", ".scala", ".vue", ".html", ".htm", ".asp",
    ".jsp", ".tcl", ".awk", ".cts", ".mts", ".pyi",
})
_COMPILED_EXT = frozenset({".pyc", ".pyo", ".class", ".luac", ".beam"})
"""Compiled code: its strings are the source's docstrings and literals; judged where the source is."""
_DOC_EXT = frozenset({".md", ".rst", ".adoc", ".txt.gz", ".po", ".pot", ".mo", ".lmo", ".man", ".1", ".5", ".8",
                      ".html.md", ".markdown", ".rdoc", ".textile", ".d.ts", ".map"})
_DOC_DIRS = frozenset({"i18n", "locale", "locales", "lang", "langs", "translations", "man", "changelog"})
_EXAMPLES = ("EXAMPLE", "example", "Example", "xxxxxxxx", "XXXXXXXX", "0000000000000000")

_KEY_LEFT = re.compile(rb"[A-Za-z0-9_.\-]*$")
_ASSIGN = re.compile(
    rb"(?P<key>[A-Za-z0-9_.\-]+)(?P<kq>[\"']?)[ \t]*(?P<op>=>|:=|=|:)[ \t]*(?P<vq>[\"'`]?)(?P<val>[^\x00-\x1f\"'`]*)"
)
_UCI = re.compile(
    rb"^[ \t]*option[ \t]+['\"]?(?P<key>[A-Za-z0-9_]+)['\"]?[ \t]+(?P<vq>['\"]?)(?P<val>[^\r\n'\"]*)(?P=vq)[ \t]*(?:#.*)?$"
)
_XML = re.compile(rb"<(?P<key>[A-Za-z_:\-]+)>(?P<val>[^<]*)</(?P=key)>")
_URL = re.compile(
    rb"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]{0,15})://(?P<user>[^\s:/@\"'<>]+):(?P<pw>[^\s@/\"'<>]+)@(?P<host>[A-Za-z0-9.\-_\[\]:%]*)"
)
_JWT_RX = re.compile(rb"eyJ[A-Za-z0-9_\-]+\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
_TOKEN_RX = {
    "VER-SEC-002/github": re.compile(rb"(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"),
    "VER-SEC-002/gitlab": re.compile(rb"glpat-[A-Za-z0-9_\-]{20,}"),
    "VER-SEC-002/slack": re.compile(rb"xox[abposr]-[0-9A-Za-z\-]{8,}|hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"),
    "VER-SEC-002/stripe": re.compile(rb"[sr]k_live_[0-9A-Za-z]{20,}"),
    "VER-SEC-002/sendgrid": re.compile(rb"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}"),
    "VER-SEC-002/npm": re.compile(rb"npm_[A-Za-z0-9]{36}"),
    "VER-SEC-002/pypi": re.compile(rb"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{20,}"),
    "VER-SEC-002/telegram": re.compile(rb"[0-9]{8,10}:AA[0-9A-Za-z_\-]{33}"),
    "VER-SEC-002/google": re.compile(rb"AIza[0-9A-Za-z_\-]{35}"),
    "VER-SEC-001/aws-id": re.compile(rb"(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}"),
    "VER-SEC-001/alibaba": re.compile(rb"LTAI[0-9A-Za-z]{12,20}"),
    "VER-SEC-001/tencent": re.compile(rb"AKID[0-9A-Za-z]{13,32}"),
    "VER-SEC-001/azure": re.compile(rb"(?:AccountKey|SharedAccessKey)=[A-Za-z0-9+/]{20,}={0,2}"),
}
_TOKEN_NAMES = {
    "VER-SEC-002/github": "GitHub token", "VER-SEC-002/gitlab": "GitLab personal access token",
    "VER-SEC-002/slack": "Slack token or webhook", "VER-SEC-002/stripe": "Stripe live secret key",
    "VER-SEC-002/sendgrid": "SendGrid API key", "VER-SEC-002/npm": "npm access token",
    "VER-SEC-002/pypi": "PyPI API token", "VER-SEC-002/telegram": "Telegram bot token",
    "VER-SEC-002/google": "Google API key", "VER-SEC-001/aws-id": "AWS access key id",
    "VER-SEC-001/alibaba": "Alibaba Cloud AccessKey id", "VER-SEC-001/tencent": "Tencent Cloud SecretId",
    "VER-SEC-001/azure": "Azure shared access key",
}
_CONTEXT = 512
_GENERIC = ("assign", "aksk", "uci", "xml")
"""Families judged last: a line a specific rule (an AWS key, a URL) already reported is not reported again."""


@dataclass(frozen=True, slots=True)
class _Line:
    text: bytes
    start: int
    """Byte offset of ``text`` in the file."""
    number: int | None


# -- the check ----------------------------------------------------------------------------------------------


class SecretsCheck:
    ID: ClassVar[str] = "secrets"
    TITLE: ClassVar[str] = "Hard-coded passwords, tokens and cloud keys"
    RULES: ClassVar[tuple[Rule, ...]] = (CLOUD, SERVICE_TOKEN, JWT, URL_CREDENTIALS, ASSIGNMENT, PPP_SECRETS, CAPPED)
    PATTERNS: ClassVar[tuple[Pattern, ...]] = _PATTERNS
    ISOLATED: ClassVar[bool] = True
    """Reads and writes no report section: may run in a process of its own (see checks.runner)."""
    COST: ClassVar[int] = 1

    def run(self, inv: Inventory, sections: dict[str, list[dict]]) -> Iterable[Finding]:
        if not inv.items:
            raise NotApplicable("no files to look at")
        out: list[Finding] = []
        for item in inv.items:
            if not _worth_reading(item):
                continue
            key = file_key(item)
            entries = inv.recall(CACHE_NAMESPACE, key)
            if not _valid_entries(entries):
                try:
                    entries = list(_Scan(item).entries())
                except OSError as exc:
                    out.append(CAPPED.finding(path=item.node.path, container=item.tree.container,
                                              evidence=f"cannot read: {exc.strerror or exc}", key="read",
                                              title="A file could not be read for secrets"))
                    continue
                inv.keep(CACHE_NAMESPACE, key, entries)
            for rule_id, evidence, title, line, offset, severity, fkey in entries:
                out.append(_RULES_BY_ID[rule_id].finding(
                    path=item.node.path, container=item.tree.container, evidence=evidence, title=title, line=line,
                    offset=offset, severity=severity, key=fkey))
        return out


CACHE_NAMESPACE = "secrets-file"
_SECRET_FILES = ("chap-secrets", "pap-secrets", "ipsec.secrets")
_RULES_BY_ID = {r.id: r for r in SecretsCheck.RULES}


def _worth_reading(item: Item) -> bool:
    """Whether :meth:`_Scan.entries` can find anything in the file (a pattern hit, or a PPP/IPsec secrets file)."""
    facts = item.facts
    return bool(facts.matched("VER-SEC-")) or (
        item.node.name.lower() in _SECRET_FILES and facts.text is not None)


def _valid_entries(entries: object) -> bool:
    """Kept entries of the shape :meth:`_Scan.entries` yields (anything else is worked out again)."""
    return isinstance(entries, list) and all(
        isinstance(e, list) and len(e) == 7 and e[0] in _RULES_BY_ID and isinstance(e[1], str)
        and (e[2] is None or isinstance(e[2], str)) and (e[3] is None or isinstance(e[3], int))
        and (e[4] is None or isinstance(e[4], int)) and (e[5] is None or e[5] in SEVERITIES)
        and isinstance(e[6], str)
        for e in entries)


class _Scan:
    """The candidates of one file, confirmed and turned into findings (one per secret and place)."""

    def __init__(self, item: Item):
        self.item = item
        self.facts = item.facts
        self.path = item.node.path
        self.name = item.node.name.lower()
        self.doc = _documentation(self.path) or nonproduct_item(item)
        ext = posixpath.splitext(self.name)[1]
        self.code = ext in _CODE_EXT or (self.facts.interpreter or "").rsplit("/", 1)[-1].startswith(
            ("python", "node", "lua", "perl", "php", "ruby"))
        self.binary = self.facts.text is None
        self.compiled = ext in _COMPILED_EXT
        self.python = ext in (".py", ".pyi", ".pyw") or (self.facts.interpreter or "").rsplit("/", 1)[-1].startswith("python")
        self._bytes: bytes | None = None
        self.seen: set[tuple[str, str]] = set()
        self.claimed: set[int] = set()
        self.counts: Counter[str] = Counter()
        self.carrier: bool | None = None
        self.carrier_values: list[tuple[_Line, str]] = []

    # -- reading --

    def _text_bytes(self) -> bytes:
        if self._bytes is None:
            self._bytes = (self.facts.text or "").encode("utf-8", "surrogateescape")
        return self._bytes

    def line_at(self, start: int, end: int) -> _Line:
        """The line (text files) or printable run (binaries) holding bytes ``start:end``."""
        if not self.binary:
            data = self._text_bytes()
            a = data.rfind(b"\n", 0, start) + 1
            b = data.find(b"\n", end)
            b = len(data) if b < 0 else b
            return _Line(data[a:b].rstrip(b"\r"), a, data.count(b"\n", 0, a) + 1)
        lo = max(0, start - _CONTEXT)
        window = _pread(self.item, lo, end - lo + _CONTEXT)
        rel_s, rel_e = start - lo, end - lo
        a = rel_s
        while a > 0 and _printable(window[a - 1]):
            a -= 1
        b = rel_e
        while b < len(window) and _printable(window[b]):
            b += 1
        return _Line(window[a:b], lo + a, None)

    # -- driving --

    def entries(self) -> Iterator[list]:
        """The file's findings as ``[rule id, evidence, title, line, offset, severity, key]`` (see run)."""
        if self.name in _SECRET_FILES and self.facts.text is not None:
            yield from self._ppp()
        hits = self.facts.matched("VER-SEC-")
        if not hits:
            return
        for pid, start, end in sorted(hits, key=lambda h: (h[0].split("/", 1)[1] in _GENERIC, h[1])):
            family = pid.split("/", 1)[1]
            if pid in _TOKEN_RX:
                yield from self._token(pid, start, end)
            elif family == "aws-secret":
                yield from self._aws_secret(start, end)
            elif family == "gcp-sa":
                yield from self._gcp(start)
            elif family == "jwt":
                yield from self._jwt(start, end)
            elif family == "url":
                yield from self._url(start, end)
            elif family in ("assign", "aksk"):
                yield from self._assign(start, end)
            elif family == "uci":
                yield from self._uci(start, end)
            elif family == "xml":
                yield from self._xml(start, end)
        if self.carrier_values:
            first = self.carrier_values[0][0]
            shown = ", ".join(mask(v) for _, v in self.carrier_values[:5])
            more = len(self.carrier_values) - 5
            yield from self._emit(
                ASSIGNMENT, "carrier-profiles",
                f"{len(self.carrier_values)} password(s) of mobile-carrier dial-up profiles ({shown}"
                + (f", +{more} more" if more > 0 else "") + "): usually public carrier data",
                first, ident="carrier-profiles", severity="low",
                title="Mobile-carrier dial-up profiles with passwords (usually public carrier data)",
            )
        capped = [c for c in self.facts.capped if c.startswith("VER-SEC-")]
        if capped and not self.doc:
            yield [CAPPED.id, "patterns over the cap: " + ", ".join(capped), None, None, None, None, "capped"]

    def _emit(self, rule: Rule, what: str, evidence: str, line: _Line, *, ident: str,
              severity: str | None = None, title: str | None = None) -> Iterator[list]:
        if (rule.id, ident) in self.seen:
            return
        if rule is ASSIGNMENT and line.start in self.claimed:
            return
        self.seen.add((rule.id, ident))
        if rule is not ASSIGNMENT:
            self.claimed.add(line.start)
        self.counts[rule.id + what] += 1
        n = self.counts[rule.id + what]
        yield [rule.id, evidence, title, line.number, None if line.number is not None else line.start, severity,
               f"{what}#{n}"]

    def _quiet_context(self, line: _Line, rel: int) -> bool:
        """True where an assignment is not configuration: a commented-out line, an XML/HTML comment, a
        Python docstring, compiled code's strings (its source is judged instead)."""
        if self.doc or self.compiled:
            return True
        if self.binary:
            return False
        head = line.text[:rel].lstrip()
        if head.startswith((b"#", b";", b"!", b"//", b"--", b"/*", b"*", b"<!--", b"rem ", b"REM ")):
            return True
        if re.search(rb"(?:^|\s)(?:#|//)", head):
            return True  # a trailing comment that quotes an example
        data = self._text_bytes()
        at = line.start + rel
        if data.rfind(b"<!--", 0, at) > data.rfind(b"-->", 0, at):
            return True
        return bool(self.python and (data.count(b'"""', 0, at) % 2 or data.count(b"'''", 0, at) % 2))

    # -- provider tokens --

    def _token(self, pid: str, start: int, end: int) -> Iterator[list]:
        line = self.line_at(start, end)
        m = _TOKEN_RX[pid].search(line.text, max(0, start - line.start - 1))
        if m is None:
            return
        token = m.group().decode("ascii", "replace")
        if any(x in token for x in _EXAMPLES) or len(set(token[4:])) < 6:
            return
        what = _TOKEN_NAMES[pid]
        rule = CLOUD if pid.startswith("VER-SEC-001") else SERVICE_TOKEN
        severity = None
        extra = ""
        if pid == "VER-SEC-001/aws-id":
            secret = _near_aws_secret(self, line)
            if secret:
                extra = f" with its secret access key {mask(secret)}"
            else:
                severity = "medium"
                extra = " (no secret access key next to it)"
        if pid == "VER-SEC-002/google":
            severity = "medium"  # browser/maps keys are often meant to be public; restricted by referrer
        if self.doc:
            severity = "low"
        shown = token.split("=", 1)[0] + "=" + mask(token.split("=", 1)[1]) if "=" in token else mask(token, 4)
        yield from self._emit(rule, what, f"{what} {shown}{extra}", line, ident=token, severity=severity)

    def _aws_secret(self, start: int, end: int) -> Iterator[list]:
        line = self.line_at(start, end)
        m = re.search(rb"[=:][ \t]*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])", line.text[start - line.start:])
        if m is None or self.doc:
            return
        secret = m.group(1).decode()
        if any(x in secret for x in _EXAMPLES) or _entropy(secret) < 3.5:
            return
        yield from self._emit(CLOUD, "AWS secret access key", f"AWS secret access key {mask(secret)}", line,
                              ident=secret)

    def _gcp(self, start: int) -> Iterator[list]:
        text = self.facts.text
        if text is None or self.doc or '"private_key"' not in text:
            return
        email = re.search(r'"client_email"\s*:\s*"([^"]+)"', text)
        project = re.search(r'"project_id"\s*:\s*"([^"]+)"', text)
        line = self.line_at(start, start + 1)
        evidence = "Google Cloud service-account key file"
        if email:
            evidence += f" for {email.group(1)}"
        if project:
            evidence += f" (project {project.group(1)})"
        yield from self._emit(CLOUD, "GCP service account", evidence + "; private_key present (see key.private)",
                              line, ident=email.group(1) if email else "gcp")

    def _jwt(self, start: int, end: int) -> Iterator[list]:
        line = self.line_at(start, end)
        m = _JWT_RX.search(line.text, max(0, start - line.start - 1))
        if m is None:
            return
        parts = m.group().split(b".")
        try:
            header = json.loads(_b64url(parts[0]))
            claims = json.loads(_b64url(parts[1]))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return
        if not isinstance(header, dict) or "alg" not in header or not isinstance(claims, dict):
            return
        about = ", ".join(f"{k}={_clip(str(claims[k]), 40)}" for k in ("iss", "sub", "aud", "exp") if k in claims)
        evidence = f"JWT alg={_clip(str(header.get('alg')), 12)}" + (f" ({about})" if about else "")
        evidence += f", signature {mask(parts[2].decode('ascii', 'replace'))}" if len(parts) > 2 and parts[2] else ""
        severity = "low" if self.doc else None
        yield from self._emit(JWT, "JWT", evidence, line, ident=m.group().decode(), severity=severity)

    # -- URLs with credentials --

    def _url(self, start: int, end: int) -> Iterator[list]:
        if self.doc or self.compiled:
            return
        line = self.line_at(start, end)
        m = _URL.search(line.text, max(0, start - line.start - 1))
        if m is None or self._quiet_context(line, m.start()):
            return
        user = m.group("user").decode("utf-8", "replace")
        pw = m.group("pw").decode("utf-8", "replace")
        host = m.group("host").decode("utf-8", "replace").strip("[]")
        scheme = m.group("scheme").decode().lower()
        if not host or host.lower() in ("host", "hostname", "server", "domain", "example", "ip") or \
                re.search(r"(?:^|\.)example\.(?:com|org|net)$|\.example$|\.test$|\.invalid$", host.lower()):
            return
        if _not_a_secret(pw, "password", code=False) or _not_a_secret(user, "user", code=False):
            return
        evidence = f"{scheme}://{_clip(user, 32)}:{mask(pw)}@{_clip(host, 60)}"
        yield from self._emit(URL_CREDENTIALS, f"{scheme}://{user}@{host}", evidence, line, ident=f"{scheme}{user}{host}{pw}")

    # -- assignments --

    def _assign(self, start: int, end: int) -> Iterator[list]:
        if self.doc or self.compiled:
            return
        line = self.line_at(start, end)
        rel = start - line.start
        left = _KEY_LEFT.search(line.text[:rel])
        key_start = left.start() if left else rel
        m = _ASSIGN.match(line.text, key_start)
        if m is None or self._quiet_context(line, key_start):
            return
        before = line.text[:key_start].rstrip()
        if before.endswith((b"=", b":")):
            return  # the "key" is itself the value of another assignment (secret = pass:insta)
        op = m.group("op")
        if self.binary and (op != b"=" or not re.fullmatch(rb"[a-z0-9_.\-]+", m.group("key"))
                            or (before and before[-1:] not in b" &?;,")):
            return  # in programs only nvram-style key=value strings count
        rest = line.text[m.end("op"):]
        if op in (b"=", b":") and rest[:1] in (b"=", b"~"):  # == comparison, =~ match
            return
        if line.text[:key_start].rstrip().endswith((b"!", b"<", b">")):
            return
        key = m.group("key").decode("ascii", "replace")
        vq = m.group("vq")
        raw = line.text[m.start("val"):]
        if vq:
            close = raw.find(vq)
            if close < 0 and not self.binary:
                return  # unterminated quote: a multi-line string or code, not a simple value
            value = raw[:close] if close >= 0 else raw
            tail = raw[close + 1:] if close >= 0 else b""
        else:
            if self.code and not self._shell_like():
                return  # in source code only literals count: "password = get_password()" is not one
            value = re.split(rb"[\x00-\x20;,&)}\]\"'`]", raw, maxsplit=1)[0]
            tail = raw[len(value):]
            if op == b":" and key.lower() in ("password", "passwd", "pass") and value.endswith(b","):
                value = value[:-1]
        if not _clean_tail(tail, quoted=bool(vq), binary=self.binary):
            return
        text = value.decode("utf-8", "replace")
        kind = _secret_kind(key, code=self.code)
        if kind in ("cloud-ak", "cloud-sk") and _not_a_secret(text, key, code=self.code, kind=kind):
            kind = "secret"  # not shaped like a cloud key: judge it as any other secret
        if kind is None or _not_a_secret(text, key, code=self.code, kind=kind):
            return
        yield from self._assignment(key, text, line, kind, form=f"{key}{op.decode()}")

    def _uci(self, start: int, end: int) -> Iterator[list]:
        if self.doc or self.compiled or self.binary:
            return
        line = self.line_at(start, end)
        m = _UCI.match(line.text)
        if m is None:
            return
        key = m.group("key").decode("ascii", "replace")
        value = m.group("val").decode("utf-8", "replace").strip()
        kind = _secret_kind(key, uci=True)
        if kind is None or _not_a_secret(value, key, code=False, kind=kind):
            return
        section = self._uci_section(line.start)
        yield from self._assignment(key, value, line, kind, form=f"option {key} ", context=section)

    def _uci_section(self, offset: int) -> str:
        data = self._text_bytes()
        found = None
        for m in re.finditer(rb"(?m)^[ \t]*config[ \t]+(\S+)(?:[ \t]+['\"]?([^'\"\s]+))?", data[:offset]):
            found = m
        if found is None:
            return ""
        t = found.group(1).decode("ascii", "replace").strip("'\"")
        n = found.group(2).decode("ascii", "replace") if found.group(2) else ""
        return f"config {t}" + (f" '{n}'" if n else "")

    def _xml(self, start: int, end: int) -> Iterator[list]:
        if self.doc or self.compiled:
            return
        line = self.line_at(start, end)
        m = _XML.search(line.text, max(0, start - line.start))
        if m is None or self._quiet_context(line, m.start()):
            return
        key = m.group("key").decode("ascii", "replace").split(":")[-1]
        value = m.group("val").decode("utf-8", "replace").strip()
        kind = _secret_kind(key)
        if kind is None or _not_a_secret(value, key, code=False, kind=kind):
            return
        yield from self._assignment(key, value, line, kind, form=f"<{key}>")

    def _assignment(self, key: str, value: str, line: _Line, kind: str, *, form: str,
                    context: str = "") -> Iterator[list]:
        parts = _parts(key)
        if kind == "cloud-ak" or kind == "cloud-sk":
            what = "cloud access key id" if kind == "cloud-ak" else "cloud secret key"
            yield from self._emit(CLOUD, what, f"{what} {form}{mask(value)}", line, ident=key + value)
            return
        hint = f"{key} {context} {self.path}"
        severity = "high" if _REMOTE_HINTS.search(hint) else None
        note = ""
        if self._carrier_profile():
            self.carrier_values.append((line, value))
            return
        if value.lower() in _WEAK_DEFAULTS:
            note = " (a placeholder that works as a default password)"
        where = f" in {context}" if context else ""
        label = "password" if kind == "password" else "secret"
        if "psk" in parts or "passphrase" in parts or (key.lower() == "key" and "wifi" in context):
            label = "Wi-Fi/pre-shared key" if "psk" in parts or "wifi" in context else "passphrase"
        evidence = f"{label} {form}{mask(value)}{where}{note}"
        if self.binary:
            evidence += " (string in a program)"
        yield from self._emit(ASSIGNMENT, key, evidence, line, ident=key + "\x00" + value, severity=severity)

    def _shell_like(self) -> bool:
        interp = (self.facts.interpreter or "").rsplit("/", 1)[-1]
        return interp in ("sh", "ash", "bash", "dash", "busybox", "ksh", "zsh") or self.name.endswith(".sh")

    def _carrier_profile(self) -> bool:
        if self.carrier is None:
            text = (self.facts.text or "").lower()
            self.carrier = bool(re.search(r"(?m)(?:^|[\s{,;])[\"']?(?:apn|dial_?num(?:ber)?)[\"']?\s*[=:]", text))
        return self.carrier

    # -- PPP / IPsec --

    def _ppp(self) -> Iterator[list]:
        data = self._text_bytes()
        offset = 0
        for number, raw in enumerate(data.split(b"\n"), 1):
            line = _Line(raw, offset, number)
            offset += len(raw) + 1
            text = raw.decode("utf-8", "replace").strip()
            if not text or text.startswith("#"):
                continue
            if self.name == "ipsec.secrets":
                m = re.search(r"(?:PSK|XAUTH|EAP)\s+(\"[^\"]*\"|\S+)", text)
                if m is None:
                    continue
                secret = m.group(1).strip('"')
                if _not_a_secret(secret, "psk", code=False):
                    continue
                yield from self._emit(PPP_SECRETS, "ipsec", f"IPsec {m.group(0).split()[0]} {mask(secret)}",
                                      line, ident=secret, severity="medium")
                continue
            fields = re.findall(r'"[^"]*"|\S+', text)
            if len(fields) < 3:
                continue
            client, _server, secret = (f.strip('"') for f in fields[:3])
            if not secret or secret.startswith(("@", "$")) or secret == "*":
                continue
            yield from self._emit(PPP_SECRETS, f"ppp:{client}",
                                  f"PPP secret for client {_clip(client, 40)!r}: {mask(secret)}", line,
                                  ident=client + "\x00" + secret)


# -- helpers ------------------------------------------------------------------------------------------------


def mask(value: str, keep: int = 2) -> str:
    """The first characters of a secret and stars: enough to recognise it, never enough to use it."""
    if len(value) <= 4:
        keep = min(keep, 1)
    if len(value) <= 2:
        keep = 0
    return value[:keep] + "***"


def _printable(byte: int) -> bool:
    return 0x20 <= byte < 0x7F or byte == 0x09


def _parts(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return [p.lower() for p in re.split(r"[^A-Za-z0-9]+|\s", spaced) if p]


_AMBIGUOUS = frozenset({"pass", "pw"})
"""Words that are also English or code words (``allPass``, ``passes``): in source code they need a
qualifier (``user_pass``, ``ftpPass``) or must be the whole key."""
_QUALIFIERS = frozenset({
    "user", "usr", "admin", "root", "login", "ftp", "db", "mqtt", "smtp", "mail", "wifi", "wlan", "http", "web",
    "ppp", "pppoe", "sip", "vpn", "acs", "cwmp", "snmp", "telnet", "ssh", "super", "default", "factory", "api",
    "auth", "wpa", "wep", "ap", "sta", "device", "dev", "cloud", "server", "client", "proxy", "ddns", "account",
})


def _secret_kind(key: str, uci: bool = False, code: bool = False) -> str | None:
    """password, secret, cloud-ak or cloud-sk when ``key`` names a secret; None otherwise."""
    parts = _parts(key)
    if not parts:
        return None
    whole = "".join(parts)
    if whole in ("ak", "accesskey", "accesskeyid"):
        return "cloud-ak"
    if whole in ("sk", "secretkey", "secretaccesskey"):
        return "cloud-sk"
    for i, p in enumerate(parts):
        after = parts[i + 1:]
        if any(a in _EXCLUDED_PARTS for a in after) or (after and after[0] in ("auth", "key", "keys")):
            continue
        if p in _PASSWORD_WORDS:
            if code and p in _AMBIGUOUS and len(parts) > 1 and not (set(parts[:i]) & _QUALIFIERS):
                continue
            return "password"
        if p in _SECRET_WORDS:
            return "secret"
        if p == "key" and i > 0 and parts[i - 1] in _KEY_QUALIFIERS:
            return "secret"
        if p == "key" and uci and len(parts) == 1:
            return "password"
        if p.startswith(("password", "passwd")) and p not in ("passwordless",):
            return "password"
    return None


def _not_a_secret(value: str, key: str, *, code: bool, kind: str = "password") -> bool:
    v = value.strip()
    low = v.lower()
    if len(v) < 3 or len(v) > 256:
        return True
    if any(c.isspace() for c in v):
        return True  # prose, a prompt or a command line
    if v[0] in "$%{<[`@&*(!#" or v.startswith(("~/", "./", "../")):
        return True
    if re.search(r"%[-+ #0-9.]*[sdiuxXcfp]|\$\{|\$\(|\{\{|\}\}|<%|%>|\{\d*\}", v):
        return True
    if v.startswith("/") or re.match(r"^[a-z][a-z0-9+.\-]*://", low) or re.search(r"\.(?:pem|key|crt|txt|conf|cfg|json)$", low):
        return True
    if low in _NONSECRET_VALUES or low == key.lower() or low in _parts(key):
        return True
    if len(set(low)) <= 1 or not re.search(r"[a-z0-9]", low) or re.fullmatch(r"x+", low):
        return True
    if re.fullmatch(r"\d+(?:\.\d+)+-?(?:\d+(?:\.\d+)*)?", v):
        return True  # a version
    if re.fullmatch(r"[A-Za-z]+", v) and re.search(r"pass|secret|token|key|pwd", low) and len(v) > 8:
        return True  # an identifier naming the secret (challengePassword), not one
    if re.fullmatch(r"(?:\\[tnr0abfv]|\\x[0-9a-f]{2}|\\u[0-9a-f]{4})+", low):
        return True  # escape sequences only: a mask or padding written by a web page
    if re.fullmatch(r"(?:your|my|the|some|enter|insert)[_\-]?.*", low) and len(low) > 8:
        return True
    if code and re.fullmatch(r"[A-Z][A-Z0-9_]+", v) and "_" in v:
        return True  # a constant's name used as a key string
    if kind == "secret":
        if len(v) < 8 or _entropy(v) < 2.5 or v.isdigit():
            return True
        if re.fullmatch(r"[a-z]+(?:[_\-.:][a-z]+)*", v):
            return True  # an identifier, not a random token
    if kind == "cloud-ak" and not re.fullmatch(r"[A-Z0-9]{16,32}", v):
        return True
    return kind == "cloud-sk" and not (re.fullmatch(r"[A-Za-z0-9/+]{30,64}", v) and _entropy(v) >= 3.5)


def _clean_tail(tail: bytes, *, quoted: bool, binary: bool) -> bool:
    """After the value: nothing, a comment or a separator. Prose ("passwd: unknown user") is not a value."""
    rest = tail.strip()
    if not rest:
        return True
    if rest[:1] in (b"#", b";", b",", b"&", b")", b"}", b"]", b"/"):
        return not binary or rest[:1] in (b"&", b";", b",")
    return quoted and rest[:2] in (b"//", b"--")


def _documentation(path: str) -> bool:
    if nonproduct(path):
        return True
    low = path.lower()
    name = posixpath.basename(low)
    if any(low.endswith(ext) for ext in _DOC_EXT):
        return True
    if name.startswith(("readme", "changelog", "changes", "history", "license", "copying", "authors", "news")) \
            or name in ("pkg-info", "metadata", "description.rst"):
        return True
    if name.endswith((".example", ".sample", ".dist", ".tmpl", ".template")) or ".sample." in name or \
            ".example." in name:
        return True
    return any(p in _DOC_DIRS for p in low.split("/")[:-1])


def _near_aws_secret(scan: _Scan, line: _Line) -> str | None:
    if scan.binary:
        text = line.text
    else:
        data = scan._text_bytes()
        text = data[max(0, line.start - 400): line.start + len(line.text) + 400]
    m = re.search(rb"(?i)secret[A-Za-z_]*[\"']?\s*[=:]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])", text)
    if m is None:
        return None
    secret = m.group(1).decode()
    return None if any(x in secret for x in _EXAMPLES) else secret


def _entropy(s: str) -> float:
    if not s:
        return 0.0
    counts = Counter(s)
    return -sum(c / len(s) * math.log2(c / len(s)) for c in counts.values())


def _b64url(part: bytes) -> bytes:
    return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))


_pread = read_region


def _clip(text: str, limit: int = 60) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
