"""Loading a watchlist folder: definitions, observations and events, plus every problem found."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..format.csvfile import empty_frame, read_csv_table
from ..format.definitions import load_definitions
from ..format.folder import (EVENTS_FILE, JUDGMENTS_FILE, OBSERVATION_COLUMNS, OBSERVATIONS_FILE, PLACES_FILE,
                             ROW_TEXT_COLUMNS, ROWS_FILES, WATCHLIST_FILE)
from ..format.judgments import check_judgments, empty_judgments
from ..format.models import Watchlist
from ..format.places import LOCATED_COLUMNS, read_places
from ..format.problems import Problem, sort_problems
from ..format.validation import check_events, check_observations
from . import cache, readahead
from .snapshot import FileSnapshot

WATCHLIST_FILES = (WATCHLIST_FILE, OBSERVATIONS_FILE, EVENTS_FILE, JUDGMENTS_FILE, PLACES_FILE)


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
    feeds: dict = field(default_factory=dict)  # feed name -> FeedSummary (files, newest upload, matches)
    judgments: pd.DataFrame = field(default_factory=empty_judgments)  # valid rows of judgments.csv, typed
    total_judgment_rows: int = 0

    @property
    def csv_observations_used(self) -> int:
        """Valid rows of observations.csv (feed rows are counted per feed, in ``feeds``)."""
        if "feed" not in self.observations.columns:
            return len(self.observations)
        return int((self.observations["feed"] == "").sum())

    def feed_of(self, indicator_id: str):
        """The FeedSummary behind an indicator that takes its rows from a feed, else None."""
        if self.watchlist is None:
            return None
        try:
            query = self.watchlist.indicator(indicator_id).feed
        except KeyError:
            return None
        return self.feeds.get(query.name) if query is not None else None

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


UNPLACED = tuple((name, "float64" if name in ("lat", "lon") else "str") for name in LOCATED_COLUMNS)
OBSERVATION_DTYPES = (("line", "int64"), ("indicator", "category"), ("date", "datetime64[ns]"),
                      ("reported", "datetime64[ns]"), ("value", "float64"),
                      *((name, "str") for name in ROW_TEXT_COLUMNS), *UNPLACED)
EVENT_DTYPES = (("line", "int64"), ("date", "datetime64[ns]"), ("end_date", "datetime64[ns]"),
                *((name, "str") for name in ("title", "category", "description", "source", "url")), *UNPLACED)


def empty_observations() -> pd.DataFrame:
    return empty_frame(OBSERVATION_DTYPES)


def empty_events() -> pd.DataFrame:
    return empty_frame(EVENT_DTYPES)


def watchlist_fingerprint(folder: Path) -> str:
    """SHA-256 over the watchlist files' names and bytes, and the feed files' names, sizes and
    modification times: identifies the exact data behind a view."""
    digest = hashlib.sha256()
    for name in WATCHLIST_FILES:
        path = folder / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    feeds = [entry for entry in files_signature(folder) if entry[0] not in WATCHLIST_FILES]
    if feeds:
        digest.update(repr(feeds).encode())
    return digest.hexdigest()


_feed_definitions: dict[tuple, Watchlist | None] = {}


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
    definition = next((entry for entry in signature if entry[0] == WATCHLIST_FILE), None)
    if definition is not None:  # feed files count too: a new export dropped in shows on the next rerun
        key = (str(folder),) + definition
        if key not in _feed_definitions:
            if len(_feed_definitions) > 32:
                _feed_definitions.clear()
            _feed_definitions[key] = load_definitions(folder).watchlist
        watchlist = _feed_definitions[key]
        if watchlist is not None and watchlist.feeds:
            from ..feeds.files import feeds_signature

            signature.extend(feeds_signature(folder, watchlist))
    return tuple(signature)


def load_watchlist(folder: str | Path, today: dt.date | None = None, feed_engine: str | None = None) -> LoadedWatchlist:
    """Read and validate a watchlist folder. Raises ``NotAWatchlist`` only for a missing folder.
    ``feed_engine`` runs every feed on that engine (duckdb or spark) whatever watchlist.yaml says."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotAWatchlist(f"{folder} is not a folder; give the path of a watchlist folder "
                            "(one holding watchlist.yaml and observations.csv)")
    today = today or dt.date.today()
    definitions = load_definitions(folder, today)
    problems = list(definitions.problems)
    places = read_places(folder)
    problems.extend(places.problems)
    observations = events = judgments = None  # each stays None (then empty) unless its file gives typed rows
    total_observations = total_events = 0
    snapshots: dict[str, FileSnapshot] = {}

    shared = readahead.shared_key(folder, today)  # what every rows file's typed rows depend on besides the file

    def read(name: str, check):
        """(typed rows or None, number of rows) of one CSV file; its problems and snapshot recorded.
        From the derived cache when an entry was made from exactly these files; else from the read a
        command began ahead (``readahead``) when it was begun on exactly this file."""
        path = folder / name
        key = readahead.rows_key(folder, name, shared)  # None: unreadable, and reading it says why
        ahead = readahead.take(folder, name, key) if key else None
        cached = cache.load(folder, name, key) if key else None
        if cached is not None:
            extra = cached.extra
            snapshots[name] = FileSnapshot(extra["size"], 0, extra["sha256"])
            problems.extend(Problem(**problem) for problem in extra["problems"])
            return (cached.frame if extra["typed"] else None), extra["rows"]
        try:
            table = ahead.table() if ahead is not None else read_csv_table(path, name, *ROWS_FILES[name])
        except OSError as error:  # unreadable: permissions, a disk error
            problems.append(Problem(name, None, "file", "unreadable",
                                    f"cannot be read ({(error.strerror or str(error)).lower()}); check its "
                                    "permissions and the disk"))
            return None, 0
        snapshots[name] = FileSnapshot(path.stat().st_size, 0, table.sha256)
        found = list(table.problems)
        typed, rows = None, 0
        if len(table.frame.columns):
            typed, row_problems = check(table.frame)
            found += row_problems
            rows = len(table.frame)
        problems.extend(found)
        if key:
            cache.store_later(folder, name, key, typed if typed is not None else pd.DataFrame(),
                              {"typed": typed is not None, "rows": rows, "size": snapshots[name].size,
                               "sha256": table.sha256, "problems": [problem.as_dict() for problem in found]})
        return typed, rows

    if (folder / OBSERVATIONS_FILE).is_dir():
        problems.append(Problem(OBSERVATIONS_FILE, None, "file", "not_a_file",
                                f"{OBSERVATIONS_FILE} is a folder, not a file; it must be a CSV file with the "
                                "header line: " + ",".join(OBSERVATION_COLUMNS)))
    elif not (folder / OBSERVATIONS_FILE).is_file():
        problems.append(Problem(OBSERVATIONS_FILE, None, "file", "missing_file",
                                f"{OBSERVATIONS_FILE} is missing; create it with the header line: "
                                + ",".join(OBSERVATION_COLUMNS)))
    else:
        typed, total_observations = read(OBSERVATIONS_FILE, lambda frame: check_observations(
            frame, definitions.watchlist, definitions.invalid_indicator_ids, today, places))
        observations = typed
    if (folder / EVENTS_FILE).is_file():
        events, total_events = read(EVENTS_FILE, lambda frame: check_events(frame, places))
    total_judgments = 0
    if (folder / JUDGMENTS_FILE).is_file():
        judgments, total_judgments = read(JUDGMENTS_FILE,
                                          lambda frame: check_judgments(frame, definitions.watchlist, today))
    # an empty frame costs some milliseconds to build: only for a file that gave no rows
    observations = empty_observations() if observations is None else observations
    events = empty_events() if events is None else events
    judgments = empty_judgments() if judgments is None else judgments
    summaries = {}
    if definitions.watchlist is not None and definitions.watchlist.feeds:
        observations, summaries = _with_feed_rows(folder, definitions.watchlist, observations, problems, today,
                                                    feed_engine)
    return LoadedWatchlist(folder, definitions.watchlist, observations, events, sort_problems(problems),
                           total_observations, total_events, snapshots, summaries, judgments, total_judgments)


def _with_feed_rows(folder: Path, watchlist: Watchlist, observations: pd.DataFrame, problems: list[Problem],
                    today: dt.date, engine: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Observations plus the rows the feeds give; rows of observations.csv for a fed indicator are left
    out (an indicator takes its rows from a feed or from observations.csv, not both)."""
    from ..feeds.query import FEED_ROW_COLUMNS, load_feeds

    fed = {indicator.id: indicator.feed.name for indicator in watchlist.indicators if indicator.feed is not None}
    if fed and len(observations):
        indicator_ids = observations["indicator"].astype(str).to_numpy()
        clash = np.isin(indicator_ids, list(fed))
        for line, indicator_id in zip(observations["line"].to_numpy()[clash], indicator_ids[clash]):
            problems.append(Problem(OBSERVATIONS_FILE, int(line), "indicator", "fed_indicator",
                                    f'"{indicator_id}" takes its rows from feed {fed[indicator_id]} (watchlist.yaml); '
                                    "the row is left out: move it to the feed's files or remove the indicator's feed"))
        observations = observations[~clash]
    feeds = load_feeds(folder, watchlist, today, engine, cache)
    problems.extend(feeds.problems)
    rows = feeds.frame.assign(**{name: np.nan if name in ("lat", "lon") else "" for name in LOCATED_COLUMNS
                                 if name not in feeds.frame.columns})
    if not len(rows):
        return observations.assign(until=pd.NaT, feed="", event_id="", feed_file=""), feeds.summaries
    combined = pd.concat([observations.assign(feed="", event_id="", feed_file="", until=pd.NaT)
                          .astype({"until": "datetime64[ns]"}),
                          rows[list(observations.columns) + list(FEED_ROW_COLUMNS)]], ignore_index=True)
    for column in ("indicator", "status", "reliability", "credibility", "place", "located_by"):
        combined[column] = combined[column].astype(str).astype("category")
    return combined, feeds.summaries
