"""Loading a watchlist folder: definitions, observations and events, plus every problem found."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .csvfile import read_csv_table
from .definitions import WATCHLIST_FILE, load_definitions
from .models import Watchlist
from .problems import Problem, sort_problems
from .snapshot import FileSnapshot
from .validation import (EVENT_COLUMNS, EVENT_REQUIRED, EVENTS_FILE, OBSERVATION_COLUMNS, OBSERVATION_REQUIRED,
                         OBSERVATIONS_FILE, check_events, check_observations)

WATCHLIST_FILES = (WATCHLIST_FILE, OBSERVATIONS_FILE, EVENTS_FILE)


class NotAWatchlist(Exception):
    """The folder does not exist or is not a directory (a usage error, not a data problem)."""


@dataclass
class LoadedWatchlist:
    """Everything read from one watchlist folder.

    ``observations`` and ``events`` hold only valid rows, typed; ``problems`` lists every row or
    definition left out, with file, line and field. ``watchlist`` is None when ``watchlist.yaml``
    could not be used at all.
    """

    folder: Path
    watchlist: Watchlist | None
    observations: pd.DataFrame
    events: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    total_observation_rows: int = 0
    total_event_rows: int = 0
    snapshots: dict[str, FileSnapshot] = field(default_factory=dict)  # file name -> as read

    @property
    def title(self) -> str:
        return self.watchlist.title if self.watchlist else self.folder.name

    def default_as_of(self, today: dt.date | None = None) -> dt.date:
        """The watchlist's own ``as_of`` when it has one, otherwise today."""
        if self.watchlist and self.watchlist.as_of:
            return self.watchlist.as_of
        return today or dt.date.today()

    def first_observation_date(self, fallback: dt.date) -> dt.date:
        """The date of the earliest valid observation, or ``fallback`` when there is none."""
        return self.observations["date"].min().date() if len(self.observations) else fallback

    def problems_for(self, indicator_id: str) -> list[Problem]:
        """Problems that concern one indicator: its definition and rows that name it."""
        marker = f"indicator {indicator_id}:"
        return [p for p in self.problems if p.field.startswith(marker) or f'"{indicator_id}"' in p.message]


def empty_observations() -> pd.DataFrame:
    return pd.DataFrame({
        "line": pd.Series([], dtype="int64"), "indicator": pd.Series([], dtype="category"),
        "date": pd.Series([], dtype="datetime64[ns]"), "reported": pd.Series([], dtype="datetime64[ns]"),
        "value": pd.Series([], dtype="float64"),
        **{name: pd.Series([], dtype="str") for name in ("status", "reliability", "credibility", "source",
                                                           "url", "note")},
    })


def empty_events() -> pd.DataFrame:
    return pd.DataFrame({
        "line": pd.Series([], dtype="int64"), "date": pd.Series([], dtype="datetime64[ns]"),
        "end_date": pd.Series([], dtype="datetime64[ns]"),
        **{name: pd.Series([], dtype="str") for name in ("title", "category", "description", "source", "url")},
    })


def watchlist_fingerprint(folder: Path) -> str:
    """SHA-256 over the watchlist files' names and bytes: identifies the exact data behind a view."""
    digest = hashlib.sha256()
    for name in WATCHLIST_FILES:
        path = folder / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def files_signature(folder: Path) -> tuple:
    """(name, size, mtime_ns, ctime_ns, inode) of each watchlist file: changes whenever a file is
    saved, even by an edit of the same size whose modification time was put back (the change time
    cannot be set back, and a save as a new file has a new inode)."""
    signature = []
    for name in WATCHLIST_FILES:
        path = folder / name
        if path.is_file():
            stat = path.stat()
            signature.append((name, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino))
    return tuple(signature)


def load_watchlist(folder: str | Path, today: dt.date | None = None) -> LoadedWatchlist:
    """Read and validate a watchlist folder. Raises ``NotAWatchlist`` only for a missing folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotAWatchlist(f"{folder} is not a folder; give the path of a watchlist folder "
                            "(one holding watchlist.yaml and observations.csv)")
    today = today or dt.date.today()
    definitions = load_definitions(folder, today)
    problems = list(definitions.problems)
    observations, events = empty_observations(), empty_events()
    total_observations = total_events = 0
    snapshots: dict[str, FileSnapshot] = {}

    def read(name: str, required: tuple[str, ...], columns: tuple[str, ...], check):
        """(typed rows or None, number of rows) of one CSV file; its problems and snapshot recorded."""
        path = folder / name
        try:
            table = read_csv_table(path, name, required, columns)
        except OSError as error:  # unreadable: permissions, a disk error
            problems.append(Problem(name, None, "file", "unreadable",
                                    f"cannot be read ({(error.strerror or str(error)).lower()}); check its "
                                    "permissions and the disk"))
            return None, 0
        snapshots[name] = FileSnapshot(path.stat().st_size, 0, table.sha256)
        problems.extend(table.problems)
        if not len(table.frame.columns):
            return None, 0
        typed, row_problems = check(table.frame)
        problems.extend(row_problems)
        return typed, len(table.frame)

    if (folder / OBSERVATIONS_FILE).is_dir():
        problems.append(Problem(OBSERVATIONS_FILE, None, "file", "not_a_file",
                                f"{OBSERVATIONS_FILE} is a folder, not a file; it must be a CSV file with the "
                                "header line: " + ",".join(OBSERVATION_COLUMNS)))
    elif not (folder / OBSERVATIONS_FILE).is_file():
        problems.append(Problem(OBSERVATIONS_FILE, None, "file", "missing_file",
                                f"{OBSERVATIONS_FILE} is missing; create it with the header line: "
                                + ",".join(OBSERVATION_COLUMNS)))
    else:
        typed, total_observations = read(OBSERVATIONS_FILE, OBSERVATION_REQUIRED, OBSERVATION_COLUMNS,
                                         lambda frame: check_observations(frame, definitions.watchlist,
                                                                          definitions.invalid_indicator_ids, today))
        observations = observations if typed is None else typed
    if (folder / EVENTS_FILE).is_file():
        typed, total_events = read(EVENTS_FILE, EVENT_REQUIRED, EVENT_COLUMNS, check_events)
        events = events if typed is None else typed
    return LoadedWatchlist(folder, definitions.watchlist, observations, events, sort_problems(problems),
                           total_observations, total_events, snapshots)
