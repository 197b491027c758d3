"""Signed, verifiable evidence: an in-toto Statement v1 in a DSSE envelope, signed with ed25519.

* ``veracity keygen [--output PREFIX]`` writes ``PREFIX.key`` (PKCS#8 PEM, mode 0600; encrypted when
  ``$VERACITY_KEY_PASSWORD`` is set) and ``PREFIX.pub`` (SubjectPublicKeyInfo PEM).
* ``veracity attest REPORT --key KEY [--output FILE]`` signs a statement whose subject is the image (its sha256
  from the report) and whose predicate holds the report's digest, the tool and rules versions, the scan
  parameters, the summary counts, every finding's identity (fingerprint, rule, path, severity) and the
  conformance verdicts. Output: one DSSE envelope as a JSON line (default ``REPORT.intoto.jsonl``).
* ``veracity verify ATTESTATION --key PUB --image IMAGE [--report REPORT] [--rescan]`` checks the signature, the
  image digest and (with ``--report``) the report digest; with ``--rescan`` it scans the image again and
  confirms that the same findings come out: an audit anyone can reproduce.

Exit status of ``verify``: 0 verified, 1 verification failed (tampered or different evidence), 2 usage error.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
PREDICATE_TYPE = "https://veracity.invalid/attestation/scan-report/v1"
PASSWORD_ENV = "VERACITY_KEY_PASSWORD"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class AttestError(Exception):
    """Root of this module's errors; ``diagnostics()`` says what to do about it."""

    hint = ""

    def diagnostics(self) -> str:
        return f"{self}" + (f"\n  {self.hint}" if self.hint else "")


class KeyProblem(AttestError):
    hint = "make a key pair with `veracity keygen`; set $VERACITY_KEY_PASSWORD if the private key is encrypted"


class VerificationError(AttestError):
    """The evidence does not verify: tampered, for another image, or not reproducible."""


# -- keys ----------------------------------------------------------------------------------------------------


def _password(password: str | bytes | None) -> bytes | None:
    if password is None:
        password = os.environ.get(PASSWORD_ENV) or None
    if isinstance(password, str):
        password = password.encode()
    return password


def keygen(prefix: Path, *, password: str | bytes | None = None, force: bool = False) -> tuple[Path, Path]:
    """Write a new ed25519 key pair to ``PREFIX.key`` (0600) and ``PREFIX.pub``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    priv_path, pub_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    for p in (priv_path, pub_path):
        if p.exists() and not force:
            raise KeyProblem(f"{p} exists; not overwriting it (use --force)")
    key = Ed25519PrivateKey.generate()
    pw = _password(password)
    enc = serialization.BestAvailableEncryption(pw) if pw else serialization.NoEncryption()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.chmod(priv_path, 0o600)
    pub_path.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return priv_path, pub_path


def load_private_key(path: Path, password: str | bytes | None = None):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyProblem(f"cannot read private key {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(data, password=_password(password))
    except TypeError:
        raise KeyProblem(f"private key {path} is encrypted: set ${PASSWORD_ENV}") from None
    except ValueError as exc:
        raise KeyProblem(f"{path} is not a usable PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyProblem(f"{path} is not an ed25519 private key")
    return key


def load_public_key(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyProblem(f"cannot read public key {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_ssh_public_key(data)
        except ValueError as exc:
            raise KeyProblem(f"{path} is not a PEM or OpenSSH public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyProblem(f"{path} is not an ed25519 public key")
    return key


def key_id(public_key) -> str:
    """``sha256:<hex>`` of the raw 32-byte public key."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


# -- DSSE ----------------------------------------------------------------------------------------------------


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what is actually signed."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def sign_envelope(statement: Mapping[str, Any], private_key) -> dict[str, Any]:
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    sig = private_key.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": key_id(private_key.public_key()), "sig": base64.b64encode(sig).decode()}],
    }


def open_envelope(envelope: Mapping[str, Any], public_key) -> dict[str, Any]:
    """The statement of a DSSE envelope whose signature verifies with ``public_key``; else VerificationError."""
    from cryptography.exceptions import InvalidSignature

    if not isinstance(envelope, Mapping) or "payload" not in envelope or "signatures" not in envelope:
        raise VerificationError("not a DSSE envelope (no payload or signatures)")
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        raise VerificationError(f"unexpected payload type {envelope.get('payloadType')!r} (expected {PAYLOAD_TYPE})")
    try:
        payload = base64.b64decode(envelope["payload"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise VerificationError("the envelope's payload is not valid base64: the attestation was altered") from None
    message = pae(PAYLOAD_TYPE, payload)
    ok = False
    for s in envelope.get("signatures") or []:
        try:
            sig = base64.b64decode(s.get("sig", ""), validate=True)
            public_key.verify(sig, message)
            ok = True
            break
        except (InvalidSignature, binascii.Error, ValueError, TypeError, AttributeError):
            continue
    if not ok:
        raise VerificationError(
            f"signature check failed: no signature verifies with key {key_id(public_key)}; "
            "the attestation was altered or signed with another key"
        )
    try:
        statement = json.loads(payload)
    except ValueError:
        raise VerificationError("the signed payload is not JSON") from None
    if statement.get("_type") != STATEMENT_TYPE:
        raise VerificationError(f"not an in-toto Statement v1 (_type {statement.get('_type')!r})")
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise VerificationError(f"not a veracity scan attestation (predicateType {statement.get('predicateType')!r})")
    return statement


def describe_envelope(envelope: Any) -> dict[str, Any]:
    """What an envelope says about itself, unverified (no key): the image digest it is for, the key ids of its
    signatures, the report digest and the number of findings. AttestError when it is not a veracity attestation."""
    if not isinstance(envelope, Mapping) or envelope.get("payloadType") != PAYLOAD_TYPE:
        raise AttestError(f"not a DSSE envelope of {PAYLOAD_TYPE}")
    try:
        statement = json.loads(base64.b64decode(envelope.get("payload", ""), validate=True))
    except (binascii.Error, TypeError, ValueError):
        raise AttestError("the envelope's payload is not base64-encoded JSON") from None
    if not isinstance(statement, dict) or statement.get("predicateType") != PREDICATE_TYPE \
            or statement.get("_type") != STATEMENT_TYPE:
        raise AttestError("not an in-toto statement of a veracity scan report")
    sigs = envelope.get("signatures")
    if not isinstance(sigs, list) or not sigs or not all(isinstance(x, Mapping) and x.get("sig") for x in sigs):
        raise AttestError("the envelope carries no signature")
    subjects = statement.get("subject") if isinstance(statement.get("subject"), list) else []
    predicate = statement.get("predicate") if isinstance(statement.get("predicate"), dict) else {}
    report = predicate.get("report") if isinstance(predicate.get("report"), dict) else {}
    return {
        "image_sha256": sorted({str((x.get("digest") or {}).get("sha256")) for x in subjects if isinstance(x, dict)}),
        "key_ids": [str(x.get("keyid") or "") for x in sigs],
        "report_sha256": (report.get("digest") or {}).get("sha256") if isinstance(report.get("digest"), dict) else None,
        "findings": len(predicate.get("findings") or []) if isinstance(predicate.get("findings"), list) else 0,
    }


def attest_report(report: Mapping[str, Any], key, name: str = "report.json") -> tuple[dict[str, Any], bytes]:
    """Sign a report held in memory: the envelope, and the report bytes it signs (the JSON report as written)."""
    from .report import dumps

    data = dumps(dict(report)).encode()
    return sign_envelope(statement(report, data, name), key), data


def read_envelope(path: Path) -> dict[str, Any]:
    """An envelope from a ``.intoto.jsonl`` (first JSON line) or a plain JSON file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise AttestError(f"cannot read attestation {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except ValueError:
        pass
    for line in text.splitlines():
        if line.strip():
            try:
                return json.loads(line)
            except ValueError:
                break
    raise VerificationError(f"{path} is not a JSON DSSE envelope")


# -- statement -----------------------------------------------------------------------------------------------


def identity(f: Mapping[str, Any]) -> dict[str, Any]:
    return {"fingerprint": f["fingerprint"], "rule": f["rule"], "path": f.get("path"), "severity": f["severity"]}


def statement(report: Mapping[str, Any], report_bytes: bytes, report_name: str = "report.json") -> dict[str, Any]:
    """The in-toto Statement of a report (as read from ``report_bytes``)."""
    t = report.get("target") or {}
    if not t.get("sha256"):
        raise AttestError("the report has no target sha256: is it a veracity report?")
    triage = report.get("triage")
    hidden: dict[str, Any] | None = None
    if triage:
        hidden = {
            "ignored": sorted({i["fingerprint"] for i in triage.get("ignored") or []}),
            "baseline_known": sorted(set((triage.get("baseline") or {}).get("known_findings") or [])),
            "severity": triage.get("severity"),
            "hidden_by_severity": triage.get("hidden_by_severity", 0),
            "ignore_file": triage.get("ignore_file"),
        }
    standards = sorted({r["standard"] for r in report.get("conformance") or []})
    predicate = {
        "report": {
            "name": report_name,
            "digest": {"sha256": hashlib.sha256(report_bytes).hexdigest()},
            "schema_version": report.get("schema_version"),
        },
        "tool": report.get("tool"),
        "target": {"name": t.get("name"), "kind": t.get("kind"), "size": t.get("size")},
        "scan": {
            "started_at": report.get("started_at"),
            "duration_s": report.get("duration_s"),
            "parameters": report.get("parameters") or {},
            "standards": standards,
            "checks": report.get("checks") or [],
        },
        "summary": report.get("summary"),
        "findings": [identity(f) for f in report.get("findings") or []],
        "triage": hidden,
        "conformance": [
            {"standard": r["standard"], "clause": r["clause"], "status": r["status"]}
            for r in report.get("conformance") or []
        ],
    }
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": t.get("name") or "image", "digest": {"sha256": t["sha256"]}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }


def attest(report_path: Path, key_path: Path, *, password: str | bytes | None = None) -> dict[str, Any]:
    """The signed envelope for the report at ``report_path``."""
    try:
        data = Path(report_path).read_bytes()
    except OSError as exc:
        raise AttestError(f"cannot read report {report_path}: {exc.strerror or exc}") from None
    try:
        report = json.loads(data)
    except ValueError:
        raise AttestError(f"{report_path} is not a JSON report") from None
    from .report import validate

    problems = validate(report) if isinstance(report, dict) else ["not an object"]
    if problems:
        raise AttestError(f"{report_path} is not a valid veracity report: {problems[0]}")
    key = load_private_key(key_path, password)
    return sign_envelope(statement(report, data, Path(report_path).name), key)


# -- verification --------------------------------------------------------------------------------------------


@dataclass
class Verified:
    statement: dict[str, Any]
    key_id: str
    image_sha256: str
    report_checked: bool = False
    rescanned: bool = False
    findings: int = 0
    notes: list[str] = field(default_factory=list)


def _limits_from(parameters: Mapping[str, Any]):
    from dataclasses import fields

    from .limits import Limits

    names = {f.name for f in fields(Limits)}
    given = parameters.get("limits") if isinstance(parameters.get("limits"), Mapping) else parameters
    kwargs = {k: v for k, v in (given or {}).items() if k in names}
    return Limits(**kwargs) if kwargs else None


def _expected_after_triage(predicate: Mapping[str, Any], findings: list[Mapping[str, Any]]) -> set[tuple]:
    """The rescan's finding identities, hidden the same way the attested report's triage hid them."""
    tri = predicate.get("triage") or {}
    drop = set(tri.get("ignored") or []) | set(tri.get("baseline_known") or [])
    keep_sev = set(tri.get("severity") or []) or None
    out = set()
    for f in findings:
        if f["fingerprint"] in drop:
            continue
        if keep_sev is not None and f["severity"] not in keep_sev:
            continue
        out.add((f["fingerprint"], f["rule"], f.get("path")))
    return out


def verify(
    attestation: Path,
    public_key_path: Path,
    image: Path,
    *,
    report_path: Path | None = None,
    rescan: bool = False,
    scan: Callable[..., dict[str, Any]] | None = None,
    scan_kwargs: Mapping[str, Any] | None = None,
) -> Verified:
    """Check an attestation against a public key and an image; raise VerificationError with the reason."""
    key = load_public_key(public_key_path)
    envelope = read_envelope(attestation)
    st = open_envelope(envelope, key)
    subjects = st.get("subject") or []
    attested = {s.get("digest", {}).get("sha256") for s in subjects if isinstance(s, Mapping)}
    predicate = st.get("predicate") or {}
    image = Path(image)
    if not image.exists():
        raise AttestError(f"no such image: {image}")
    rescanned: dict[str, Any] | None = None
    if image.is_dir():
        # A directory's digest is taken over its unpacked tree: only a scan can compute it.
        rescanned = _scan(image, predicate, scan, scan_kwargs)
        actual = rescanned["target"]["sha256"]
    else:
        from .report import file_digest

        actual = file_digest(image)[0]
    if actual not in attested:
        raise VerificationError(
            f"image digest mismatch: the attestation is for sha256 {', '.join(sorted(a for a in attested if a))}, "
            f"but {image} has sha256 {actual}; this is not the attested image (or it was modified)"
        )
    out = Verified(statement=st, key_id=key_id(key), image_sha256=actual, findings=len(predicate.get("findings") or []))
    if report_path is not None:
        try:
            data = Path(report_path).read_bytes()
        except OSError as exc:
            raise AttestError(f"cannot read report {report_path}: {exc.strerror or exc}") from None
        want = (predicate.get("report") or {}).get("digest", {}).get("sha256")
        got = hashlib.sha256(data).hexdigest()
        if got != want:
            raise VerificationError(
                f"report digest mismatch: the attestation signs report sha256 {want}, but {report_path} has sha256 "
                f"{got}; the report was modified after it was attested"
            )
        out.report_checked = True
    if rescan:
        if rescanned is None:
            rescanned = _scan(image, predicate, scan, scan_kwargs)
        _compare(predicate, rescanned, out)
        out.rescanned = True
    return out


def _scan(image: Path, predicate: Mapping[str, Any], scan, scan_kwargs) -> dict[str, Any]:
    if scan is None:
        from .scan import scan as scan_fn

        scan = scan_fn
    kwargs = dict(scan_kwargs or {})
    params = (predicate.get("scan") or {}).get("parameters") or {}
    if "limits" not in kwargs:
        limits = _limits_from(params)
        if limits is not None:
            kwargs["limits"] = limits
    return scan(image, **kwargs)


def _compare(predicate: Mapping[str, Any], report: Mapping[str, Any], out: Verified) -> None:
    attested = {(f["fingerprint"], f["rule"], f.get("path")) for f in predicate.get("findings") or []}
    now = _expected_after_triage(predicate, report.get("findings") or [])
    attested_rules = (predicate.get("tool") or {}).get("rules_version")
    current_rules = (report.get("tool") or {}).get("rules_version")
    if attested != now:
        missing = sorted(attested - now, key=lambda x: (x[1], x[2] or ""))
        extra = sorted(now - attested, key=lambda x: (x[1], x[2] or ""))
        lines = [f"rescan does not reproduce the attested findings: {len(missing)} missing, {len(extra)} new"]
        lines += [f"  missing: {r} {p or '-'} ({fp})" for fp, r, p in missing[:10]]
        lines += [f"  new:     {r} {p or '-'} ({fp})" for fp, r, p in extra[:10]]
        if attested_rules != current_rules:
            lines.append(
                f"  note: attested with rules {attested_rules}, rescanned with rules {current_rules}; "
                "use the attested veracity version to reproduce exactly"
            )
        raise VerificationError("\n".join(lines))
    if attested_rules != current_rules:
        out.notes.append(f"rules version differs (attested {attested_rules}, now {current_rules}), findings identical")


# -- command line --------------------------------------------------------------------------------------------


def register(subparsers: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Add ``keygen``, ``attest`` and ``verify``; each subparser's ``handler`` default is its function."""
    k = subparsers.add_parser("keygen", help="make an ed25519 key pair for signing attestations")
    k.add_argument("-o", "--output", type=Path, default=Path("veracity"), metavar="PREFIX",
                   help="write PREFIX.key and PREFIX.pub (default: veracity)")
    k.add_argument("--force", action="store_true", help="overwrite existing key files")
    k.set_defaults(handler=run_keygen)
    a = subparsers.add_parser("attest", help="sign a JSON report as an in-toto attestation (DSSE, ed25519)")
    a.add_argument("report", type=Path, help="JSON report written by `veracity scan --format json`")
    a.add_argument("--key", type=Path, required=True, help="private key (from `veracity keygen`)")
    a.add_argument("-o", "--output", type=Path, default=None,
                   help="where to write the envelope (default: REPORT.intoto.jsonl)")
    a.set_defaults(handler=run_attest)
    v = subparsers.add_parser("verify", help="verify an attestation against an image (and optionally rescan it)")
    v.add_argument("attestation", type=Path, help="DSSE envelope written by `veracity attest`")
    v.add_argument("--key", type=Path, required=True, help="public key of the signer")
    v.add_argument("--image", type=Path, required=True, help="the image the attestation is about")
    v.add_argument("--report", type=Path, default=None, help="also check that this report is the one attested")
    v.add_argument("--rescan", action="store_true", help="scan the image again and compare the findings")
    v.add_argument("--json", action="store_true", help="print the verified statement as JSON")
    v.set_defaults(handler=run_verify)
    return {"keygen": run_keygen, "attest": run_attest, "verify": run_verify}


def _err(message: str) -> None:
    print(f"veracity: {message}", file=sys.stderr)


def run_keygen(args: argparse.Namespace) -> int:
    try:
        priv, pub = keygen(args.output, force=args.force)
    except AttestError as exc:
        _err(f"error: {exc.diagnostics()}")
        return EXIT_USAGE
    except OSError as exc:
        _err(f"error: cannot write the key pair: {exc}")
        return EXIT_USAGE
    print(f"private key: {priv} (keep it secret)\npublic key:  {pub}", file=sys.stderr)
    return EXIT_OK


def run_attest(args: argparse.Namespace) -> int:
    try:
        envelope = attest(args.report, args.key)
    except AttestError as exc:
        _err(f"error: {exc.diagnostics()}")
        return EXIT_USAGE
    out = args.output or Path(f"{args.report}.intoto.jsonl")
    try:
        out.write_text(json.dumps(envelope, separators=(",", ":")) + "\n")
    except OSError as exc:
        _err(f"error: cannot write {out}: {exc}")
        return EXIT_USAGE
    print(f"attestation written to {out}", file=sys.stderr)
    return EXIT_OK


def run_verify(args: argparse.Namespace, *, scan: Callable[..., dict[str, Any]] | None = None) -> int:
    try:
        result = verify(args.attestation, args.key, args.image, report_path=args.report, rescan=args.rescan, scan=scan)
    except VerificationError as exc:
        _err(f"verification FAILED: {exc}")
        return EXIT_FAILED
    except AttestError as exc:
        _err(f"error: {exc.diagnostics()}")
        return EXIT_USAGE
    p = result.statement["predicate"]
    if args.json:
        print(json.dumps(result.statement, indent=2))
    lines = [
        f"verified: signature by {result.key_id}",
        f"  image sha256 {result.image_sha256} matches the attestation",
        (f"  scanned by veracity {(p.get('tool') or {}).get('version')} (rules {(p.get('tool') or {}).get('rules_version')})"
        f" at {(p.get('scan') or {}).get('started_at')}: {result.findings} finding(s)"),
    ]
    if result.report_checked:
        lines.append("  report digest matches")
    if result.rescanned:
        lines.append("  rescan reproduced the attested findings")
    lines += [f"  note: {n}" for n in result.notes]
    print("\n".join(lines), file=sys.stderr)
    return EXIT_OK
