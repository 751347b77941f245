"""Who entered what: the ``entered_by`` / ``entered_at`` columns, the previous versions kept in
``.history/``, and, when the folder is in a git repository, the commits that touched its files."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pandas as pd

from ..format.csvfile import UTF8_BOM
from ..format.folder import EVENTS_FILE, OBSERVATIONS_FILE
from .writing import HISTORY_FOLDER, read_layout, record_spans

ACTIONS = {"disputed": "disputed", "retracted": "retracted", "confirmed": "confirmed"}


def git_user_email(folder: Path) -> str:
    """git's ``user.email`` as seen from ``folder`` (empty when git or the setting is missing)."""
    try:
        result = subprocess.run(["git", "config", "--get", "user.email"], cwd=folder, capture_output=True,
                                text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def _records(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(physical start line, {lower-case column: cell}) of every record of a CSV file, read as the
    writers read it."""
    data = path.read_bytes()
    layout = read_layout(data, ())
    text = data[len(UTF8_BOM):].decode("utf-8") if layout.bom else data.decode("utf-8")
    header = [name.strip().lower() for name in layout.header]
    spans = record_spans(text, layout.delimiter)
    return [(line, dict(zip(header, cells))) for line, (_, _, cells) in sorted(spans.items())]


def entries(folder: Path) -> pd.DataFrame:
    """Rows entered or changed from the app or the CLI (those with ``entered_at``), newest first: when,
    who, what (added, confirmed, disputed, retracted, or added or fixed), which file and line."""
    rows = []
    for name in (OBSERVATIONS_FILE, EVENTS_FILE):
        path = Path(folder) / name
        if not path.is_file():
            continue
        for line, cells in _records(path):
            when = cells.get("entered_at", "").strip()
            if not when:
                continue
            status = cells.get("status", "").strip().lower()
            what = ACTIONS.get(status, "added or fixed") if name == OBSERVATIONS_FILE else "event added or fixed"
            summary = (f"{cells.get('date', '')} {cells.get('indicator', '')} {cells.get('value', '')}".strip()
                       if name == OBSERVATIONS_FILE else f"{cells.get('date', '')} {cells.get('title', '')}")
            rows.append({"when": when, "who": cells.get("entered_by", "").strip() or "(not recorded)",
                         "what": what, "file": name, "line": line, "row": summary})
    frame = pd.DataFrame(rows, columns=["when", "who", "what", "file", "line", "row"])
    return frame.sort_values("when", ascending=False, kind="stable").reset_index(drop=True)


def previous_versions(folder: Path) -> pd.DataFrame:
    """The copies kept in ``.history/`` before each edit: file, when (local time of the copy), size."""
    rows = []
    for path in sorted((Path(folder) / HISTORY_FOLDER).glob("*.*")):
        if path.name.startswith("."):
            continue
        name, _, stamp = path.name.rpartition(".")
        try:
            when = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S%f").replace(microsecond=0)
        except ValueError:
            continue
        rows.append({"file": name, "saved": when.isoformat(sep=" "), "bytes": path.stat().st_size,
                     "copy": f"{HISTORY_FOLDER}/{path.name}"})
    frame = pd.DataFrame(rows, columns=["file", "saved", "bytes", "copy"])
    return frame.sort_values("saved", ascending=False, kind="stable").reset_index(drop=True)


DATA_FILES = ("watchlist.yaml", "observations.csv", "events.csv", "judgments.csv", "places.csv")


def git_commits(folder: Path, limit: int = 50) -> pd.DataFrame:
    """The commits that changed the watchlist's own files (definitions and data), newest first (empty
    outside a git repository)."""
    columns = ["when", "who", "commit", "message"]
    try:
        # the watchlist's own files only: a checkout's commits that touched other files there are not activity
        result = subprocess.run(["git", "log", f"-{limit}", "--format=%aI%x1f%ae%x1f%h%x1f%s", "--", *DATA_FILES],
                                cwd=folder, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return pd.DataFrame(columns=columns)
    if result.returncode != 0:
        return pd.DataFrame(columns=columns)
    rows = [dict(zip(columns, line.split("\x1f"))) for line in result.stdout.splitlines() if line.count("\x1f") == 3]
    return pd.DataFrame(rows, columns=columns)
