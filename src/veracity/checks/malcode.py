"""Unknown backdoors and malicious code: heuristics over scripts, package install hooks and programs.

What is looked for, each with the benign look-alike that must stay quiet:

- ``backdoor.bind-shell``: a script or program that serves a shell on a port (``nc -l -p 4444 -e /bin/sh``,
  ``socat TCP-LISTEN:...,fork EXEC:/bin/sh``, ``telnetd -l /bin/sh -p 2323``, an inetd service whose server
  is a shell, Python/Perl/Node/Go listeners that hand their socket to a shell, web scripts that run
  request parameters as commands); an ELF program that imports socket/bind/listen/accept/dup2 and an
  ``exec`` function, carries ``/bin/sh`` and nothing of a real login service (no crypt, PAM, pty,
  passwd lookup). Quiet: ``telnetd -l /bin/login``, busybox, dropbear, inetd running ``/bin/ftpd``.
- ``code.reverse-shell``: ``bash -i >& /dev/tcp/h/p 0>&1``, ``nc -e /bin/sh h p``, mkfifo pipelines, socat
  ``EXEC:`` to ``TCP:``, awk ``/inet/tcp``, Python ``socket``+``dup2``+``pty.spawn``, PHP ``fsockopen`` +
  ``exec("/bin/sh")``, Node ``net.Socket`` piped into ``spawn("/bin/sh")``... Quiet: wait-for-it probes
  (``</dev/tcp/db/5432``), ``bash -c 'echo > /dev/tcp/h/p'``.
- ``code.download-exec``: ``wget ... | sh``, ``sh -c "$(curl ...)"``, download then ``chmod +x`` and run
  (shell, tftp, ftpget), Python/JS/Go code that writes a download to a file and makes it executable or
  runs it, ``exec(urlopen(...).read())``, PowerShell ``DownloadString | IEX``. Quiet: firmware upgrade
  scripts that download an image and flash it, a download that is only saved.
- ``code.obfuscated``: ``base64 -d | sh``, ``eval "$(echo ... | base64 -d)"``, ``exec``/``eval``/
  ``compile``/``Function``/``system``/``exec.Command`` applied to something decoded (base64, zlib, marshal,
  hex, char codes, EBCDIC, Fernet), directly or through variables; escaped string literals that spell
  ``eval``/``exec``/``__import__``; JavaScript obfuscator output (``_0x`` names with ``while(!![])``), the
  ``eval(function(p,a,c,k,e,d)`` packer. Quiet: ``exec(open("version.py").read())``, ``model.eval(x)``,
  ``regex.exec(s)``, a PNG header in ``\\x`` escapes, base64 images in JS.
- ``code.exfiltration``: secrets (credential environment variables, the whole environment, ``~/.ssh``,
  ``.aws/credentials``, ``/etc/passwd``/``shadow``, browser password stores) or at least two kinds of host
  identity (user, host name, working directory, OS, address) that reach a network send (HTTP, sockets,
  DNS names), directly or through variables; ``curl -d @/etc/passwd``, ``cat ~/.ssh/id_rsa | nc``. Quiet:
  a token sent as ``auth=``/``Authorization`` (its intended use), a host name that is only logged.
- ``code.malicious``: package install hooks (npm ``preinstall``/``install``/``postinstall``, setup.py
  ``cmdclass`` overriding ``install``/``develop``/``egg_info``, RubyGems ``Gem.post_install``) that fetch or
  run something (``high``); any other install hook is reported ``low`` unless it is a known build tool
  (node-gyp, prebuild-install, husky...).
- ``backdoor.magic-auth``: a web or CGI script that compares a credential or the user agent of a request
  with a literal (``if ($_GET['pass'] == 'x7Gk...')``); an ELF program that imports a string comparison and
  a network/authentication context and carries a secret-looking literal right next to its ``password``,
  ``login`` or ``User-Agent`` strings (precision first: random-looking mixed letters and digits, no format
  strings, no identifiers, no paths).

How: the inventory's one Hyperscan pass marks which files contain *trigger* tokens (``VER-MAL/...``
patterns); only those files are analysed here, from ``facts.text`` (scripts) or the strings of read-only data (programs, ``Inventory.strings``)
(programs). Comments are blanked first, so commented-out code is never reported. Taint is tracked through
simple assignments (``x = base64.b64decode(...)``, then ``exec(x)``) inside a function; calls are read
with balanced brackets, so a call written over many lines is one call. Findings point at the line of the
call (or the command); their fingerprint uses the matched text, not the line number.
"""

from __future__ import annotations

import bisect
import codecs
import math
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import accumulate
from operator import add, itemgetter
from typing import Any, ClassVar

from ..findings import SEVERITIES, Finding, Rule
from ..inventory import Inventory, Item
from ..parallel import shares
from ..patterns import Pattern
from .base import file_key

_GDSI = ("GDSI:7",)
_MITRE_SHELL = "https://attack.mitre.org/techniques/T1059/004/"
_MITRE_INGRESS = "https://attack.mitre.org/techniques/T1105/"
_MITRE_OBF = "https://attack.mitre.org/techniques/T1027/"
_MITRE_EXFIL = "https://attack.mitre.org/techniques/T1041/"
_MITRE_SUPPLY = "https://attack.mitre.org/techniques/T1195/002/"
_CWE_BACKDOOR = "https://cwe.mitre.org/data/definitions/912.html"
_CWE_HARDCODED = "https://cwe.mitre.org/data/definitions/798.html"
_NPM_SCRIPTS = "https://docs.npmjs.com/cli/using-npm/scripts#life-cycle-scripts"

BIND_SHELL = Rule(
    "VER-MAL-001",
    "backdoor.bind-shell",
    "critical",
    "Script serves a shell on a network port",
    "A script or configuration starts a listener that hands its connections to a shell without any "
    "authentication (netcat/socat/telnetd listening with a shell, an inetd service whose server is a shell, a "
    "socket server that duplicates the socket onto a shell's standard input and output).",
    ("GDSI:7", "EN303645:5.6-1", "EN303645:5.5-5", "TS33117:4.3.2.1"),
    (_CWE_BACKDOOR, _MITRE_SHELL),
)
BIND_SHELL_ELF = Rule(
    "VER-MAL-002",
    "backdoor.bind-shell",
    "high",
    "Program listens on a port and hands connections to a shell",
    "An ELF program imports socket, bind, listen, accept, dup2 and an exec function and carries /bin/sh, "
    "but nothing of a real login service (no crypt, PAM, pseudo-terminal or password lookup): the shape of "
    "a bind shell.",
    ("GDSI:7", "EN303645:5.6-1", "TS33117:4.3.2.1"),
    (_CWE_BACKDOOR, _MITRE_SHELL),
)
WEB_SHELL = Rule(
    "VER-MAL-003",
    "backdoor.bind-shell",
    "critical",
    "Web script runs request parameters as commands or code",
    "A CGI/PHP/Lua/Node handler passes a request parameter straight to a shell or to eval: a web shell, "
    "i.e. a shell served on the web server's port.",
    ("GDSI:7", "EN303645:5.5-5", "EN303645:5.13-1"),
    (_CWE_BACKDOOR, "https://attack.mitre.org/techniques/T1505/003/"),
)
REVERSE_SHELL = Rule(
    "VER-MAL-004",
    "code.reverse-shell",
    "high",
    "Code connects out and hands over a shell",
    "A script connects to a remote host and binds a shell's input and output to the connection (bash "
    "/dev/tcp, netcat -e, mkfifo pipelines, socat exec, socket+dup2+pty in Python, Perl, PHP, Node, Go).",
    _GDSI,
    (_MITRE_SHELL, "https://attack.mitre.org/techniques/T1571/"),
)
DOWNLOAD_EXEC = Rule(
    "VER-MAL-005",
    "code.download-exec",
    "high",
    "Code downloads something and runs it",
    "A script fetches code or a program from the network and runs it (piped into a shell, made "
    "executable and started, or passed to exec/eval): whoever controls the server or the network path "
    "controls the device.",
    ("GDSI:7", "EN303645:5.3-2"),
    (_MITRE_INGRESS, "https://cwe.mitre.org/data/definitions/494.html"),
)
OBFUSCATED = Rule(
    "VER-MAL-006",
    "code.obfuscated",
    "medium",
    "Encoded or obfuscated code is decoded and run",
    "Code is hidden in an encoding (base64, zlib, hex, character codes, escapes, EBCDIC, an obfuscator) and "
    "decoded right before being executed: nothing a reviewer can read, the classic wrapping of malware.",
    _GDSI,
    (_MITRE_OBF, "https://attack.mitre.org/techniques/T1140/"),
)
EXFILTRATION = Rule(
    "VER-MAL-007",
    "code.exfiltration",
    "high",
    "Code collects secrets or host data and sends them out",
    "Credentials, the environment, SSH or cloud keys, password files, or several pieces of host identity "
    "(user, host name, directory, OS, address) flow into an HTTP request, a socket or a DNS name.",
    ("GDSI:3", "GDSI:7", "EN303645:6-1"),
    (_MITRE_EXFIL, "https://attack.mitre.org/techniques/T1552/001/"),
)
INSTALL_HOOK = Rule(
    "VER-MAL-008",
    "code.malicious",
    "high",
    "Package install hook fetches or runs code",
    "A package runs code when it is installed (npm life-cycle script, setup.py command override, RubyGems "
    "hook) and that code uses the network or starts programs: it runs with the installer's rights before "
    "anyone has used the package.",
    ("GDSI:7",),
    (_MITRE_SUPPLY, _NPM_SCRIPTS),
)
INSTALL_HOOK_PLAIN = Rule(
    "VER-MAL-009",
    "code.malicious",
    "low",
    "Package runs code at install time",
    "A package declares an install-time hook (npm preinstall/install/postinstall, a setup.py install "
    "command override, a RubyGems install hook) that is not a well-known build tool. Nothing in it is "
    "recognisably malicious; it is listed because install hooks are how malicious packages start.",
    (),
    (_MITRE_SUPPLY, _NPM_SCRIPTS),
)
MAGIC_AUTH_ELF = Rule(
    "VER-MAL-010",
    "backdoor.magic-auth",
    "medium",
    "Program compares input with a secret-looking literal next to its authentication strings",
    "An ELF program that reads network or CGI input and imports a string comparison carries a "
    "random-looking literal right next to its password/login/User-Agent strings: the shape of a magic "
    "password or user agent that bypasses authentication (like D-Link's xmlset_roodkcableoj28840ybtide).",
    ("GDSI:7", "EN303645:5.4-3", "TS33117:4.2.3.4.2.3"),
    (_CWE_HARDCODED, "http://www.devttys0.com/2013/10/reverse-engineering-a-d-link-backdoor/"),
)
MAGIC_AUTH_SCRIPT = Rule(
    "VER-MAL-011",
    "backdoor.magic-auth",
    "medium",
    "Web script compares a request credential or user agent with a literal",
    "A CGI/PHP/Lua/Python/Node handler compares a password, key, token or the User-Agent of the request with "
    "a constant written in the script: whoever reads the firmware knows the value that lets them in.",
    ("GDSI:7", "EN303645:5.4-3", "TS33117:4.2.3.4.2.3"),
    (_CWE_HARDCODED,),
)
UNANALYSED = Rule(
    "VER-MAL-012",
    "analysis.incomplete",
    "info",
    "Script too large for the malicious-code heuristics",
    "The file matched a trigger of the malicious-code heuristics but its text was not kept by the inventory "
    "(larger than its text limit), so it was not analysed.",
)

RULES = (BIND_SHELL, BIND_SHELL_ELF, WEB_SHELL, REVERSE_SHELL, DOWNLOAD_EXEC, OBFUSCATED, EXFILTRATION,
         INSTALL_HOOK, INSTALL_HOOK_PLAIN, MAGIC_AUTH_ELF, MAGIC_AUTH_SCRIPT, UNANALYSED)

# -- triggers (one Hyperscan pass) ------------------------------------------------------------------------
# A file is analysed for a family only when one of the family's trigger patterns matched in it.

_TRIGGERS: dict[str, tuple[bytes, ...]] = {
    "shell": (
        rb"/dev/(?:tcp|udp)/",                                                       # 0 devtcp
        rb"(?:^|[\s;|&(`\"'/])(?:nc|ncat|netcat)(?:\.\w+)?\s",                        # 1 netcat
        rb"\bsocat\s",                                                               # 2
        rb"\bmk(?:fifo|nod)\s",                                                       # 3
        rb"\bu?telnetd\b[^\n]{0,100}-l",                                              # 4
        rb"\b(?:wget|curl|tftp|ftpget|fetch|lwp-download)\s",                          # 5 download
        rb"\b(?:base64|xxd|openssl|uudecode)\s",                                      # 6 decode
        rb"/inet/tcp/",                                                              # 7
        rb"(?i)\b(?:DownloadString|DownloadFile|Invoke-WebRequest|iwr)\b",             # 8
        rb"(?i)powershell[^\n]{0,200}\s-e(?:nc?|ncodedcommand|ncod|nco)?\s",          # 9
        rb"\b(?:stream|dgram)\s+(?:tcp|udp)",                                          # 10 inetd
        rb"\bserver\s*=",                                                             # 11 xinetd
        rb"\\x[0-9a-fA-F]{2}\\x[0-9a-fA-F]{2}[^\n]{0,200}\|\s*(?:ba)?sh",               # 12 printf
        rb"\btelnet\s+\S+\s+\d+\s*\|",                                                # 13 telnet pipe
        rb"s_client",                                                                # 14
        rb"(?:/etc/shadow|/etc/passwd|\.ssh/|id_rsa|\.aws/)[^\n|]{0,80}\|",             # 15 secret pipe
        rb"\b(?:env|printenv)\s*\|",                                                   # 16
    ),
    "decode": (
        rb"b(?:64|32|16|85)decode|a85decode|decodebytes|decodestring|unhexlify|fromhex|zlib|marshal|Fernet",
        rb"\batob\s*\(|fromCharCode|Buffer\.from|decode64|DecodeString|NewDecoder|AppendDecode|hex\.Decode",
        rb"base64_decode|gzinflate|gzuncompress|str_rot13|convert_uudecode|hex2bin|unb64|from_base64",
        rb"\bchr\s*\(|codecs\.decode|\.decode\(\s*['\"](?:base64|hex|rot|zlib|bz2|cp\d|uu)|decrypt\(|unescape\(",
        rb"function\s*\(\s*p\s*,\s*a\s*,\s*c\s*,\s*k\s*,\s*e\s*,",
        rb"string\.char\s*\(|\bdecode\s*\(|lsb\.reveal|steg\w*\.(?:reveal|decode|extract)",
    ),
    "exec": (
        rb"(?:^|[^\w.])(?:exec|eval|compile|execfile|Function|loadstring|load|dofile|assert|create_function)\s*\(",
        rb"(?:instance|class|module)_eval|Kernel\.eval|binding\.eval|vm\.run|new\s+Function",
        rb"os\.(?:system|popen|exec|spawn|startfile)|subprocess|Popen|check_output|command\.run|pty\.spawn",
        rb"child_process|\b(?:execSync|spawnSync|execFile|spawn)\s*\(|exec\.Command|exec\.Cmd|StartProcess",
        rb"syscall\.(?:Exec|ForkExec)|shell_exec|passthru|proc_open|pcntl_exec|\bsystem\s*\(",
        rb"os\.execute|io\.popen|luci\.sys\.(?:exec|call)|IO\.popen|Open3|Process\.spawn|%x[\[{(]",
        rb"\bvars\s*\(|globals\s*\(\s*\)\s*\[",
    ),
    "source": (
        rb"os\.environ|process\.env|getenv|Getenv|\bENV\b|os\.Environ|/proc/self/environ",
        rb"gethostname|getuser|getlogin|userInfo|hostname\s*\(|homedir|getcwd|Hostname\s*\(",
        rb"\.ssh/|id_rsa|\.aws/|\.npmrc|\.pypirc|\.netrc|git-credentials|/etc/passwd|/etc/shadow",
        rb"password_value|browser_cookie|Login Data|\.kube/config|\.docker/config|wallet\.dat",
        rb"platform\.(?:uname|node|platform)|os\.uname|networkInterfaces|getsockname",
    ),
    "net": (
        rb"urlopen|urlretrieve|requests\.|urllib|http\.client|HTTPConnection|httpx|aiohttp|socket\.",
        rb"https?\.(?:request|get)\s*\(|\bfetch\s*\(|axios|XMLHttpRequest|sendBeacon|net\.(?:Socket|connect|createConnection)",
        rb"Net::HTTP|HTTParty|RestClient|Faraday|TCPSocket|URI\.open|open-uri",
        rb"http\.(?:Post|PostForm|Get|NewRequest)|net\.Dial|websocket\.Dial|tls\.Dial|net\.Lookup",
        rb"gethostbyname|getaddrinfo|resolver|dns\.(?:lookup|resolve)|\brequest\s*\(|\.Request\s*\(",
        rb"fsockopen|curl_exec|file_get_contents\s*\(\s*['\"]https?:|wget\.download|createWriteStream",
    ),
    "write": (
        rb"open\s*\([^)\n]{0,200}['\"][wax]\+?b|urlretrieve|wget\.download|createWriteStream|writeFile|os\.Create|OpenFile",
        rb"WriteFile|File\.(?:write|binwrite|open)|file_put_contents",
    ),
    "install": (
        rb"cmdclass",
        rb"\"(?:pre|post)?install\"\s*:",
        rb"Gem(?:::Installer)?\.(?:pre|post)_(?:un)?install",
    ),
    "rshell": (
        rb"\bdup2\s*\(|pty\.spawn|fsockopen|TCPSocket|IO::Socket|use\s+Socket|net\.(?:Socket|createServer|connect)",
        rb"net\.(?:Dial|Listen)\s*\(|:receive\s*\(|socket\.tcp\s*\(",
    ),
    "web": (
        rb"\$_(?:GET|POST|REQUEST|COOKIE|SERVER)\b|HTTP_USER_AGENT|QUERY_STRING|formvalue",
        rb"req\.(?:query|body|params|headers)|request\.(?:args|form|values|headers|GET|POST)|getvalue\s*\(",
        rb"user-agent|User-Agent|FieldStorage|\$\{?FORM_\w+",
    ),
    "escape": (  # three patterns, not one alternation: Hyperscan matches them in a tenth of the time
        rb"(?:\\x[0-9a-fA-F]{2}){3}",
        rb"(?:\\[0-7]{3}){3}",
        rb"(?:\\u[0-9a-fA-F]{4}){3}",
        rb"cp1026|cp500|cp037|rot_?13",
        rb"['\"](?:[0-9a-fA-F]{2}){3,}['\"]",
    ),
    "auth": (
        rb"(?i)[^a-z0-9_](?:password|passwd|passphrase|login|username|user-agent|http_user_agent|authorization|backdoor)[^a-z0-9_]",
    ),
    "jsobf": (
        rb"_0x[0-9a-f]{4,6}",
        rb"while\s*\(\s*!!\[\]\s*\)",
        rb"(?:global|globalThis|window|self|this)\s*\[\s*[\w$.]+\(",
    ),
}

PATTERNS = tuple(
    Pattern(f"VER-MAL/{family}/{n}", rx, first_only=True)
    for family, regexes in sorted(_TRIGGERS.items())
    for n, rx in enumerate(regexes)
)

# -- languages -------------------------------------------------------------------------------------------

_EXT = {
    ".py": "py", ".pyw": "py", ".js": "js", ".mjs": "js", ".cjs": "js", ".ts": "js", ".jsx": "js",
    ".html": "js", ".htm": "js", ".asp": "js", ".json": "json", ".php": "php", ".php3": "php", ".php5": "php",
    ".phtml": "php", ".inc": "php", ".lua": "lua", ".rb": "rb", ".gemspec": "rb", ".go": "go", ".pl": "pl",
    ".pm": "pl", ".sh": "sh", ".bash": "sh", ".ash": "sh", ".ksh": "sh", ".zsh": "sh", ".cgi": "sh",
    ".ps1": "ps", ".bat": "bat", ".cmd": "bat", ".conf": "conf", ".cfg": "conf",
}
_DOC_EXT = {".md", ".rst", ".txt", ".markdown", ".adoc", ".1", ".5", ".8", ".man", ".tex", ".pod", ".rdoc"}
_DOC_NAMES = ("readme", "changelog", "changes", "history", "license", "licence", "copying", "authors",
              "contributing", "news", "notice", "metadata", "pkg-info", "description", "release_notes",
              "release-notes", "releasenotes")
_INTERP = {
    "python": "py", "node": "js", "nodejs": "js", "php": "php", "php-cgi": "php", "lua": "lua", "ruby": "rb",
    "perl": "pl", "sh": "sh", "bash": "sh", "ash": "sh", "dash": "sh", "ksh": "sh", "zsh": "sh",
    "busybox": "sh", "hush": "sh", "msh": "sh", "haserl": "sh",
}


def language(path: str, item: Item) -> str | None:
    """The language of a text file for the heuristics, or None for documentation (never analysed)."""
    base = posixpath.basename(path).lower()
    ext = posixpath.splitext(base)[1]
    interp = item.facts.interpreter
    if interp:
        name = re.sub(r"[\d.]+$", "", posixpath.basename(interp))
        if name in _INTERP:
            return _INTERP[name]
    if ext in _DOC_EXT or base.split(".")[0] in _DOC_NAMES:
        return None
    if base in ("setup.py", "conftest.py"):
        return "py"
    if ext in _EXT:
        return _EXT[ext]
    if base in ("inetd.conf", "xinetd.conf", "inittab", "crontab", "rc.local", "profile") or "/xinetd.d/" in path:
        return "conf"
    if "/init.d/" in path or "/rc.d/" in path or "/cron" in path or item.facts.kind == "script":
        return "sh"
    return "text"


# -- masking comments, balanced spans ---------------------------------------------------------------------

_STR_PY = r'''[rRbBuUfF]{0,2}(?:"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')'''
_STR_C = r'''"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`'''
_STR_SH = r'''"(?:\\.|[^"\\])*"|'[^']*\''''
_STR_LUA = r'''"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|\[(?P<eq>=*)\[[\s\S]*?\](?P=eq)\]'''
_LEX = {
    "py": re.compile(rf"(?P<s>{_STR_PY})|(?P<c>#[^\n]*)"),
    "c": re.compile(rf"(?P<s>{_STR_C})|(?P<c>//[^\n]*|/\*[\s\S]*?\*/)"),
    # the comment branches start with '#' and look behind it (a look-behind first is slower):
    # '#(?<![^\s;|&(]#)' is '#' at the start or after one of \s;|&( (a newline is \s), as
    # '(?:(?<=[\s;|&(])|^)#' in MULTILINE mode
    "php": re.compile(rf"(?P<s>{_STR_C})|(?P<c>//[^\n]*|/\*[\s\S]*?\*/|#(?<![\w$]#)(?!\[)[^\n]*)"),
    "sh": re.compile(rf"(?P<s>{_STR_SH})|(?P<c>#(?<![^\s;|&(]#)[^\n]*)"),
    "rb": re.compile(rf"(?P<s>{_STR_C})|(?P<c>#(?<!\S#)(?!\{{)[^\n]*)"),
    "lua": re.compile(rf"(?P<s>{_STR_LUA})|(?P<c>--\[(?P<eq2>=*)\[[\s\S]*?\](?P=eq2)\]|--[^\n]*)"),
}
_LEX_OF = {"py": "py", "js": "c", "go": "c", "ps": "sh", "php": "php", "sh": "sh", "conf": "sh", "pl": "sh",
           "rb": "rb", "lua": "lua", "json": "c", "text": None, "bat": None}
_STRING_ONLY = {k: re.compile(rf"(?P<s>{v})") for k, v in (("py", _STR_PY), ("c", _STR_C), ("php", _STR_C),
                                                            ("sh", _STR_SH), ("rb", _STR_C), ("lua", _STR_LUA))}


_NOT_NEWLINE = re.compile(r"[^\n]")

# The same lexers, written so that one match ends at each comment (and, for Python, at each triple-quoted string,
# which may be a docstring): a possessive loop consumes the code and the strings between them inside the regex
# engine, and Python sees each comment once instead of each string. Each alternative of the loop takes exactly
# what the lexer above passes over at that place (a run of characters that start nothing, a string, or one
# character where nothing matches), so the comments are the same, and so is the masked text (a test compares them).
_PY_TRIPLE = r"""[rRbBuUfF]{0,2}(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?''')"""
_TO_COMMENT = {
    "sh": re.compile(rf"""(?>[^"'#]+|{_STR_SH}|["']|#(?<=[^\s;|&(]#))*+(?P<c>#[^\n]*)?"""),
    "c": re.compile(rf"""(?>[^"'`/]+|{_STR_C}|["'`]|/(?!/|\*[\s\S]*?\*/))*+(?P<c>//[^\n]*|/\*[\s\S]*?\*/)?"""),
    "py": re.compile(rf"""(?>[^"'#rRbBuUfF]+|(?!{_PY_TRIPLE})(?:{_STR_PY})|(?!{_PY_TRIPLE})[rRbBuUfF"'])*+"""
                     rf"""(?:(?P<c>#[^\n]*)|(?P<t>{_PY_TRIPLE}))?"""),
}


def mask_comments(text: str, lang: str) -> str:
    """``text`` with comments replaced by spaces (newlines kept, so offsets and lines do not move)."""
    name = _LEX_OF.get(lang) or ""
    fast = _TO_COMMENT.get(name)
    if fast is not None:
        return _mask_fast(text, fast, name == "py")
    return mask_comments_lexed(text, lang)


def mask_comments_lexed(text: str, lang: str) -> str:
    """:func:`mask_comments` by the lexers of ``_LEX``, one match per string or comment."""
    lex = _LEX.get(_LEX_OF.get(lang) or "")
    if lex is None:
        return text
    out: list[str] = []
    last = 0
    for m in lex.finditer(text):
        if m.group("c") is not None or (lang == "py" and _docstring(text, m.group(), *m.span())):
            out.append(text[last:m.start()])
            out.append(_NOT_NEWLINE.sub(" ", m.group()))
            last = m.end()
    out.append(text[last:])
    return "".join(out)


def _mask_fast(text: str, rx: re.Pattern[str], py: bool) -> str:
    out: list[str] = []
    last = 0
    for m in rx.finditer(text):
        start, end = m.span("c")
        if start < 0 and py:
            start, end = m.span("t")
            if start < 0 or not _docstring(text, text[start:end], start, end):
                continue
        elif start < 0:
            continue
        out.append(text[last:start])
        seg = text[start:end]
        out.append(_NOT_NEWLINE.sub(" ", seg) if "\n" in seg else " " * len(seg))
        last = end
    out.append(text[last:])
    return "".join(out)


def _docstring(text: str, lit: str, start: int, end: int) -> bool:
    """A Python string statement of its own (a docstring or a bare triple-quoted string): never executed."""
    if not lit.lstrip("rRbBuUfF").startswith(('"""', "'''")):
        return False
    line_start = text.rfind("\n", 0, start) + 1
    if text[line_start:start].strip():
        return False
    nl = text.find("\n", end)
    if text[end: nl if nl >= 0 else len(text)].strip():
        return False
    before = text[:line_start].rstrip()
    return not before or before[-1] not in "([{,=+\\%"


_BRACKETS = re.compile(r"""[()\[\]{}\n;]|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`""")
_OPEN = {"(": ")", "[": "]", "{": "}"}


def balanced_end(text: str, start: int, limit: int = 20000, stop_at_newline: bool = True) -> int:
    """End of the expression starting at ``start``: the first newline or ``;`` outside brackets (or the
    bracket that closes one opened before ``start``), strings skipped; at most ``limit`` characters."""
    depth = 0
    end = min(len(text), start + limit)
    for m in _BRACKETS.finditer(text, start, end):
        t = m.group()
        if t in _OPEN:
            depth += 1
        elif t in ")]}":
            depth -= 1
            if depth < 0:
                return m.start()
        elif t in "\n;" and depth == 0 and (stop_at_newline or t == ";"):
            if t == "\n" and m.start() > 0 and text[m.start() - 1] == "\\":
                continue
            return m.start()
    return end


def call_args(text: str, open_paren: int, limit: int = 20000) -> str:
    """The text between ``open_paren`` (index of ``(``) and its closing bracket."""
    end = balanced_end(text, open_paren + 1, limit, stop_at_newline=False)
    return text[open_paren + 1:end]


# -- shell command detectors (any text, and the strings of programs) ------------------------------------

_SH = r"(?:/[\w./-]*/)?(?:ba|da|z|k|a)?sh\b"
_NETCAT = r"(?:busybox\s+)?\b(?:nc|ncat|netcat)(?:\.(?:traditional|openbsd))?\b"


@dataclass(frozen=True, slots=True)
class Detector:
    name: str
    rule: Rule
    regex: re.Pattern[str]
    needles: tuple[int, ...]
    """Shell trigger patterns one of which must have matched the file for the regex to be tried."""
    severity: str | None = None
    why: str = ""
    gate: re.Pattern[str] | None = None
    """A cheap regex that every match of ``regex`` contains (same text, same context): when it finds
    nothing, neither would ``regex``, and the text is not scanned with it."""
    words: tuple[str, ...] = ()
    """Literals one of which every match of ``regex`` holds (in lower case for a case-blind detector): a text
    that holds none is passed over before the gate, by plain searches (a gate is a regex scan of the text)."""


# the shell trigger patterns (indexes in _TRIGGERS["shell"]) one of which must have matched for a detector to run
_NEEDLES: dict[str, tuple[int, ...]] = {
    "dev-tcp-interactive": (0,), "dev-tcp-redirect": (0,), "exec-fd-dev-tcp": (0,), "netcat-exec": (1,),
    "fifo-pipeline": (3,), "telnet-pipe": (13,), "socat-exec": (2,), "awk-inet": (7,), "openssl-shell": (14,),
    "pipe-to-shell": (5,), "shell-subst-download": (5,), "powershell-download": (8,), "decode-pipe-shell": (6,),
    "eval-decode": (6,), "printf-hex-shell": (12,), "powershell-encoded": (9,), "curl-post-secret": (5,),
    "wget-post-secret": (5,), "pipe-secret-out": (15,), "netcat-send-secret": (1,), "env-to-network": (16,),
}


# a shell name as _SH matches it (same span): any run of path characters ending in 'sh'
_SH_LOOSE = r"[/\w.-]*sh\b"
# for each detector, a necessary part of every match (a cheap prefilter; see Detector.gate)
_GATES: dict[str, str] = {
    "dev-tcp-interactive": r"[<>]&?[ \t]*/dev/(?:tcp|udp)/",
    "dev-tcp-redirect": r"0>&1|0<&1|1>&0|<&[3-9]",
    "exec-fd-dev-tcp": r"<>\s*/dev/(?:tcp|udp)/",
    "netcat-exec": rf"-[a-zA-Z]*[ec][ \t]*['\"]?{_SH_LOOSE}",
    "socat-exec": r"(?:exec|system):",
    "awk-inet": r"\|&",
    "pipe-to-shell": rf"\|[ \t]*(?:sudo\s+)?(?:{_SH_LOOSE}|python|perl|ruby|node|php)",
    "shell-subst-download": r"[$<]\(\s*(?:wget|curl)\b",
    "powershell-download": r"iex\b|invoke-expression|start-process",
    "decode-pipe-shell": rf"\|[ \t]*(?:sudo\s+)?{_SH_LOOSE}",
    "eval-decode": r"base64\s+(?:-d|--decode|-D)|xxd\s+-r",
    "curl-post-secret": (r"/etc/passwd|/etc/shadow|\.ssh/|\.aws/|/proc/self/environ|\$\(\s*(?:cat|env|printenv)\b|"
                         r"`\s*(?:cat|env|printenv)\b"),
    "wget-post-secret": r"--post-(?:file|data)",
    "netcat-send-secret": r"/etc/shadow|/etc/passwd|\.ssh/|\.aws/credentials",
}


# for each detector, literals one of which every match holds (see Detector.words)
_WORDS: dict[str, tuple[str, ...]] = {
    "dev-tcp-interactive": ("/dev/tcp/", "/dev/udp/"), "dev-tcp-redirect": ("/dev/tcp/", "/dev/udp/"),
    "exec-fd-dev-tcp": ("/dev/tcp/", "/dev/udp/"), "fifo-pipeline": ("mkfifo", "mknod"), "telnet-pipe": ("telnet",),
    "socat-exec": ("socat",), "awk-inet": ("/inet/tcp/",), "openssl-shell": ("s_client",),
    "pipe-to-shell": ("wget", "curl", "fetch", "lwp-download"), "shell-subst-download": ("wget", "curl"),
    "powershell-download": ("downloadstring", "downloadfile", "invoke-webrequest", "iwr"),
    "decode-pipe-shell": ("base64", "openssl", "xxd", "uudecode"), "eval-decode": ("base64", "xxd"),
    "printf-hex-shell": ("\\x",), "powershell-encoded": ("powershell",), "curl-post-secret": ("curl",),
    "wget-post-secret": ("--post-",), "pipe-secret-out": ("/etc/shadow", "/etc/passwd", ".ssh/", "id_rsa", ".aws/"),
    "netcat-send-secret": ("/etc/", ".ssh/", ".aws/"), "env-to-network": ("env",),
}


def _d(name: str, rule: Rule, rx: str, why: str, flags: int = 0, severity: str | None = None) -> Detector:
    gate = _GATES.get(name)
    return Detector(name, rule, re.compile(rx, flags), _NEEDLES[name], severity, why,
                    re.compile(gate, flags) if gate is not None else None, _WORDS.get(name, ()))


_SHELL_DETECTORS = (
    # reverse shells
    _d("dev-tcp-interactive", REVERSE_SHELL,
       rf"\b{_SH}[ \t]+-i\b[^\n]{{0,80}}[<>]&?[ \t]*/dev/(?:tcp|udp)/[^\s/]+/\S+",
       "interactive shell with its input/output on a /dev/tcp connection"),
    _d("dev-tcp-redirect", REVERSE_SHELL,
       r"/dev/(?:tcp|udp)/[^\s/\"']+/[\w${}]+[^\n]{0,60}?(?:0>&1|0<&1|1>&0|0<&[3-9]\b|<&[3-9][^\n]{0,40}\|\s*(?:while\s+read|"
       + _SH + r"))",
       "/dev/tcp connection wired to a shell's standard input and output"),
    _d("exec-fd-dev-tcp", REVERSE_SHELL,
       r"\bexec\s+(\d+)<>\s*/dev/(?:tcp|udp)/[\s\S]{0,300}?(?:while\s+read[^\n]{0,80}\$\w+\s*(?:2>&\1|>&\1)|"
       + _SH + r"\s*<&\1)",
       "file descriptor on /dev/tcp read by a command loop"),
    _d("netcat-exec", REVERSE_SHELL, rf"{_NETCAT}[^\n|;&]{{0,160}}?\s-[a-zA-Z]*[ec][ \t]*['\"]?{_SH}",
       "netcat started with -e/-c and a shell"),
    _d("fifo-pipeline", REVERSE_SHELL,
       rf"\bmk(?:fifo|nod)\b[^\n]{{0,200}}?(?:\|[ \t]*{_SH}[^\n]{{0,120}}?\|[ \t]*(?:{_NETCAT}|telnet\b|openssl\s+s_client\b)|"
       rf"(?:{_NETCAT}|telnet\b|openssl\s+s_client\b)[^\n|]{{0,120}}\|[ \t]*{_SH})",
       "named pipe looping a shell through a network client"),
    _d("telnet-pipe", REVERSE_SHELL, rf"\btelnet\s+\S+\s+\d+\s*\|\s*{_SH}[^\n]{{0,20}}\|\s*telnet\b",
       "shell between two telnet connections"),
    _d("socat-exec", REVERSE_SHELL,
       rf"\bsocat\b[^\n]{{0,200}}?(?:(?:exec|system):['\"]?{_SH}[^\n]{{0,120}}?(?:tcp\d?|openssl|ssl)(?:-connect|-listen)?:|"
       rf"(?:tcp\d?|openssl|ssl)(?:-connect|-listen)?:[^\s,]+[^\n]{{0,120}}?(?:exec|system):['\"]?{_SH})",
       "socat joining a shell to a network connection", re.IGNORECASE),
    _d("awk-inet", REVERSE_SHELL, r"/inet/tcp/\d+/[^/\s\"']+/\d+[^\n]{0,200}\|&",
       "awk coprocess on a TCP connection"),
    _d("openssl-shell", REVERSE_SHELL, rf"\bopenssl\s+s_client\b[^\n|]{{0,200}}\|\s*{_SH}",
       "TLS client piped into a shell"),
    # download and run
    _d("pipe-to-shell", DOWNLOAD_EXEC,
       rf"\b(?:wget|curl|fetch|lwp-download)\b[^\n|;&]{{0,300}}\|[ \t]*(?:sudo\s+)?(?:{_SH}|(?:python[\d.]*|perl|ruby|node|php)\b(?!\s+-m\s+json))",
       "download piped into an interpreter"),
    _d("shell-subst-download", DOWNLOAD_EXEC,
       rf"(?:\b{_SH}\s+(?:-c\s+)?|\beval\s+|(?:\bsource|(?<![\w.])\.)\s+)['\"]?[$<]\(\s*(?:wget|curl)\b",
       "shell runs what a download prints"),
    _d("powershell-download", DOWNLOAD_EXEC,
       r"(?:DownloadString|DownloadFile|Invoke-WebRequest|\biwr\b)[^\n]{0,300}?(?:\bIEX\b|Invoke-Expression|Start-Process|\|\s*iex\b)",
       "PowerShell downloads and runs", re.IGNORECASE),
    # decode and run
    _d("decode-pipe-shell", OBFUSCATED,
       rf"\b(?:base64\s+(?:-d|--decode|-D)|openssl\s+(?:enc\s+)?-?(?:base64|a)\s+-d|xxd\s+-r(?:\s+-p)?|uudecode)\b[^\n]{{0,200}}?\|[ \t]*(?:sudo\s+)?{_SH}",
       "decoded text piped into a shell"),
    _d("eval-decode", OBFUSCATED,
       rf"(?:\beval|\b{_SH}\s+-c)\s+['\"]?(?:\$\(|`)[^\n]{{0,300}}?(?:base64\s+(?:-d|--decode|-D)|xxd\s+-r)",
       "shell evaluates decoded text"),
    _d("printf-hex-shell", OBFUSCATED, rf"\b(?:printf|echo\s+-e)\s+['\"](?:\\x[0-9a-fA-F]{{2}}){{8,}}['\"]\s*\|\s*{_SH}",
       "hex-escaped text piped into a shell"),
    _d("powershell-encoded", OBFUSCATED,
       r"\bpowershell(?:\.exe)?\b[^\n]{0,200}?\s-(?:e|en|enc|enco|encod|encodedcommand)\s+[A-Za-z0-9+/=]{16,}",
       "PowerShell runs an encoded command", re.IGNORECASE),
    # exfiltration
    _d("curl-post-secret", EXFILTRATION,
       r"\bcurl\b[^\n]{0,300}?(?:\s-d|\s--data(?:-binary|-raw|-urlencode)?|\s-F|\s--form|\s-T|\s--upload-file)[= \t]*['\"]?[^\s'\"]{0,20}"
       r"(?:@(?:/etc/(?:passwd|shadow)|~?/?[\w$/.{}-]*\.ssh/|[\w$/.{}-]*\.aws/|/proc/self/environ)|\$\(\s*(?:cat|env|printenv)\b|`\s*(?:cat|env|printenv)\b)",
       "curl uploads a credential file or the environment"),
    _d("wget-post-secret", EXFILTRATION,
       r"\bwget\b[^\n]{0,300}?--post-(?:file|data)[= ]['\"]?(?:/etc/(?:passwd|shadow)|[\w$/.{}~-]*\.ssh/|\$\(\s*(?:cat|env))",
       "wget posts a credential file or the environment"),
    _d("pipe-secret-out", EXFILTRATION,
       rf"\b(?:cat|tar|base64|gzip)\b[^|\n]{{0,120}}(?:/etc/shadow|/etc/passwd|\.ssh/|id_rsa|\.aws/credentials)[^|\n]{{0,80}}\|\s*(?:{_NETCAT}|curl\b|wget\b|openssl\s+s_client\b|telnet\b)",
       "credential file piped to a network client"),
    _d("netcat-send-secret", EXFILTRATION,
       rf"{_NETCAT}\s[^\n<]{{0,120}}<\s*(?:/etc/(?:shadow|passwd)|\S*\.ssh/\S+|\S*\.aws/credentials)",
       "netcat sends a credential file"),
    _d("env-to-network", EXFILTRATION, rf"\b(?:env|printenv)\s*\|\s*(?:{_NETCAT}|curl\b|wget\b)",
       "the environment piped to a network client"),
)

# netcat/socat/telnetd/awk listeners (bind shells) are decided from the reverse-shell matches plus a flag
_LISTEN_FLAG = re.compile(r"\s-[a-zA-Z]*l[a-zA-Z]*\b|\s--listen\b")
_SOCAT_LISTEN = re.compile(r"(?:tcp\d?|openssl|ssl|udp\d?)-listen:", re.IGNORECASE)
_AWK_LISTEN = re.compile(r"/inet/tcp/\d+/0/0")
_TELNETD_SHELL = re.compile(rf"\bu?telnetd\b[^\n;|&]{{0,120}}?\s-l[ \t]*['\"]?{_SH}[^\n;|&]{{0,80}}")
_TELNETD_PORT = re.compile(r"\s-p[ \t]*(\d+)")
_INETD_SHELL = re.compile(rf"^[ \t]*[\w.-]+\s+(?:stream|dgram)\s+(?:tcp|udp)\d?\s+(?:no)?wait\S*\s+\S+\s+{_SH}", re.MULTILINE)
_XINETD_SHELL = re.compile(rf"^[ \t]*server\s*=\s*{_SH}", re.MULTILINE)

# download, then run the downloaded file (shell)
_DL_CMD = re.compile(
    r"\b(?:(?P<wget>wget)|(?P<curl>curl)|(?P<tftp>tftp)|(?P<ftpget>ftpget))\b(?P<args>[^\n;&|]{0,300})"
)
_DL_WORDS = ("wget", "curl", "tftp", "ftpget")
"""What every match of _DL_CMD starts with."""


def _finditer_at(rx: re.Pattern[str], text: str, words: tuple[str, ...]) -> Iterator[re.Match[str]]:
    """``rx.finditer(text)`` for a pattern every match of which starts with one of ``words`` (and is never empty):
    tried only where one of them starts, found by plain search. re scans for a pattern that starts with ``\b``
    character by character, ten times slower."""
    starts: set[int] = set()
    for word in words:
        i = text.find(word)
        while i >= 0:
            starts.add(i)
            i = text.find(word, i + 1)
    end = 0
    for start in sorted(starts):
        if start < end:
            continue  # inside the previous match: finditer goes on after it
        m = rx.match(text, start)
        if m is not None:
            yield m
            end = m.end()


_URL_BASENAME = re.compile(r"(?:https?|ftp)://[^\s'\"]+/([\w.+-]+)")
_EXEC_WORDS = r"(?:\./|sh\s+|bash\s+|ash\s+|exec\s+|nohup\s+|setsid\s+|busybox\s+sh\s+|source\s+|\.\s+)"


def _downloaded_name(kind: str, args: str) -> str | None:
    if kind == "wget":
        m = re.search(r"(?:-O|--output-document)[ =]?['\"]?([^\s'\"]+)", args)
        if m:
            return None if m[1] == "-" else m[1]
    elif kind == "curl":
        m = re.search(r"(?:-o|--output)[ =]?['\"]?([^\s'\"]+)", args)
        if m:
            return m[1]
        if not re.search(r"\s-[a-zA-Z]*O\b|--remote-name\b", args):
            return None
    elif kind == "tftp":
        m = re.search(r"-l[ \t]*([^\s'\"]+)", args) or re.search(r"-r[ \t]*([^\s'\"]+)", args)
        if m:
            return m[1]
        m = re.search(r"\bget\s+([^\s'\"]+)(?:\s+([^\s'\"]+))?", args)
        if m:
            return m[2] or m[1]
        return None
    elif kind == "ftpget":
        parts = [p for p in args.split() if not p.startswith("-")]
        return parts[1] if len(parts) >= 2 else None
    m = _URL_BASENAME.search(args)
    return m[1] if m else None


# -- taint tracking ---------------------------------------------------------------------------------------

# names of environment variables that hold secrets (not the URL, host or file that goes with one)
_SECRET_VAR = (r"[A-Z0-9_]*(?:SECRET|TOKEN|PASSW|PWD|API_?KEY|ACCESS_KEY|PRIVATE|CREDENTIAL|SESSION)[A-Z0-9_]*"
               r"(?![A-Z0-9_])(?<!_URL)(?<!_URI)(?<!_HOST)(?<!_PORT)(?<!_PATH)(?<!_FILE)(?<!_DIR)(?<!_ENDPOINT)(?<!_TYPE)(?<!_NAME)")
_SOURCES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(rx)) for label, rx in (
        ("secret", rf"(?:getenv|environ\.get|Getenv|ENV\.fetch|System\.getenv|LookupEnv)\(\s*['\"]{_SECRET_VAR}['\"]"),
        ("secret", rf"(?:environ|ENV|\$_ENV|\$_SERVER)\[\s*['\"]{_SECRET_VAR}['\"]\s*\]"),
        ("secret", rf"process\.env(?:\.|\[\s*['\"]){_SECRET_VAR}"),
        ("secret", rf"\$\{{?{_SECRET_VAR}\b"),
        ("env", r"(?<!\bin )\bos\.environ\b(?!\s*(?:\.(?:get|copy|setdefault|pop|update|keys)\b|\[))"),
        ("env", r"\bprocess(?:\.env\b(?!\s*(?:\.|\[))|\[\s*['\"]env['\"]\s*\])"),
        ("env", r"\bENV\.(?:to_h|to_hash|to_a|inspect|each|map|select|keys)\b|(?:JSON\.(?:dump|generate)|YAML\.dump|Marshal\.dump)\(\s*ENV\b"),
        ("env", r"\bos\.Environ\(\)|/proc/self/environ|\$\(\s*(?:env|printenv)\s*\)"),
        ("path", (r"\.ssh/|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|\.aws/(?:credentials|config)|\.npmrc|\.pypirc|\.netrc\b|"
                 r"\.git-credentials|\.docker/config\.json|\.kube/config|/etc/shadow|/etc/passwd|\.bash_history|"
                 r"Login Data|\.gnupg|wallet\.dat|/etc/ssh/ssh_host_")),
        ("file", r"password_value\b|\bbrowser_cookie3?\.\w+\s*\(|\bFROM\s+logins\b"),
        ("host:name", (r"gethostname\s*\(|\bos\.hostname\s*\(|platform\.node\s*\(|os\.Hostname\s*\(|"
                      r"Socket\.gethostname|\bCOMPUTERNAME\b|\$\(\s*hostname\s*\)|\buname\(\)\.nodename")),
        ("host:user", (r"getpass\.getuser\s*\(|os\.getlogin\s*\(|os\.userInfo\s*\(|\bwhoami\b|getpwuid\s*\(|"
                      r"ENV\[\s*['\"]USER(?:NAME)?['\"]\s*\]|process\.env\.USER(?:NAME)?\b|Getenv\(\s*\"USER\"\s*\)|"
                      r"\$USER\b")),
        ("host:dir", (r"os\.getcwd\s*\(|process\.cwd\s*\(|__dirname\b|os\.homedir\s*\(|ENV\[\s*['\"]HOME['\"]\s*\]|"
                     r"Dir\.home\b|os\.UserHomeDir\s*\(|os\.Getwd\s*\(")),
        ("host:os", (r"platform\.(?:platform|uname|system|version|release|machine)\s*\(|\bos\.uname\s*\(|"
                    r"os\.(?:platform|release|arch|type|version)\s*\(\s*\)|runtime\.GOOS")),
        ("host:ip", r"getsockname\s*\(|networkInterfaces\s*\(|ipify|ip-api\.com|ifconfig\.me|icanhazip|enabledns\.com/ip"),
        ("decoded", (r"b(?:64|32|16|85)decode|a85decode|decodebytes|decodestring|unhexlify|bytes\.fromhex|\.fromhex\(|"
                    r"zlib\.decompress|marshal\.loads|bz2\.decompress|lzma\.decompress|codecs\.decode|Fernet|\.decrypt\(|"
                    r"\batob\s*\(|fromCharCode|Buffer\.from\([^()]{0,400}?['\"](?:base64|hex)['\"]|"
                    r"decode64|DecodeString|NewDecoder|AppendDecode|\.Decode\(|hex\.DecodeString|"
                    r"base64_decode|gzinflate|gzuncompress|str_rot13|convert_uudecode|hex2bin|mime\.unb64|\bunb64\b|"
                    r"from_base64|string\.char\s*\(|unpack\(\s*['\"]m|Zlib::Inflate|"
                    r"\.decode\(\s*['\"](?:base64|hex|rot.?13|zlib|bz2|uu|cp1026|cp500|cp037|cp875)['\"]|"
                    r"(?<![\w.])decode\s*\(|(?<![\w.])chr\s*\(|map\(\s*chr\b|\[::-1\]|\blsb\.reveal\b|\bsteg\w*\.(?:reveal|decode|extract)\b|"
                    r"function\s*\(\s*p\s*,\s*a\s*,\s*c\s*,\s*k\s*,\s*e\s*,\s*[dr]\s*\)")),
        ("downloaded", (r"urlopen\s*\(|requests\.(?:get|post|request)\s*\(|urllib\d?\.\w+\.urlopen|"
                       r"httpx\.(?:get|post)\s*\(|\bfetch\s*\(|axios\.(?:get|post)\s*\(|\bhttps?\.get\s*\(|"
                       r"Net::HTTP\.get|URI\.open\s*\(|\bhttp\.Get\s*\(|DownloadString|\bwget\s|\bcurl\s")),
    )
)
# Prefilters of the taint analysis: every label that can lead to a finding comes from a _SOURCES match in a
# piece of the text (an assignment's right-hand side, a call's arguments...), and every such match contains a
# match of these (word boundaries and look-behinds dropped where a piece could start or end mid-word). A text
# where neither finds anything gets no finding from taint(), which is then not run.
_GATE_EXEC = re.compile(  # the "decoded" and "downloaded" labels
    r"b(?:64|32|16|85)decode|a85decode|decodebytes|decodestring|unhexlify|fromhex|zlib\.decompress|marshal\.loads|"
    r"bz2\.decompress|lzma\.decompress|codecs\.decode|Fernet|\.decrypt\(|atob\s*\(|fromCharCode|Buffer\.from\(|"
    r"decode64|DecodeString|NewDecoder|AppendDecode|\.Decode\(|base64_decode|gzinflate|gzuncompress|str_rot13|"
    r"convert_uudecode|hex2bin|unb64|from_base64|string\.char\s*\(|unpack\(\s*['\"]m|Zlib::Inflate|"
    r"\.decode\(\s*['\"](?:base64|hex|rot.?13|zlib|bz2|uu|cp1026|cp500|cp037|cp875)['\"]|"
    r"map\(\s*chr|\[::-1\]|lsb\.reveal|steg\w*\.(?:reveal|decode|extract)|"
    r"function\s*\(\s*p\s*,\s*a\s*,\s*c\s*,\s*k\s*,\s*e\s*,\s*[dr]\s*\)|"
    r"urlopen|requests\.|httpx\.|fetch\s*\(|axios\.|https?\.get\s*\(|Net::HTTP\.get|URI\.open|http\.Get\s*\(|"
    r"DownloadString|wget\s|curl\s"
)
_GATE_EXFIL = re.compile(  # the "secret", "env", "path", "file" and "host:*" labels
    r"SECRET|TOKEN|PASSW|PWD|API_?KEY|ACCESS_KEY|PRIVATE|CREDENTIAL|SESSION|"
    r"os\.environ|process(?:\.env|\[\s*['\"]env['\"])|ENV|os\.Environ\(\)|/proc/self/environ|\$\(\s*(?:env|printenv)\s*\)|"
    r"\.ssh/|id_(?:rsa|dsa|ecdsa|ed25519)|\.aws/(?:credentials|config)|\.npmrc|\.pypirc|\.netrc|"
    r"\.git-credentials|\.docker/config\.json|\.kube/config|/etc/shadow|/etc/passwd|\.bash_history|"
    r"Login Data|\.gnupg|wallet\.dat|/etc/ssh/ssh_host_|"
    r"password_value|browser_cookie|FROM\s+logins|"
    r"gethostname\s*\(|os\.hostname\s*\(|platform\.|os\.Hostname\s*\(|Socket\.gethostname|COMPUTERNAME|"
    r"\$\(\s*hostname\s*\)|uname\(\)\.nodename|getpass\.getuser\s*\(|os\.getlogin\s*\(|os\.userInfo\s*\(|whoami|"
    r"getpwuid\s*\(|Getenv\(\s*\"USER\"\s*\)|\$USER|os\.getcwd\s*\(|process\.cwd\s*\(|__dirname|os\.homedir\s*\(|"
    r"Dir\.home|os\.UserHomeDir\s*\(|os\.Getwd\s*\(|os\.uname\s*\(|os\.(?:platform|release|arch|type|version)\s*\(\s*\)|"
    r"runtime\.GOOS|getsockname\s*\(|networkInterfaces\s*\(|ipify|ip-api\.com|ifconfig\.me|icanhazip|enabledns\.com/ip"
)
# (?<![\w.])decode\s*\( and (?<![\w.])chr\s*\( of "decoded" (a look-behind first makes a union slow: found
# without it, then confirmed at each place)
_GATE_EXEC_CALL = re.compile(r"(?:decode|chr)\s*\(")
_GATE_EXEC_CALL_AT = re.compile(r"(?<![\w.])(?:decode|chr)\s*\(")


def _gate_exec(text: str) -> bool:
    """Whether ``text`` may hold a "decoded" or "downloaded" label (False: it surely does not)."""
    return _GATE_EXEC.search(text) is not None or any(
        _GATE_EXEC_CALL_AT.match(text, m.start()) for m in _GATE_EXEC_CALL.finditer(text))


def _gate_any(text: str) -> bool:
    """Whether any of _SOURCES may match in ``text`` (False: none does)."""
    return _GATE_EXFIL.search(text) is not None or _gate_exec(text)


_DANGEROUS_NAMES = {"eval", "exec", "compile", "__import__", "system", "popen", "getattr", "builtins",
                    "__builtins__", "subprocess", "require", "child_process", "function", "atob", "spawn",
                    "execsync", "b64decode", "base64", "marshal", "zlib", "os", "open", "globals", "import",
                    "shell_exec", "passthru", "assert", "loadstring", "os.execute", "io.popen"}
_DANGEROUS_CODE = re.compile(r"\b(?:exec|eval|compile|__import__|require|child_process|spawn|system|popen|"
                             r"urlopen|socket|subprocess|powershell)\s*\(|/bin/(?:ba)?sh\b|\bimport\s+\w")

# sinks that run code or commands, by language; (regex, kind) with kind "code" or "cmd"
_EXEC_SINKS: dict[str, tuple[tuple[re.Pattern[str], str], ...]] = {}


def _sinks(*pairs: tuple[str, str]) -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(rx), kind) for rx, kind in pairs)


_EXEC_SINKS["py"] = _sinks(
    (r"(?<![\w.])(?:exec|eval|compile|execfile)\s*\(", "code"),
    (r"(?:\bbuiltins|__builtins__|__import__\(\s*['\"]builtins['\"]\s*\))\s*\.\s*(?:exec|eval|compile)\s*\(", "code"),
    (r"\bvars\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*(?:\[\s*|\.get\(\s*)['\"](?:exec|eval|compile)['\"]\s*\]?\)?\s*\(", "code"),
    (r"\bglobals\s*\(\s*\)\s*\[[^\]]{1,80}\]\s*\(", "code"),
    (r"\bos\.(?:system|popen|exec\w*|spawn\w*|startfile)\s*\(", "cmd"),
    (r"\bsubprocess\.\w+\s*\(", "cmd"),
    (r"(?<![\w.])(?:Popen|check_output|check_call|getoutput)\s*\(", "cmd"),
    (r"\bcommands?\.(?:run|getoutput)\s*\(", "cmd"),
    (r"\bpty\.spawn\s*\(", "cmd"),
)
_EXEC_SINKS["js"] = _sinks(
    (r"(?<![\w.$])eval\s*\(", "code"),
    (r"\b(?:window|global|globalThis|self)\s*\.\s*eval\s*\(", "code"),
    (r"(?<![\w.$])(?:new\s+)?Function\s*\(", "code"),
    (r"\bvm\.(?:runInThisContext|runInNewContext|runInContext|compileFunction|Script)\s*\(", "code"),
    (r"child_process['\"]?\s*\)?\s*\.\s*(?:exec|execSync|spawn|spawnSync|execFile|execFileSync|fork)\s*\(", "cmd"),
    (r"(?<![\w.$])(?:execSync|spawn|spawnSync|execFile|execFileSync)\s*\(", "cmd"),
    (r"(?<![\w.$])exec\s*\(", "cmd"),
    (r"\b(?:cp|proc|childProcess|child)\.(?:exec|execSync|spawn|spawnSync|execFile)\s*\(", "cmd"),
)
_EXEC_SINKS["php"] = _sinks(
    (r"(?<![\w>$:])(?:eval|assert|create_function)\s*\(", "code"),
    (r"(?<![\w>$:])(?:system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec)\s*\(", "cmd"),
)
_EXEC_SINKS["lua"] = _sinks(
    (r"(?<![\w.:])(?:loadstring|load|dofile)\s*\(", "code"),
    (r"\b(?:os\.execute|io\.popen|luci\.sys\.(?:exec|call))\s*\(", "cmd"),
)
_EXEC_SINKS["rb"] = _sinks(
    (r"(?<![\w.])(?:eval|instance_eval|class_eval|module_eval)\s*[( ]", "code"),
    (r"\b(?:Kernel|binding)\.eval\s*\(", "code"),
    (r"(?<![\w.])(?:system|exec|spawn)\s*[( ]", "cmd"),
    (r"\b(?:IO\.popen|Open3\.\w+|Process\.spawn|Kernel\.system)\s*\(", "cmd"),
)
_EXEC_SINKS["go"] = _sinks(
    (r"\bexec\.Command(?:Context)?\s*\(", "cmd"),
    (r"\bexec\.Cmd\s*\{", "cmd"),
    (r"\bos\.StartProcess\s*\(", "cmd"),
    (r"\bsyscall\.(?:Exec|ForkExec)\s*\(", "cmd"),
)
_EXEC_SINKS["pl"] = _sinks((r"(?<![\w$>])(?:eval|system|exec)\s*[({]", "code"),)

# substrings that every match of a language's sinks contains (a cheaper per-line prefilter than the union
# of the sink regexes, whose look-behinds make it slow)
_SINK_KEYS: dict[tuple[str, str], tuple[str, ...]] = {
    ("exec", "py"): ("exec", "eval", "compile", "vars", "globals", "os.", "subprocess", "Popen", "check_output",
                     "check_call", "getoutput", "command", "pty.spawn"),
    ("exec", "pl"): ("eval", "system", "exec"),
    ("net", "py"): (".get", ".post", ".put", ".patch", ".head", ".delete", "urlopen", "Request", "request",
                    "gethostbyname", "getaddrinfo", ".query", ".resolve"),
}

# network sends; "dns" sinks carry data in the name they resolve
_NET_SINKS: dict[str, tuple[tuple[re.Pattern[str], str], ...]] = {
    "py": _sinks(
        (r"\brequests\.(?:get|post|put|patch|request|head|delete)\s*\(", "http"),
        (r"\b(?:httpx|session|client|s)\.(?:get|post|put|patch|request)\s*\(", "http"),
        (r"(?<![\w])(?:[\w.]*\.)?urlopen\s*\(", "http"),
        (r"(?<![\w])(?:[\w.]*\.)?Request\s*\(", "http"),
        (r"(?<![\w.])request\s*\(", "http-generic"),
        (r"\bsocket\.(?:gethostbyname(?:_ex)?|getaddrinfo)\s*\(", "dns"),
        (r"\b\w*[rR]esolver\w*\.(?:query|resolve)\s*\(|\bdns\.resolver\.(?:query|resolve)\s*\(", "dns"),
    ),
    "js": _sinks(
        (r"\b(?:https?|http2)\.(?:request|get)\s*\(", "http"),
        (r"(?<![\w.$])fetch\s*\(", "http"),
        (r"\baxios(?:\.(?:post|get|put|patch|request))?\s*\(", "http"),
        (r"\bnavigator\.sendBeacon\s*\(", "http"),
        (r"\bdns\.(?:lookup|resolve\w*)\s*\(", "dns"),
    ),
    "rb": _sinks(
        (r"\bNet::HTTP\.(?:post|get|post_form|start|get_response)\s*\(", "http"),
        (r"\b(?:HTTParty|RestClient|Faraday|Excon|HTTP)\.(?:post|get|put|patch)\s*\(", "http"),
        (r"\bResolv\.getaddress\s*\(", "dns"),
    ),
    "go": _sinks(
        (r"\bhttp\.(?:Post|PostForm|Get|NewRequest)\s*\(", "http"),
        (r"\bnet\.Lookup\w+\s*\(", "dns"),
    ),
    "php": _sinks(
        (r"\bcurl_setopt\s*\([^,]+,\s*CURLOPT_POSTFIELDS\s*,", "http"),
        (r"\bfile_get_contents\s*\(\s*['\"]https?://", "http"),
        (r"\bfwrite\s*\(\s*\$(?:sock|fp|socket|conn)\b", "http"),
    ),
}
_NET_SINKS["pl"] = ()
_NET_SINKS["lua"] = ()
# names assigned from these become channels whose .send/.write carry data out
_CHANNEL = re.compile(
    r"\bsocket\.(?:socket|create_connection)\s*\(|HTTPS?Connection\s*\(|\b(?:https?|net|tls)\.(?:request|connect|"
    r"createConnection)\s*\(|new\s+(?:net\.Socket|WebSocket|XMLHttpRequest)\b|\bnet\.Dial\w*\s*\(|"
    r"websocket\.Dial\s*\(|tls\.Dial\s*\(|TCPSocket\.(?:new|open)\s*\(|fsockopen\s*\("
)
_READ_CALL = re.compile(
    r"(?<![\w.])open\s*\(|\bio\.open\s*\(|\.read(?:_text|_bytes|lines)?\s*\(|\breadFile(?:Sync)?\s*\(|"
    r"\bcreateReadStream\s*\(|\bReadFile\s*\(|\bFile\.(?:read|open|readlines)\s*\(|\bIO\.read\s*\(|\bfopen\s*\(|"
    r"\bfile_get_contents\s*\(|\bfile\s*\(|\bcat\s|\bos\.Open\s*\(|\bcopy2?\s*\(|\bshutil\.copy"
)
_NET_MODULE = re.compile(r"\s*require\(\s*['\"](?:https?|http2|net|tls|dgram|axios|node-fetch|request|got|needle)['\"]\s*\)")
_MODULE_CALL = re.compile(r"(?<![\w$.])([\w$]+)\s*\.\s*(?:request|get|post|put|patch|connect|createConnection)\s*\(")
_CHANNEL_SEND = re.compile(r"(?<![\w$.])([\w$]+)\s*\.\s*(?:send|sendall|sendto|write|Write|end|puts|print)\s*\(")
_AUTH_ARGS = re.compile(
    r"\bauth\s*=\s*\([^()]*\)|['\"]?(?:Authorization|X-Api-Key|X-Auth-Token|PRIVATE-TOKEN)['\"]?\s*[:=]\s*[^,}\n]+|"
    r"\b(?:auth|token|api_key|apikey|password|headers)\s*[=:]\s*[^,)\n]+",
    re.IGNORECASE,
)

_ASSIGN = re.compile(
    r"^[ \t]*(?:(?:var|let|const|local|my|our|export|final|auto)\s+)?"
    r"(?P<lhs>[\w$@][\w$.@]*(?:\[[^\]\n]{0,40}\])?(?:\s*,\s*[\w$@][\w$.@]*)*)\s*(?P<op>:=|\+=|\|\|=|=)(?![=~>])",
    re.MULTILINE,
)
_FOR = re.compile(r"^[ \t]*for\s*\(?\s*(?:(?:var|let|const)\s+)?(?P<lhs>[\w$]+(?:\s*,\s*[\w$]+)*)\s+(?:in|of)\s+", re.MULTILINE)
_WITH = re.compile(r"\bwith\s+(?P<rhs>.+?)\s+as\s+(?P<lhs>\w+)\s*:")
_CALLBACK = re.compile(r"(?:function\s*\w*\s*\(|\()\s*(?P<params>[\w$]+(?:\s*,\s*[\w$]+)*)\s*\)\s*(?:=>|\{)")
_FUNC_START = {
    "py": re.compile(r"^(?P<indent>[ \t]*)(?:async\s+)?def\s"),
    "c": re.compile(r"^(?P<indent>[ \t]*)(?:export\s+)?(?:async\s+)?(?:function\b|func\s+(?:\([^)]*\)\s*)?\w+\s*\(|"
                    r"def\s+\w|sub\s+\w)"),
}


@dataclass(slots=True)
class _Taint:
    names: dict[str, set[str]] = field(default_factory=dict)
    channels: set[str] = field(default_factory=set)
    callables: set[str] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)
    _rx: re.Pattern[str] | None = None
    _rx_for: frozenset[str] = frozenset()

    def labels(self, text: str) -> set[str]:
        """Labels of an expression: sources written in it, and the labels of the tainted names it uses. A
        sensitive path only becomes data ("file") where the expression reads it."""
        out = self._labels(text)
        if "path" in out and _READ_CALL.search(text):
            out.add("file")
        return out

    def _labels(self, text: str) -> set[str]:
        out = {label for label, rx in _SOURCES if rx.search(text)} if _gate_any(text) else set()
        if self.names:
            keys = frozenset(self.names)
            if keys != self._rx_for:
                self._rx = re.compile(r"(?<![\w$@])(?:" + "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
                                      + r")(?![\w$])")
                self._rx_for = keys
            assert self._rx is not None
            for m in self._rx.finditer(text):
                out |= self.names.get(m.group(), set())
        return out

    def clear(self) -> None:
        self.names.clear()
        self.channels.clear()
        self.callables.clear()


def _line_starts_with(text: str, keys: tuple[str, ...]) -> set[int]:
    """The offsets where the lines of ``text`` that hold one of ``keys`` start."""
    out: set[int] = set()
    for key in keys:
        i = text.find(key)
        while i >= 0:
            line_start = text.rfind("\n", 0, i) + 1
            out.add(line_start)
            end = text.find("\n", i)
            if end < 0:
                break
            i = text.find(key, end + 1)
    return out


@cache
def _any_of_cached(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def _any_of(sinks: tuple[tuple[re.Pattern[str], str], ...]) -> re.Pattern[str] | None:
    """One regex that finds whether a line holds any of ``sinks`` (a prefilter)."""
    return _any_of_cached(tuple(rx.pattern for rx, _ in sinks))


# -- the analysis of one text file --------------------------------------------------------------------------


@dataclass(slots=True)
class Hit:
    rule: Rule
    offset: int
    evidence: str
    key: str
    severity: str | None = None
    title: str | None = None


class _TextScan:
    """Every heuristic over one text file (comments blanked)."""

    def __init__(self, path: str, text: str, lang: str, triggers: set[str]):
        self.path = path
        self.lang = lang
        self.raw = text
        self._text: str | None = None
        self.triggers = triggers
        """Trigger patterns that matched the file, as 'family/index'."""
        self.families = {t.split("/")[0] for t in triggers}
        self.hits: list[Hit] = []
        self._nl: list[int] | None = None

    @property
    def text(self) -> str:
        """The text with comments blanked (computed on first use: files no heuristic reads are not lexed)."""
        if self._text is None:
            self._text = mask_comments(self.raw, self.lang)
        return self._text

    # helpers
    def line_of(self, offset: int) -> int:
        if self._nl is None:
            self._nl = [m.start() for m in re.finditer("\n", self.text)]
        import bisect

        return bisect.bisect_right(self._nl, offset - 1) + 1 if offset > 0 else 1

    def snippet(self, start: int, end: int | None = None, width: int = 160) -> str:
        end = end if end is not None else self.text.find("\n", start)
        if end < 0:
            end = len(self.text)
        s = " ".join(self.text[start:min(end, start + 400)].split())
        return s if len(s) <= width else s[: width - 3] + "..."

    def add(self, rule: Rule, offset: int, what: str, snippet: str, severity: str | None = None) -> None:
        self.hits.append(Hit(rule, offset, f"{what}: {snippet}", f"{what}:{snippet[:120]}", severity))

    def run(self) -> list[Hit]:
        f = self.families
        if f & {"shell"} or self.lang in ("sh", "conf"):
            self.shell()
        if self.lang in _EXEC_SINKS:
            want_exec = "exec" in f and bool(f & {"decode", "net", "rshell", "escape"})
            want_exfil = {"source", "net"} <= f
            # the same conditions as before, only taint() is skipped where it cannot find anything
            if (want_exec or want_exfil) and (
                    want_exec and _gate_exec(self.text) or want_exfil and _GATE_EXFIL.search(self.text)):
                self.taint()
        if "escape" in f and self.lang in ("py", "js", "php", "rb", "lua"):
            self.escapes()
        if f & {"jsobf", "decode"} and self.lang == "js":
            self.js_obfuscator()
        if {"net", "write"} <= f and self.lang in ("py", "js", "go", "rb", "php", "lua"):
            self.download_to_file()
        if "install" in f:
            self.install_hooks()
        if "rshell" in f:
            self.socket_shells()
        if "web" in f and self.lang in ("php", "lua", "sh", "py", "js", "pl", "text"):
            self.web()
        return self.hits

    # -- shell one-liners (any language: commands live in strings too) --------------------------------

    def shell(self) -> None:
        text = self.text
        lower: str | None = None
        for det in _SHELL_DETECTORS:
            if not any(f"shell/{n}" in self.triggers for n in det.needles):
                continue
            if det.words:
                if det.regex.flags & re.IGNORECASE:
                    lower = text.lower() if lower is None else lower
                    if not any(w in lower for w in det.words):
                        continue
                elif not any(w in text for w in det.words):
                    continue
            if det.gate is not None and det.gate.search(text) is None:
                continue
            for m in det.regex.finditer(text):
                rule = det.rule
                if rule is REVERSE_SHELL:
                    seg = m.group()
                    if det.name in ("netcat-exec", "fifo-pipeline") and _LISTEN_FLAG.search(seg) or det.name == "socat-exec" and _SOCAT_LISTEN.search(seg) or det.name == "awk-inet" and _AWK_LISTEN.search(seg):
                        rule = BIND_SHELL
                what = det.why if rule is det.rule else det.why.replace("connects", "listens")
                self.add(rule, m.start(), f"{det.name} ({what})", self.snippet(m.start(), m.end()))
        for m in _TELNETD_SHELL.finditer(text) if "shell/4" in self.triggers else ():
            port = _TELNETD_PORT.search(m.group())
            if port and port[1] != "23":
                self.add(BIND_SHELL, m.start(), f"telnetd-shell (telnetd serves a shell without login on port {port[1]})",
                         self.snippet(m.start(), m.end()))
        base = posixpath.basename(self.path)
        if "inetd" in base or "/xinetd.d/" in self.path:
            for rx in (_INETD_SHELL, _XINETD_SHELL):
                for m in rx.finditer(text):
                    self.add(BIND_SHELL, m.start(), "inetd-shell (inetd service whose server is a shell)",
                             self.snippet(m.start()))
        if "shell/5" in self.triggers:
            self.download_then_run()

    def download_then_run(self) -> None:
        text = self.text
        for m in _finditer_at(_DL_CMD, text, _DL_WORDS):
            kind = m.lastgroup if m.lastgroup in ("wget", "curl", "tftp", "ftpget") else next(
                k for k in ("wget", "curl", "tftp", "ftpget") if m.group(k))
            args = m.group("args")
            if kind in ("wget", "curl") and "://" not in args and "$" not in args:
                continue
            name = _downloaded_name(kind, args)
            if not name or len(name) < 2 or name in ("-", "/dev/null"):
                continue
            window = text[m.end(): m.end() + 600]
            base = re.escape(posixpath.basename(name))
            full = re.escape(name)
            # 'sh file', './file', and for a path, the path itself at a command position
            by_word = rf"(?:^|[\s;&|(`'\"]){_EXEC_WORDS}(?:\S*/)?{base}\b"
            by_path = (rf"|(?:^|[;&|(`]|\bthen\b|\bdo\b|\belse\b)[ \t]*(?:nohup\s+|exec\s+|setsid\s+)?{full}"
                       r"(?=\s|;|&|$)(?!\s*[<>|])") if "/" in name else ""
            run = re.search(by_word + by_path, window, re.MULTILINE)
            if run is None:
                continue
            # 'sh file' and './file' run it; a bare path at a command position does too
            self.add(DOWNLOAD_EXEC, m.start(), f"download-run ({kind} fetches {name}, which is then run)",
                     self.snippet(m.start(), m.end() + run.end()))

    # -- taint: decoded/downloaded code into exec sinks; secrets into network sends ---------------------

    def taint(self) -> None:
        text = self.text
        lang = self.lang
        taint = _Taint()
        frames: list[tuple[int, dict[str, set[str]]]] = []
        func_rx = _FUNC_START["py" if lang == "py" else "c"]
        exec_sinks = _EXEC_SINKS.get(lang, ())
        net_sinks = _NET_SINKS.get(lang, ())
        exec_any = _any_of(exec_sinks)
        net_any = _any_of(net_sinks)
        exec_keys = _SINK_KEYS.get(("exec", lang))
        net_keys = _SINK_KEYS.get(("net", lang))
        want_exfil = "source" in self.families and "net" in self.families
        want_exec = "exec" in self.families
        pos = 0
        pending_fn: dict[str, tuple[int, str]] = {}
        # the starts of the lines holding a sink's key, found by plain searches of the whole text
        exec_at = _line_starts_with(text, exec_keys) if want_exec and exec_keys is not None else None
        net_at = _line_starts_with(text, net_keys) if want_exfil and net_keys is not None else None
        for line in text.split("\n"):
            start = pos
            pos += len(line) + 1
            if not line.strip():
                continue
            fm = func_rx.match(line)
            if fm:
                indent = len(fm.group("indent").expandtabs())
                if lang == "py":
                    while frames and frames[-1][0] >= indent:
                        frames.pop()
                    frames.append((indent, dict(taint.names)))
                else:
                    taint.clear()
            elif lang == "py" and frames:
                indent = len(line) - len(line.lstrip())
                while frames and indent <= frames[-1][0] and line.strip()[:1] not in (")", "]", "}"):
                    _, saved = frames.pop()
                    taint.names = saved
            # assignments: x = <expr> (multi-line expressions read with balanced brackets)
            am = _ASSIGN.match(line) if "=" in line else None
            if am:
                rhs_start = start + am.end()
                rhs = text[rhs_start: balanced_end(text, rhs_start)]
                labels = taint.labels(rhs)
                lhs = [n.strip() for n in am.group("lhs").split(",")]
                for name in lhs:
                    base = name.split("[")[0]
                    if labels:
                        taint.names[base] = (taint.names.get(base, set()) | labels) if am.group("op") != "=" else set(labels)
                    elif am.group("op") == "=" and base in taint.names and base not in rhs:
                        del taint.names[base]
                    if _CHANNEL.search(rhs[:300]):
                        taint.channels.add(base)
                    if _NET_MODULE.match(rhs):
                        taint.modules.add(base)
                    if re.match(r"\s*(?:new\s+)?Function\s*\(", rhs) and "decoded" in labels:
                        taint.callables.add(base)
                        pending_fn[base] = (rhs_start, self.snippet(rhs_start))
            for rx in (_FOR, ):
                fm2 = rx.match(line) if "for" in line else None
                if fm2:
                    rest = text[start + fm2.end(): balanced_end(text, start + fm2.end())]
                    labels = taint.labels(rest)
                    if labels:
                        for name in fm2.group("lhs").split(","):
                            taint.names[name.strip()] = set(labels)
            wm = _WITH.search(line) if "with" in line else None
            if wm:
                labels = taint.labels(wm.group("rhs"))
                if labels:
                    taint.names[wm.group("lhs")] = labels
            if want_exfil or want_exec:
                cb = _CALLBACK.search(line) if "(" in line and ("{" in line or "=>" in line) else None
                if cb:
                    before = line[: cb.start()]
                    labels = {lb for lb in taint.labels(before) if lb in ("file", "secret", "env", "downloaded")}
                    if labels and re.search(r"read|get|fetch|request|then|on\(", before):
                        for name in cb.group("params").split(","):
                            name = name.strip()
                            if name not in ("err", "error", "e"):
                                taint.names[name] = set(labels)
            # a Function built from decoded text is run where it is called
            for name in list(taint.callables):
                cm = re.search(rf"(?<![\w$.]){re.escape(name)}\s*\(", line)
                if cm and not (am and am.group("lhs").strip() == name):
                    self.add(OBFUSCATED, start + cm.start(), "function-from-decoded (a Function built from decoded "
                             "text is called)", self.snippet(start + cm.start()))
                    taint.callables.discard(name)
                    pending_fn.pop(name, None)
            if want_exec and exec_any is not None and (
                    start in exec_at if exec_at is not None else exec_any.search(line)):
                for rx, kind in exec_sinks:
                    for sm in rx.finditer(line):
                        if am and "Function" in sm.group() and am.group("lhs").strip() in taint.callables:
                            continue  # reported where the function is called
                        self._exec_sink(taint, start + sm.start(), start + sm.end(), kind)
            if want_exfil:
                if net_any is not None and (
                        start in net_at if net_at is not None else net_any.search(line)):
                    for rx, kind in net_sinks:
                        for sm in rx.finditer(line):
                            self._net_sink(taint, start + sm.start(), start + sm.end(), kind)
                for sm in _CHANNEL_SEND.finditer(line) if taint.channels else ():
                    if sm.group(1) in taint.channels:
                        self._net_sink(taint, start + sm.start(), start + sm.end(), "socket")
                for sm in _MODULE_CALL.finditer(line) if taint.modules else ():
                    if sm.group(1) in taint.modules:
                        self._net_sink(taint, start + sm.start(), start + sm.end(), "http")
        for name, (off, snip) in pending_fn.items():
            self.add(OBFUSCATED, off, "function-from-decoded (a Function built from decoded text)", snip)

    def _args(self, sink_start: int, sink_end: int) -> str:
        paren = self.text.rfind("(", sink_start, sink_end)
        brace = self.text.rfind("{", sink_start, sink_end)
        opener = max(paren, brace)
        if opener < 0:
            return self.text[sink_end: balanced_end(self.text, sink_end)]
        return call_args(self.text, opener)

    def _exec_sink(self, taint: _Taint, s: int, e: int, kind: str) -> None:
        args = self._args(s, e)
        if not args.strip():
            return
        labels = taint.labels(_squeeze_literals(args))
        snippet = self.snippet(s)
        if "downloaded" in labels and ("decoded" not in labels or kind == "code") and (
                kind == "code" or re.search(r"\b(?:wget|curl)\b|https?://", args)):
                self.add(DOWNLOAD_EXEC, s, f"exec-download ({'code' if kind == 'code' else 'a command'} from the "
                         "network is run)", snippet)
                return
        if "decoded" in labels:
            self.add(OBFUSCATED, s, f"exec-decoded ({'decoded code is executed' if kind == 'code' else 'a decoded command is run'})",
                     snippet)

    def _net_sink(self, taint: _Taint, s: int, e: int, kind: str) -> None:
        args = self._args(s, e)
        if kind == "http-generic" and not re.search(r"https?://|\burl\s*=", args):
            return
        clean = _AUTH_ARGS.sub(" ", args) if kind != "dns" else args
        labels = taint.labels(clean)
        secrets = labels & {"secret", "env", "file"}
        hosts = {lb for lb in labels if lb.startswith("host:")}
        snippet = self.snippet(s)
        if kind == "dns":
            first = args.split(",")[0]
            if not (re.search(r"\{[^}]+\}\s*\.|\+\s*['\"]\.|%s\.", first) and (secrets or hosts)):
                return
            self.add(EXFILTRATION, s, "dns-exfiltration (collected data encoded in a DNS name)", snippet,
                     None if secrets else "medium")
            return
        if secrets:
            what = ", ".join(sorted(secrets | hosts))
            self.add(EXFILTRATION, s, f"send-secrets ({what} sent over the network)", snippet)
        elif len(hosts) >= 2:
            self.add(EXFILTRATION, s, f"send-host-info ({', '.join(sorted(hosts))} sent over the network)", snippet,
                     "medium")

    # -- download written to a file that is then made executable or run --------------------------------

    def download_to_file(self) -> None:
        text = self.text
        cmd_sinks = [rx for rx, kind in _EXEC_SINKS.get(self.lang, ()) if kind == "cmd"] + [_CHMOD_CALL]
        for m in _WRITE_SINKS.finditer(text):
            target = next((g for g in m.groups() if g), "").strip()
            if not target or not _DOWNLOAD_NEAR.search(text, max(0, m.start() - 3000), m.end() + 200):
                continue
            mention = _mention_rx(target)
            if mention is None:
                continue
            after = text[m.end(): m.end() + 4000]
            how = None
            for rx in cmd_sinks:
                for sm in rx.finditer(after):
                    args = call_args(after, after.find("(", sm.start(), sm.end() + 1)) if "(" in sm.group() else ""
                    if not mention.search(args):
                        continue
                    how = _runs(args, mention, rx is _CHMOD_CALL)
                    if how:
                        break
                if how:
                    break
            if how is None:
                rename = _RENAME_EXE.search(after)
                if rename and mention.search(rename.group(1)):
                    how = "renamed to an executable name"
            if how:
                self.add(DOWNLOAD_EXEC, m.start(), f"download-to-file (downloaded data written to {target} which is "
                         f"{how})", self.snippet(m.start()))

    # -- escaped literals that spell dangerous names; exotic codecs ------------------------------------

    def escapes(self) -> None:
        lex = _STRING_ONLY.get(_LEX_OF.get(self.lang) or "")
        if lex is None:
            return
        for m in lex.finditer(self.text):
            lit = m.group()
            hexed = _HEX_LITERAL.fullmatch(lit)
            if hexed:
                decoded = _hex_text(hexed[2])
                if decoded and (decoded.strip().lower() in _DANGEROUS_NAMES | _NET_NAMES or "://" in decoded
                                or _DANGEROUS_CODE.search(decoded)):
                    shown = decoded if len(decoded) <= 40 else decoded[:37] + "..."
                    self.add(OBFUSCATED, m.start(), f"hex-literal (a hex string spells {shown!r})", self.snippet(m.start()))
                continue
            if lit.count("\\") < 3:
                continue
            body = _literal_body(lit)
            if body is None:
                continue
            escapes = re.findall(r"\\(?:x[0-9a-fA-F]{2}|[0-7]{3}|u[0-9a-fA-F]{4})", body)
            if len(escapes) < 3 or sum(map(len, escapes)) < 0.7 * len(body):
                continue
            decoded = _unescape(body)
            if decoded is None:
                continue
            after = self.text[m.end(): m.end() + 40]
            codec = re.match(r"\s*\.decode\(\s*['\"]([\w-]+)['\"]", after)
            if codec:
                try:
                    decoded = decoded.encode("latin-1").decode(codec[1])
                except (LookupError, UnicodeError):
                    pass
            plain = decoded.strip().lower()
            if plain in _DANGEROUS_NAMES or _DANGEROUS_CODE.search(decoded):
                shown = decoded if len(decoded) <= 40 else decoded[:37] + "..."
                self.add(OBFUSCATED, m.start(), f"escaped-literal (an escaped string spells {shown!r})",
                         self.snippet(m.start()))

    def js_obfuscator(self) -> None:
        text = self.text
        for m in _GLOBAL_BY_CODE.finditer(text):
            self.add(OBFUSCATED, m.start(), "encoded-global (a global object is looked up by an encoded name)",
                     self.snippet(m.start()))
        defs: dict[str, list[tuple[int, bool]]] = {}
        for m in _JS_FUNC_DEF.finditer(text):
            name = m.group("n1") or m.group("n2")
            body = text[m.end(): balanced_end(text, m.end(), 4000, stop_at_newline=False) + 1]
            defs.setdefault(name, []).append((m.start(), bool(_JS_DECODING.search(body))))
        for m in re.finditer(r"(?:self|window|global|globalThis|this)\s*\[\s*([\w$]+)\s*\(", text):
            before = [decodes for off, decodes in defs.get(m[1], ()) if off < m.start()]
            if before and before[-1]:
                self.add(OBFUSCATED, m.start(), "decoded-call (a global function is called by a name decoded at run "
                         "time)", self.snippet(m.start()))
        names = set(re.findall(r"\b_0x[0-9a-f]{4,6}\b", text))
        if len(names) < 5:
            return
        for m in re.finditer(r"while\s*\(\s*!!\[\]\s*\)|\(\s*function\s*\(\s*_0x[0-9a-f]+\s*,\s*_0x[0-9a-f]+\s*\)",
                             self.text):
            self.add(OBFUSCATED, m.start(), f"js-obfuscator ({len(names)} _0x names and the string-array rotation "
                     "of an obfuscator)", self.snippet(m.start()))

    # -- install hooks --------------------------------------------------------------------------------

    def install_hooks(self) -> None:
        base = posixpath.basename(self.path)
        if base == "package.json" or self.lang == "json":
            for m in re.finditer(r"\"(preinstall|install|postinstall|preuninstall|postuninstall)\"\s*:\s*\"((?:[^\"\\]|\\.)*)\"",
                                 self.text):
                self._hook(m.start(), f"npm {m[1]} script", _json_unescape(m[2]))
        if self.lang == "py" and "cmdclass" in self.text:
            for m in re.finditer(r"(?<![\w.])(?:setuptools\.)?setup\s*\(", self.text):
                args = call_args(self.text, m.end() - 1, 200000)
                cm = re.search(r"cmdclass\s*=\s*(?:\{(?P<dict>[^{}]*)\}|dict\((?P<kw>[^()]*)\)|(?P<name>\w+))", args)
                if not cm:
                    continue
                pairs = []
                if cm.group("dict") is not None:
                    pairs = re.findall(r"['\"](\w+)['\"]\s*:\s*([\w.]+)", cm.group("dict"))
                elif cm.group("kw") is not None:
                    pairs = re.findall(r"(\w+)\s*=\s*([\w.]+)", cm.group("kw"))
                elif cm.group("name"):
                    dm = re.search(rf"^\s*{re.escape(cm.group('name'))}\s*=\s*\{{([^{{}}]*)\}}", self.text, re.MULTILINE)
                    if dm:
                        pairs = re.findall(r"['\"](\w+)['\"]\s*:\s*([\w.]+)", dm[1])
                for command, cls in pairs:
                    if command not in ("install", "develop", "egg_info", "easy_install", "bdist_egg"):
                        continue
                    body = _class_body(self.text, cls.split(".")[-1])
                    self._hook(m.start(), f"setup.py cmdclass replaces '{command}' with {cls}", body,
                               defined=body is not None)
        if self.lang == "rb":
            for m in re.finditer(r"\bGem(?:::Installer)?\.(pre|post)_(un)?install\b", self.text):
                body = self.text[m.end(): m.end() + 2000]
                end = re.search(r"^\s*end\b|\}", body, re.MULTILINE)
                self._hook(m.start(), f"RubyGems {m[1]}_{m[2] or ''}install hook", body[: end.start() if end else 600])

    def _hook(self, offset: int, what: str, body: str | None, defined: bool = True) -> None:
        code = body or ""
        net = re.search(r"https?://|\b(?:curl|wget|fetch|urlopen|urlretrieve|requests\.|http\.request|https\.|"
                        r"socket|Net::HTTP|axios|nc|ncat)\b|require\(\s*['\"](?:https?|net|child_process)['\"]", code)
        run = re.search(r"\b(?:exec|eval|system|popen|spawn|subprocess|child_process|os\.system|sh\s+-c|bash\s+-c|"
                        r"chmod|\./\w|\|\s*(?:ba)?sh)\b", code)
        snippet = " ".join(code.split())[:120]
        if net and (run or "curl" in code or "wget" in code):
            self.add(INSTALL_HOOK, offset, f"{what} fetches and runs code", snippet or what)
        elif net or (run and body is not None and "setup.py" not in what):
            self.add(INSTALL_HOOK, offset, f"{what} {'uses the network' if net else 'runs commands'}", snippet or what)
        elif body is not None and _known_build_tool(code):
            return
        elif "setup.py" in what and run:
            self.add(INSTALL_HOOK, offset, f"{what}, which runs commands", snippet or what)
        else:
            detail = "" if defined else " (defined elsewhere)"
            self.add(INSTALL_HOOK_PLAIN, offset, f"{what}{detail}", snippet or what)

    # -- socket shells in Python, Perl, PHP, Ruby, Node, Go, Lua ----------------------------------------

    def socket_shells(self) -> None:
        text = self.text
        shell_rx = r"(?:['\"](?:/[\w/]*/)?(?:ba|z|da|k|a)?sh['\"]|['\"]/bin/(?:ba|z|da|k|a)?sh\b[^'\"]*['\"]|cmd\.exe|powershell)"
        combos = (  # name, a literal every anchor match holds, the anchor, what must be near it
            ("python", "dup2", r"\bdup2\s*\(", (r"\bsocket\b", r"fileno\s*\(", shell_rx + r"|pty\.spawn")),
            ("perl", "STD", r"open\s*\(\s*STD(?:IN|OUT|ERR)\s*,\s*['\"]>&",
             (r"\bSocket\b|IO::Socket", r"\bexec\b|\bsystem\b", shell_rx)),
            ("php", "fsockopen", r"\bfsockopen\s*\(", (r"(?:exec|shell_exec|system|passthru|popen|proc_open)\s*\(\s*" + shell_rx,)),
            ("ruby", "TCPSocket.", r"TCPSocket\.(?:new|open)", (r"(?:exec|spawn|system|IO\.popen)\b", shell_rx)),
            ("node", "spawn", r"\bspawn\s*\(\s*" + shell_rx, (r"net\.(?:Socket|connect|createConnection|createServer)", r"\.pipe\s*\(")),
            ("go", "exec.Command", r"exec\.Command\s*\(\s*" + shell_rx, (r"net\.(?:Dial|Listen)\w*\s*\(", r"\.(?:Stdin|Stdout)\s*=")),
            ("lua", "io.popen", r"io\.popen\s*\(", (r":receive\s*\(", r":connect\s*\(|socket\.tcp|nixio\.connect|:accept\s*\(")),
        )
        # a whole file for a script of that language, else one line (a one-liner in a string)
        for name, literal, anchor, needs in combos:
            if literal not in text:  # a plain search: the anchors' leading \b keeps re from searching fast
                continue
            for m in re.finditer(anchor, text):
                window = _lines_around(text, m.start(), m.end(), _SHELL_WINDOW if self.lang in _SCRIPT_LANGS else 0)
                if not all(re.search(rx, window) for rx in needs):
                    continue
                listen = re.search(r"\.listen\s*\(|\baccept\s*\(|createServer|net\.Listen|:accept\s*\(|LocalPort|bind\s*\(", window)
                connect = re.search(r"\.connect\s*\(|fsockopen|TCPSocket\.(?:new|open)|net\.Dial|connect\(|createConnection|PeerAddr", window)
                rule = BIND_SHELL if listen and not connect else REVERSE_SHELL
                self.add(rule, m.start(), f"{name}-socket-shell (a socket is handed to a shell)", self.snippet(m.start()))
                break

    # -- web handlers: web shells and magic credentials -------------------------------------------------

    def web(self) -> None:
        text = self.text
        for rx, words in _WEB_SHELLS if any(n in text for n in _REQ_NEEDLES) else ():  # each holds a request field
            for m in _finditer_at(rx, text, words):
                self.add(WEB_SHELL, m.start(), "web-shell (a request parameter is run as a command or code)",
                         self.snippet(m.start()))
        # magic credential or user agent: request field compared with a literal
        if not any(n in text for n in _FIELD_NEEDLES):
            return
        for cmp_rx, words in _MAGIC_CMP:
            for m in cmp_rx.finditer(text) if words is None else _finditer_at(cmp_rx, text, words):
                name = next((g for g in (m.group(f"f{i}") for i in range(1, 8)) if g), "")
                value = m.group("lit")
                if not _credential_field(name) or _trivial_literal(value):
                    continue
                self.add(MAGIC_AUTH_SCRIPT, m.start(), f"magic-credential (request field {name!r} compared with the "
                         f"literal {_mask(value)})", _mask_in(self.snippet(m.start()), value))


_FIELD = (r"(?:\$_(?:GET|POST|REQUEST|COOKIE)\s*\[\s*['\"](?P<f1>[\w-]+)['\"]\s*\]|"
          r"\$_SERVER\s*\[\s*['\"](?P<f2>HTTP_USER_AGENT|PHP_AUTH_PW|HTTP_X_\w+)['\"]\s*\]|"
          r"(?:luci\.)?http\.formvalue\s*\(\s*['\"](?P<f3>[\w-]+)['\"]\s*\)|\$\{?(?P<f4>HTTP_USER_AGENT|FORM_\w+|HTTP_X_\w+)\}?|"
          r"\breq\.(?:query|body|params|headers)\s*(?:\.|\[\s*['\"])(?P<f5>[\w-]+)['\"]?\s*\]?|"
          r"\brequest\.(?:args|form|values|headers)(?:\.get\(\s*|\[\s*)['\"](?P<f6>[\w-]+)['\"]\s*[)\]]|"
          r"\bform\.getvalue\s*\(\s*['\"](?P<f7>[\w-]+)['\"]\s*\))")
_REQ_NEEDLES = ("$_", "formvalue", "QUERY_STRING", "req.", "request.", "getvalue", "params[")
"""A literal of each way of reading a request field in web(): a text without any holds no web shell."""
_FIELD_NEEDLES = ("$_", "formvalue", "HTTP_USER_AGENT", "FORM_", "HTTP_X_", "req.", "request.", "getvalue")
_LIT = r"(?P<q>['\"])(?P<lit>[^'\"\n]{4,64})(?P=q)"
_CMP_OP = r"(?:===?|!==?|\s-eq\s|\s=\s|\s!=\s)"
_FIELD_STARTS = ("$", "luci.", "http.", "req.", "request.", "form.")
"""What every match of _FIELD starts with."""
# (regex, the words every match of it starts with, see _finditer_at; None: it may start anywhere)
_MAGIC_CMP: tuple[tuple[re.Pattern[str], tuple[str, ...] | None], ...] = (
    (re.compile(rf"{_FIELD}['\"]?\s*{_CMP_OP}\s*{_LIT}"), _FIELD_STARTS),
    (re.compile(rf"{_LIT}\s*(?:===?|!==?)\s*{_FIELD}"), None),
    (re.compile(rf"\b(?:strcmp|strcasecmp|hash_equals)\s*\(\s*{_FIELD}\s*,\s*{_LIT}"),
     ("strcmp", "strcasecmp", "hash_equals")),
)
_REQ = (r"(?:\$_(?:GET|POST|REQUEST|COOKIE|SERVER)\s*\[|(?:luci\.)?http\.formvalue\s*\(|\$(?:\{)?QUERY_STRING|"
        r"\breq\.(?:query|body|params|headers)\b|\brequest\.(?:args|form|values|GET|POST)\b|"
        r"\bform\.getvalue\s*\(|\bparams\[)")
_WEB_SHELLS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple((re.compile(rx), words) for rx, words in (
    ((rf"(?<![\w>$:])(?:system|exec|shell_exec|passthru|popen|proc_open|eval|assert|pcntl_exec)\s*\(\s*"
      rf"(?:base64_decode\s*\(\s*|stripslashes\s*\(\s*)?{_REQ}"),
     ("system", "exec", "shell_exec", "passthru", "popen", "proc_open", "eval", "assert", "pcntl_exec")),
    (rf"`\s*{_REQ}", ("`",)),
    (rf"\b(?:os\.execute|io\.popen|luci\.sys\.(?:exec|call))\s*\(\s*{_REQ}", ("os.execute", "io.popen", "luci.sys.")),
    (rf"\b(?:os\.system|os\.popen|subprocess\.\w+)\s*\(\s*{_REQ}", ("os.system", "os.popen", "subprocess.")),
    (rf"\b(?:exec|execSync|eval)\s*\(\s*{_REQ}", ("exec", "eval")),
    (r"\beval\s+['\"]?\$(?:\{)?QUERY_STRING|\bsh\s+-c\s+['\"]?\$(?:\{)?QUERY_STRING", ("eval", "sh")),
))
"""Request fields run as commands or code, each with the words its every match starts with (see _finditer_at)."""


# -- helpers -----------------------------------------------------------------------------------------------

_HEX_LITERAL = re.compile(r"(['\"])((?:[0-9a-fA-F]{2}){3,2000})\1")
_NET_NAMES = {"axios", "http", "https", "net", "fetch", "request", "xmlhttprequest", "child_process", "dgram", "tls"}
_GLOBAL_BY_CODE = re.compile(r"\b(?:global|globalThis|window|self)\s*\[\s*(?:Buffer\.from|String\.fromCharCode|atob)\s*\(")
_JS_FUNC_DEF = re.compile(r"\bfunction\s+(?P<n1>[\w$]+)\s*\([^()]*\)\s*\{|"
                          r"\b(?:const|let|var)\s+(?P<n2>[\w$]+)\s*=\s*(?:function\s*\([^()]*\)|\(?[\w$\s,]*\)?\s*=>)")
_JS_DECODING = re.compile(r"fromCharCode|charCodeAt|\batob\s*\(|Buffer\.from|parseInt\([^()]*,\s*16\s*\)")


def _hex_text(body: str) -> str | None:
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        return None
    if not raw or any(b < 9 or (13 < b < 32) or b > 126 for b in raw):
        return None
    return raw.decode("ascii")


_WRITE_SINKS = re.compile(
    r"(?<![\w.])open\s*\(\s*(?P<f1>[^,()\n]+?)\s*,\s*['\"](?:w|a|x)\+?b\+?['\"]"
    r"|\burlretrieve\s*\(\s*[^,()\n]+,\s*(?P<f2>[^,()\n]+?)\s*[,)]"
    r"|\bwget\.download\s*\(\s*[^,()\n]+,\s*(?:out\s*=\s*)?(?P<f3>[^,()\n]+?)\s*[,)]"
    r"|\bfs\.(?:writeFileSync|writeFile|createWriteStream)\s*\(\s*(?P<f4>[^,()\n]+?)\s*[,)]"
    r"|\bos\.(?:Create|OpenFile)\s*\(\s*(?P<f5>[^,()\n]+?)\s*[,)]"
    r"|\b(?:ioutil|os)\.WriteFile\s*\(\s*(?P<f6>[^,()\n]+?)\s*,"
    r"|\bFile\.(?:write|binwrite|open)\s*\(\s*(?P<f7>[^,()\n]+?)\s*,"
    r"|\bfile_put_contents\s*\(\s*(?P<f8>[^,()\n]+?)\s*,"
)
_DOWNLOAD_NEAR = re.compile(
    r"\burlopen\s*\(|\burlretrieve\s*\(|requests\.get\s*\(|\bHTTPS?Connection\s*\(|\.getresponse\s*\(|"
    r"httpx\.get|\bfetch\s*\(|axios|\bhttps?\.get\s*\(|\bhttp\.Get\s*\(|\bnet\.Dial|\btls\.Dial|"
    r"Net::HTTP|URI\.open|open-uri|wget\.download|file_get_contents\s*\(\s*['\"]https?:|curl_exec"
)
_CHMOD_CALL = re.compile(r"\b(?:os\.chmod|fs\.chmodSync|fs\.chmod|os\.Chmod|File\.chmod|FileUtils\.chmod|chmod)\s*\(")
_RENAME_EXE = re.compile(
    r"\b(?:os\.rename|os\.replace|shutil\.move|fs\.renameSync|os\.Rename)\s*\(([^()\n]*?,\s*['\"][^'\"]+"
    r"\.(?:exe|bat|cmd|ps1|vbs|scr|sh|dll|msi|elf|bin)['\"])"
)
_EXEC_PREFIX = (r"(?:\bstart(?:\s+/[Bb])?(?:\s+\+x)?|\./|\bsh|\bbash|\bchmod\s+(?:[ugoa]*\+x|[0-7]*[1357][0-7]{0,2})|"
                r"\bwscript|\bcscript|\bpowershell(?:\s+-\w+)*|\bcmd(?:\.exe)?\s+/[ck]|\bnohup|\bexec|\bsetsid)")


def _mention_rx(target: str) -> re.Pattern[str] | None:
    lit = re.fullmatch(r"[rbuf]{0,2}(['\"])(.+)\1", target, re.IGNORECASE)
    if lit:
        inner = lit[2]
        return re.compile(rf"(?:\./)?{re.escape(inner)}(?![\w.])|(?:\./)?{re.escape(posixpath.basename(inner))}(?![\w.])")
    if re.fullmatch(r"[\w$.]+", target):
        return re.compile(rf"(?<![\w$.]){re.escape(target)}(?![\w$])")
    return None


def _runs(args: str, mention: re.Pattern[str], chmod: bool) -> str | None:
    """How a command call with ``args`` runs the file ``mention`` matches (None: it does not)."""
    first = mention.search(args)
    if first is None:
        return None
    if chmod:
        mode = args[first.end():]
        if re.search(r"IEXEC|IX(?:USR|GRP|OTH)|0o?[0-7]?[0-7]*[1357][0-7]{0,2}\b|\b[0-7]*[1357][0-7]{0,2}\b|"
                     r"\|\s*0o?111|\bperm\b|\bmode\b", mode) and (
                not re.search(r"\b0o?[0-7]?[0246]{3}\b", mode) or re.search(r"IEXEC|IX", mode)):
            return "made executable"
        return None
    before = args[: first.start()]
    if re.fullmatch(r"\s*\[?\s*(?:[rbuf]{0,2}['\"`])?\s*(?:\./)?\s*\{?\$?\{?", before, re.IGNORECASE):
        return "run"
    if re.search(_EXEC_PREFIX + r"[\s'\"`{$+]*$", before):
        return "run"
    return None



_SCRIPT_LANGS = ("py", "pl", "php", "rb", "js", "go", "lua")
_SHELL_WINDOW = 12
"""Lines either side of a socket-shell anchor where its other parts must be: shells are compact, and a
10,000-line debugger that has a socket somewhere and runs commands somewhere else is not one."""


def _lines_around(text: str, start: int, end: int, n: int) -> str:
    """The lines holding ``text[start:end]`` and ``n`` lines before and after them."""
    lo = start
    for _ in range(n + 1):
        lo = text.rfind("\n", 0, lo)
        if lo < 0:
            break
    hi = end - 1
    for _ in range(n + 1):
        hi = text.find("\n", hi + 1)
        if hi < 0:
            hi = len(text)
            break
    return text[lo + 1:hi]


def _squeeze_literals(args: str) -> str:
    """Long string literals shortened, so a 4 KB base64 blob does not look like code."""
    return re.sub(r"(['\"])([A-Za-z0-9+/=\\\s]{200,})\1", lambda m: m[1] + m[2][:40] + m[1], args)


def _literal_body(lit: str) -> str | None:
    m = re.match(r"^[rRbBuUfF]{0,2}(\"\"\"|'''|\"|'|`)(.*)\1$", lit, re.DOTALL)
    if not m or lit[:1] in "rR":
        return None
    return m[2]


def _unescape(body: str) -> str | None:
    try:
        return codecs.decode(body.encode("latin-1", "backslashreplace"), "unicode_escape")
    except (UnicodeError, ValueError):
        return None


def _json_unescape(s: str) -> str:
    try:
        import json

        return json.loads(f'"{s}"')
    except ValueError:
        return s


def _class_body(text: str, name: str) -> str | None:
    m = re.search(rf"^(?P<indent>[ \t]*)class\s+{re.escape(name)}\b[^\n]*:\s*\n", text, re.MULTILINE)
    if not m:
        return None
    indent = len(m.group("indent"))
    out = []
    for line in text[m.end():].split("\n"):
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        out.append(line)
    return "\n".join(out)


_BUILD_TOOLS = re.compile(
    r"^\s*(?:node-gyp(?:-build)?(?:\s+rebuild)?|prebuild-install(?:\s.*)?|node-pre-gyp\s+install.*|husky(?:\s+install)?|"
    r"npx\s+only-allow\s+\w+|only-allow\s+\w+|patch-package|ngcc.*|opencollective(?:-postinstall)?(?:\s.*)?|"
    r"node\s+(?:-e\s+)?['\"]?try\s*\{\s*require\(['\"]\./postinstall['\"]\)|cmake-js\s+\w+|tsc|echo\b[^|;&]*|"
    r"exit\s+0|true)\s*$"
)


def _known_build_tool(code: str) -> bool:
    parts = [p for p in re.split(r"&&|\|\||;", code) if p.strip()]
    return bool(parts) and all(_BUILD_TOOLS.match(p) for p in parts) and not all(
        re.match(r"\s*echo\b", p) for p in parts)


_CRED_FIELD = re.compile(r"pass|pwd|secret|token|key|auth|user.?agent|magic|backdoor|debug|su$|login|cred", re.IGNORECASE)


def _credential_field(name: str) -> bool:
    return bool(_CRED_FIELD.search(name))


_TRIVIAL = {"", "0", "1", "true", "false", "yes", "no", "on", "off", "none", "null", "undefined", "admin", "root",
            "login", "logout", "submit", "save", "apply", "cancel", "ok", "enable", "disable", "enabled", "disabled",
            "password", "user", "guest", "default", "auto", "get", "post", "checked"}


def _trivial_literal(value: str) -> bool:
    v = value.strip().lower()
    return v in _TRIVIAL or len(v) < 4 or bool(re.fullmatch(r"[\d.]+|[a-z_]+_?(?:ok|error|fail|failed)", v))


def _mask(secret: str) -> str:
    return secret[:2] + "*" * min(max(len(secret) - 2, 1), 8)


def _mask_in(snippet: str, secret: str) -> str:
    return snippet.replace(secret, _mask(secret))


def _entropy(s: str) -> float:
    counts: dict[str, int] = {}
    for ch in s:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(c / len(s) * math.log2(c / len(s)) for c in counts.values())


# -- programs: bind shells and magic values -------------------------------------------------------------

_NET_IMPORTS = {"socket", "bind", "listen", "accept"}
_ELF_SHAPE = {"socket", "dup2"}  # programs worth reading strings of even without a trigger
_EXEC_IMPORTS = {"execve", "execl", "execv", "execlp", "execvp", "execle", "system", "popen", "posix_spawn"}
_LOGIN_IMPORTS = {"crypt", "getspnam", "getpwnam", "openpty", "forkpty", "grantpt", "posix_openpt", "pam_start",
                  "pam_authenticate", "SSL_new", "getpass", "login_tty", "unlockpt", "ptsname"}
_CMP_IMPORTS = {"strcmp", "strncmp", "strcasecmp", "strncasecmp", "memcmp", "strstr", "strcasestr"}
_NET_INPUT = {"recv", "recvfrom", "recvmsg", "accept", "SSL_read"}
_INPUT_IMPORTS = _NET_INPUT | {"getenv"}
# a word of the authentication vocabulary, standing alone (not inside an identifier like app_passwd or
# BcmCfmImpl_getEnAuth, which are symbol names), in any case: searched over lower-cased text with the look-behind
# tested at each place, five times faster than a case-blind scan of a program's strings
_AUTH_LOWER = re.compile(r"(?:pass(?:word|wd|phrase)|login|user(?:name|-agent)|http_user_agent|authorization|backdoor)"
                         r"(?![a-z0-9_])")
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _auth_words(text: str) -> Iterator[int]:
    """Where a word of the authentication vocabulary stands alone in ``text``, printable ASCII (a program's
    strings)."""
    low = text.lower()
    for m in _AUTH_LOWER.finditer(low):
        start = m.start()
        if start == 0 or low[start - 1] not in _WORD_CHARS:
            yield start


_MAGIC_SHAPE = re.compile(r"^[A-Za-z0-9_+!@#$^*.=~-]{8,40}$")


def _looks_magic(s: str) -> bool:
    """A secret-looking literal: random-looking letters and scattered digits, no spaces, formats, paths,
    options, symbols or identifiers (wlan_passwd2, PKCS12_create_ex, pkcs11Pin), no hashes or versions."""
    if not _MAGIC_SHAPE.match(s) or "%" in s or "/" in s or s.startswith(("-", "_Z")) or s.endswith("="):
        return False
    if sum(c.islower() for c in s) < 3:
        return False
    groups = re.findall(r"\d+", s)
    if not (len(groups) >= 2 or re.search(r"[A-Za-z]\d{4,}[A-Za-z]", s)):
        return False
    if re.fullmatch(r"[0-9a-fA-F]+", s):  # hashes
        return False
    if re.fullmatch(r"[A-Za-z]+\d*(?:[_.-][A-Za-z]+\d*)*", s):  # identifiers like wlan_passwd2
        return False
    if re.fullmatch(r"[A-Za-z]+\d+(?:\.\d+)+\w*|v?\d+(?:\.\d+)+.*", s):  # versions
        return False
    if re.search(r"(?:abcdef|ABCDEF|0123456|123456789|qwerty|ghijkl)", s):  # alphabets and tables
        return False
    return _entropy(s) >= 0.85 * math.log2(len(s))


_SHELL_STRING = re.compile(r"\s*(?:/bin/|/usr/bin/)?(?:ba|a|da)?sh(?:\s+-i)?\s*")
_CGI_NAMES = frozenset({"QUERY_STRING", "HTTP_USER_AGENT", "REQUEST_METHOD"})


class _Joined:
    """A program's strings joined by newlines, with where each starts, built once for the heuristics that search
    them all: one regex pass over the joined text instead of one call per string (a program has thousands)."""

    __slots__ = ("starts", "strings", "text", "texts")

    def __init__(self, strings: tuple[tuple[int, str], ...]):
        self.strings = strings
        self.texts: list[str] = list(map(itemgetter(1), strings))
        self.text = "\n".join(self.texts)
        # the i-th string starts after the i strings before it and their i newlines
        self.starts: list[int] = list(map(add, accumulate(map(len, self.texts), initial=0), range(len(strings) + 1)))

    def index(self, pos: int) -> int:
        """The string that holds offset ``pos`` of the joined text (or the newline after it)."""
        return bisect.bisect_right(self.starts, pos) - 1


def _elf_findings(item: Item, imports: set[str], joined: _Joined) -> Iterator[Hit]:
    """``imports``: the program's imported names, without their versions."""
    if not imports:
        return
    strings, values = joined.strings, joined.texts
    if (
        _NET_IMPORTS <= imports and "dup2" in imports and imports & _EXEC_IMPORTS
        and not imports & _LOGIN_IMPORTS and len(imports) <= 60 and item.facts.size <= 200_000
        and any(_SHELL_STRING.fullmatch(v) for v in values)
        and not any(v.startswith("BusyBox v") for v in values)
    ):
        off = next(o for o, v in strings if _SHELL_STRING.fullmatch(v))
        used = sorted((_NET_IMPORTS | {"dup2"} | (imports & _EXEC_IMPORTS)) & imports)
        yield Hit(BIND_SHELL_ELF, off, f"bind-shell-program (imports {', '.join(used)}; no login functions; "
                  f"{len(imports)} imports)", f"elf-bind:{','.join(used)}")
    cgi = "getenv" in imports and not _CGI_NAMES.isdisjoint(values)
    if imports & _CMP_IMPORTS and (imports & _NET_INPUT or cgi) and item.facts.size <= 4 * 2**20:
        last = -1
        for start in _auth_words(joined.text):  # the strings holding a word of the vocabulary, in order
            i = joined.index(start)
            if i == last:
                continue
            last = i
            off, s = strings[i]
            if len(s) > 80:
                continue
            for j in range(max(0, i - 2), min(len(strings), i + 3)):
                o2, cand = strings[j]
                if j == i or abs(o2 - off) > 96 or not _looks_magic(cand.strip()):
                    continue
                yield Hit(MAGIC_AUTH_ELF, o2, f"magic-literal (secret-looking literal {_mask(cand.strip())} next to "
                          f"{s.strip()[:40]!r}; imports {', '.join(sorted(imports & _CMP_IMPORTS))})",
                          f"elf-magic:{cand.strip()}")
                return


# -- the check --------------------------------------------------------------------------------------------


class MalcodeCheck:
    """Heuristics for unknown backdoors and malicious code (see the module docstring)."""

    ID: ClassVar[str] = "malcode"
    TITLE: ClassVar[str] = "Malicious code and unknown backdoors (heuristics)"
    RULES: ClassVar[tuple[Rule, ...]] = RULES
    PATTERNS: ClassVar[tuple[Pattern, ...]] = PATTERNS
    ISOLATED: ClassVar[bool] = True
    """Reads and writes no report section: may run in a process of its own (see checks.runner)."""
    COST: ClassVar[int] = 4

    def run(self, inv: Inventory, sections: dict[str, list[dict]]) -> Iterable[Finding]:
        out: list[Finding] = []
        memo, strings_memo = self._memos()
        for item in inv.items:
            if item.facts.kind != "elf" and item.facts.text is None and item.facts.kind in ("script", "text"):
                # text not kept (memory budget): said once per file, never remembered (it depends on the scan)
                triggers = {pid.split("/", 1)[1] for pid, _s, _e in item.facts.matched("VER-MAL/")}
                if (triggers or _always(item)) and language(item.node.path, item) in (*_SCRIPT_LANGS, "sh") \
                        and not item.node.path.lower().endswith((".html", ".htm")):
                    out.append(UNANALYSED.finding(path=item.node.path, container=item.tree.container,
                                                  evidence=f"{item.facts.size} bytes, text not kept"))
                continue
            key = file_key(item)
            entries = inv.recall(CACHE_NAMESPACE, key)
            if not _valid_entries(entries):
                entries = self._entries(item, inv, memo, strings_memo)
                inv.keep(CACHE_NAMESPACE, key, entries)
            out.extend(_from_entries(item, entries))
        return out

    def _shares(self, inv: Inventory, parts: int) -> list[list[Item]]:
        """The files in ``parts`` shares, worked out once per process (every share asks)."""
        planned = getattr(self, "_planned", None)
        if planned is None or planned[0] is not inv or planned[1] != parts:
            work = [item for item in inv.items if not (
                item.facts.kind != "elf" and item.facts.text is None and item.facts.kind in ("script", "text"))]
            # the cost of a file: its size when a pattern brought it in (or it is always read), a look otherwise
            weights = [1 + (item.facts.size / 1024 if item.facts.matched("VER-MAL/") or _always(item) else 0)
                       for item in work]
            planned = self._planned = (inv, parts, shares(work, weights, parts))
        return planned[2]

    def prefetch(self, inv: Inventory, part: int, parts: int) -> dict[tuple[str, str], Any]:
        """The entries of the ``part``-th of ``parts`` shares of the files, unless an earlier scan kept them: a share
        of the per-file work, done by another process while :meth:`run` waits (see checks.runner)."""
        memo, strings_memo = self._memos()
        out: dict[tuple[str, str], Any] = {}
        for item in self._shares(inv, parts)[part]:
            key = file_key(item)
            if _valid_entries(inv.recall(CACHE_NAMESPACE, key)):
                continue
            entries = self._entries(item, inv, memo, strings_memo)
            inv.keep(CACHE_NAMESPACE, key, entries)
            out[(CACHE_NAMESPACE, key)] = entries
        return out

    def _memos(self) -> tuple[dict, dict]:
        """What this process worked out by content, for :meth:`_entries`: identical files are common (copies, hard
        links, in one batch of files or in the next), and a file's hits depend on its content and triggers (its
        path only through the inetd and package.json names). Bounded: forgotten past ``_MEMO_ENTRIES``."""
        memos = getattr(self, "_by_content", None)
        if memos is None or len(memos[0]) + len(memos[1]) > _MEMO_ENTRIES:
            memos = self._by_content = ({}, {})
        return memos

    @staticmethod
    def _entries(item: Item, inv: Inventory, memo: dict, strings_memo: dict) -> list[list]:
        """The hits of one file as JSON-ready entries (see :func:`_entry`)."""
        triggers = {pid.split("/", 1)[1] for pid, _s, _e in item.facts.matched("VER-MAL/")}
        families = {t.split("/")[0] for t in triggers}
        kind = item.facts.kind
        if kind == "elf":
            elf = item.facts.elf
            imports = {i.split("@")[0] for i in elf.imports} if elf is not None else set()
            wants_elf = elf is not None and (
                _ELF_SHAPE <= imports or families & {"shell", "web"}
                or ("auth" in families and imports & _CMP_IMPORTS and imports & _NET_INPUT))
            if not wants_elf:
                return []
            key = (item.facts.sha256, "elf", frozenset(triggers), _path_traits(item.node.path))
            done = memo.get(key)
            if done is None:
                strings = inv.strings(item)
                joined = _Joined(strings)
                hits = list(_elf_findings(item, imports, joined))
                if "shell" in families and strings:
                    hits += _strings_scan_memo(strings_memo, item, joined, triggers)
                done = memo[key] = [_entry(h, None) for h in hits]
            return done
        if not families and not _always(item):
            return []
        text = item.facts.text
        if text is None:
            if "shell" not in families:
                return []
            strings = inv.strings(item)
            return [_entry(h, None) for h in _strings_scan_memo(strings_memo, item, _Joined(strings), triggers)] \
                if strings else []
        lang = language(item.node.path, item)
        if lang is None:
            return []
        key = (item.facts.sha256, lang, frozenset(triggers), _path_traits(item.node.path))
        done = memo.get(key)
        if done is None:
            scan = _TextScan(item.node.path, text, lang, triggers)
            done = memo[key] = [_entry(h, scan.line_of(h.offset)) for h in scan.run()]
        return done


CACHE_NAMESPACE = "malcode-file"
_MEMO_ENTRIES = 50_000
_RULES_BY_ID = {r.id: r for r in RULES}


def _entry(h: Hit, line: int | None) -> list:
    """A hit as kept: ``[rule id, offset, evidence, key, severity, title, line]`` (line: text files only)."""
    return [h.rule.id, h.offset, h.evidence, h.key, h.severity, h.title, line]


def _valid_entries(entries: object) -> bool:
    """Kept entries of the shape :func:`_entry` writes (anything else is computed again)."""
    return isinstance(entries, list) and all(
        isinstance(e, list) and len(e) == 7 and isinstance(e[0], str) and isinstance(e[1], int)
        and isinstance(e[2], str) and isinstance(e[3], str) and (e[4] is None or e[4] in SEVERITIES)
        and (e[6] is None or isinstance(e[6], int))
        for e in entries)


def _from_entries(item: Item, entries: list[list]) -> list[Finding]:
    """Findings of one file from its entries: one per rule and line (text) or offset (binaries)."""
    out: list[Finding] = []
    seen: set[tuple[str, int | str]] = set()
    counts: dict[str, int] = {}
    for rule_id, offset, evidence, key, severity, _title, line in sorted(entries, key=lambda e: (e[1], e[0])):
        rule = _RULES_BY_ID.get(rule_id)
        if rule is None:  # kept by a build with other rules: the code digest makes this unlikely
            continue
        where: int | str = line if line is not None else offset
        if (rule_id, where) in seen:
            continue
        seen.add((rule_id, where))
        counts[key] = counts.get(key, 0) + 1
        out.append(rule.finding(
            path=item.node.path, container=item.tree.container, evidence=evidence, line=line,
            offset=offset if line is None else None, severity=severity,
            key=key if counts[key] == 1 else f"{key}#{counts[key]}",
        ))
    return out


def _always(item: Item) -> bool:
    return posixpath.basename(item.node.path) in ("inetd.conf",) and item.facts.text is not None


def _path_traits(path: str) -> tuple[bool, bool]:
    """What of a file's path the text heuristics use: an inetd configuration, an npm manifest."""
    base = posixpath.basename(path)
    return ("inetd" in base or "/xinetd.d/" in path), base == "package.json"


def _strings_scan_memo(memo: dict[tuple[object, ...], list[Hit]], item: Item, joined: _Joined,
                       triggers: set[str]) -> list[Hit]:
    """_strings_scan, once per content (the strings and their offsets are the content's)."""
    key = (item.facts.sha256, frozenset(t for t in triggers if t.startswith("shell/")), _path_traits(item.node.path))
    hits = memo.get(key)
    if hits is None:
        hits = memo[key] = _strings_scan(item, joined, triggers)
    return hits


def _strings_scan(item: Item, joined: _Joined, triggers: set[str]) -> list[Hit]:
    """Shell detectors over a program's strings (one per line; offsets are the strings' file offsets)."""
    scan = _TextScan(item.node.path, joined.text, "text", {t for t in triggers if t.startswith("shell/")})
    scan.shell()
    out = []
    for h in scan.hits:
        k = joined.index(h.offset)
        file_off = joined.strings[k][0] + (h.offset - joined.starts[k]) if k >= 0 else None
        out.append(Hit(h.rule, file_off if file_off is not None else 0, h.evidence, h.key, h.severity))
    return out
