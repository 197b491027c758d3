"""Noise control: every candidate that is not an endpoint is dropped by a *named* rule, so a reviewer can read
why (the report's ``egress_noise`` section counts each rule's drops and shows examples).

Addresses that are not on the internet (loopback, private, link-local, multicast, documentation and other
special-purpose ranges, names such as ``router.lan``) are not noise: they are reported as ``local`` endpoints,
never as egress.

The rules, in the order they are tried, are :data:`RULES`. Measured on the three real images of the corpus
(see tests/test_egress_corpus.py for the hand-checked lists and the precision figures).
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from dataclasses import dataclass

from . import names
from .extract import Candidate


@dataclass(frozen=True, slots=True)
class Suppression:
    id: str
    reason: str


def _s(id_: str, reason: str) -> Suppression:
    return Suppression(id_, reason)


DOCUMENTATION_FILE = _s("documentation-file", "Documentation, licence, sample or translation file: text for people, not "
                        "configuration the device runs (/usr/share/doc, man pages, README, COPYING, *.sample).")
COMMENT = _s("comment", "On a commented-out line of a script or configuration file: not executed.")
FORMAT_STRING = _s("format-string", "A format string or template (%s, %d, ${var}, {{x}}, <host>, *): the real address is "
                   "filled in at run time and is not in the image.")
XML_NAMESPACE = _s("xml-namespace", "An XML/SOAP namespace, schema or DTD identifier (xmlns=, encodingStyle=, w3.org, "
                   "schemas.xmlsoap.org, tempuri.org): a name, never fetched.")
LICENCE = _s("licence-link", "A licence text link (gnu.org/licenses, apache.org/licenses, creativecommons.org, "
             "opensource.org): printed, never contacted.")
REFERENCE = _s("reference-link", "A standards or documentation reference (ietf.org, rfc-editor.org, iana.org, "
               "wikipedia.org, man7.org): printed in help texts and comments.")
PROJECT = _s("project-homepage", "The home page or mailing list of an open-source project printed in a banner, usage or "
             "error message (openssl.org, busybox.net, gnu.org, sourceforge.net projects, net-snmp.org).")
BANNER = _s("banner", "Part of a version banner, copyright line or User-Agent string (@(#), Copyright, (C), "
            "User-Agent:, Web:, Email:): identification text, not a destination.")
AUTHOR = _s("author-credit", "An author's or maintainer's address in a credit line (kernel module author=, Written "
            "by, Name <address>).")
BUG_REPORT = _s("bug-report-address", "A bug-report or mailing-list address in a message asking the user to report a "
                "problem (bug-*@, *@lists.*, *@vger.kernel.org).")
PROTOCOL_NAME = _s("protocol-identifier", "A protocol name that looks like an address: SSH algorithm names "
                   "(x@openssh.com), reverse-DNS zones (in-addr.arpa, ip6.int), reverse-domain identifiers "
                   "(com.vendor.app).")
EXAMPLE = _s("example", "An example: a reserved example name (example.com, *.test, *.invalid, RFC 2606/6761), a "
             "placeholder (some.host.name, url.here, yourdomain.com) or a value introduced by 'e.g.', 'for example', "
             "'such as'.")
DESCRIPTION = _s("device-description", "A UPnP/WPS device description field (manufacturerURL, modelURL, "
                 "presentationURL): advertised to the LAN, not contacted.")
NOT_AN_ADDRESS = _s("not-an-address", "The value of a setting that is not an address: a mobile APN, an ISP or product "
                    "name, a user name or password (apn, isp_name, username, password, ssid).")
VERSION = _s("version-number", "A version number that looks like an IPv4 address (vermagic=2.6.8.1, /lib/modules/"
             "2.6.8.1/, v1.2.3.4, a dotted quad that names a directory of the image).")
OBJECT_ID = _s("object-identifier", "An ASN.1 object identifier that looks like an IPv4 address: X.500 attribute "
               "types and certificate extensions (2.5.4.3 commonName, 2.5.29.17 subjectAltName) and algorithm arcs "
               "(1.3.101.112 Ed25519, 1.3.132.0.34 secp384r1), as X.509 and crypto libraries list them.")
NETWORK = _s("network-address", "A netmask, the unspecified or broadcast address, a network prefix (x.y.0.0) or an "
             "address block that is not routable (0.0.0.0/8, 240.0.0.0/4).")
INTERFACE = _s("interface-address", "An address of the device's own interfaces or routes (ifconfig, route add ... gw, "
               "ip addr, ipaddr=, netmask=, gateway=): configuration of the device, not a destination.")
NO_SUFFIX = _s("no-public-suffix", "The name does not end in a public suffix of the Public Suffix List: it cannot be "
               "resolved on the internet (and is not a local-network name either).")
FILE_NAME = _s("file-name", "A file or library name whose extension happens to be a country code (libc.so, rc.sh, "
               "setup.py, Makefile.in, page.pr?x=): bare names in such suffixes need a www. prefix or a host setting.")
CODE = _s("code-identifier", "A code identifier or prose, not a host name: mixed or upper case (Battle.net, "
          "InternetGatewayDevice.Host), a member access (this.link, window.open) or a call (foo.bar()).")
WEAK_SUFFIX = _s("weak-suffix", "A bare two-label name in a generic suffix that is also a common word (.info, .name, "
                 ".link, .top, .app, .pid): needs three labels, a URL or an e-mail to count.")
FRAGMENT = _s("fragment", "The tail of a longer name next to it (login.net beside tplinklogin.net): a suffix the "
              "program compares against.")
JUNK = _s("binary-junk", "A short dotted token in binary data (one-letter labels, random case) that only looks like a "
          "name.")

RULES: tuple[Suppression, ...] = (
    DOCUMENTATION_FILE, COMMENT, FORMAT_STRING, XML_NAMESPACE, LICENCE, REFERENCE, PROJECT, BANNER, AUTHOR,
    BUG_REPORT, PROTOCOL_NAME, EXAMPLE, DESCRIPTION, NOT_AN_ADDRESS, VERSION, OBJECT_ID, NETWORK, INTERFACE, NO_SUFFIX,
    FILE_NAME, CODE, WEAK_SUFFIX, FRAGMENT, JUNK,
)

# -- data ----------------------------------------------------------------------------------------------------

_DOC_DIRS = ("/usr/share/doc/", "/usr/share/man/", "/usr/share/info/", "/usr/share/licenses/", "/usr/share/common-licenses/",
             "/usr/share/gtk-doc/", "/usr/share/help/", "/usr/share/locale/", "/usr/share/i18n/", "/usr/share/bug/")
_DOC_NAMES = re.compile(
    r"^(?:readme|license|licence|copying|copyright|changelog|changes|news|authors|contributors|thanks|todo|history|"
    r"install|notice|maintainers|credits|release[_-]?notes)(?:[._-].*)?$|\.(?:md|rst|adoc|markdown|texi|sample|example|dist|po|pot|"
    r"man|pod|rdoc|pdf)$",
    re.IGNORECASE,
)
# a manual page ("ls.1", "sshd.8.gz") only inside a man directory: "libc.so.6" or "busybox.1" elsewhere are code
_MAN_PAGE = re.compile(r"/man/(?:[^/]+/)*[^/]+\.[1-9][a-z]*(?:\.gz)?$")
NAMESPACE_HOSTS = frozenset({
    "www.w3.org", "w3.org", "schemas.xmlsoap.org", "schemas.microsoft.com", "schemas.upnp.org", "schemas.android.com",
    "schemas.openxmlformats.org", "purl.org", "ns.adobe.com", "xmlns.com", "tempuri.org", "www.wapforum.org",
    "schemas.dmtf.org", "www.openarchives.org", "docs.oasis-open.org", "uri.etsi.org", "www.onvif.org",
    "schemas.xmlsoap.org.", "xml.org", "www.xml.org", "java.sun.com", "xmlns.jcp.org", "www.springframework.org",
    "relaxng.org", "www.relaxng.org", "json-schema.org", "ogp.me", "schema.org",
})
LICENCE_HOSTS = frozenset({"opensource.org", "www.opensource.org", "creativecommons.org", "www.creativecommons.org",
                           "spdx.org", "www.spdx.org", "fsf.org", "www.fsf.org"})
LICENCE_PATH = re.compile(r"licen[cs]e|copying|copyleft|/gpl|/lgpl|/mpl|/philosophy", re.IGNORECASE)
REFERENCE_SUFFIXES = frozenset(("ietf.org", "rfc-editor.org", "iana.org", "wikipedia.org", "man7.org", "unicode.org",
                      "w3.org", "ecma-international.org", "iso.org", "itu.int", "3gpp.org", "etsi.org",
                      "broadband-forum.org", "docs.python.org", "developer.mozilla.org",
                      "tldp.org", "cve.mitre.org", "cwe.mitre.org", "nvd.nist.gov", "semver.org", "stackoverflow.com"))
PROJECT_SUFFIXES = frozenset((
    "gnu.org", "openssl.org", "busybox.net", "uclibc.org", "uclibc-ng.org", "netfilter.org", "samba.org",
    "net-snmp.org", "acme.com", "thekelleys.org.uk", "matt.ucc.asn.au", "curl.haxx.se", "curl.se", "haxx.se",
    "python.org", "perl.org", "cpan.org", "php.net", "lua.org", "sqlite.org", "zlib.net", "libpng.org",
    "freedesktop.org", "gnome.org", "kde.org", "gcc.gnu.org", "sourceware.org", "savannah.gnu.org", "kroah.com",
    "linux-usb.org", "linux-mips.org", "infradead.org", "ozlabs.org", "tcpdump.org", "openssh.com", "openbsd.org",
    "freebsd.org", "netbsd.org", "openvpn.net", "strongswan.org", "xelerance.com", "openswan.org", "hostap.epitest.fi",
    "w1.fi", "lighttpd.net", "nginx.org", "apache.org", "mit.edu", "isc.org", "gnupg.org", "libssh.org",
    "libssh2.org", "wolfssl.com", "mbed.org", "trustedfirmware.org", "sudo.ws", "tukaani.org", "bzip.org",
    "sourceforge.net", "sf.net", "github.io", "readthedocs.io", "readthedocs.org", "pcre.org", "info-zip.org",
    "gnutls.org", "nlnetlabs.nl", "unbound.net", "miniupnp.free.fr", "dnsmasq.org", "openwrt.org",
    "lede-project.org", "debian.org", "ubuntu.com", "kernel.org", "linux.org", "openldap.org", "postfix.org",
    "exim.org", "sendmail.org", "cygwin.com", "mingw.org", "qt.io", "qt-project.org", "boost.org", "swig.org",
    "llvm.org", "rust-lang.org", "golang.org", "go.dev", "nodejs.org", "npmjs.com", "npmjs.org", "jquery.com",
    "jqueryui.com", "getbootstrap.com", "reactjs.org", "vuejs.org", "angularjs.org", "angular.io", "sizzlejs.com",
    "modernizr.com", "fontawesome.io", "mathjax.org", "gstreamer.freedesktop.org", "ffmpeg.org", "videolan.org",
    "xiph.org", "mozilla.org", "chromium.org", "webkit.org", "gtk.org", "cairographics.org", "pango.org",
    "harfbuzz.org", "fontconfig.org", "x.org", "xfree86.org", "mesa3d.org", "systemd.io", "opensuse.org",
    "fedoraproject.org", "redhat.com", "centos.org", "archlinux.org", "gentoo.org", "alpinelinux.org",
    "buildroot.org", "yoctoproject.org", "openembedded.org", "denx.de", "u-boot.org", "busybox.net",
))
"""Open-source projects whose sites appear in banners, usage and error messages. Firmware and package download
hosts of these projects are not here and stay endpoints (see :data:`DOWNLOAD_HOSTS`)."""
DOWNLOAD_HOSTS = re.compile(
    r"^(?:downloads?|dl|mirrors?|ftp|security|deb|archive|cdn|fastly|packages|repo|updates?|feeds?|opkg|"
    r"snapshot|snapshots|cloud-images|registry|pypi|files|sources|release[s]?)[0-9-]*\.", re.IGNORECASE)
EXAMPLE_SUFFIXES = frozenset(("example.com", "example.net", "example.org", "example.edu", "example"))
RESERVED_TLDS = frozenset({"test", "invalid", "example", "localhost"})
PLACEHOLDER_WORDS = frozenset({
    "some", "host", "name", "hostname", "domain", "yourdomain", "mydomain", "yourhost", "myhost", "your", "my",
    "url", "here", "server", "yourserver", "myserver", "company", "yourcompany", "foo", "bar", "baz", "tld",
    "sample", "dummy", "xxx", "xxxx", "abc", "test", "site", "website", "mysite", "yoursite", "user", "email",
})
LOCAL_SUFFIXES = ("local", "lan", "home", "home.arpa", "internal", "intranet", "corp", "localdomain", "router",
                  "domain", "private", "gateway", "belkin", "dlink", "localnet", "wlan")
CODE_RECEIVERS = frozenset({
    "this", "self", "window", "document", "obj", "object", "ctx", "req", "res", "err", "module", "exports",
    "console", "math", "json", "navigator", "location", "top", "parent", "event", "el", "elem", "node", "item",
    "opts", "options", "config", "cfg", "settings", "props", "state", "app", "util", "utils", "lib", "os", "sys",
    "np", "pd", "std", "string", "str", "array", "list", "dict", "file", "form", "frm", "field", "value", "val",
    "data", "result", "response", "request", "args", "argv", "env", "process", "global", "globals", "prototype",
    "style", "element", "target", "logger", "logging", "log", "table", "row", "col", "cell", "menu", "page",
    # HTML element names: CSS selectors (div.info, td.title)
    "div", "span", "td", "tr", "th", "tbody", "thead", "a", "p", "li", "ul", "ol", "body", "html", "input", "img",
    "h1", "h2", "h3", "h4", "h5", "h6", "select", "option", "label", "button", "font", "b", "i", "em", "strong",
    "nav", "section", "header", "footer", "textarea", "fieldset", "legend", "iframe", "pre", "code", "small",
})
NOT_ADDRESS_KEYS = re.compile(
    r"^(?:apn\w*|\w*apn|isp(?:_?name)?|manualapn|user(?:_?name)?|usr\w*|login(?:_?name)?|account|passw\w*|pwd|"
    r"\w*_?passwd|\w*_?password|password|ssid\w*|model\w*|name|label|desc\w*|title|vendor|manufacturer(?:_?name)?|"
    r"product\w*|realm|pin|puk|community|identity|anonymous_identity|phase\d?)$",
    re.IGNORECASE,
)
INTERFACE_KEYS = re.compile(
    r"^(?:(?:lan|wan|br|eth|if|local|static|wan_sec|lte_if|lo|bind|listen|dmz|guest|my|own|device|dev|entry\d*|"
    r"ipv4|inet|vlan\w*|wlan|ap)_?)?(?:ip_?addr(?:ess)?|ipaddr|ip|addr(?:ess)?|netmask|mask|subnet_?mask|"
    r"gateway|gw|broadcast|bcast|start_?addr(?:ess)?|end_?addr(?:ess)?|start|end|range|limit|pool_?(?:start|end)|"
    r"dhcp_?(?:start|end)|default_?ip|wan_?address|wan_?mask|lan_?mask|listen(?:_https?)?|bind_?addr(?:ess)?|"
    r"host_?ip|static_?ip|alias|peer_?addr(?:ess)?|local_?addr(?:ess)?|default_?gateway|dst_?mask|src_?ip)$",
    re.IGNORECASE,
)
_INTERFACE_COMMANDS = re.compile(
    r"(?:\bifconfig\s+\S+\s+(?:inet\s+)?$|\broute\s+(?:add|del)\b.*\b(?:gw|via|-net|-host|netmask)\s+$|"
    r"\bip\s+(?:-[46]\s+)?(?:addr|address|a|route|ro|r)\s+(?:add|del|replace)\s+(?:\S+\s+)*$|\bnetmask\s+$|"
    r"\bbroadcast\s+$|\bsetenv\s+(?:ipaddr|serverip|gatewayip|netmask)\s+$|\binet6?\s+$|\bgw\s+$|\bvia\s+$|"
    r"\b(?:ipaddr|serverip|gatewayip|netmask)=$)",
    re.IGNORECASE,
)
_OBJECT_ID = re.compile(r"^(?:2\.5\.(?:4|6|8|29)|1\.3\.(?:6|14|36|101|132))\.[0-9]{1,3}$")
"""The OID arcs under which four-number identifiers are common: X.500 attribute types (2.5.4), object classes
(2.5.6), algorithms (2.5.8), certificate extensions (2.5.29); internet (1.3.6), OIW (1.3.14), TeleTrusT (1.3.36),
Thawte's curves (1.3.101), Certicom's (1.3.132)."""
_VERSION_PREFIX = re.compile(
    r"(?:\bv|\bver|version|vermagic|release|rel|rev|revision|build|kernel|kernelver|firmware|fw|sw|hw|"
    r"linux|gcc|api|protocol|proto)[\s:=_-]*v?$", re.IGNORECASE)
_EXAMPLE_PREFIX = re.compile(r"(?:e\.g\.|\beg\.|for example|for instance|example:|examples?\b|such as|i\.e\.|like)"
                             r"[\s:,(<>b/]*(?:\S+\s+){0,3}$", re.IGNORECASE)
_BANNER_TEXT = re.compile(r"@\(#\)|copyright|\(c\)\s|©|\bgcc:|user-agent|\bweb:\s|\bemail:\s|\bhomepage:|"
                          r"\bproject (?:page|home)|\bcompiled\b|\bbuilt (?:by|with|on)\b", re.IGNORECASE)
_AUTHOR_TEXT = re.compile(r"author|maintainer|written by|contributed by|thanks to|ported by|modified by|"
                          r"developed by|created by|originally by|\bby\s*$", re.IGNORECASE)
_NAME_ANGLE = re.compile(r"[A-Z][a-z]+(?:[ -][A-Z][A-Za-z.'-]+)+\s*[<(]\s*$")
_BUG_TEXT = re.compile(r"report (?:bugs|problems|this|it)|please (?:report|send|mail|contact)|bug report|send a copy|"
                       r"mail a stack|\bbugs? to\b|mailing list", re.IGNORECASE)
_COMMENT_START = ("#", "//", ";", "--", "/*", "*", "<!--", "rem ", "REM ", "'", "!")
_FORMAT = re.compile(r"%[-+ #0-9.*]*[a-zA-Z]|\$\{|\$\(|\$[A-Za-z_]|\{\{|\{[0-9a-z_]*\}|<[A-Za-z_]+>|\*|\\|\[\]|^x+\.x+|"
                     r"\bx{1,3}\.x{1,3}\.x{1,3}\.x{1,3}\b", re.IGNORECASE)
_DESCRIPTION_TEXT = re.compile(r"manufacturer_?url|model_?url|presentation_?url|urlbase|wps_?(?:model|manufacturer)"
                               r"_?url|<(?:manufacturerURL|modelURL|presentationURL|URLBase)>", re.IGNORECASE)
_NAMESPACE_TEXT = re.compile(r"xmlns(?::\w+)?\s*=\s*[\"']?$|encodingstyle\s*=\s*[\"']?$|schemalocation\s*=\s*[\"']?"
                             r"(?:\S+\s+)?$|soapaction:\s*[\"']?$|<!doctype|-//w3c//|targetnamespace\s*=\s*[\"']?$",
                             re.IGNORECASE)
_REVERSE_ZONES = ("in-addr.arpa", "ip6.arpa", "ip6.int", "e164.arpa")
_SSH_NAME_DOMAINS = frozenset(("openssh.com", "libssh.org", "putty.projects.tartarus.org", "ssh.com", "lysator.liu.se",
                     "ietf.org", "bitvise.com", "sshtools.com", "tinyssh.org"))
_REVERSE_DOMAIN_FIRST = frozenset({"com", "org", "net", "io", "de", "cn", "uk", "fr", "jp", "edu", "gov", "android",
                                   "java", "javax", "sun"})
_RESOLVER_WORDS = re.compile(r"dns|resolv|nameserver|name server|ping|probe|check|online|ntp", re.IGNORECASE)
_CODE_TAIL = re.compile(r"^\s*\(")
_CSS_TAIL = re.compile(r"^\s*[{,:>+~\[]")


_BANNER_NEEDLES = ("@(#)", "copyright", "(c)", "gcc:", "user-agent", "web:", "email:", "homepage:", "project ",
                   "compiled", "built ")
"""In lower case, a part of every match of _BANNER_TEXT that ASCII text can hold (the other is '©')."""


def _holds(rx: re.Pattern[str], needles: tuple[str, ...], text: str) -> bool:
    """``rx.search(text)``, for a case-blind pattern every match of which holds one of ``needles`` (ASCII, lower
    case): an ASCII text that holds none is answered by plain searches, many times faster than re's scan."""
    if text.isascii():
        low = text.lower()
        if not any(n in low for n in needles):
            return False
    return rx.search(text) is not None


def path_is_css(cand: Candidate) -> bool:
    """A CSS rule line: the candidate is followed by a selector continuation or a block."""
    return "{" in cand.text or cand.text.rstrip().endswith(",")


def is_doc_path(path: str) -> bool:
    if path.startswith(_DOC_DIRS):
        return True
    return bool(_DOC_NAMES.search(posixpath.basename(path)) or _MAN_PAGE.search(path))


def local_ip(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for addresses that are not on the public internet (reported as ``local``)."""
    if addr.version == 6:
        if addr in ipaddress.IPv6Network("3ffe::/16") or addr in ipaddress.IPv6Network("2001:db8::/32"):
            return True
        mapped = addr.ipv4_mapped  # type: ignore[union-attr]
        if mapped is not None:
            return local_ip(mapped)
    return not addr.is_global or addr.is_multicast


def local_name(host: str) -> bool:
    """LAN-only names: a single label, or a special-use suffix (``router.lan``, ``printer.local``, ``home.arpa``)."""
    host = host.rstrip(".").lower()
    if not host:
        return False
    if "." not in host:
        return True
    return any(host == s or host.endswith("." + s) for s in LOCAL_SUFFIXES)


def _suffix_match(host: str, suffixes: frozenset[str]) -> bool:
    """True when ``host`` or one of its parent domains is in ``suffixes``."""
    if host in suffixes:
        return True
    i = host.find(".")
    while i >= 0:
        if host[i + 1 :] in suffixes:
            return True
        i = host.find(".", i + 1)
    return False


class Judge:
    """Applies :data:`RULES` to the candidates of one file. A dotted quad that names a directory of the image (a
    kernel module tree) is a version number everywhere: that rule needs the whole image and is applied by the
    egress check to what a file yields (``checks.egress._tree_version``)."""

    def suppress(self, cand: Candidate, path: str, *, key: str | None, web: bool) -> Suppression | None:
        if is_doc_path(path):
            return DOCUMENTATION_FILE
        prefix = cand.prefix
        stripped = cand.text.lstrip()
        if cand.line is not None and stripped.startswith(_COMMENT_START) and not web:
            return COMMENT
        if cand.line is not None and web and "<!--" in prefix and "-->" not in prefix[prefix.rfind("<!--"):]:
            return COMMENT
        host = cand.host or ""
        raw_host = host
        if cand.kind == "url":
            if not host or _FORMAT.search(host) or _FORMAT.search(cand.raw.split("://", 1)[1].split("/", 1)[0]):
                return FORMAT_STRING
        elif _FORMAT.search(cand.raw):
            return FORMAT_STRING
        if cand.kind == "url" and (raw_host in NAMESPACE_HOSTS or _NAMESPACE_TEXT.search(prefix[-80:])
                                   or cand.path.lower().endswith((".dtd", ".xsd"))):
            return XML_NAMESPACE
        if cand.kind in ("url", "domain") and raw_host in NAMESPACE_HOSTS:
            return XML_NAMESPACE
        if host and not _is_ip(host):
            if _suffix_match(host, LICENCE_HOSTS) or (cand.kind == "url" and LICENCE_PATH.search(cand.path)
                                                     and _suffix_match(host, PROJECT_SUFFIXES)):
                return LICENCE
            if cand.kind == "url" and host.endswith("gnu.org") and LICENCE_PATH.search(cand.path):
                return LICENCE
            if _suffix_match(host, REFERENCE_SUFFIXES) or (
                    cand.kind == "url" and host.endswith("mozilla.org") and cand.path.lower().startswith("/mpl")):
                return REFERENCE
        if cand.kind == "email":
            local = cand.value.split("@", 1)[0]
            if _suffix_match(host, _SSH_NAME_DOMAINS) and " " not in cand.text.strip():
                return PROTOCOL_NAME
            if (local.startswith(("bug-", "bugs")) or local.endswith(("-bugs", "-bug", "-devel", "-dev", "-coders",
                                                                       "-users", "-announce", "-discuss", "-help"))
                    or host.startswith(("lists.", "list.", "vger.")) or _BUG_TEXT.search(cand.text)):
                return BUG_REPORT
        if _AUTHOR_TEXT.search(prefix[-120:]) or (cand.kind in ("email", "url") and _NAME_ANGLE.search(prefix[-80:])):
            return AUTHOR
        if _holds(_BANNER_TEXT, _BANNER_NEEDLES, cand.text) and (
                cand.kind != "ipv4" or "copyright" in cand.text.lower()):
            return BANNER
        if host and not _is_ip(host) and _suffix_match(host, PROJECT_SUFFIXES) and not DOWNLOAD_HOSTS.match(host):
            return PROJECT
        if host and not _is_ip(host):
            if host.endswith(_REVERSE_ZONES) or host in _REVERSE_ZONES or host.endswith(".arpa"):
                return PROTOCOL_NAME  # .arpa is DNS infrastructure (reverse zones, e164), never a peer
            if _suffix_match(host, EXAMPLE_SUFFIXES) or host.rsplit(".", 1)[-1] in RESERVED_TLDS and not host.endswith(
                    ".localhost"):
                return EXAMPLE
            labels = host.split(".")
            if sum(1 for x in labels if x in PLACEHOLDER_WORDS) >= 2 or (
                    len(labels) >= 2 and labels[-2] in ("yourdomain", "mydomain", "domain", "yoursite", "yourcompany")):
                return EXAMPLE
        if _EXAMPLE_PREFIX.search(prefix[-60:]):
            return EXAMPLE
        if any(_holds(_DESCRIPTION_TEXT, ("url",), b) for b in (cand.text, *cand.before[:2], *cand.after[:2])):
            return DESCRIPTION
        if key and NOT_ADDRESS_KEYS.match(key):
            return NOT_AN_ADDRESS
        if cand.kind in ("ipv4", "ipv6"):
            return self._ip(cand, key, prefix)
        if cand.kind == "url" and _is_ip(host):
            addr = ipaddress.ip_address(host)
            if addr.version == 4 and (int(addr) == 0xFFFFFFFF or int(addr) >> 24 == 0):
                return NETWORK
            return None
        if not host:
            return None
        if local_name(host):
            return None
        if not names.public_suffix(host) or not names.registrable(host):
            return NO_SUFFIX
        if cand.kind == "domain":
            return self._bare(cand, host, key)
        domain = cand.raw.split("@", 1)[-1]
        if cand.kind == "email" and not domain.islower() and not domain.isupper():
            return JUNK
        return None

    def _ip(self, cand: Candidate, key: str | None, prefix: str) -> Suppression | None:
        try:
            addr = ipaddress.ip_address(cand.host or "")
        except ValueError:
            return JUNK
        if addr.version == 4:
            text = str(addr)
            value = int(addr)
            if cand.cidr is not None and cand.cidr < 32:
                return NETWORK
            if _is_mask(value) or value == 0:
                return NETWORK
            if value >> 24 == 0 or value >> 28 == 0xF:
                return NETWORK
            if text.endswith(".0.0") and not cand.port:
                return NETWORK
            octets = text.split(".")
            if len(set(octets)) == 1 and octets[0] in "1234567" and not _RESOLVER_WORDS.search(
                    " ".join((cand.text, *cand.before[:3], *cand.after[:3]))):
                return EXAMPLE
            if _VERSION_PREFIX.search(prefix[-24:]):
                return VERSION
            if cand.port is None and _OBJECT_ID.match(text):
                return OBJECT_ID
            if prefix.endswith("/") and cand.suffix.startswith("/") and "://" not in prefix:
                return VERSION
        else:
            raw = (cand.host or "").strip("[]")
            if raw.endswith("::") and raw.count(":") == 2:
                return NETWORK  # "2001::", "aed::": a prefix (or a word before a C++ scope), not a host
            if raw.startswith("::") and raw.count(":") == 2 and not addr.is_loopback:
                return JUNK  # "::beef": a scope operator before a hex-looking word
            return INTERFACE
        if _INTERFACE_COMMANDS.search(prefix[-80:]):
            return INTERFACE
        return None

    def _bare(self, cand: Candidate, host: str, key: str | None) -> Suppression | None:
        raw = cand.raw.split(":", 1)[0]
        labels = host.split(".")
        if not raw.islower():
            return CODE
        if any(len(x) > 40 for x in labels):
            return JUNK
        if cand.suffix.startswith(("?", "#")):
            return FILE_NAME
        if _CODE_TAIL.match(cand.suffix) or (path_is_css(cand) and _CSS_TAIL.match(cand.suffix)):
            return CODE
        if labels[0] in CODE_RECEIVERS and len(labels) <= 3:
            return CODE
        if labels[0] in _REVERSE_DOMAIN_FIRST and len(labels) >= 3:
            return PROTOCOL_NAME
        hostish = bool(key) and bool(re.search(r"host|server|domain|url|addr|dns|ntp|site|broker|endpoint|peer|remote",
                                               key or "", re.IGNORECASE))
        suffix = names.public_suffix(host)
        tld = host.rsplit(".", 1)[-1]
        if tld in names.FILE_LIKE and "." not in suffix and labels[0] != "www" and not hostish:
            return FILE_NAME
        if not names.is_strong(host) and len(labels) < 3 and not hostish:
            return WEAK_SUFFIX
        registrable = names.registrable(host) or host
        if len(registrable.split(".", 1)[0]) == 1 and len(labels) <= 2 and not hostish:
            return JUNK
        for other in (*cand.before[:3], *cand.after[:3]):
            other = other.strip().lower()
            if other != host and other.endswith(host) and len(other) > len(host) and re.fullmatch(
                    r"[a-z0-9.-]+", other):
                return FRAGMENT
        return None


def _is_ip(host: str) -> bool:
    if not host or not (host[0].isdigit() or ":" in host):
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_mask(value: int) -> bool:
    if value == 0xFFFFFFFF:
        return True
    inverted = ~value & 0xFFFFFFFF
    return value >> 31 == 1 and (inverted & (inverted + 1)) == 0
