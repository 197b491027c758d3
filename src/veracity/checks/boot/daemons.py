"""Which launches are services, where they listen and what guards them.

The facts (default ports, option letters, classes) are data: ``veracity/data/services.json``. A launch is
a service when its program is a known daemon, or when it was started the way daemons are (``&``,
respawn, start-stop-daemon, procd, a unit's ExecStart, a superserver) and is not a plain utility. Ports
come from the command line first (``-p 2323``, ``-p 0.0.0.0:22``), then from the daemon's configuration
the image holds (OpenWrt UCI, sshd_config, vsftpd.conf), then from the daemon's defaults.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Protocol

from .interp import _TTY, UNK, Launch

OFF = ("0", "off", "no", "false", "disabled")


@dataclass(slots=True)
class Service:
    name: str
    binary: str | None
    args: list[str]
    ports: list[tuple[str, int]]
    auth: str
    started_by: tuple[str, ...]
    line: int | None
    evidence: str
    klass: str
    protocol: str | None = None
    tty: str | None = None
    conditional: bool = False
    shell_served: bool = False
    """A shell handed out without login (on a port or a console)."""
    no_root: bool = False
    blank_passwords: bool = False
    loopback: bool = False
    """Bound to the loopback interface only: not reachable from the network."""
    severity: str | None = None
    how: str = "script"
    note: str | None = None
    config: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Reader(Protocol):
    def text(self, path: str) -> str | None: ...

    def strings_of(self, path: str) -> list[str]: ...


@cache
def catalogue() -> Catalogue:
    raw = resources.files("veracity.data").joinpath("services.json").read_text(encoding="utf-8")
    return Catalogue(json.loads(raw))


class Catalogue:
    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.daemons: dict[str, dict[str, Any]] = data["daemons"]
        self.shells = frozenset(data["shells"])
        self.ports: dict[str, list[str]] = data["ports"]
        self.not_services = frozenset(data.get("not_services", ()))
        self.index: dict[str, str] = {}
        for name, entry in self.daemons.items():
            self.index[name] = name
            for alias in entry.get("aliases", ()):
                self.index.setdefault(alias, name)

    def get(self, name: str) -> tuple[str, dict[str, Any]] | None:
        key = self.index.get(name)
        if key is None and name.startswith("in."):
            key = self.index.get(name[3:])
        return (key, self.daemons[key]) if key else None


def classify(launch: Launch, reader: Reader, cat: Catalogue | None = None) -> list[Service]:
    cat = cat or catalogue()
    name = launch.name
    if name in cat.shells:
        return _shell(launch)
    found = cat.get(name)
    if found is None:
        if launch.ports:
            return [_service(launch, "unknown", list(launch.ports), "unknown", protocol=None)]
        if launch.daemon and launch.binary and name not in cat.not_services:
            return [_service(launch, "unknown", [], "unknown", protocol=None)]
        return []
    _, entry = found
    klass = entry["class"]
    if klass == "getty":
        return _getty(launch, entry, cat)
    if klass == "login":
        return _login(launch, entry)
    if klass == "netcat":
        return _netcat(launch, entry, cat)
    if klass == "socat":
        return _socat(launch, cat)
    services = _generic(launch, entry, cat, reader)
    if services and "embedded" in entry:
        services.extend(_embedded(launch, entry["embedded"], reader))
    return services


def _service(launch: Launch, klass: str, ports: list[tuple[str, int]], auth: str, **kw) -> Service:
    return Service(
        name=launch.name, binary=launch.binary, args=list(launch.args), ports=ports, auth=auth,
        started_by=launch.chain, line=launch.line, evidence=launch.evidence, klass=klass,
        conditional=launch.conditional, how=launch.how, **kw,
    )


# -- options ------------------------------------------------------------------------------------------------


def flag_values(args: tuple[str, ...] | list[str], flags: list[str]) -> list[str]:
    """Values of ``flags`` in ``args``: ``-p 23``, ``-p23``, bundled ``-lp 23``, ``--port=23``, ``--port 23``."""
    shorts = {f[1] for f in flags if len(f) == 2 and f[0] == "-"}
    longs = {f for f in flags if f.startswith("--")}
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            break
        if a.startswith("--"):
            name, eq, value = a.partition("=")
            if name in longs:
                if eq:
                    out.append(value)
                elif i + 1 < len(args):
                    out.append(args[i + 1])
                    i += 1
        elif a.startswith("-") and len(a) >= 2:
            for k in range(1, len(a)):
                if a[k] in shorts:
                    rest = a[k + 1:]
                    if rest:
                        out.append(rest)
                    elif i + 1 < len(args):
                        out.append(args[i + 1])
                        i += 1
                    break
                if not a[k].isalpha():
                    break
        i += 1
    return out


def flag_present(args: tuple[str, ...] | list[str], flags: list[str]) -> bool:
    shorts = {f[1] for f in flags if len(f) == 2 and f[0] == "-"}
    longs = {f for f in flags if f.startswith("--")}
    for a in args:
        if a == "--":
            break
        if a.startswith("--"):
            if a.partition("=")[0] in longs:
                return True
        elif re.fullmatch(r"-[A-Za-z]+", a) and shorts & set(a[1:]):
            return True
    return False


def _loopback(value: str) -> bool:
    host = value.rsplit(":", 1)[0] if re.search(r":\d+$", value) else value
    host = host.strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


def port_of(value: str) -> int | None:
    """``23``, ``0.0.0.0:23``, ``[::]:23``, ``:23``, ``host:23`` -> 23."""
    if UNK in value or not value:
        return None
    tail = value.rsplit(":", 1)[-1] if ":" in value else value
    tail = tail.strip("[]")
    if tail.isdigit() and 0 < int(tail) < 65536:
        return int(tail)
    return None


def _ports(specs: list[str]) -> list[tuple[str, int]]:
    out = []
    for spec in specs:
        port, _, proto = spec.partition("/")
        out.append((proto, int(port)))
    return out


def _is_shell(value: str, cat: Catalogue) -> bool:
    if UNK in value or not value:
        return False
    first = value.split()[0] if value.split() else value
    return posixpath.basename(first).lstrip("-") in cat.shells


# -- classes ------------------------------------------------------------------------------------------------


def _shell(launch: Launch) -> list[Service]:
    if launch.ports:
        return [_service(launch, "remote-shell", list(launch.ports), "none", protocol="raw shell", shell_served=True)]
    if launch.tty:
        return [_service(launch, "shell", [], "none", tty=launch.tty, shell_served=True)]
    return []


def _getty(launch: Launch, entry: dict[str, Any], cat: Catalogue) -> list[Service]:
    args = launch.args
    tty = next((m.group(1) for a in args if (m := _TTY.match(a))), None) or launch.tty or "console"
    auth = entry.get("auth", "password")
    note = None
    autologin = flag_values(args, entry.get("autologin_flags", []))
    login = flag_values(args, entry.get("login_flags", []))
    if autologin:
        auth, note = "none", f"logs in {autologin[0]} automatically"
    if login and _is_shell(login[0], cat):
        auth, note = "none", f"runs {login[0]} instead of login"
    return [_service(launch, "getty", [], auth, tty=tty, shell_served=auth == "none", note=note)]


def _login(launch: Launch, entry: dict[str, Any]) -> list[Service]:
    if not launch.tty:
        return []
    auth = "password"
    note = None
    users = flag_values(launch.args, entry.get("preauth_flags", []))
    if users:
        auth, note = "none", f"login -f {users[0]}: {users[0]} is logged in without a password"
    return [_service(launch, "login", [], auth, tty=launch.tty, shell_served=auth == "none", note=note)]


def _netcat(launch: Launch, entry: dict[str, Any], cat: Catalogue) -> list[Service]:
    args = launch.args
    if not flag_present(args, entry["listen_flags"]) and not launch.ports:
        return []
    proto = "udp" if flag_present(args, entry.get("udp_flags", [])) else "tcp"
    ports = list(launch.ports)
    if not ports:
        values = [p for v in flag_values(args, entry["port_flags"]) if (p := port_of(v))]
        if not values:
            values = [int(a) for a in args if a.isdigit() and 0 < int(a) < 65536][-1:]
        ports = [(proto, p) for p in values]
    served = flag_values(args, entry["exec_flags"])
    if served and _is_shell(served[0], cat):
        return [_service(launch, "remote-shell", ports, "none", protocol="raw shell", shell_served=True,
                         note=f"serves {served[0]} to anyone who connects")]
    return [_service(launch, "listener", ports, "none", protocol="raw tcp" if proto == "tcp" else "raw udp")]


_SOCAT_LISTEN = re.compile(r"(TCP|UDP|SSL|OPENSSL|SCTP)[46]?-(?:LISTEN|RECVFROM|RECV|L):(\d+)", re.IGNORECASE)


def _socat(launch: Launch, cat: Catalogue) -> list[Service]:
    ports: list[tuple[str, int]] = []
    shell_served = False
    for a in launch.args:
        if a.startswith("-") and len(a) > 1:
            continue
        m = _SOCAT_LISTEN.match(a)
        if m:
            proto = "udp" if m.group(1).upper() == "UDP" else "tcp"
            ports.append((proto, int(m.group(2))))
            continue
        kind, _, rest = a.partition(":")
        if kind.upper() in ("EXEC", "SYSTEM"):
            program = rest.split(",")[0].strip("\"'")
            if _is_shell(program, cat):
                shell_served = True
    if not ports:
        return []
    if shell_served:
        return [_service(launch, "remote-shell", ports, "none", protocol="raw shell", shell_served=True)]
    return [_service(launch, "listener", ports, "none", protocol="socat")]


_TTYD_VALUE = set("picugsIbPCKAdtTmwa")


def _generic(launch: Launch, entry: dict[str, Any], cat: Catalogue, reader: Reader) -> list[Service]:
    args = launch.args
    klass = entry["class"]
    defaults = _ports(entry.get("ports", []))
    proto = defaults[0][0] if defaults else "tcp"
    auth = entry.get("auth", "unknown")
    extra: dict[str, Any] = {}
    note = entry.get("note")
    config_path: str | None = None
    ports: list[tuple[str, int]] = list(launch.ports)
    shell_served = False
    no_root = flag_present(args, entry.get("no_root_flags", []))
    blank = flag_present(args, entry.get("blank_password_flags", []))

    bound: list[bool] = []
    """For each address given on the command line or in UCI: is it the loopback interface?"""
    if not ports:
        for v in flag_values(args, entry.get("port_flags", [])) + flag_values(args, entry.get("bind_flags", [])):
            p = port_of(v)
            if p:
                ports.append((proto, p))
            if p or v in flag_values(args, entry.get("bind_flags", [])):
                bound.append(_loopback(v))
        for v in flag_values(args, entry.get("tls_port_flags", [])):
            p = port_of(v)
            if p:
                ports.append(("tcp", p))
                bound.append(_loopback(v))
        positional = entry.get("port_positional")
        if positional == "hostport":
            for a in args:
                if not a.startswith("-") and ":" in a and port_of(a):
                    ports.append(("tcp", port_of(a)))  # type: ignore[arg-type]
                    break
        elif positional == "snmp":
            for a in args:
                m = re.fullmatch(r"(udp6?|tcp6?):(?:[^:]*:)?(\d+)", a)
                if m:
                    ports.append((m.group(1).rstrip("6"), int(m.group(2))))
    if "uci" in entry:
        uci = _uci(entry["uci"], reader)
        if uci is not None:
            if not uci["enabled"]:
                return []
            config_path = uci["path"]
            if not ports and uci["ports"]:
                ports = uci["ports"]
                bound = uci["loopback"]
            if uci.get("key_only"):
                auth = "key"
            no_root = no_root or uci.get("no_root", False)
    if "config" in entry:
        conf = _config(entry["config"], args, reader)
        if conf is not None:
            config_path = conf["path"]
            if not ports and conf["ports"]:
                ports = conf["ports"]
            auth = conf.get("auth") or auth
            no_root = no_root or conf.get("no_root", False)
            blank = blank or conf.get("blank", False)
    if not ports and not launch.ports:
        ports = list(defaults)
    if entry.get("listen_flags") and not flag_present(args, entry["listen_flags"]) and not launch.ports:
        ports = []
    if flag_present(args, entry.get("key_only_flags", [])):
        auth = "key"
    if flag_present(args, entry.get("anonymous_flags", [])):
        auth, note = "none", "anonymous login"
    if flag_present(args, entry.get("credential_flags", [])):
        auth = "password"
    login = flag_values(args, entry.get("login_flags", []))
    if login and _is_shell(login[0], cat):
        auth, shell_served, note = "none", True, f"runs {login[0]} for every connection, without login"
    elif login and UNK not in login[0]:
        extra["login_program"] = login[0]
    if entry.get("serves_positional"):
        served = _ttyd_command(args)
        if served and _is_shell(served, cat) and auth != "password":
            auth, shell_served, note = "none", True, f"serves {served} without login"
        elif served and posixpath.basename(served) == "login":
            auth = "password"
    return [_service(launch, klass, ports, auth, protocol=entry.get("protocol"), shell_served=shell_served,
                     no_root=no_root, blank_passwords=blank, severity=entry.get("severity"), note=note,
                     config=config_path, extra=extra, loopback=bool(bound) and all(bound))]


def _ttyd_command(args: tuple[str, ...]) -> str | None:
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            i += 1 if "=" in a else 2
            continue
        if a.startswith("-") and len(a) == 2:
            i += 2 if a[1] in _TTYD_VALUE else 1
            continue
        return a
    return None


# -- configuration in the image -----------------------------------------------------------------------------


def parse_uci(text: str) -> list[dict[str, Any]]:
    sections: list[dict[str, Any]] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        try:
            words = shlex.split(raw, comments=True)
        except ValueError:
            continue
        if not words:
            continue
        if words[0] == "config":
            sections.append({"type": words[1] if len(words) > 1 else "", "name": words[2] if len(words) > 2 else None,
                             "options": {}, "lists": {}, "line": lineno})
        elif words[0] == "option" and len(words) >= 3 and sections:
            sections[-1]["options"][words[1]] = words[2]
        elif words[0] == "list" and len(words) >= 3 and sections:
            sections[-1]["lists"].setdefault(words[1], []).append(words[2])
    return sections


def _uci(spec: dict[str, Any], reader: Reader) -> dict[str, Any] | None:
    path = f"/etc/config/{spec['package']}"
    text = reader.text(path)
    if text is None:
        return None
    sections = [s for s in parse_uci(text) if s["type"] == spec["type"]]
    if not sections:
        return None
    enabled = [s for s in sections if s["options"].get(spec.get("enable", "enable"), "1").lower() not in OFF]
    ports: list[tuple[str, int]] = []
    loopback: list[bool] = []
    key_only = bool(enabled)
    no_root = bool(enabled)
    for s in enabled:
        opts = s["options"]
        if "port" in spec and port_of(opts.get(spec["port"], "")):
            ports.append(("tcp", port_of(opts[spec["port"]])))  # type: ignore[arg-type]
        for key in spec.get("listen", []):
            for v in s["lists"].get(key, []) + ([opts[key]] if key in opts else []):
                p = port_of(v)
                if p:
                    loopback.append(_loopback(v))
                    if ("tcp", p) not in ports:
                        ports.append(("tcp", p))
        if "password_auth" in spec:
            key_only = key_only and opts.get(spec["password_auth"], "1").lower() in OFF
        else:
            key_only = False
        if "root_login" in spec:
            no_root = no_root and opts.get(spec["root_login"], "1").lower() in OFF
        else:
            no_root = False
    return {"path": path, "enabled": bool(enabled), "ports": ports, "key_only": key_only, "no_root": no_root,
            "loopback": loopback}


def _config(spec: dict[str, Any], args: tuple[str, ...], reader: Reader) -> dict[str, Any] | None:
    path = spec.get("default")
    if spec.get("flag"):
        given = flag_values(args, [spec["flag"]])
        if given and UNK not in given[0]:
            path = given[0]
    if spec.get("positional"):
        given_pos = [a for a in args if a.startswith("/") and UNK not in a]
        if given_pos:
            path = given_pos[0]
    if not path:
        return None
    text = reader.text(path)
    if text is None:
        return None
    out: dict[str, Any] = {"path": path, "ports": []}
    if spec["format"] == "sshd":
        values: dict[str, list[str]] = {}
        for raw in text.splitlines():
            words = raw.split("#", 1)[0].split()
            if len(words) >= 2:
                if words[0].lower() == "match":
                    break  # conditional blocks: the global settings end here
                values.setdefault(words[0].lower(), []).append(words[1])
        for v in values.get(spec["port"].lower(), []):
            p = port_of(v)
            if p:
                out["ports"].append(("tcp", p))
        for v in values.get("listenaddress", []):
            if re.search(r":\d+$", v) and port_of(v):
                out["ports"].append(("tcp", port_of(v)))
        first = {k: v[0].lower() for k, v in values.items()}  # sshd: the first value obtained wins
        if first.get(spec["password_auth"].lower()) == "no" and first.get("kbdinteractiveauthentication",
                                                                         first.get("challengeresponseauthentication",
                                                                                   "no")) == "no":
            out["auth"] = "key"
        if first.get(spec["root_login"].lower()) == "no":
            out["no_root"] = True
        if first.get("permitemptypasswords") == "yes":
            out["blank"] = True
    else:
        values2: dict[str, str] = {}
        for raw in text.splitlines():
            key, eq, value = raw.split("#", 1)[0].partition("=")
            if eq:
                values2[key.strip()] = value.strip()
        p = port_of(values2.get(spec["port"], ""))
        if p:
            out["ports"].append(("tcp", p))
        anon = spec.get("anonymous")
        if anon and values2.get(anon["key"], "").upper() in anon["on"]:
            out["auth"] = "none"
    return out


_ELEMENT = re.compile(r"<([A-Za-z_][\w.-]*)\b([^>]*)>")
_ATTR = re.compile(r"([A-Za-z_][\w.-]*)\s*=\s*\"([^\"]*)\"")


def _embedded(launch: Launch, spec: dict[str, Any], reader: Reader) -> list[Service]:
    """Services a vendor's monolithic daemon serves itself, as the configuration the image ships enables them
    (Broadcom CFM: ``<srvCtrlList telnet="lan" .../>`` in /etc/default.cfg)."""
    marker = spec.get("marker")
    if marker and launch.target and not any(marker in s for s in reader.strings_of(launch.target)):
        return []
    config = spec["config"]
    text = reader.text(config)
    if text is None:
        return []
    elements: dict[str, tuple[int, dict[str, str], str]] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        for m in _ELEMENT.finditer(raw):
            elements.setdefault(m.group(1), (lineno, dict(_ATTR.findall(m.group(2))), raw.strip()))
    out = []
    for svc in spec["services"]:
        found = elements.get(svc["element"])
        if found is None:
            continue
        lineno, attrs, raw = found
        value = attrs.get(svc["attribute"])
        if value is None:
            continue
        on = value in svc["on"] if "on" in svc else value not in svc.get("off", ())
        if not on:
            continue
        out.append(Service(
            name=svc["name"], binary=svc.get("binary", launch.binary), args=[], ports=_ports(svc["ports"]),
            auth=svc["auth"], started_by=launch.chain + (config,), line=lineno,
            evidence=f'{svc["attribute"]}="{value}" in {raw[:200]}', klass=svc["class"], protocol=svc.get("protocol"),
            conditional=launch.conditional, severity=svc.get("severity"), how="embedded", config=config,
            note=f"served by {launch.name} itself ({svc['element']} {svc['attribute']}=\"{value}\")",
        ))
    return out
