"""Rules of the unpacking stage: what could not be unpacked, and signs of tampering met on the way."""

from ..findings import Rule

_UNBLOB = "https://unblob.org/"
_TRAVERSAL = "https://cwe.mitre.org/data/definitions/22.html"
_LINK = "https://cwe.mitre.org/data/definitions/59.html"

EXTRACT_FAILED = Rule(
    "VER-UNP-001",
    "analysis.incomplete",
    "medium",
    "Part of the image could not be unpacked",
    "An extractor failed on a container; files inside it are not analysed.",
    references=(_UNBLOB,),
)
LIMIT_HIT = Rule(
    "VER-UNP-002",
    "analysis.incomplete",
    "high",
    "Unpacking stopped at a safety limit",
    "A size, file-count, depth, compression-ratio or time limit was reached; what lies beyond it is not analysed.",
)
NOTHING_UNPACKED = Rule(
    "VER-UNP-003",
    "analysis.incomplete",
    "medium",
    "No known format found in the target",
    "The target is not a directory, archive, filesystem or firmware layout veracity can open; only the raw bytes are analysed.",
    references=(_UNBLOB,),
)
UNREADABLE = Rule(
    "VER-UNP-004",
    "analysis.incomplete",
    "low",
    "A file could not be read or parsed",
    "A file of the unpacked tree could not be read or parsed; checks that need it have less evidence.",
)
UNSAFE_NAME = Rule(
    "VER-UNP-005",
    "analysis.incomplete",
    "low",
    "An entry with an unusable name was skipped",
    "An entry name holds a NUL byte, is empty or is too long for the file system; the entry is skipped.",
)
UNKNOWN_DATA = Rule(
    "VER-UNP-006",
    "analysis.incomplete",
    "info",
    "Unrecognised data between known chunks",
    "A region of a firmware blob matched no known format (often a boot loader, padding or encrypted data).",
    references=(_UNBLOB,),
)
PATH_TRAVERSAL = Rule(
    "VER-UNP-101",
    "code.malicious",
    "high",
    "Archive entry tries to write outside its directory (path traversal)",
    "A member name climbs out of the extraction directory with '..'. Extractors that honour it overwrite files "
    "of the host; in a product image it is a sign of tampering. The entry was not written.",
    references=(_TRAVERSAL,),
)
LINK_ESCAPE = Rule(
    "VER-UNP-102",
    "code.malicious",
    "medium",
    "Link points outside its tree",
    "A symbolic or hard link climbs above the root of its tree with '..' (or a hard link names a path outside). "
    "veracity never follows it; an extractor that does would read or write host files.",
    references=(_LINK,),
)
WRITE_THROUGH_LINK = Rule(
    "VER-UNP-103",
    "code.malicious",
    "high",
    "Archive entry is written through a link",
    "A member's parent directory is a symbolic link in the same archive, a known trick to write outside the "
    "extraction directory. The entry was not written.",
    references=(_LINK,),
)
DEVICE_NODE = Rule(
    "VER-UNP-104",
    "config.insecure",
    "low",
    "Archive carries a device node",
    "A package or archive (not a root filesystem) carries a device node, which no legitimate package needs. "
    "It was recorded, not created.",
)

ALL = (
    EXTRACT_FAILED,
    LIMIT_HIT,
    NOTHING_UNPACKED,
    UNREADABLE,
    UNSAFE_NAME,
    UNKNOWN_DATA,
    PATH_TRAVERSAL,
    LINK_ESCAPE,
    WRITE_THROUGH_LINK,
    DEVICE_NODE,
)
