"""Bounds on what one scan may unpack. Every limit hit becomes an ``analysis.incomplete`` finding."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

GiB = 2**30
MiB = 2**20


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 4 * GiB
    """Total bytes the scan may write into its work directory."""
    max_files: int = 500_000
    """Total files, directories and links over all unpacked trees."""
    max_depth: int = 8
    """How many containers deep to open (the target itself is depth 0)."""
    max_ratio: float = 200.0
    """Largest unpacked/packed size ratio of one container once it has written more than ``ratio_floor``."""
    ratio_floor: int = 64 * MiB
    timeout_s: float = 900.0
    """Wall-clock budget of the whole scan."""
    extractor_timeout_s: float = 300.0
    """Wall-clock budget of one external extraction (unblob handler)."""


class LimitExceeded(Exception):
    """Raised inside an extractor when a limit is hit; the engine turns it into a finding."""

    def __init__(self, limit: str, message: str):
        super().__init__(message)
        self.limit = limit


@dataclass(slots=True)
class Budget:
    """What the scan has used so far, shared by every extractor of one scan."""

    limits: Limits
    started: float = field(default_factory=time.monotonic)
    bytes: int = 0
    files: int = 0

    @property
    def deadline(self) -> float:
        return self.started + self.limits.timeout_s

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise LimitExceeded("timeout", f"scan time limit of {self.limits.timeout_s:g} s reached")

    def add_file(self) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise LimitExceeded("max_files", f"file count limit of {self.limits.max_files} reached")

    def add_bytes(self, n: int) -> None:
        self.bytes += n
        if self.bytes > self.limits.max_bytes:
            raise LimitExceeded("max_bytes", f"unpacked size limit of {self.limits.max_bytes} bytes reached")

    def remaining_bytes(self) -> int:
        return max(0, self.limits.max_bytes - self.bytes)


@dataclass(slots=True)
class RatioGuard:
    """Stops one container whose output grows out of proportion to its packed size (a compression bomb)."""

    limits: Limits
    packed: int
    written: int = 0

    def add(self, n: int) -> None:
        self.written += n
        if self.written > self.limits.ratio_floor and self.written > self.limits.max_ratio * max(self.packed, 1):
            raise LimitExceeded(
                "max_ratio",
                f"compression ratio limit {self.limits.max_ratio:g}:1 exceeded "
                f"({self.written} bytes out of {self.packed} packed bytes)",
            )
