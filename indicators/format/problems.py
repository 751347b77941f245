"""Problems found in a watchlist: errors as data, each naming file, line and field."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a watchlist file.

    ``line`` is the physical line where the offending record starts (header = 1), or None when the
    problem concerns the file as a whole. ``field`` is a column name, a YAML key path, or "file".
    """

    file: str
    line: int | None
    field: str
    code: str
    message: str

    def format(self, path_prefix: str = "") -> str:
        """Render as ``PATH:LINE: field: message`` (the line is left out when unknown)."""
        location = f"{path_prefix}{self.file}"
        if self.line is not None:
            location += f":{self.line}"
        return f"{location}: {self.field}: {self.message}"

    def as_dict(self) -> dict:
        return asdict(self)


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """Order problems by file, then line (file-wide problems first), then field."""
    return sorted(problems, key=lambda p: (p.file, p.line or 0, p.field, p.code))
