"""What an executable can do, read from its ELF imports and its strings, and what an update added to that.

Only the files that differ between the two versions are looked at (their strings are extracted on demand),
so the Python expressions here never run over a whole image.

A library that starts importing what runs commands, resolves symbols at run time or opens sockets, or that
starts naming ``sshd`` or ``RSA_public_decrypt``, is growing code it should not have: that is how the
xz-utils 5.6.0/5.6.1 implant looked from outside (CVE-2024-3094).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

NETWORK = frozenset({
    "socket", "connect", "bind", "listen", "accept", "accept4", "getaddrinfo", "gethostbyname", "gethostbyname2",
    "gethostbyname_r", "gethostbyname2_r", "inet_addr", "inet_aton", "inet_pton", "sendto", "recvfrom",
    "sendmsg", "recvmsg", "curl_easy_perform", "curl_easy_init", "SSL_connect", "SSL_accept",
})
SERVER = frozenset({"bind", "listen", "accept", "accept4", "SSL_accept"})
EXEC = frozenset({
    "system", "popen", "execve", "execl", "execle", "execlp", "execv", "execvp", "execvpe", "fexecve",
    "posix_spawn", "posix_spawnp", "wordexp",
})
DYNAMIC = frozenset({
    "dlopen", "dlsym", "dlvsym", "dlmopen", "__libc_dlsym", "__libc_dlopen_mode", "_dl_sym", "dl_iterate_phdr",
    "_dl_audit_symbind_alt",
})
PRIVILEGE = frozenset({"setuid", "setgid", "setresuid", "setresgid", "setreuid", "setregid", "seteuid",
                       "setegid", "capset"})
INJECTION = frozenset({"ptrace", "process_vm_writev", "process_vm_readv"})
AUTH_HOOKS = frozenset({"RSA_public_decrypt", "RSA_get0_key", "EVP_PKEY_verify", "EVP_DigestVerify",
                        "EVP_DigestVerifyFinal", "pam_authenticate", "pam_sm_authenticate", "crypt", "crypt_r"})

IMPORT_TRAITS: tuple[tuple[str, frozenset[str], str], ...] = (
    ("exec", EXEC, "runs commands"),
    ("dynamic-resolution", DYNAMIC, "resolves symbols at run time"),
    ("network", NETWORK, "network"),
    ("privilege", PRIVILEGE, "changes privileges"),
    ("injection", INJECTION, "traces or patches processes or memory"),
    ("auth-hook", AUTH_HOOKS, "touches authentication or signature checks"),
)
TRAIT_LABELS = {
    "exec": "runs commands",
    "dynamic-resolution": "resolves symbols at run time",
    "network": "network capability",
    "server": "accepts network connections",
    "privilege": "changes privileges",
    "injection": "traces or patches processes or memory",
    "auth-hook": "touches authentication or signature checks",
    "shell-string": "names a shell",
    "sshd-string": "names sshd, SSH keys or authentication internals",
    "preload-string": "names LD_PRELOAD or ld.so.preload",
    "credential-file": "names the password files",
    "endpoint": "new embedded endpoints",
    "url-string": "new embedded URLs",
    "credential": "new embedded credentials or keys",
    "script-shell": "script hands a shell or fetched code to the network",
}

_SHELL = re.compile(r"(?:^|[\s\"'=;|&(])/bin/(?:ba|a|da|z|k)?sh\b|/bin/busybox\s+sh\b|\bsh\s+-c\b|/dev/tcp/")
_SSHD = re.compile(r"\bsshd\b|RSA_public_decrypt|RSA_get0_key|authorized_keys|/root/\.ssh|\bssh-rsa AAAA"
                   r"|pam_authenticate|_dl_audit")
_PRELOAD = re.compile(r"LD_PRELOAD|ld\.so\.preload")
_URL = re.compile(r"\b(?:https?|ftps?|tftp|mqtts?|wss?|tcp|udp)://[A-Za-z0-9._~%@:\[\]-]+(?:/[^\s\"'<>]*)?")
_CRED_FILE = re.compile(r"/etc/(?:shadow|passwd)\b")
_SCRIPT_SHELL = re.compile(
    r"\bnc\b[^\n]*\s-[a-z]*[le][a-z]*\b|\btelnetd\b[^\n]*-l\s*/bin/(?:ba|a|da|z|k)?sh\b|/dev/tcp/|\bsocat\b[^\n]*exec:"
    r"|\b(?:wget|curl|tftp)\b[^\n]*\|\s*(?:ba)?sh\b|base64\s+-d[^\n]*\|\s*(?:ba)?sh\b|\bmkfifo\b[^\n]*\bsh\b"
)

COMPRESSION_LIBS = re.compile(r"^lib(?:lzma|z|bz2|zstd|lz4|lzo2?|xz|brotli(?:enc|dec|common)?|snappy|deflate"
                              r"|archive|minizip)\.so", re.IGNORECASE)
CRYPTO_LIBS = re.compile(r"^lib(?:crypto|ssl|wolfssl|mbed(?:tls|crypto|x509)|gnutls|nettle|hogweed|ssh2?|pam|gcrypt"
                         r"|tomcrypt|k5crypto|nss3|freebl|sodium|dropbear|cyassl|polarssl|axtls)\b", re.IGNORECASE)
MAX_EXAMPLES = 6


@dataclass(frozen=True)
class Profile:
    """What one version of a file shows: its capabilities (trait -> examples)."""

    traits: dict[str, tuple[str, ...]]
    imports: frozenset[str]
    library: bool


def is_library(path: str, elf: Any | None) -> bool:
    name = path.rsplit("/", 1)[-1]
    if re.search(r"\.so(?:\.[0-9.]+)?$", name):
        return True
    return bool(elf is not None and elf.type == "shared-object" and not elf.interpreter)


def profile(path: str, elf: Any | None, strings: list[str]) -> Profile:
    """Capabilities of an ELF file (``elf``: its ElfFacts) from its imports and strings."""
    imports = frozenset(elf.imports) if elf is not None else frozenset()
    traits: dict[str, tuple[str, ...]] = {}
    for name, names, _label in IMPORT_TRAITS:
        hit = sorted(imports & names)
        if hit:
            traits[name] = tuple(hit)
    server = sorted(imports & SERVER)
    if server:
        traits["server"] = tuple(server)
    for name, rx in (("shell-string", _SHELL), ("sshd-string", _SSHD), ("preload-string", _PRELOAD),
                     ("credential-file", _CRED_FILE)):
        hit = [s for s in strings if rx.search(s)]
        if hit:
            traits[name] = tuple(_clip(s) for s in hit[:MAX_EXAMPLES])
    urls = list(dict.fromkeys(m.group(0) for s in strings for m in _URL.finditer(s)))
    if urls:
        traits["url-string"] = tuple(_clip(u) for u in urls[:MAX_EXAMPLES])
    return Profile(traits, imports, is_library(path, elf))


def script_lines(lines: list[str]) -> tuple[str, ...]:
    """Lines of a script that hand a shell or fetched code to the network."""
    return tuple(_clip(ln.strip()) for ln in lines if _SCRIPT_SHELL.search(ln))[:MAX_EXAMPLES]


def gained(old: Profile | None, new: Profile) -> dict[str, tuple[str, ...]]:
    """Traits (with examples) that ``new`` shows and ``old`` did not; for traits both show, what is new in them."""
    out: dict[str, tuple[str, ...]] = {}
    for name, examples in new.traits.items():
        before = set(old.traits.get(name, ())) if old is not None else set()
        extra = tuple(e for e in examples if e not in before)
        if extra:
            out[name] = extra
    return out


def judge(path: str, new: Profile, added: dict[str, tuple[str, ...]], *, is_new_file: bool,
          had: Profile | None) -> tuple[str, bool, list[str]]:
    """(severity, way_in, reasons) of an executable that is new or changed and shows ``added``.

    A changed library that starts running commands, resolving symbols, talking to the network or patching
    processes, together with a shell, sshd or URL string (or being a compression library, or gaining two of
    those at once) is an implant: critical, a way in. New files are described, not accused: a new daemon
    that talks to the network and runs commands is ordinary."""
    name = path.rsplit("/", 1)[-1]
    fresh = {t for t in added if had is None or t not in had.traits}
    if CRYPTO_LIBS.match(name):  # signature and key functions are what these libraries are made of
        fresh -= {"sshd-string", "auth-hook"}
    reasons: list[str] = []
    code = fresh & {"exec", "dynamic-resolution", "network", "injection", "auth-hook", "privilege"}
    signals = fresh & {"shell-string", "sshd-string", "preload-string", "credential-file", "endpoint", "url-string"}
    if is_new_file:
        return ("low" if code or signals or "script-shell" in fresh else "info"), False, reasons
    if new.library:
        compression = bool(COMPRESSION_LIBS.match(name))
        strong = code - {"privilege"}
        if strong and (compression or signals & {"shell-string", "sshd-string", "preload-string", "endpoint",
                                                 "url-string"} or len(strong) >= 2):
            reasons.append(f"library {name} grew code a library of its kind should not have"
                           + (" (a compression library: compare xz-utils 5.6.x)" if compression else ""))
            return "critical", True, reasons
        if code & {"exec", "injection", "auth-hook"} or "sshd-string" in fresh:
            reasons.append(f"library {name} grew new capabilities")
            return "high", False, reasons
        if code or signals:
            return "medium", False, reasons
        return ("low" if added else "info"), False, reasons
    shellish = "shell-string" in new.traits or "script-shell" in added
    if ({"exec", "network"} <= fresh and shellish) or "script-shell" in fresh:
        reasons.append("now runs commands, talks to the network and names a shell (bind or reverse shell pattern)"
                       if "script-shell" not in fresh else "script hands a shell or fetched code to the network")
        return "high", False, reasons
    if fresh & {"network", "server", "exec", "injection", "sshd-string", "auth-hook", "preload-string"}:
        return "medium", False, reasons
    return ("low" if added else "info"), False, reasons


def describe(added: dict[str, tuple[str, ...]]) -> list[str]:
    return [f"{TRAIT_LABELS.get(k, k)}: {', '.join(v)}" for k, v in sorted(added.items(), key=lambda kv: _ORDER(kv[0]))]


def _ORDER(name: str) -> int:
    order = ("exec", "dynamic-resolution", "network", "server", "auth-hook", "injection", "privilege",
             "shell-string", "sshd-string", "preload-string", "credential-file", "endpoint", "url-string",
             "credential",
             "script-shell")
    return order.index(name) if name in order else len(order)


def _clip(text: str, limit: int = 120) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
