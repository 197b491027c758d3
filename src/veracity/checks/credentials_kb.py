"""The default-credential knowledge base, and what can be done with it without revealing anything: look a
plaintext password up, and try the known default passwords against a password hash.

The knowledge base (``data/credentials.txt``, built by ``tools/build_credentials_kb.py`` from the Mirai
table, SecLists, Metasploit's word lists, the DefaultCreds cheat sheet and the backdoor catalogue) holds
about three thousand passwords ordered by prevalence: how many (list, vendor, user) records name each one.
For an account, the candidates are its own name, then the passwords the lists pair with that user name,
then every other password, each group in prevalence order: every password is tried for every account, the
likeliest first.

Hash schemes (``identify``):

- through the system's ``crypt()`` (libxcrypt): DES, BSDi extended DES, MD5-crypt ``$1$``, SHA-crypt
  ``$5$``/``$6$``, bcrypt ``$2*$``, yescrypt ``$y$``, gost-yescrypt ``$gy$``, scrypt ``$7$``, SunMD5,
  ``$sha1$``; which of them the running system supports is probed once (``supported``), and a scheme it
  does not support is reported by the caller as not attempted;
- in Python: Apache ``$apr1$``, LDAP ``{SHA}``/``{SSHA}``, unsalted hex MD5/SHA-1/SHA-256/SHA-512 (web
  configurations), HTTP digest files (MD5 of ``user:realm:password``), Mosquitto ``$6$`` (salted SHA-512)
  and ``$7$`` (PBKDF2-SHA512).

Budget. Every scheme has a nominal cost per candidate (microseconds on one 2020s x86 core, measured when
this module was written). Cheap schemes (DES, MD5-crypt, raw digests) get the whole list; expensive ones
(SHA-crypt with many rounds, bcrypt, yescrypt, apr1 in Python) get the top candidates that fit in
``PER_HASH_BUDGET_US``; when the hashes of one image together exceed ``IMAGE_BUDGET_US`` every list is
shortened in proportion (never below ``MIN_CANDIDATES``). The budget is computed from the hashes, never
from a clock, so two scans of one image try the same candidates and write the same report. Results are
memoised by (hash, candidate order): the same hash in two files, or in two scans, is cracked once. Many
hashes are spread over ``WORKERS`` processes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib import resources

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import crypt as _crypt  # deprecated in 3.11, removed in 3.13: the ctypes fallback covers that
    except ImportError:  # pragma: no cover - Python 3.13+
        _crypt = None

KB_FILE = "credentials.txt"

PER_HASH_BUDGET_US = 1_500_000
"""Nominal time one expensive hash may take: its candidate list is cut to fit."""
IMAGE_BUDGET_US = 6_000_000
"""Nominal time all the hashes of one scan may take together (about 3 s of wall time on 2 cores)."""
CHEAP_US = 200
"""A scheme at most this costly per candidate gets the whole list (unless the image budget is exceeded)."""
HARD_CAP_FACTOR = 2
"""Whatever the floors say, the hashes of one scan never take more than this many image budgets."""
MAX_HASHES = 256
"""Distinct hashes tried in one scan at most; the others are reported as not attempted."""
MIN_CANDIDATES = 10
"""However tight the budget, at least this many candidates are tried for one hash."""
MIN_CHEAP_CANDIDATES = 300
WORKERS = 2
PARALLEL_FROM_US = 600_000
"""Below this total nominal cost, starting worker processes costs more than it saves."""


# -- the knowledge base -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Known:
    password: str
    prevalence: int
    sources: tuple[str, ...]
    users: tuple[str, ...]
    rank: int
    """0 for the most prevalent password."""


@dataclass(frozen=True, slots=True, eq=False)
class KnowledgeBase:
    entries: tuple[Known, ...]
    by_password: dict[str, Known]
    by_user: dict[str, tuple[str, ...]]
    """lower-cased user name -> the passwords the lists pair with it, in prevalence order."""
    digest: str

    def __len__(self) -> int:
        return len(self.entries)

    def lookup(self, password: str) -> Known | None:
        return self.by_password.get(password)

    def candidates(self, names: Iterable[str] = ()) -> tuple[str, ...]:
        """Every password of the base, for accounts called ``names``: the names themselves, then the passwords
        paired with them, then all the others, each group in prevalence order."""
        names = [n for n in names if n]
        return _order(self, tuple(names))


@cache
def _order(kb: KnowledgeBase, names: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        if name not in seen:
            seen.add(name)
            out.append(name)
    for name in names:
        for pw in kb.by_user.get(name.lower(), ()):
            if pw not in seen:
                seen.add(pw)
                out.append(pw)
    for entry in kb.entries:
        if entry.password not in seen:
            seen.add(entry.password)
            out.append(entry.password)
    return tuple(out)


@cache
def load() -> KnowledgeBase:
    raw = resources.files("veracity").joinpath("data", KB_FILE).read_text(encoding="utf-8")
    return parse_kb(raw)


def parse_kb(raw: str) -> KnowledgeBase:
    entries: list[Known] = []
    by_user: dict[str, list[str]] = {}
    for line in raw.splitlines():
        if not line or line.startswith("#"):
            continue
        prevalence, sources, password_json, users_json = line.split("\t")
        password = json.loads(password_json)
        users = tuple(json.loads(users_json))
        entry = Known(password, int(prevalence), tuple(sources.split(",")), users, len(entries))
        entries.append(entry)
        for user in users:
            lst = by_user.setdefault(user.lower(), [])
            if password not in lst:
                lst.append(password)
    return KnowledgeBase(
        tuple(entries),
        {e.password: e for e in entries},
        {k: tuple(v) for k, v in by_user.items()},
        hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16],
    )


# -- hash schemes -----------------------------------------------------------------------------------------

_B64 = r"[./0-9A-Za-z]"
_SCHEMES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(rx))
    for name, rx in (
        ("md5crypt", rf"\$1\$[^$:]{{0,8}}\${_B64}{{22}}"),
        ("apr1", rf"\$apr1\$[^$:]{{0,8}}\${_B64}{{22}}"),
        ("sha256crypt", rf"\$5\$(?:rounds=\d+\$)?[^$:]{{0,16}}\${_B64}{{43}}"),
        ("sha512crypt", rf"\$6\$(?:rounds=\d+\$)?[^$:]{{0,16}}\${_B64}{{86}}"),
        ("bcrypt", rf"\$2[abxy]?\$\d\d\${_B64}{{53}}"),
        ("yescrypt", rf"\$y\${_B64}+\${_B64}*\${_B64}{{43}}"),
        ("gost-yescrypt", rf"\$gy\${_B64}+\${_B64}*\${_B64}{{43}}"),
        ("scrypt", rf"\$7\${_B64}{{11,}}\${_B64}{{43}}"),
        ("sunmd5", r"\$md5[$,][^:]{10,}"),
        ("sha1crypt", rf"\$sha1\$\d+\${_B64}+\${_B64}{{28}}"),
        ("nthash", r"\$3\$\$[0-9a-f]{32}"),
        ("bsdi-des", rf"_{_B64}{{19}}"),
        ("des", rf"{_B64}{{13}}"),
        ("ldap-sha1", r"\{SHA\}[A-Za-z0-9+/]{27}="),
        ("ldap-ssha1", r"\{SSHA\}[A-Za-z0-9+/]{32,}={0,2}"),
        ("mosquitto-sha512", r"\$6\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]{86}={0,2}"),
        ("mosquitto-pbkdf2", r"\$7\$\d+\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]{86}={0,2}"),
        ("md5", r"[0-9a-fA-F]{32}"),
        ("sha1", r"[0-9a-fA-F]{40}"),
        ("sha256", r"[0-9a-fA-F]{64}"),
        ("sha512", r"[0-9a-fA-F]{128}"),
    )
)

CRYPT_SCHEMES = frozenset({
    "des", "bsdi-des", "md5crypt", "sha256crypt", "sha512crypt", "bcrypt", "yescrypt", "gost-yescrypt",
    "scrypt", "sunmd5", "sha1crypt", "nthash",
})
RAW_SCHEMES = frozenset({"md5", "sha1", "sha256", "sha512"})
WEAK_SCHEMES = frozenset({
    "des", "bsdi-des", "md5crypt", "apr1", "nthash", "sunmd5", "ldap-sha1", "ldap-ssha1", "mosquitto-sha512",
    "md5", "sha1", "sha256", "sha512", "htdigest",
})
"""Schemes too fast or too short for passwords today (unsalted digests, DES, one round of MD5 or SHA)."""

# Probe values: a valid setting for each scheme crypt() might support.
_PROBES = {
    "des": "ab",
    "bsdi-des": "_J9..abcd",
    "md5crypt": "$1$abcdefgh$",
    "sha256crypt": "$5$abcdefgh$",
    "sha512crypt": "$6$abcdefgh$",
    "bcrypt": "$2b$04$abcdefghijklmnopqrstuu",
    "yescrypt": "$y$j9T$abcdefghijklmnop$",
    "gost-yescrypt": "$gy$j9T$abcdefghijklmnop$",
    "scrypt": "$7$CU..../....abcdefghijklmnop$",
    "sunmd5": "$md5,rounds=10$abcdefgh$",
    "sha1crypt": "$sha1$480$abcdefgh$",
    "nthash": "$3$",
}


def identify(field: str, *, context: str = "crypt") -> str | None:
    """The scheme of a password field, or None when it is not a hash we know (plaintext, garbage).

    ``context`` says where the field comes from: ``crypt`` (passwd, shadow: raw hex digests are not
    possible there), ``web`` (htpasswd, web and vendor configurations: raw digests and LDAP forms are),
    ``mosquitto`` (its own ``$6$``/``$7$``)."""
    if context == "mosquitto":
        for name in ("mosquitto-sha512", "mosquitto-pbkdf2"):
            if _scheme_rx(name).fullmatch(field):
                return name
        return None
    for name, rx in _SCHEMES:
        if name.startswith("mosquitto"):
            continue
        if context == "crypt" and (name in RAW_SCHEMES or name.startswith("ldap")):
            continue
        if rx.fullmatch(field):
            if name == "des" and context != "crypt" and not _looks_des(field):
                return None
            return name
    return None


def _looks_des(field: str) -> bool:
    # Outside passwd files a 13-character word is more often a plaintext password than a DES hash:
    # a DES hash mixes case and digits throughout.
    return sum(c.isdigit() for c in field) >= 1 and sum(c.isupper() for c in field) >= 1 and \
        sum(c.islower() for c in field) >= 1


@cache
def _scheme_rx(name: str) -> re.Pattern[str]:
    return dict(_SCHEMES)[name]


@cache
def supported(scheme: str) -> bool:
    """Whether this system can verify ``scheme`` (crypt() schemes are probed once)."""
    if scheme in CRYPT_SCHEMES:
        probe = _PROBES.get(scheme)
        if probe is None:
            return False
        try:
            out = _crypt_call("password", probe)
        except (OSError, ValueError):
            return False
        if not out or out.startswith("*"):
            return False
        return out.startswith(probe[:3]) if scheme not in ("des",) else len(out) == 13
    return scheme in RAW_SCHEMES or scheme in (
        "apr1", "ldap-sha1", "ldap-ssha1", "mosquitto-sha512", "mosquitto-pbkdf2", "htdigest",
    )


def _crypt_call(word: str, setting: str) -> str | None:
    if _crypt is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return _crypt.crypt(word, setting)
    return _ctypes_crypt(word, setting)  # pragma: no cover - Python 3.13+


@cache
def _libcrypt():  # pragma: no cover - only without the crypt module
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("crypt")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
    return lib


def _ctypes_crypt(word: str, setting: str) -> str | None:  # pragma: no cover - only without crypt
    lib = _libcrypt()
    if lib is None:
        raise OSError("no libcrypt")
    out = lib.crypt(word.encode("utf-8"), setting.encode("utf-8"))
    return out.decode("utf-8", "replace") if out else None


def cost_us(scheme: str, field: str) -> float:
    """Nominal microseconds to try one candidate against ``field``."""
    if scheme == "des":
        return 8
    if scheme == "bsdi-des":
        rounds = _b64int(field[1:5]) or 725
        return max(8.0, 8 * rounds / 25)
    if scheme == "md5crypt":
        return 150
    if scheme in ("sha256crypt", "sha512crypt"):
        m = re.match(r"\$[56]\$rounds=(\d+)\$", field)
        rounds = min(max(int(m.group(1)), 1000), 999_999_999) if m else 5000
        return 1700 * rounds / 5000
    if scheme == "bcrypt":
        logr = int(field[4:6]) if field[4:6].isdigit() else int(field[3:5]) if field[3:5].isdigit() else 10
        return 64.0 * (1 << min(max(logr, 4), 31))
    if scheme in ("yescrypt", "gost-yescrypt"):
        return 22_000 * _yescrypt_scale(field)
    if scheme == "scrypt":
        return 60_000
    if scheme in ("sunmd5", "sha1crypt"):
        return 5_000
    if scheme == "apr1":
        return 700
    if scheme == "mosquitto-pbkdf2":
        m = re.match(r"\$7\$(\d+)\$", field)
        return 1.2 * (int(m.group(1)) if m else 101)
    return 2  # raw digests, LDAP SHA, mosquitto single SHA-512, HTTP digest, nthash


_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _b64int(s: str) -> int:
    value = 0
    for i, ch in enumerate(s):
        idx = _ITOA64.find(ch)
        if idx < 0:
            return 0
        value |= idx << (6 * i)
    return value


def _yescrypt_scale(field: str) -> float:
    """N*r of a yescrypt setting relative to libxcrypt's default (N=4096, r=32)."""
    params = field.split("$")[2] if field.count("$") >= 3 else ""
    if len(params) < 3:
        return 4.0
    n_log2 = _ITOA64.find(params[1]) + 1
    r = _ITOA64.find(params[2]) + 1
    if n_log2 <= 0 or r <= 0 or n_log2 > 30:
        return 4.0
    return (2**n_log2 * r) / (4096 * 32)


# -- verification -----------------------------------------------------------------------------------------


def verify(scheme: str, field: str, password: str, *, user: str = "", realm: str = "") -> bool:
    """Whether ``password`` produces ``field`` under ``scheme``."""
    try:
        if scheme in CRYPT_SCHEMES:
            return _crypt_call(password, field) == field
        data = password.encode("utf-8", "surrogateescape")
        if scheme in RAW_SCHEMES:
            return hashlib.new(scheme, data).hexdigest() == field.lower()
        if scheme == "apr1":
            return apr1(password, field.split("$")[2]) == field
        if scheme == "ldap-sha1":
            return base64.b64encode(hashlib.sha1(data).digest()).decode() == field[5:]
        if scheme == "ldap-ssha1":
            raw = base64.b64decode(field[6:])
            return hmac.compare_digest(hashlib.sha1(data + raw[20:]).digest(), raw[:20])
        if scheme == "htdigest":
            return hashlib.md5(f"{user}:{realm}:".encode() + data).hexdigest() == field.lower()
        if scheme == "mosquitto-sha512":
            _, _, salt, digest = field.split("$")
            return base64.b64decode(digest) == hashlib.sha512(data + base64.b64decode(salt)).digest()
        if scheme == "mosquitto-pbkdf2":
            _, _, iterations, salt, digest = field.split("$")
            out = hashlib.pbkdf2_hmac("sha512", data, base64.b64decode(salt), int(iterations))
            return base64.b64decode(digest) == out
    except (ValueError, binascii.Error, OSError, IndexError, UnicodeError):
        return False
    return False


def apr1(password: str, salt: str) -> str:
    """Apache's MD5-crypt variant (``$apr1$``), from the published algorithm (same as ``$1$``, other magic)."""
    pw = password.encode("utf-8", "surrogateescape")
    s = salt[:8].encode()
    magic = b"$apr1$"
    alt = hashlib.md5(pw + s + pw).digest()
    ctx = pw + magic + s
    n = len(pw)
    while n > 0:
        ctx += alt[: min(16, n)]
        n -= 16
    i = len(pw)
    while i:
        ctx += b"\x00" if i & 1 else pw[:1]
        i >>= 1
    final = hashlib.md5(ctx).digest()
    for r in range(1000):
        c = (pw if r & 1 else final) + (s if r % 3 else b"") + (pw if r % 7 else b"") + (final if r & 1 else pw)
        final = hashlib.md5(c).digest()
    out = []
    for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)):
        v = (final[a] << 16) | (final[b] << 8) | final[c]
        for _ in range(4):
            out.append(_ITOA64[v & 0x3F])
            v >>= 6
    v = final[11]
    for _ in range(2):
        out.append(_ITOA64[v & 0x3F])
        v >>= 6
    return "$apr1$" + salt[:8] + "$" + "".join(out)


# -- cracking ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Job:
    """One hash to try: ``candidates`` in order, at most ``limit`` of them."""

    scheme: str
    field: str
    candidates: tuple[str, ...]
    limit: int
    user: str = ""
    realm: str = ""


@dataclass(frozen=True, slots=True)
class Result:
    scheme: str
    supported: bool
    password: str | None
    tried: int
    """How many candidates were tried (up to and including the hit)."""
    planned: int
    """How many the budget allowed."""
    available: int
    """How many candidates there were for this hash."""
    skipped: str | None = None
    """Why the hash was not tried at all (``supported`` False): unsupported scheme, too many hashes."""

    @property
    def limited(self) -> bool:
        return self.planned < self.available


def run_job(job: Job) -> tuple[str | None, int]:
    """(the password, candidates tried) for one hash."""
    n = 0
    for n, pw in enumerate(job.candidates[: job.limit], 1):
        if "\x00" in pw:
            continue
        if verify(job.scheme, job.field, pw, user=job.user, realm=job.realm):
            return pw, n
    return None, n


def plan(jobs: Sequence[tuple[str, str, int]]) -> list[int]:
    """How many candidates each (scheme, field, available) may try.

    Cheap schemes get their whole list, unless together they exceed ``IMAGE_BUDGET_US`` (then every cheap
    list is cut in proportion, never below ``MIN_CHEAP_CANDIDATES``). What remains of the image budget is
    shared equally by the expensive hashes, each getting at most ``PER_HASH_BUDGET_US`` and at least
    ``MIN_CANDIDATES`` candidates. The most prevalent candidates come first, so a cut list drops the least
    likely passwords."""
    costs = [cost_us(scheme, f) for scheme, f, _n in jobs]
    limits = [0] * len(jobs)
    cheap = [i for i, c in enumerate(costs) if c <= CHEAP_US]
    dear = [i for i, c in enumerate(costs) if c > CHEAP_US]
    cheap_total = sum(costs[i] * jobs[i][2] for i in cheap)
    scale = min(1.0, IMAGE_BUDGET_US / cheap_total) if cheap_total else 1.0
    for i in cheap:
        n = jobs[i][2]
        limits[i] = n if scale >= 1.0 else min(n, max(MIN_CHEAP_CANDIDATES, int(n * scale)))
    left = max(0.0, IMAGE_BUDGET_US - sum(costs[i] * limits[i] for i in cheap))
    share = min(PER_HASH_BUDGET_US, left / len(dear)) if dear else 0.0
    for i in dear:
        limits[i] = min(jobs[i][2], max(MIN_CANDIDATES, int(share // costs[i])))
    # The floors must not let a file of thousands of hashes (hostile or not) run for minutes.
    total = sum(c * n for c, n in zip(costs, limits, strict=True))
    cap = HARD_CAP_FACTOR * IMAGE_BUDGET_US
    if total > cap:
        limits = [max(1, int(n * cap / total)) for n in limits]
    return limits


_MEMO: dict[tuple[str, str, int, int], tuple[str | None, int]] = {}
_MEMO_MAX = 4096


def crack(jobs: Sequence[Job], *, workers: int = WORKERS) -> list[tuple[str | None, int]]:
    """Run the jobs (each already limited), in parallel when there is enough work; memoised by (field,
    candidate order, limit)."""
    out: list[tuple[str | None, int] | None] = [None] * len(jobs)
    todo: dict[tuple[str, str, int, int], list[int]] = {}
    for i, job in enumerate(jobs):
        key = (job.field, job.user + "\x00" + job.realm, hash(job.candidates), job.limit)
        hit = _MEMO.get(key)
        if hit is not None:
            out[i] = hit
        else:
            todo.setdefault(key, []).append(i)
    keys = list(todo)
    work = [jobs[todo[k][0]] for k in keys]
    cost = sum(cost_us(j.scheme, j.field) * min(j.limit, len(j.candidates)) for j in work)
    if workers > 1 and len(work) > 1 and cost >= PARALLEL_FROM_US:
        results = _parallel(work, workers)
    else:
        results = [run_job(j) for j in work]
    for key, res in zip(keys, results, strict=True):
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        _MEMO[key] = res
        for i in todo[key]:
            out[i] = res
    return [r if r is not None else (None, 0) for r in out]


def _parallel(work: list[Job], workers: int) -> list[tuple[str | None, int]]:
    import multiprocessing

    # Costliest first, so that two workers finish together.
    order = sorted(range(len(work)), key=lambda i: -cost_us(work[i].scheme, work[i].field) * work[i].limit)
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            done = list(pool.map(run_job, [work[i] for i in order]))
    except (OSError, RuntimeError, ValueError):  # no fork, no semaphores (some sandboxes): do it here
        done = [run_job(work[i]) for i in order]
    results: list[tuple[str | None, int]] = [(None, 0)] * len(work)
    for i, res in zip(order, done, strict=True):
        results[i] = res
    return results


def mask(secret: str) -> str:
    """A secret shown without giving it away: ``5up`` -> ``5**``, ``password`` -> ``pa******``."""
    if not secret:
        return "(empty)"
    keep = 0 if len(secret) <= 2 else 1 if len(secret) <= 5 else 2
    return secret[:keep] + "*" * min(len(secret) - keep, 12)
