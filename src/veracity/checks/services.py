"""What starts at boot, and who can reach it.

The boot path is followed statically (:mod:`.boot`): init's table, the rc scripts it runs and everything they
call, OpenWrt procd scripts enabled by ``/etc/rc.d`` links, systemd units enabled by ``*.wants`` links,
inetd/xinetd entries of a superserver that is started, cron tables. Every service found becomes an entry of
the report's ``services`` section (the file chain that starts it, its ports, what guards it, and which
accounts can log in through it when an accounts check ran first), and the ways in become findings:
remote shells and file transfer, shells served without login, debug services, other listeners, and shells on
a console without login.

Limits, by design of a static walk: branches on values known only at run time (NVRAM, UCI read by
``config_get``, command output) are all walked and the services they start are marked ``conditional``;
scripts written to /tmp or /var at run time, and daemons a vendor binary spawns itself, are not seen (except
the services of monolithic vendor daemons the data file describes, such as Broadcom's CFM); UCI is read for
dropbear and uhttpd only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from ..findings import Finding, Rule
from ..inventory import Inventory
from ..tree import Tree
from .base import NotApplicable
from .boot import entries
from .boot.daemons import Service, catalogue, classify
from .boot.interp import UNK, Walker

_REFS_INIT = (
    "https://git.busybox.net/busybox/tree/examples/inittab",
    "https://openwrt.org/docs/guide-developer/procd-init-scripts",
    "https://www.freedesktop.org/software/systemd/man/latest/systemd.socket.html",
)

REMOTE_ACCESS = Rule(
    "VER-SVC-001",
    "service.remote-access",
    "high",
    "Remote login or file-transfer service started at boot",
    "A telnet, rlogin, rsh, rexec, FTP or TFTP server (or a web terminal) is started at boot. These protocols "
    "send credentials and data in clear text or have no authentication at all; a device should not expose "
    "them unless the buyer turns them on.",
    ("EN303645:5.6-1", "EN303645:5.6-5", "EN303645:5.5-1", "TS33117:4.3.2.1"),
    ("https://cwe.mitre.org/data/definitions/319.html", "https://cwe.mitre.org/data/definitions/1188.html",
     *_REFS_INIT),
)
SHELL_ON_PORT = Rule(
    "VER-SVC-002",
    "service.remote-access",
    "critical",
    "Shell served on a network port without login",
    "A service started at boot hands a command shell to whoever connects, with no login (telnetd -l /bin/sh, "
    "nc -l -e /bin/sh, an inetd entry running a shell, an SSH server that accepts blank passwords for an account "
    "without one). Anyone who can reach the port controls the device.",
    ("EN303645:5.5-4", "EN303645:5.6-1", "EN303645:5.6-5", "TS33117:4.2.3.4.1.1", "TS33117:4.3.2.1", "GDSI:7"),
    ("https://cwe.mitre.org/data/definitions/306.html", "https://busybox.net/downloads/BusyBox.html#telnetd",
     *_REFS_INIT),
)
DEBUG = Rule(
    "VER-SVC-003",
    "service.remote-access",
    "high",
    "Debug service started at boot",
    "A debugging or development agent (adbd, gdbserver, a TCF agent, serial-over-network) is started at boot. "
    "It gives control of the device or of its processes and does not belong in a production image.",
    ("EN303645:5.6-1", "EN303645:5.6-5", "EN303645:5.6-6", "TS33117:4.3.2.1", "TS33117:4.3.2.4", "GDSI:7"),
    ("https://cwe.mitre.org/data/definitions/489.html", *_REFS_INIT),
)
LISTENER = Rule(
    "VER-SVC-004",
    "service.listener",
    "low",
    "Network listener started at boot",
    "A network service (web server, SSH, DNS, DHCP, UPnP, SNMP, ...) is started at boot. Each one is attack "
    "surface: check it is needed, reachable only where intended, and protected.",
    ("EN303645:5.6-1", "EN303645:5.6-5", "TS33117:4.3.2.1", "TS33117:4.3.2.2"),
    _REFS_INIT,
)
CONSOLE_SHELL = Rule(
    "VER-SVC-005",
    "config.insecure",
    "high",
    "Shell on a console without login",
    "init starts a shell, or a getty/login that skips authentication, on a console (serial port or virtual "
    "terminal). Anyone with physical access to the UART or the keyboard gets a root shell.",
    ("EN303645:5.6-4", "TS33117:4.2.3.4.1.1"),
    ("https://cwe.mitre.org/data/definitions/1191.html", "https://cwe.mitre.org/data/definitions/306.html",
     "https://git.busybox.net/busybox/tree/examples/inittab"),
)
INCOMPLETE = Rule(
    "VER-SVC-006",
    "analysis.incomplete",
    "low",
    "Boot configuration could not be followed completely",
    "A boot script or configuration file could not be parsed completely, or the boot path was too deep or too "
    "large to follow; services it starts may be missing from the report.",
    (),
    ("https://pubs.opengroup.org/onlinepubs/9699919799/utilities/V3_chap02.html",),
)

_LOGIN_CLASSES = ("remote-shell", "ssh", "getty", "login", "file-transfer")
_STATE_WORDS = {"cracked": "a default password", "plaintext": "a hard-coded password", "empty": "no password"}


class ServicesCheck:
    ID: ClassVar[str] = "services"
    TITLE: ClassVar[str] = "Services started at boot and who can reach them"
    RULES: ClassVar[tuple[Rule, ...]] = (REMOTE_ACCESS, SHELL_ON_PORT, DEBUG, LISTENER, CONSOLE_SHELL, INCOMPLETE)
    PATTERNS: ClassVar[tuple] = ()

    def run(self, inv: Inventory, sections: dict[str, list[dict]]) -> Iterable[Finding]:
        cat = catalogue()
        walkers = []
        for tree in inv.trees:
            walker = Walker(inv, tree, cat.shells, cat.ports)
            if entries.entry_points(walker):
                walkers.append(walker)
        if not walkers:
            raise NotApplicable(
                "no boot configuration in the image (no inittab, rcS, rc.d or rcN.d start links, systemd units "
                "or crontabs)"
            )
        return list(self._run(walkers, sections))

    def _run(self, walkers: list[Walker], sections: dict[str, list[dict]]) -> Iterator[Finding]:
        cat = catalogue()
        accounts = sections.get("accounts")
        out = sections.setdefault("services", [])
        for walker in walkers:
            tree = walker.tree
            entries.walk(walker)
            for p in walker.problems:
                yield INCOMPLETE.finding(path=p.path, container=tree.container, line=p.line, evidence=p.message,
                                         key=f"{p.line}:{p.message}")
            reader = _Reader(walker)
            seen: set[tuple] = set()
            for launch in walker.launches:
                for svc in classify(launch, reader, cat):
                    key = (svc.name, svc.binary, tuple(svc.args), tuple(svc.ports), svc.tty)
                    if key in seen:
                        continue
                    seen.add(key)
                    record = _record(svc, tree, accounts)
                    out.append(record)
                    finding = _finding(svc, tree, record)
                    if finding is not None:
                        yield finding


class _Reader:
    """File access for the classifier, without reporting: a missing or binary configuration is no problem."""

    def __init__(self, walker: Walker):
        self.walker = walker

    def text(self, path: str) -> str | None:
        node = self.walker.tree.resolve(path)
        if node is None or node.kind != "file":
            return None
        item = self.walker.item(node.path)
        return item.facts.text if item is not None else None

    def strings_of(self, path: str) -> list[str]:
        item = self.walker.item(path)
        if item is None:
            return []
        if item.facts.text is not None:
            return [item.facts.text]
        return [s for _, s in self.walker.inv.strings(item)]


def _credentials(svc: Service, accounts: list[dict] | None, container: tuple[str, ...]) -> list[dict[str, Any]]:
    if not accounts or svc.klass not in _LOGIN_CLASSES or svc.auth in ("none", "unknown") or svc.protocol == "tftp":
        return []
    out = []
    for a in accounts:
        if not a.get("login"):
            continue
        if a.get("container") is not None and list(a["container"]) != list(container):
            continue
        if svc.no_root and a.get("uid") == 0:
            continue
        cred = {"name": a.get("name"), "uid": a.get("uid"), "password_state": a.get("password_state")}
        if a.get("password_hint"):
            cred["password_hint"] = a["password_hint"]
        out.append(cred)
    return out


def _ports_text(ports: list[tuple[str, int]]) -> str:
    return ", ".join(f"{port}/{proto}" for proto, port in ports)


def _where(svc: Service) -> str:
    if svc.ports:
        return _ports_text(svc.ports)
    if svc.tty:
        serial = svc.tty.startswith(("ttyS", "ttyAMA", "ttyO", "ttymxc", "ttyMSM", "ttyHS", "ttyLTQ", "ttyATH",
                                     "ttyUSB", "ttyACM", "hvc"))
        if svc.tty == "console":
            return "the console"
        return f"the {'serial ' if serial else ''}console {svc.tty}"
    return ""


def _access(svc: Service, creds: list[dict[str, Any]]) -> str:
    if svc.auth == "none":
        if svc.note and svc.shell_served:
            return svc.note
        if svc.shell_served:
            return "a shell without login"
        if svc.klass == "ssh":
            return "blank passwords accepted"
        return "no authentication"
    if svc.auth == "key":
        return "key login only"
    if svc.auth == "password":
        if creds:
            parts = []
            for c in creds[:3]:
                state = str(c.get("password_state") or "")
                words = _STATE_WORDS.get(state, "a password" if state.startswith("hash") else f"password {state}")
                parts.append(f"{c['name']} with {words}")
            more = f" and {len(creds) - 3} more" if len(creds) > 3 else ""
            return "login as " + ", ".join(parts) + more
        return "password login"
    return ""


def _shown(text: str) -> str:
    """Values the walk could not know are shown as ``<unknown>``."""
    return text.replace(UNK, "<unknown>")


def _record(svc: Service, tree: Tree, accounts: list[dict] | None) -> dict[str, Any]:
    creds = _credentials(svc, accounts, tree.container)
    if svc.blank_passwords and any(c.get("password_state") == "empty" for c in creds):
        svc.auth = "none"
    started = svc.started_by[-1] if svc.started_by else None
    by = f"started by {started}" if started else "started at boot"
    if svc.how in ("inetd", "xinetd") and started:
        by = f"started by {svc.how} ({started})"
    where = _where(svc)
    summary = f"{svc.name} on {where}, {by}" if where else f"{svc.name} (no network port), {by}"
    access = _access(svc, creds)
    if access:
        summary += f", {access}"
    if svc.loopback:
        summary += ", loopback interface only"
    if svc.conditional:
        summary += " (under a condition the analysis could not decide)"
    record: dict[str, Any] = {
        "name": svc.name,
        "binary": svc.binary,
        "args": [_shown(a) for a in svc.args],
        "ports": [{"proto": proto, "port": port} for proto, port in svc.ports],
        "auth": svc.auth,
        "started_by": list(svc.started_by),
        "container": list(tree.container),
        "line": svc.line,
        "credentials": creds,
        "summary": summary,
        "class": svc.klass,
        "protocol": svc.protocol,
        "tty": svc.tty,
        "conditional": svc.conditional,
        "how": svc.how,
    }
    if svc.loopback:
        record["bind"] = "loopback"
    if svc.config:
        record["config"] = svc.config
    if svc.note:
        record["note"] = svc.note
    return record


def _finding(svc: Service, tree: Tree, record: dict[str, Any]) -> Finding | None:
    path = svc.started_by[-1] if svc.started_by else None
    evidence = _shown(svc.evidence or " ".join([svc.binary or svc.name, *svc.args]))
    key = _shown(f"{svc.name}|{svc.binary}|{' '.join(svc.args)}|{_ports_text(svc.ports)}|{svc.tty}")
    where = _where(svc)
    cond = " (conditional)" if svc.conditional else ""
    severity = None
    if svc.loopback:
        return None  # reachable from the device itself only
    if svc.shell_served and not svc.ports and svc.tty:
        rule, title = CONSOLE_SHELL, f"Shell without login on {where}: {svc.name}{cond}"
    elif svc.auth == "none" and svc.klass == "ssh" and svc.ports:
        names = ", ".join(c["name"] for c in record["credentials"] if c.get("password_state") == "empty")
        rule, title = SHELL_ON_PORT, f"{svc.name} on {where} accepts a blank password for {names}{cond}"
    elif svc.auth == "none" and (svc.shell_served or svc.klass == "remote-shell") and svc.ports:
        rule, title = SHELL_ON_PORT, f"{svc.name} gives a shell without login on {where}{cond}"
    elif svc.klass in ("remote-shell", "file-transfer", "ssh") and svc.auth == "none" and not svc.ports:
        return None
    elif svc.klass in ("remote-shell", "file-transfer"):
        rule = REMOTE_ACCESS
        title = f"{svc.protocol or svc.name} server {svc.name} started at boot on {where}{cond}"
    elif svc.klass == "debug":
        rule, title = DEBUG, f"Debug service {svc.name} started at boot{' on ' + where if svc.ports else ''}{cond}"
    elif svc.ports and svc.klass not in ("getty", "login", "shell"):
        rule, title = LISTENER, f"{svc.name} listens on {where} from boot{cond}"
        severity = svc.severity
    else:
        return None
    evidence = f"{evidence} [{record['summary']}]"
    return rule.finding(path=path, container=tree.container, evidence=evidence[:500], title=title, line=svc.line,
                        severity=severity, key=key)
