"""Private keys, pre-installed SSH authorized keys and publicly known compromised keys.

A private key inside a product image is the same on every device built from that image: whoever
extracts it can impersonate the device (host and TLS server keys), decrypt its traffic, or log in to
other devices (client keys). This check finds private keys in every encoding we know of:

- PEM blocks (PKCS#1 ``RSA``/``DSA``/``EC PRIVATE KEY``, PKCS#8 ``PRIVATE KEY`` and
  ``ENCRYPTED PRIVATE KEY``, legacy ``Proc-Type: 4,ENCRYPTED``), in files and inside programs (a PEM
  string in an ELF ``.rodata``, a key pasted in a script with ``\\n`` escapes);
- OpenSSH's ``openssh-key-v1`` container (its public half is readable even when encrypted);
- PuTTY ``.ppk`` files (v1-v3);
- dropbear's own binary key format (``/etc/dropbear/dropbear_rsa_host_key`` and friends);
- bare DER (PKCS#1 RSA, SEC1 EC, PKCS#8, encrypted PKCS#8), found by ASN.1 header heuristics and
  confirmed by parsing with ``cryptography``.

Evidence names the format, algorithm, size and the SHA-256 fingerprint of the public half (OpenSSH form
``SHA256:...`` for key types SSH knows, so it can be compared with ``ssh-keygen -l``), never the key.

Decisions:
- Certificates are public and never reported here (CA bundles are benign).
- Keys in a software package's tests, demos, examples or documentation (``tests/``, ``demos/``,
  ``/usr/share/doc``...) are reported by their own rule at ``low``: they are published test vectors
  (paramiko ships a dozen), but a device still carries them.
- An encrypted key is reported at ``medium``: the passphrase is usually somewhere in the image too.
- A key whose public half matches a published compromised key (``data/compromised_keys.json``, built
  from rapid7/ssh-badkeys and the backdoor catalogue) is ``key.known-compromised`` (critical), on top of
  the ``key.private`` finding when the private half is present; public halves (``authorized_keys``,
  ``*.pub``, keys in scripts and binaries) are looked up too.
- ``authorized_keys`` files (any home, ``/etc/dropbear/authorized_keys``, ``authorized_keys2``) and
  scripts or programs that write a literal key into ``authorized_keys`` are
  ``credential.authorized-key``: a login that the vendor keeps on every device.

The inventory records where the byte patterns matched; the few candidate regions are then read (at most
a few KiB each) and parsed here. Nothing is ever written or executed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import posixpath
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import ClassVar

from ..findings import Finding, Rule
from ..inventory import Inventory, Item, read_region
from ..patterns import Pattern
from .base import NotApplicable, nonproduct_item

_EN = "https://www.etsi.org/deliver/etsi_en/303600_303699/303645/02.01.01_60/en_303645v020101p.pdf"
_CWE321 = "https://cwe.mitre.org/data/definitions/321.html"
_CWE798 = "https://cwe.mitre.org/data/definitions/798.html"
_HOUSE_OF_KEYS = "https://sec-consult.com/blog/detail/house-of-keys-industry-wide-https-certificate-and-ssh-key-reuse-endangers-millions-of-devices-worldwide/"
_BADKEYS = "https://github.com/rapid7/ssh-badkeys"
_SSHD_AUTHKEYS = "https://man.openbsd.org/sshd.8#AUTHORIZED_KEYS_FILE_FORMAT"

_KEY_STANDARDS = ("EN303645:5.4-3", "EN303645:5.4-4", "EN303645:5.4-1", "TS33117:4.2.3.4.2.3")
_SHARED = (
    " A private key in an image is shared by every device of that model: whoever extracts it from a "
    "downloaded firmware can impersonate any device, decrypt its recorded traffic or use it as a client."
)

HOST_KEY = Rule(
    "VER-KEY-001",
    "key.private",
    "high",
    "SSH host private key shipped in the image (every device of this model shares it)",
    "The image carries a private SSH host key instead of generating one on first boot. Anyone holding the "
    "image can impersonate any device of the model (man-in-the-middle of every SSH session)." + _SHARED,
    _KEY_STANDARDS,
    (_CWE321, _HOUSE_OF_KEYS, _EN),
)
TLS_KEY = Rule(
    "VER-KEY-002",
    "key.private",
    "high",
    "TLS server private key shipped in the image (every device of this model shares it)",
    "A web, VPN or other TLS server key is part of the image (e.g. /etc/ssl/private, uhttpd.key, a combined "
    "certificate+key PEM). Anyone holding the image can impersonate the device's HTTPS interface and "
    "decrypt traffic recorded without forward secrecy." + _SHARED,
    _KEY_STANDARDS,
    (_CWE321, _HOUSE_OF_KEYS, _EN),
)
EMBEDDED_KEY = Rule(
    "VER-KEY-003",
    "key.private",
    "high",
    "Private key embedded in a program",
    "A program carries a private key in its data (a PEM string or a DER blob compiled in). It is the same "
    "on every device and cannot be rotated without a firmware update." + _SHARED,
    _KEY_STANDARDS,
    (_CWE321, _EN),
)
OTHER_KEY = Rule(
    "VER-KEY-004",
    "key.private",
    "high",
    "Private key shipped in the image",
    "A private key (client, VPN, signing or unclassified key) is part of the image." + _SHARED,
    _KEY_STANDARDS,
    (_CWE321, _EN),
)
TEST_KEY = Rule(
    "VER-KEY-005",
    "key.private",
    "low",
    "Private key in a software package's tests, demos or documentation",
    "A key that belongs to a library's test suite, demo or documentation (e.g. paramiko's test keys). Such "
    "keys are published test vectors and do not protect anything by themselves; they are listed so a "
    "reviewer can confirm nothing on the device uses them.",
    ("EN303645:5.4-3",),
    (_CWE321,),
)
KNOWN_COMPROMISED = Rule(
    "VER-KEY-006",
    "key.known-compromised",
    "critical",
    "Publicly known compromised key",
    "The key's public half matches a key whose private half has been published (rapid7/ssh-badkeys, "
    "advisories in the backdoor catalogue). A known static host key lets anyone impersonate the device; a "
    "known login key lets anyone log in.",
    ("EN303645:5.4-3", "EN303645:5.4-4", "TS33117:4.2.3.4.2.3", "GDSI:7"),
    (_BADKEYS, _HOUSE_OF_KEYS, _CWE798),
)
AUTHORIZED_KEY = Rule(
    "VER-KEY-007",
    "credential.authorized-key",
    "high",
    "Pre-installed SSH authorized key grants remote login",
    "An authorized_keys entry ships with the image (or a script or program of the image writes a literal "
    "key into authorized_keys): whoever holds the matching private key can log in to every device of the "
    "model without a password, and the owner of the device usually cannot see or remove it.",
    ("TS33117:4.2.3.4.2.3", "TS33117:4.2.3.4.2.2", "EN303645:5.1-1", "EN303645:5.4-3", "GDSI:7"),
    (_SSHD_AUTHKEYS, _CWE798),
)
UNPARSED = Rule(
    "VER-KEY-008",
    "analysis.incomplete",
    "low",
    "Key material could not be parsed",
    "A private-key block, key file or authorized_keys entry is malformed or of an unsupported type; its "
    "type, size and fingerprint are unknown.",
)

_VECTOR = "publicly known test key"
_VECTOR_TITLE = "Publicly known test key compiled into a crypto library or tool (not a secret)"
_COMPROMISED_TITLES = {
    "host": "Publicly known SSH host key (its private half is published: anyone can impersonate the device)",
    "authorized": "Publicly known login key (its private half is published: anyone can log in)",
}

PEM_BEGIN = b"-----BEGIN "
_PEM_RX = rb"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----"
_OID_PREFIX = rb"\x06[\x03-\x09](?:\x2a\x86\x48|\x2b)"

_PATTERNS: tuple[Pattern, ...] = (
    Pattern("VER-KEY-001/pem", _PEM_RX),
    Pattern("VER-KEY-001/putty", rb"PuTTY-User-Key-File-[1-3]: "),
    Pattern(
        "VER-KEY-001/dropbear",
        rb"\A\x00\x00\x00(?:\x07ssh-(?:rsa|dss)|\x0bssh-ed25519|\x13ecdsa-sha2-nistp(?:256|384|521))\x00",
        first_only=True,
    ),
    # PKCS#1 RSAPrivateKey: SEQUENCE { INTEGER 0, INTEGER n (512, 768 or >= 1024 bits) ... }
    Pattern("VER-KEY-001/der-rsa", rb"\x30\x82..\x02\x01\x00\x02(?:[\x41\x61]\x00|\x81\x81\x00|\x82..\x00)"),
    # PKCS#8 PrivateKeyInfo: SEQUENCE { INTEGER 0|1, SEQUENCE { OID ... } ... }
    Pattern("VER-KEY-001/der-pkcs8", rb"\x30(?:\x82..|\x81.|[\x2e-\x7f])\x02\x01[\x00\x01]\x30[\x05-\x20]" + _OID_PREFIX),
    # SEC1 ECPrivateKey: SEQUENCE { INTEGER 1, OCTET STRING d (32/48/66 bytes) ... }
    Pattern("VER-KEY-001/der-ec", rb"\x30(?:\x81.|[\x30-\x7f])\x02\x01\x01\x04[\x20\x30\x42]"),
    # EncryptedPrivateKeyInfo with PBES2 (1.2.840.113549.1.5.13)
    Pattern("VER-KEY-001/der-enc", rb"\x30\x82..\x30.\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x05\x0d"),
    # An SSH public key in text form (authorized_keys, *.pub, scripts, strings of programs).
    Pattern(
        "VER-KEY-007/pub",
        rb"(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp(?:256|384|521)|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)"
        rb"[ \t]+AAAA[A-Za-z0-9+/]{16}",
    ),
)

_DER_IDS = ("VER-KEY-001/der-rsa", "VER-KEY-001/der-pkcs8", "VER-KEY-001/der-ec", "VER-KEY-001/der-enc")
_READ_MAX = 32 * 1024
"""At most this many bytes are read for one candidate key (an 8192-bit RSA PEM is about 6.3 KiB)."""

_TLS_DIRS = frozenset({
    "ssl", "tls", "https", "pki", "certs", "cert", "certificates", "nginx", "lighttpd", "uhttpd",
    "stunnel", "apache", "apache2", "httpd", "mini_httpd", "boa", "goahead", "webs", "www",
})
_HOST_NAME = re.compile(r"(?:^ssh_host_.*key$|host_key|hostkey|^dropbear_.*_key$)", re.IGNORECASE)
_TLS_NAME = re.compile(
    r"(?:^|[._-])(?:server|https?|ssl|tls|uhttpd|lighttpd|nginx|stunnel|mini_httpd|web|cert|device|cacert)"
    r"(?:[._-]|$).*\.(?:key|pem|crt)$|^(?:server|https|ssl|uhttpd|lighttpd|stunnel|mini_httpd)\.(?:key|pem)$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What can be said about a key without revealing it."""

    fmt: str
    """e.g. ``PEM PKCS#8``, ``OpenSSH``, ``PuTTY``, ``dropbear``, ``DER``."""
    algo: str = "unknown"
    bits: int | None = None
    encrypted: bool = False
    fingerprint: str | None = None
    """``SHA256:<base64>`` of the SSH public blob, or ``SPKI-SHA256:<hex>`` for keys SSH cannot express."""
    comment: str | None = None
    error: str | None = None
    digest: str | None = None
    """``DER-SHA256:<hex>`` of the decoded key, to recognise a key that could not be parsed."""

    def describe(self) -> str:
        parts = [self.fmt, self.algo + (f" {self.bits}-bit" if self.bits else "")]
        text = " ".join(p for p in parts if p)
        if self.encrypted:
            text += ", encrypted"
        if self.fingerprint:
            text += f", public key {self.fingerprint}"
        if self.comment:
            text += f", comment {_clip(self.comment)!r}"
        if self.error:
            text += f" (not parsed: {self.error})"
        return text


# -- the check ----------------------------------------------------------------------------------------------


class KeysCheck:
    ID: ClassVar[str] = "keys"
    TITLE: ClassVar[str] = "Private keys, authorized keys and known compromised keys"
    RULES: ClassVar[tuple[Rule, ...]] = (
        HOST_KEY, TLS_KEY, EMBEDDED_KEY, OTHER_KEY, TEST_KEY, KNOWN_COMPROMISED, AUTHORIZED_KEY, UNPARSED,
    )
    PATTERNS: ClassVar[tuple[Pattern, ...]] = _PATTERNS

    def run(self, inv: Inventory, sections: dict[str, list[dict]]) -> Iterable[Finding]:
        if not inv.items:
            raise NotApplicable("no files to look at")
        out: list[Finding] = []
        homes = _homes(inv, sections)
        for item in inv.items:
            try:
                out.extend(self._item(inv, item, homes))
            except OSError as exc:
                out.append(_incomplete(item, f"cannot read: {exc.strerror or exc}", "read"))
        return out

    def _item(self, inv: Inventory, item: Item, homes: dict[tuple[int, str], str]) -> Iterator[Finding]:
        facts = item.facts
        hits = facts.matched("VER-KEY-")
        name = item.node.name
        is_authorized_file = name in ("authorized_keys", "authorized_keys2")
        if not hits and not is_authorized_file:
            return
        reader = _Reader(item)
        seen: set[str] = set()
        for info, offset in _private_keys(item, hits, reader):
            ident = info.fingerprint or info.digest or f"@{offset}"
            if ident in seen:
                continue
            seen.add(ident)
            rule, role = _classify(item, info, offset)
            if info.error and not role.startswith(_VECTOR):
                yield _incomplete(item, f"{info.describe()} at offset {offset}", f"unparsed@{offset}", offset)
            title = _VECTOR_TITLE if role.startswith(_VECTOR) else rule.title
            severity = None
            if info.encrypted and rule is not TEST_KEY:
                severity = "medium"
                title = "Encrypted " + title[0].lower() + title[1:]
            yield rule.finding(
                path=item.node.path,
                container=item.tree.container,
                evidence=f"{role}: {info.describe()}",
                title=title,
                offset=offset if offset else None,
                severity=severity,
                key=ident,
            )
            if info.fingerprint:
                yield from _compromised(item, info, "private key", offset)
        if is_authorized_file:
            yield from _authorized_file(item, homes)
        elif any(m[0] == "VER-KEY-007/pub" for m in hits):
            yield from _public_keys(inv, item, hits, reader)
        capped = [c for c in facts.capped if c.startswith("VER-KEY-")]
        if capped:
            yield _incomplete(item, "more key candidates than the per-file cap; only the first were examined",
                              "capped")


# -- private keys -------------------------------------------------------------------------------------------


def _private_keys(item: Item, hits: list[tuple[str, int, int]], reader: _Reader) -> Iterator[tuple[KeyInfo, int]]:
    covered: list[tuple[int, int]] = []
    for pid, start, _end in hits:
        if pid == "VER-KEY-001/pem":
            block = reader.read(start, _READ_MAX)
            parsed = parse_pem(block)
            if parsed is not None:
                info, length = parsed
                covered.append((start, start + length))
                yield info, start
        elif pid == "VER-KEY-001/putty":
            ppk = parse_putty(reader.read(start, _READ_MAX))
            if ppk is not None:
                yield ppk, start
        elif pid == "VER-KEY-001/dropbear":
            dropbear = parse_dropbear(reader.read(0, 16 * 1024))
            if dropbear is not None:
                yield dropbear, 0
        elif pid in _DER_IDS:
            if any(a <= start < b for a, b in covered):
                continue
            parsed_der = parse_der(reader.read(start, 16 * 1024))
            if parsed_der is not None:
                info, length = parsed_der
                covered.append((start, start + length))
                yield info, start


_B64 = re.compile(rb"[A-Za-z0-9+/=]+")
_PEM_LABEL = re.compile(rb"-----BEGIN ((?:[A-Z0-9]+ ){0,3}PRIVATE KEY)-----")
_ESCAPES = re.compile(rb"\\[nr]|\\x0[ad]|\\012|\\015|\x00|\r|\n")
_CODE_HEAD = re.compile(rb"^[\s(+]*[\"']")
_CODE_TAIL = re.compile(rb"[\"'][\s+,;)]*$")


def parse_pem(data: bytes) -> tuple[KeyInfo, int] | None:
    """The key in the PEM block at the start of ``data`` and the block's length; None for a template,
    a header without a body or something that is not a key block at all."""
    m = _PEM_LABEL.match(data)
    if m is None:
        return None
    label = m.group(1).decode()
    end_marker = b"-----END " + m.group(1) + b"-----"
    end = data.find(end_marker, m.end())
    if end < 0:
        return None
    body = data[m.end():end]
    headers: dict[str, str] = {}
    chunks: list[bytes] = []
    for raw in _ESCAPES.split(body):
        line = raw.strip()
        if b'"' in line or b"'" in line:  # a key pasted in source code: "MIIE..." + / 'MIIE...',
            line = _CODE_TAIL.sub(b"", _CODE_HEAD.sub(b"", line)).replace(b'"', b"").replace(b"'", b"")
        line = line.rstrip(b"\\").strip()
        if not line:
            continue
        if b":" in line and not chunks:
            k, _, v = line.partition(b":")
            headers[k.strip().decode("ascii", "replace").lower()] = v.strip().decode("ascii", "replace")
            continue
        if not _B64.fullmatch(line):
            return None  # code or a template between the markers, not a key body
        chunks.append(line)
    b64 = b"".join(chunks)
    if len(b64) < 64:
        return None
    length = end + len(end_marker)
    fmt = "PEM " + {"RSA PRIVATE KEY": "PKCS#1", "DSA PRIVATE KEY": "DSA", "EC PRIVATE KEY": "SEC1",
                    "PRIVATE KEY": "PKCS#8", "ENCRYPTED PRIVATE KEY": "PKCS#8",
                    "OPENSSH PRIVATE KEY": "OpenSSH"}.get(label, label.title())
    algo = {"RSA PRIVATE KEY": "RSA", "DSA PRIVATE KEY": "DSA", "EC PRIVATE KEY": "ECDSA"}.get(label, "unknown")
    try:
        der = base64.b64decode(b64 + b"=" * (-len(b64) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        return KeyInfo(fmt, algo, error=f"bad base64: {exc}"), length
    info = _parse_pem_der(label, fmt, algo, headers, der)
    return replace(info, digest="DER-SHA256:" + hashlib.sha256(der).hexdigest()), length


def _parse_pem_der(label: str, fmt: str, algo: str, headers: dict[str, str], der: bytes) -> KeyInfo:
    if "ENCRYPTED" in headers.get("proc-type", "").upper():
        return KeyInfo(fmt, algo, encrypted=True)
    if label == "ENCRYPTED PRIVATE KEY":
        return KeyInfo(fmt, "unknown", encrypted=True)
    if label == "OPENSSH PRIVATE KEY":
        return parse_openssh(der)
    if label == "SSH2 ENCRYPTED PRIVATE KEY":
        return KeyInfo("PEM SSH.com", "unknown", encrypted=True)
    info = _from_der(der, fmt)
    if info.algo == "unknown" and algo != "unknown":
        info = replace(info, algo=algo)
    return info


def parse_der(data: bytes) -> tuple[KeyInfo, int] | None:
    """A DER private key at the start of ``data`` (length from its ASN.1 header), or None."""
    if len(data) < 2 or data[0] != 0x30:
        return None
    if data[1] == 0x82:
        length = 4 + int.from_bytes(data[2:4], "big")
    elif data[1] == 0x81:
        length = 3 + data[2]
    elif data[1] < 0x80:
        length = 2 + data[1]
    else:
        return None
    if length > len(data) or length < 40:
        return None
    der = data[:length]
    info = _from_der(der, "DER")
    if info.error and not info.encrypted:
        return None  # the header looked like a key, the content is not one: a heuristic miss, not a problem
    return replace(info, digest="DER-SHA256:" + hashlib.sha256(der).hexdigest()), length


def _from_der(der: bytes, fmt: str) -> KeyInfo:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_der_private_key(der, password=None, unsafe_skip_rsa_key_validation=True)
    except TypeError:
        return KeyInfo(fmt, "unknown", encrypted=True)
    except (ValueError, UnsupportedAlgorithm) as exc:
        return KeyInfo(fmt, error=_clip(str(exc).split("\n")[0] or type(exc).__name__, 80))
    return _describe_key(key, fmt)


def _describe_key(key, fmt: str) -> KeyInfo:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

    algo, bits = "unknown", None
    if isinstance(key, rsa.RSAPrivateKey):
        algo, bits = "RSA", key.key_size
    elif isinstance(key, dsa.DSAPrivateKey):
        algo, bits = "DSA", key.key_size
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        algo, bits = f"ECDSA {key.curve.name}", key.curve.key_size
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        algo, bits = "Ed25519", 256
    elif isinstance(key, ed448.Ed448PrivateKey):
        algo, bits = "Ed448", 456
    elif isinstance(key, x25519.X25519PrivateKey):
        algo, bits = "X25519", 256
    elif isinstance(key, x448.X448PrivateKey):
        algo, bits = "X448", 448
    pub = key.public_key()
    if algo in ("RSA", "DSA"):  # SSH blobs built here: cryptography deprecates DSA in SSH form
        numbers = pub.public_numbers()
        if algo == "RSA":
            blob = _pack(b"ssh-rsa", _mpint(numbers.e), _mpint(numbers.n))
        else:
            p = numbers.parameter_numbers
            blob = _pack(b"ssh-dss", _mpint(p.p), _mpint(p.q), _mpint(p.g), _mpint(numbers.y))
        return KeyInfo(fmt, algo, bits, fingerprint=ssh_fingerprint(blob))
    try:
        line = pub.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        fingerprint = ssh_fingerprint(base64.b64decode(line.split()[1]))
    except (ValueError, TypeError, IndexError):
        spki = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        fingerprint = "SPKI-SHA256:" + hashlib.sha256(spki).hexdigest()
    return KeyInfo(fmt, algo, bits, fingerprint=fingerprint)


# -- SSH formats --------------------------------------------------------------------------------------------


class _Malformed(ValueError):
    pass


def _string(buf: bytes, off: int) -> tuple[bytes, int]:
    if off + 4 > len(buf):
        raise _Malformed("truncated")
    (n,) = struct.unpack(">I", buf[off:off + 4])
    if off + 4 + n > len(buf):
        raise _Malformed("truncated")
    return buf[off + 4:off + 4 + n], off + 4 + n


def _pack(*fields: bytes) -> bytes:
    return b"".join(struct.pack(">I", len(f)) + f for f in fields)


def _mpint(value: int) -> bytes:
    return value.to_bytes(value.bit_length() // 8 + 1, "big") if value else b""


def ssh_fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA-256 fingerprint of a public key blob."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def describe_public_blob(blob: bytes) -> tuple[str, int | None]:
    """(algorithm, bits) of an SSH public key blob; raises _Malformed."""
    ktype, off = _string(blob, 0)
    if ktype == b"ssh-rsa":
        _e, off = _string(blob, off)
        n, off = _string(blob, off)
        return "RSA", int.from_bytes(n, "big").bit_length()
    if ktype == b"ssh-dss":
        p, off = _string(blob, off)
        return "DSA", int.from_bytes(p, "big").bit_length()
    if ktype.startswith(b"ecdsa-sha2-nistp"):
        curve = ktype.rsplit(b"nistp", 1)[1].decode("ascii", "replace")
        return f"ECDSA nistp{curve}", int(curve) if curve.isdigit() else None
    if ktype in (b"ssh-ed25519", b"sk-ssh-ed25519@openssh.com"):
        return ("Ed25519" if ktype == b"ssh-ed25519" else "Ed25519-SK"), 256
    if ktype == b"sk-ecdsa-sha2-nistp256@openssh.com":
        return "ECDSA-SK nistp256", 256
    if ktype == b"ssh-ed448":
        return "Ed448", 456
    if not ktype or len(ktype) > 64 or not ktype.isascii():
        raise _Malformed("not an SSH key blob")
    return ktype.decode(), None


def parse_openssh(der: bytes) -> KeyInfo:
    """OpenSSH ``openssh-key-v1``: the public half is in clear even when the private part is encrypted."""
    magic = b"openssh-key-v1\x00"
    if not der.startswith(magic):
        return KeyInfo("OpenSSH", error="bad magic")
    try:
        cipher, off = _string(der, len(magic))
        _kdf, off = _string(der, off)
        _kdfopts, off = _string(der, off)
        (count,) = struct.unpack(">I", der[off:off + 4])
        off += 4
        if count < 1:
            raise _Malformed("no key")
        pub, off = _string(der, off)
        secret, off = _string(der, off)
        algo, bits = describe_public_blob(pub)
    except (_Malformed, struct.error) as exc:
        return KeyInfo("OpenSSH", error=str(exc) or "truncated")
    encrypted = cipher != b"none"
    comment = None
    if not encrypted:
        comment = _openssh_comment(secret)
    return KeyInfo("OpenSSH", algo, bits, encrypted, ssh_fingerprint(pub), comment)


_PRIVATE_FIELDS = {b"ssh-rsa": 6, b"ssh-dss": 5, b"ssh-ed25519": 2, b"ecdsa-sha2-nistp256": 3,
                   b"ecdsa-sha2-nistp384": 3, b"ecdsa-sha2-nistp521": 3}


def _openssh_comment(secret: bytes) -> str | None:
    try:
        off = 8  # two check integers
        ktype, off = _string(secret, off)
        fields = _PRIVATE_FIELDS.get(ktype)
        if fields is None:
            return None
        for _ in range(fields):
            _f, off = _string(secret, off)
        comment, off = _string(secret, off)
    except _Malformed:
        return None
    text = comment.decode("utf-8", "replace").strip()
    return text or None


def parse_putty(data: bytes) -> KeyInfo | None:
    """A PuTTY ``.ppk`` key starting at ``data``: type, encryption, comment and the public blob."""
    text = data.decode("utf-8", "replace")
    lines = text.splitlines()
    if not lines or not lines[0].startswith("PuTTY-User-Key-File-"):
        return None
    fields: dict[str, str] = {}
    pub_lines: list[str] = []
    i = 0
    while i < len(lines):
        k, sep, v = lines[i].partition(": ")
        if not sep:
            break
        fields[k.strip().lower()] = v.strip()
        i += 1
        if k.strip().lower() == "public-lines" and v.strip().isdigit():
            pub_lines = lines[i:i + int(v.strip())]
            i += int(v.strip())
    if "public-lines" not in fields or "private-lines" not in fields:
        return None
    version = lines[0].split(":", 1)[0].rsplit("-", 1)[-1]
    encrypted = fields.get("encryption", "none").lower() != "none"
    comment = fields.get("comment") or None
    try:
        blob = base64.b64decode("".join(x.strip() for x in pub_lines), validate=True)
        algo, bits = describe_public_blob(blob)
    except (binascii.Error, ValueError) as exc:
        return KeyInfo(f"PuTTY v{version}", fields.get("putty-user-key-file-" + version, "unknown"),
                       encrypted=encrypted, comment=comment, error=str(exc) or "bad public key")
    return KeyInfo(f"PuTTY v{version}", algo, bits, encrypted, ssh_fingerprint(blob), comment)


def parse_dropbear(data: bytes) -> KeyInfo | None:
    """dropbear's own key format: SSH-style strings, the public fields followed by the private ones.
    None when only the public half is there."""
    try:
        ktype, off = _string(data, 0)
        if ktype == b"ssh-rsa":
            e, off = _string(data, off)
            n, off = _string(data, off)
            _d, off = _string(data, off)
            _p, off = _string(data, off)
            _q, off = _string(data, off)
            pub = _pack(ktype, e, n)
        elif ktype == b"ssh-dss":
            p, off = _string(data, off)
            q, off = _string(data, off)
            g, off = _string(data, off)
            y, off = _string(data, off)
            _x, off = _string(data, off)
            pub = _pack(ktype, p, q, g, y)
        elif ktype.startswith(b"ecdsa-sha2-nistp"):
            curve, off = _string(data, off)
            point, off = _string(data, off)
            _d, off = _string(data, off)
            pub = _pack(ktype, curve, point)
        elif ktype == b"ssh-ed25519":
            k, off = _string(data, off)
            if len(k) != 64:
                raise _Malformed("ed25519 key of unexpected length")
            pub = _pack(ktype, k[32:])
        else:
            return None
        algo, bits = describe_public_blob(pub)
    except _Malformed:
        return None
    return KeyInfo("dropbear", algo, bits, fingerprint=ssh_fingerprint(pub))


# -- classification -----------------------------------------------------------------------------------------


def _classify(item: Item, info: KeyInfo, offset: int) -> tuple[Rule, str]:
    path = item.node.path
    parent = posixpath.dirname(path)
    name = item.node.name
    facts = item.facts
    vector = test_vectors().get(info.fingerprint or "") or test_vectors().get(info.digest or "")
    if vector is not None:
        return TEST_KEY, f"{_VECTOR} ({vector['name']})"
    if nonproduct_item(item):
        return TEST_KEY, "key in tests, demos or documentation"
    if facts.kind == "elf":
        return EMBEDDED_KEY, "key embedded in a program"
    if offset > 0 and facts.kind in ("data", "archive"):
        return EMBEDDED_KEY, "key embedded in a binary file"
    if info.fmt == "dropbear" and not name.startswith("id_"):
        return HOST_KEY, "SSH host key (dropbear)"
    if _HOST_NAME.search(name) or parent in ("/etc/dropbear", "/etc/ssh"):
        return HOST_KEY, "SSH host key"
    if facts.text is not None and "-----BEGIN CERTIFICATE-----" in facts.text:
        return TLS_KEY, "TLS key with its certificate"
    dirs = {p.lower() for p in parent.split("/") if p}
    if dirs & _TLS_DIRS or _TLS_NAME.search(name):
        return TLS_KEY, "TLS server key"
    return OTHER_KEY, "private key"


# -- public keys, authorized_keys, known compromised keys -----------------------------------------------------


@cache
def _data() -> dict:
    return json.loads(resources.files("veracity").joinpath("data/compromised_keys.json").read_text())


@cache
def compromised() -> dict[str, dict]:
    """Fingerprint -> record of every publicly known compromised key (data/compromised_keys.json)."""
    return {k["fingerprint_sha256"]: k for k in _data()["keys"]}


@cache
def test_vectors() -> dict[str, dict]:
    """Fingerprint or DER digest -> record of keys published as test vectors of crypto libraries (the
    benchmark keys compiled into ``openssl``, GnuTLS's self-test keys...): not a secret of anyone's."""
    return {ident: k for k in _data().get("test_keys", []) for ident in k["ids"]}


def _compromised(item: Item, info_or_fp: KeyInfo | str, what: str, offset: int | None,
                 line: int | None = None) -> Iterator[Finding]:
    fp = info_or_fp.fingerprint if isinstance(info_or_fp, KeyInfo) else info_or_fp
    known = compromised().get(fp or "")
    if known is None:
        return
    ref = ", ".join([*known.get("cves", []), *(known.get("urls") or [])[:1]])
    kind = known.get("kind", "authorized")
    user = f", login {known['user']!r}" if known.get("user") else ""
    algo = f"{known.get('key_type') or '?'} {known.get('bits') or '?'}-bit"
    yield KNOWN_COMPROMISED.finding(
        path=item.node.path,
        container=item.tree.container,
        evidence=f"{what} {algo} {fp} is the published {kind} key {known['name']!r}{user}"
        + (f" ({ref})" if ref else ""),
        title=_COMPROMISED_TITLES.get(kind, KNOWN_COMPROMISED.title),
        offset=offset or None,
        line=line,
        backdoor_id=known.get("backdoor_id"),
        key=fp,
    )


_AUTH_LINE = re.compile(
    r"(?P<type>ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp(?:256|384|521)|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)"
    r"@openssh\.com|ssh-ed448)\s+(?P<b64>[A-Za-z0-9+/]+={0,3})(?:[ \t]+(?P<comment>[^\r\n]*))?"
)


def _authorized_file(item: Item, homes: dict[tuple[int, str], str]) -> Iterator[Finding]:
    text = item.facts.text
    if text is None:
        if item.facts.size:
            yield _incomplete(item, f"authorized_keys file is not text ({item.facts.kind})", "not-text")
        return
    account = _account_for(item, homes)
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _AUTH_LINE.search(line)
        if m is None:
            yield _incomplete(item, f"line {lineno}: not a key entry ({_clip(line, 40)!r})", f"line{lineno}",
                              line=lineno)
            continue
        options = line[:m.start()].strip()
        try:
            blob = base64.b64decode(m.group("b64") + "=" * (-len(m.group("b64")) % 4), validate=True)
            algo, bits = describe_public_blob(blob)
        except (binascii.Error, ValueError) as exc:
            yield _incomplete(item, f"line {lineno}: malformed {m.group('type')} key ({exc})", f"line{lineno}",
                              line=lineno)
            continue
        fp = ssh_fingerprint(blob)
        comment = (m.group("comment") or "").strip()
        evidence = f"{algo}{f' {bits}-bit' if bits else ''} {fp}"
        if comment:
            evidence += f", comment {_clip(comment)!r}"
        evidence += f", grants login as {account}"
        if options:
            evidence += f", options {_clip(options, 80)!r}"
        yield AUTHORIZED_KEY.finding(
            path=item.node.path, container=item.tree.container, evidence=evidence, line=lineno, key=fp
        )
        yield from _compromised(item, fp, "authorized key", None, lineno)


def _public_keys(inv: Inventory, item: Item, hits: list[tuple[str, int, int]], reader: _Reader) -> Iterator[Finding]:
    """Public keys in any other file: looked up among the compromised keys; reported as authorized keys
    when the same file writes to authorized_keys."""
    installs = _mentions_authorized_keys(inv, item)
    seen: set[str] = set()
    for pid, start, _end in hits:
        if pid != "VER-KEY-007/pub":
            continue
        chunk = reader.read(start, 16 * 1024).decode("latin-1")
        m = _AUTH_LINE.match(chunk)
        if m is None:
            continue
        try:
            blob = base64.b64decode(m.group("b64")[: len(m.group("b64")) // 4 * 4], validate=True)
            algo, bits = describe_public_blob(blob)
        except (binascii.Error, ValueError):
            continue
        fp = ssh_fingerprint(blob)
        if fp in seen:
            continue
        seen.add(fp)
        yield from _compromised(item, fp, "public key", start)
        if installs:
            comment = (m.group("comment") or "").split("'")[0].split('"')[0].strip()
            yield AUTHORIZED_KEY.finding(
                path=item.node.path,
                container=item.tree.container,
                evidence=f"{algo}{f' {bits}-bit' if bits else ''} {fp}"
                + (f", comment {_clip(comment)!r}" if comment else "")
                + f", written to authorized_keys by this file ({_clip(installs, 80)!r})",
                offset=start or None,
                key=fp,
            )


def _mentions_authorized_keys(inv: Inventory, item: Item) -> str | None:
    """The line or string of a script or program that names authorized_keys (None for documentation,
    which quotes keys and authorized_keys together without installing anything)."""
    facts = item.facts
    if nonproduct_item(item):
        return None
    shell_like = facts.kind == "script" or item.node.name.endswith((".sh", ".py", ".lua", ".pl", ".rc"))
    startup = item.node.path.startswith(("/etc/init.d/", "/etc/rc", "/etc/uci-defaults/", "/etc/hotplug"))
    if facts.kind not in ("elf", "data") and not shell_like and not startup:
        return None
    if facts.text is not None:
        for line in facts.text.splitlines():
            if "authorized_keys" in line and not line.lstrip().startswith("#"):
                return line.strip()
        return None
    for _off, s in inv.strings(item):
        if "authorized_keys" in s:
            return s.strip()
    return None


def _homes(inv: Inventory, sections: dict[str, list[dict]]) -> dict[tuple[int, str], str]:
    """(tree id, home directory) -> account name, from the accounts section or each tree's /etc/passwd."""
    out: dict[tuple[int, str], str] = {}
    for tree in inv.trees:
        item = inv.item(tree, "/etc/passwd")
        if item is None or item.facts.text is None:
            continue
        for line in item.facts.text.splitlines():
            f = line.split(":")
            if len(f) >= 7 and f[0] and f[5]:
                out.setdefault((id(tree), f[5].rstrip("/") or "/"), f[0])
    for acc in sections.get("accounts", []):
        home, name = acc.get("home"), acc.get("name")
        if home and name:
            for tree in inv.trees:
                out.setdefault((id(tree), home.rstrip("/") or "/"), name)
    return out


def _account_for(item: Item, homes: dict[tuple[int, str], str]) -> str:
    path = item.node.path
    if path.startswith("/etc/dropbear/"):
        return "root (dropbear reads /etc/dropbear/authorized_keys for root)"
    parent = posixpath.dirname(path)
    home = posixpath.dirname(parent) if posixpath.basename(parent) == ".ssh" else parent
    name = homes.get((id(item.tree), home or "/"))
    if name:
        return f"{name} (home {home or '/'})"
    guess = "root" if home == "/root" else posixpath.basename(home) if home.startswith("/home/") else None
    if guess:
        return f"{guess} (home {home}, no /etc/passwd entry)"
    return f"the account whose home is {home or '/'}"


# -- helpers ------------------------------------------------------------------------------------------------


class _Reader:
    """Bounded reads of one file's bytes. Text files come from the inventory's text (an exact round
    trip); other files are read at the candidate's offset only, never followed through links."""

    def __init__(self, item: Item):
        self.item = item
        self._bytes: bytes | None = None

    def read(self, start: int, length: int) -> bytes:
        facts = self.item.facts
        if facts.text is not None:
            if self._bytes is None:
                self._bytes = facts.text.encode("utf-8", "surrogateescape")
            return self._bytes[start:start + length]
        return read_region(self.item, start, length)


def _incomplete(item: Item, evidence: str, key: str, offset: int | None = None, line: int | None = None) -> Finding:
    return UNPARSED.finding(
        path=item.node.path, container=item.tree.container, evidence=evidence, offset=offset or None,
        line=line, key=key,
    )


def _clip(text: str, limit: int = 60) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
