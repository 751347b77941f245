"""Reading a watchlist's CSV files ahead, while the command that needs them is still importing.

A cold ``watchfloor status`` of a large watchlist spends about a third of a second importing pandas,
pydantic and the checks, and about as long having pyarrow read and parse observations.csv. Neither
needs the other. So a command calls ``read_ahead(folder)`` first: each rows file that the derived
cache has no entry for starts being read on a thread (``PendingTable``: pyarrow and no pandas). The
loader then ``take``s the read of a file only when the file still has the key it had when its read
began, the key a cache entry of its typed rows would need; otherwise it reads the file itself.
Nothing changes but when the reading happens: the same code reads the same bytes.

Imports nothing heavy (the cache module and the file names only), and never raises: a file it cannot
read is left for the loader to report.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from ..format.csvfile import PendingTable
from ..format.folder import PLACES_FILE, ROWS_FILES, WATCHLIST_FILE
from . import cache

_started: dict[tuple[str, str], tuple[dict, PendingTable]] = {}
_lock = threading.Lock()


def shared_key(folder: Path, today: dt.date) -> dict | None:
    """What every rows file's typed rows depend on besides the file: the definitions, the places, today
    and the code (worked out once per read of a folder). None when one of those files cannot be read."""
    try:
        return {"definitions": cache.file_key(folder / WATCHLIST_FILE), "places": cache.file_key(folder / PLACES_FILE),
                "today": today.isoformat(), "code": cache.code_version()}
    except OSError:
        return None


def rows_key(folder: Path, name: str, shared: dict | None) -> dict | None:
    """The key of a rows file's typed rows: the file itself and ``shared_key``. None when the file (or
    one it depends on) cannot be read: reading it says why."""
    if shared is None:
        return None
    try:
        return {"file": cache.file_key(folder / name), **shared}
    except OSError:
        return None


def read_ahead(folder: str | Path, today: dt.date | None = None) -> None:
    """Start reading each rows file of ``folder`` that the cache cannot answer for; returns at once.
    A read begun by an earlier call and never taken is dropped."""
    folder = Path(folder)
    today = today or dt.date.today()
    with _lock:
        _started.clear()
    shared = shared_key(folder, today)
    for name, layout in ROWS_FILES.items():
        path = folder / name
        try:
            key = rows_key(folder, name, shared) if path.is_file() else None
            if key is None or cache.has(folder, name, key):
                continue
        except OSError:  # a folder or cache it may not look into: the loader says so, or does without
            continue
        with _lock:
            _started[_place(folder, name)] = (key, PendingTable(path, name, *layout))


def take(folder: Path, name: str, key: dict) -> PendingTable | None:
    """The read of ``name`` begun by ``read_ahead``, if one was begun on a file with exactly this key;
    a read begun on other content is dropped. Each read is taken once."""
    with _lock:
        started = _started.pop(_place(folder, name), None)
    if started is None or started[0] != key:
        return None
    return started[1]


def _place(folder: Path, name: str) -> tuple[str, str]:
    return str(folder.resolve()), name
