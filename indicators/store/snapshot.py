"""A file as it was read, so that a later write can refuse to overwrite somebody else's edit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileSnapshot:
    """Size and SHA-256 of a file's bytes when it was read (``mtime_ns`` is informative only)."""

    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> FileSnapshot:
        data = path.read_bytes()
        return cls(len(data), path.stat().st_mtime_ns, hashlib.sha256(data).hexdigest())

    def matches(self, path: Path) -> bool:
        if not path.exists():
            return False
        current = FileSnapshot.of(path)
        return (current.size, current.sha256) == (self.size, self.sha256)
