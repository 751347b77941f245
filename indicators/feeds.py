"""Observations derived from event feeds (ACLED, GDELT, any table with a header), read in place.

The matching query is written once with ibis and runs on embedded DuckDB (the default) or on Apache
Spark (``engine: spark``). Only the rows that match an indicator's ``where`` leave the engine; the
small result is then typed here, with a problem (file, line, field) for every row left out.

ACLED is a living dataset: rows sharing an ``event_id_cnty`` are versions of one event. Each version
is visible from the UTC date of its ``timestamp`` until the date the next version (or a deletion)
appeared, its ``until``: as of D only the newest version uploaded on or before D counts.
"""

from __future__ import annotations

import atexit
import csv
import datetime as dt
import gzip
import io
import os
import shutil
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .changes import known_observations
from .csvfile import FIELD_SIZE_LIMIT  # noqa: F401  (raises the csv module's field limit once)
from .feedlayouts import ACLED_DELETION_COLUMNS, FIXED_COLUMNS, GDELT_COLUMNS, GEO_COLUMNS, roles_of
from .models import Between, Contains, Feed, Indicator, Watchlist
from .places import feed_places
from .problems import Problem

FEED_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet", ".zip")
TABLE_REFRESH_SECONDS = 600
DUCKDB_MEMORY_LIMIT = os.environ.get("WATCHFLOOR_DUCKDB_MEMORY", "512MB")
MAX_PROBLEMS_PER_FILE = 20  # further bad rows of one file are summed up in one problem
ACLED_DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y", "%d-%b-%y", "%d %b %Y", "%d-%B-%y")
FEED_ROW_COLUMNS = ("feed", "event_id", "feed_file", "until")


class FeedEngineMissing(Exception):
    """The engine a feed asks for is not installed (``pip install "watchfloor[spark]"``)."""


@dataclass(frozen=True)
class FeedFile:
    path: Path
    label: str  # as shown: relative to the watchlist folder
    size: int
    mtime_ns: int

    @property
    def kind(self) -> str:
        name = self.path.name.lower()
        if name.endswith(".parquet"):
            return "parquet"
        if name.endswith(".zip"):
            return "zip"
        return "tsv" if name.endswith((".tsv", ".tsv.gz")) else "csv"


@dataclass
class FeedSummary:
    """What a feed contributed: its files, newest upload, matching events per indicator, rows left out."""

    name: str
    source: str
    engine: str
    files: list[FeedFile]
    newest_upload: dt.date | None = None
    matching: dict[str, int] = field(default_factory=dict)  # indicator id -> events with a matching version
    left_out: int = 0

    @property
    def label(self) -> str:
        """The feed's name, with its source when that differs: "acled (ACLED)", "tally"."""
        return self.name if self.source == self.name else f"{self.name} ({self.source})"

    def describe(self) -> str:
        """One line: "Feed acled (ACLED): 2 files (feeds/acled-2022.csv, ...), newest upload 2022-03-01,
        41 matching events" (over all the files, whatever the as-of date; see ``feed_lines_as_of``)."""
        names = ", ".join(file.label for file in self.files[:3]) + (", ..." if len(self.files) > 3 else "")
        newest = self.newest_upload.isoformat() if self.newest_upload else "none"
        files = f"{len(self.files)} file{'s' if len(self.files) != 1 else ''}"
        total = sum(self.matching.values())
        return (f"Feed {self.label}: {files} ({names or 'none'}), newest upload {newest}, "
                f"{total} matching event{'' if total == 1 else 's'}")


@dataclass
class FeedRows:
    frame: pd.DataFrame  # observation-like rows, one per indicator and matching event version
    summaries: dict[str, FeedSummary]
    problems: list[Problem]


# ---------------------------------------------------------------- files


def feed_files(folder: Path, name: str, feed: Feed) -> tuple[list[FeedFile], list[Problem]]:
    """The files a feed's ``path`` glob matches, sorted, with a problem when none or a wrong kind."""
    if feed.path is None:
        return [], []
    deletion_files = set(folder.glob(feed.deletions)) if feed.deletions else set()
    matched = sorted(path for path in folder.glob(feed.path) if path.is_file() and path not in deletion_files)
    problems, files = [], []
    for path in matched:
        label = path.relative_to(folder).as_posix()
        lowered = path.name.lower()
        if not lowered.endswith(FEED_SUFFIXES):
            problems.append(Problem(label, None, "file", "feed_file_kind",
                                    f"is matched by feed {name}'s path but is not a .csv, .csv.gz, .tsv, .parquet or "
                                    ".zip file; narrow the path or rename the file"))
            continue
        stat = path.stat()
        files.append(FeedFile(path, label, stat.st_size, stat.st_mtime_ns))
    if not matched:
        problems.append(Problem("watchlist.yaml", None, f"feeds.{name}.path", "feed_no_files",
                                f'"{feed.path}" matches no file in {folder.name}/; drop an export there or fix the path'))
    return files, problems


def feeds_signature(folder: Path, watchlist: Watchlist | None) -> tuple:
    """(label, size, mtime) of every feed file: a new or re-saved export changes it."""
    if watchlist is None:
        return ()
    signature = []
    for name, feed in watchlist.feeds.items():
        if feed.table is not None:  # a warehouse table has no file to watch: read it again every 10 minutes
            signature.append((name, feed.table, int(time.time() // TABLE_REFRESH_SECONDS)))
        for pattern in (feed.path, feed.deletions):
            if pattern:
                for path in sorted(folder.glob(pattern)):
                    if path.is_file():
                        stat = path.stat()
                        signature.append((name, path.relative_to(folder).as_posix(), stat.st_size,
                                          stat.st_mtime_ns))
    return tuple(signature)


_unpacked: dict[tuple, Path] = {}
_unpack_lock = threading.Lock()
_scratch: list[Path] = []


def _scratch_folder() -> Path:
    if not _scratch:
        folder = Path(tempfile.mkdtemp(prefix="watchfloor-feeds-"))
        _scratch.append(folder)
        atexit.register(shutil.rmtree, folder, True)
    return _scratch[0]


def _unzipped(file: FeedFile) -> Path:
    """The CSV inside a zip (GDELT publishes ``*.export.CSV.zip``), unpacked once to a private scratch
    folder outside the watchlist (reading a watchlist never writes into it)."""
    key = (str(file.path), file.size, file.mtime_ns)
    with _unpack_lock:
        if key not in _unpacked:
            with zipfile.ZipFile(file.path) as archive:
                members = [info for info in archive.infolist() if not info.is_dir()]
                if len(members) != 1:
                    raise ValueError(f"holds {len(members)} files; a feed zip must hold exactly one CSV")
                target = _scratch_folder() / f"{len(_unpacked)}-{Path(members[0].filename).name}"
                with archive.open(members[0]) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
            _unpacked[key] = target
        return _unpacked[key]


def _open_text(path: Path):
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8-sig", newline="", errors="replace")
    return open(path, encoding="utf-8-sig", newline="", errors="replace")


def _header_of(file: FeedFile, readable: Path, delimiter: str) -> list[str]:
    if file.kind == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(readable).names)
    with _open_text(readable) as handle:
        return next(csv.reader(handle, delimiter=delimiter), [])


def _first_line_fields(readable: Path) -> int:
    with _open_text(readable) as handle:
        return len(handle.readline().rstrip("\r\n").split("\t"))


# ---------------------------------------------------------------- the query (engine-neutral, ibis)


def _trim(cell):
    """The engine's own ``trim`` (spaces), by name: DuckDB and Spark both have it, and it is several
    times cheaper than a trim of a given set of characters."""
    import ibis

    @ibis.udf.scalar.builtin(name="trim")
    def trim(text: str) -> str: ...

    return trim(cell)


def _text(table, column: str):
    return _trim(table[column].cast("string"))


def _equals_trimmed(cell, values: list[str]):
    """The cell, spaces around it ignored, is one of the values. Only a cell that starts or ends with
    a space is trimmed: trimming every cell of a 10-million-row file costs more than reading it."""
    exact = cell == values[0] if len(values) == 1 else cell.isin(values)
    trimmed = _trim(cell)
    return exact | ((cell.like(" %") | cell.like("% ")) & (trimmed == values[0] if len(values) == 1
                                                           else trimmed.isin(values)))


def condition_expression(table, column: str, condition):
    """One ``where`` condition as an ibis boolean (NULL for an empty cell: it never matches)."""
    import ibis

    cell = table[column].cast("string")
    if isinstance(condition, Contains):
        lowered = cell.lower()
        return ibis.or_(*[lowered.contains(text.lower()) for text in condition.contains])
    if isinstance(condition, Between):
        number = cell.try_cast("float64")
        parts = []
        if condition.at_least is not None:
            parts.append(number >= condition.at_least)
        if condition.at_most is not None:
            parts.append(number <= condition.at_most)
        return ibis.and_(*parts)
    return _equals_trimmed(cell, condition if isinstance(condition, list) else [condition])


def matching_query(table, feed: Feed, queries: list[tuple[str, Indicator]]):
    """The one query of a feed: every row that matches at least one indicator's ``where``, with a flag
    per indicator, its id, dates, source, note, url and value cells as text, and (for datasets that
    revise events) the upload key of the event's next version, whether that version matches or not."""
    import ibis

    roles = roles_of(feed)
    flags = {f"match_{number}": ibis.and_(*[condition_expression(table, column, condition)
                                             for column, condition in indicator.feed.conditions()])
             for number, (_, indicator) in enumerate(queries)}
    any_match = ibis.or_(*flags.values())
    null = ibis.null("string")
    picked = {f"cell_{role}": ibis.ifelse(any_match, _text(table, column), null)
              for role, column in roles.items() if column and role != "id"}
    picked.update({f"geo_{role}": ibis.ifelse(any_match, _text(table, column), null)
                   for role, column in GEO_COLUMNS.get(feed.format, {}).items() if column in table.columns})
    value_columns = sorted({indicator.feed.value for _, indicator in queries if indicator.feed.value})
    picked.update({f"value_{position}": ibis.ifelse(any_match, _text(table, column), null)
                   for position, column in enumerate(value_columns)})
    event_id = table[roles["id"]].cast("string") if roles["id"] else null
    columns = {**flags, "any_match": any_match, "cell_id": ibis.ifelse(any_match, _text(table, roles["id"]), null)
               if roles["id"] else null, "source_file": table["source_file"], **picked}
    if _has_versions(feed):
        key = table[roles["reported"]].cast("string")
        if feed.format == "acled":
            key = key.try_cast("int64")
        columns["next_version"] = key.lead().over(group_by=event_id, order_by=key).cast("string")
    return table.mutate(**columns).filter(ibis._.any_match).drop("any_match"), value_columns


def _has_versions(feed: Feed) -> bool:
    roles = roles_of(feed)
    return feed.format == "acled" or (feed.format == "csv" and bool(roles["id"]) and bool(roles["reported"]))


# ---------------------------------------------------------------- engines


_connections: dict[str, object] = {}


def connect(engine: str):
    """An ibis connection for ``duckdb`` (in-process) or ``spark`` (local mode, or Spark Connect when
    ``SPARK_REMOTE`` is set); made once per process."""
    if engine in _connections:
        return _connections[engine]
    import ibis

    if engine == "duckdb":
        connection = ibis.duckdb.connect()
        # Order does not matter to the feed query; a bounded memory lets the window over a large ACLED
        # file spill to a private scratch folder instead of growing the process past a gigabyte.
        connection.raw_sql("SET preserve_insertion_order = false")
        connection.raw_sql(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        connection.raw_sql(f"SET temp_directory = '{_scratch_folder() / 'duckdb'}'")
    else:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise FeedEngineMissing('engine spark needs the spark extra: pip install "watchfloor[spark]" '
                                    "(and Java 17 or later for local mode)") from None
        builder = (SparkSession.builder.appName("watchfloor")
                   .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false"))
        if not os.environ.get("SPARK_REMOTE"):
            builder = builder.master(os.environ.get("WATCHFLOOR_SPARK_MASTER", "local[*]"))
        session = builder.getOrCreate()
        if hasattr(session, "sparkContext"):  # not with Spark Connect
            session.sparkContext.setLogLevel("ERROR")
        connection = ibis.pyspark.connect(session)
    _connections[engine] = connection
    return connection


def _read_file(connection, engine: str, feed: Feed, file: FeedFile, readable: Path, columns: list[str],
               rejects: tuple[str, str] = ("reject_errors", "reject_scans")):
    """One feed file as an ibis table of text columns plus ``source_file``; DuckDB stores the lines it
    cannot split in the ``rejects`` tables (errors, scans) of this run."""
    import ibis

    path = str(readable)
    if file.kind == "parquet":
        table = connection.read_parquet(path)
    elif feed.format == "gdelt":
        if engine == "duckdb":
            table = connection.read_csv(path, header=False, delim="\t", quote="", escape="",
                                        columns={name: "VARCHAR" for name in GDELT_COLUMNS}, store_rejects=True,
                                        rejects_table=rejects[0], rejects_scan=rejects[1])
        else:
            table = connection.read_csv(path, header=False, sep="\t", quote="",
                                        schema=", ".join(f"`{name}` STRING" for name in GDELT_COLUMNS))
    else:
        delimiter = "\t" if file.kind == "tsv" else ","
        if engine == "duckdb":
            table = connection.read_csv(path, header=True, delim=delimiter, quote='"', escape='"',
                                        all_varchar=True, store_rejects=True, rejects_table=rejects[0],
                                        rejects_scan=rejects[1])
        else:
            table = connection.read_csv(path, header=True, sep=delimiter, quote='"', escape='"',
                                        inferSchema=False, multiLine=True)
    return table.select(*[table[column].cast("string").name(column) for column in columns]).mutate(
        source_file=ibis.literal(file.label))


def _duckdb_rejects(connection, labels_of: dict[str, str], rejects: tuple[str, str]) -> list[Problem]:
    """Lines DuckDB could not split into the header's columns (too many or too few cells) in this run."""
    errors, scans = rejects
    try:
        frame = connection.con.execute(
            "SELECT s.file_path, e.line, first(e.error_message ORDER BY e.byte_position) AS error_message "
            f"FROM {errors} e JOIN {scans} s USING (scan_id, file_id) GROUP BY 1, 2 ORDER BY 1, 2").df()
    except Exception:  # no scan stored rejects
        return []
    finally:
        for name in rejects:
            try:
                connection.con.execute(f"DROP TABLE IF EXISTS {name}")
            except Exception:  # noqa: S110 - dropping a scratch table is best effort
                pass
    found = []
    starts: dict[str, dict[int, int]] = {}
    for row in frame.itertuples(index=False):
        label = labels_of.get(str(Path(row.file_path).resolve()))
        if label is not None:
            if row.file_path not in starts:  # DuckDB counts records; a quoted note may span lines
                wanted = set(frame.loc[frame["file_path"] == row.file_path, "line"].astype(int))
                starts[row.file_path] = _record_start_lines(Path(row.file_path), wanted)
            line = starts[row.file_path].get(int(row.line), int(row.line))
            found.append(Problem(label, line, "file", "feed_bad_line",
                                 f"cannot be read: {str(row.error_message).rstrip('.')}; the row is left out "
                                 "(check quotes and delimiters on this line)"))
    return found


def _record_start_lines(path: Path, records: set[int]) -> dict[int, int]:
    """{record number (header = 1): the physical line it starts on}, for the records asked for."""
    starts, line_before = {}, 0
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        for number, _ in enumerate(reader, start=1):
            if number in records:
                starts[number] = line_before + 1
                if len(starts) == len(records):
                    break
            line_before = reader.line_num
    return starts


# ---------------------------------------------------------------- typing the result


def _parse_dates(cells: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    """Dates from text by the first format that fits, over distinct values; NaT where none does."""
    uniques = pd.unique(cells.dropna())

    def parse(text: str):
        for form in formats:
            try:
                return dt.datetime.strptime(text, form)
            except ValueError:
                continue
        return pd.NaT

    mapping = {text: parse(text) for text in uniques}
    return pd.to_datetime(cells.map(mapping), errors="coerce").astype("datetime64[ns]")


def _utc_days(seconds: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(seconds, errors="coerce")
    numbers = numbers.where((numbers >= 0) & (numbers < 9_000_000_000))
    return pd.to_datetime(numbers, unit="s", utc=True).dt.tz_localize(None).dt.normalize().astype("datetime64[ns]")


def _date_formats(feed: Feed, role: str) -> tuple[str, ...]:
    if feed.format == "gdelt":
        return ("%Y%m%d",) if role == "date" else ("%Y%m%d%H%M%S",)
    return ACLED_DATE_FORMATS + ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ")


def _reported_days(feed: Feed, cells: pd.Series) -> pd.Series:
    if feed.format == "acled":
        return _utc_days(cells)
    return _parse_dates(cells, _date_formats(feed, "reported")).dt.normalize()


WHAT_IS_RIGHT = {
    "acled": "ACLED writes YYYY-MM-DD (also 16 May 2025 or 7-Feb-25)",
    "gdelt": "GDELT writes YYYYMMDD",
    "csv": "use YYYY-MM-DD",
}


def typed_feed_rows(name: str, feed: Feed, queries: list[tuple[str, Indicator]], raw: pd.DataFrame,
                    value_columns: list[str], deletions: dict[str, dt.date], today: dt.date,
                    ) -> tuple[pd.DataFrame, list[tuple[str, str, str, str, str]]]:
    """Observation rows from the engine's result; and the rows left out as (file, id, field, cell, why)."""
    roles = roles_of(feed)
    bad: list[tuple[str, str, str, str, str]] = []
    dates = _parse_dates(raw["cell_date"], _date_formats(feed, "date"))
    keep = dates.notna().to_numpy().copy()
    for position in np.flatnonzero(~keep):
        cell = raw["cell_date"].iat[position]
        bad.append((raw["source_file"].iat[position], raw["cell_id"].iat[position], roles["date"], cell or "",
                    "is empty; every event needs its date" if not cell else
                    f'"{cell}" is not a date; {WHAT_IS_RIGHT[feed.format]}'))
    if roles["reported"]:
        reported = _reported_days(feed, raw["cell_reported"])
        missing = reported.isna().to_numpy() & keep
        for position in np.flatnonzero(missing):
            cell = raw["cell_reported"].iat[position]
            what = ("Unix time in seconds" if feed.format == "acled" else "YYYYMMDDHHMMSS"
                    if feed.format == "gdelt" else "YYYY-MM-DD")
            bad.append((raw["source_file"].iat[position], raw["cell_id"].iat[position], roles["reported"], cell or "",
                        f'"{cell}" is not an upload time; use {what}' if cell else f"is empty; it must hold {what}"))
        keep &= ~missing
        reported = reported.fillna(dates)
    else:
        reported = dates
    future = keep & (dates > pd.Timestamp(today)).to_numpy()
    for position in np.flatnonzero(future):
        bad.append((raw["source_file"].iat[position], raw["cell_id"].iat[position], roles["date"],
                    raw["cell_date"].iat[position], f'"{raw["cell_date"].iat[position]}" is after today '
                    f"({today.isoformat()}); check the year"))
    keep &= ~future
    reported = reported.where(reported >= dates, dates)  # a row never counts before its own date
    if "next_version" in raw.columns:
        following = _reported_days(feed, raw["next_version"])
    else:
        following = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if deletions:
        deleted = pd.to_datetime(raw["cell_id"].map(deletions)).astype("datetime64[ns]")
        following = following.where(following.notna() & ((deleted.isna()) | (following <= deleted)), deleted)
    values_of = {}
    for position, column in enumerate(value_columns):
        cells = raw[f"value_{position}"]
        numbers = pd.to_numeric(cells.str.replace(",", "", regex=False) if len(cells) else cells, errors="coerce")
        values_of[column] = (numbers, cells)
    frames = []
    label = feed.source_label or name
    if feed.format == "csv" and "cell_source" in raw:  # a generic table names each row's own source
        source = raw["cell_source"].where(raw["cell_source"].notna() & (raw["cell_source"] != ""), label)
        note = raw["cell_note"].fillna("").astype(str) if "cell_note" in raw else ""
    else:
        source, note = label, _note(raw)
    base = pd.DataFrame({
        "date": dates, "reported": reported, "until": following,
        "source": source, "url": raw["cell_url"] if "cell_url" in raw else "",
        "note": note, "event_id": raw["cell_id"].fillna(""), "feed_file": raw["source_file"],
        **feed_places(raw, label),
    })
    for number, (indicator_id, indicator) in enumerate(queries):
        mine = raw[f"match_{number}"].fillna(False).to_numpy(dtype=bool) & keep
        if indicator.aggregate == "count" or indicator.feed.value is None:
            values = np.ones(len(raw))
        else:
            numbers, cells = values_of[indicator.feed.value]
            values = numbers.to_numpy(dtype=float)
            for position in np.flatnonzero(mine & ~np.isfinite(values)):
                cell = cells.iat[position]
                bad.append((raw["source_file"].iat[position], raw["cell_id"].iat[position], indicator.feed.value,
                            cell or "", f'"{cell}" is not a number; indicator {indicator_id} needs a number here'
                            if cell else f"is empty; indicator {indicator_id} needs a number here"))
            mine &= np.isfinite(values)
        frame = base[mine].assign(indicator=indicator_id, value=values[mine])
        if feed.format == "gdelt" or (roles["id"] and not _has_versions(feed)):
            # the same event in several files (or twice in one) counts once: its first upload
            frame = frame.sort_values(["reported", "feed_file"], kind="stable").drop_duplicates("event_id")
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True) if frames else base.iloc[:0].assign(indicator="", value=0.0)
    rows["feed"] = name
    rows["line"] = 0
    rows["status"] = "reported"
    rows["reliability"] = feed.reliability
    rows["credibility"] = feed.credibility
    rows["url"] = rows["url"].fillna("").astype(str)
    return rows, bad


def _note(raw: pd.DataFrame) -> pd.Series:
    note = raw["cell_note"].fillna("") if "cell_note" in raw else pd.Series("", index=raw.index)
    if "cell_source" in raw:
        sources = raw["cell_source"].fillna("")
        note = note.where(sources == "", note + np.where(note == "", "", " ") + "(sources: " + sources + ")")
    return note.astype(str)


def read_deletions(folder: Path, name: str, feed: Feed) -> tuple[dict[str, dt.date], list[Problem], list[FeedFile]]:
    """{event id: first deletion date (UTC)} from the ACLED deletions file(s)."""
    if not feed.deletions:
        return {}, [], []
    deleted: dict[str, dt.date] = {}
    problems: list[Problem] = []
    files = []
    paths = sorted(path for path in folder.glob(feed.deletions) if path.is_file())
    if not paths:
        problems.append(Problem("watchlist.yaml", None, f"feeds.{name}.deletions", "feed_no_files",
                                f'"{feed.deletions}" matches no file in {folder.name}/; fix the path or remove deletions'))
    for path in paths:
        label = path.relative_to(folder).as_posix()
        stat = path.stat()
        files.append(FeedFile(path, label, stat.st_size, stat.st_mtime_ns))
        with _open_text(path) as handle:
            reader = csv.reader(handle)
            header = [cell.strip() for cell in next(reader, [])]
            missing = [column for column in ACLED_DELETION_COLUMNS if column not in header]
            if missing:
                problems.append(Problem(label, 1, "file", "feed_missing_columns",
                                        f"lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                                        "an ACLED deletions file has the header event_id_cnty,deleted_timestamp"))
                continue
            id_at, time_at = header.index("event_id_cnty"), header.index("deleted_timestamp")
            for record in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in record):
                    continue
                cells = record + [""] * (len(header) - len(record))
                event, stamp = cells[id_at].strip(), cells[time_at].strip()
                try:
                    seconds = int(stamp)
                    day = dt.datetime.fromtimestamp(seconds, dt.timezone.utc).date()
                except (ValueError, OverflowError, OSError):
                    problems.append(Problem(label, line, "deleted_timestamp", "feed_bad_number",
                                            f'"{stamp}" is not a Unix time in seconds; the deletion is left out'))
                    continue
                if event:
                    deleted[event] = min(day, deleted.get(event, day))
    return deleted, problems, files


# ---------------------------------------------------------------- locating bad rows for messages


def _locate_lines(file: FeedFile, readable: Path, feed: Feed, wanted: dict[tuple[str, str], list[int]]) -> None:
    """Fill in the physical line of each (event id, column) asked for, scanning the file once."""
    if file.kind == "parquet" or not wanted:
        return
    roles = roles_of(feed)
    delimiter = "\t" if feed.format == "gdelt" or file.kind == "tsv" else ","
    with _open_text(readable) as handle:
        if feed.format == "gdelt":
            header = list(GDELT_COLUMNS)
            reader = csv.reader(handle, delimiter=delimiter, quoting=csv.QUOTE_NONE)
            line_before = 0
        else:
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, [])
            line_before = reader.line_num
        id_at = header.index(roles["id"]) if roles["id"] in header else None
        ids = {event for event, _ in wanted}
        for record in reader:
            line = line_before + 1
            line_before = reader.line_num
            event = record[id_at].strip() if id_at is not None and id_at < len(record) else ""
            if event in ids:
                for (wanted_id, _), lines in wanted.items():
                    if wanted_id == event:
                        lines.append(line)


# ---------------------------------------------------------------- running a feed


_results: dict[tuple, tuple[pd.DataFrame, FeedSummary, list[Problem]]] = {}
_results_lock = threading.Lock()


def _result_key(folder: Path, name: str, feed: Feed, queries, files, deletion_files, today) -> tuple:
    refresh = int(time.time() // TABLE_REFRESH_SECONDS) if feed.table is not None else 0
    return (str(folder), name, feed.model_dump_json(), tuple(q.model_dump_json() for _, q in queries),
            tuple((f.label, f.size, f.mtime_ns) for f in files + deletion_files), today, refresh)


def run_feed(folder: Path, name: str, feed: Feed, queries: list[tuple[str, Indicator]], today: dt.date,
             engine: str | None = None) -> tuple[pd.DataFrame, FeedSummary, list[Problem]]:
    """The observation rows one feed gives its indicators, its summary and every problem found.

    Cached on the files' size and modification time: a new export shows on the next call."""
    engine = engine or feed.engine
    files, problems = feed_files(folder, name, feed)
    deletions, deletion_problems, deletion_files = read_deletions(folder, name, feed)
    problems += deletion_problems
    summary = FeedSummary(name, feed.source_label or name, engine, files)
    key = _result_key(folder, name, feed, queries, files, deletion_files, today) + (engine,)
    with _results_lock:
        if key in _results:
            return _results[key]
    roles = roles_of(feed)
    needed = [column for column in dict.fromkeys(
        [column for column in roles.values() if column]
        + [column for _, indicator in queries for column, _ in indicator.feed.conditions()]
        + [indicator.feed.value for _, indicator in queries if indicator.feed.value])]
    with _engine_lock:  # one feed query at a time per process (app sessions run in threads)
        result = _run_feed_query(folder, name, feed, queries, today, engine, files, problems, deletions, summary,
                                 needed, roles)
    with _results_lock:
        if len(_results) > 16:
            _results.pop(next(iter(_results)))
        _results[key] = result
    return result


_engine_lock = threading.Lock()
_runs = iter(range(1, 1 << 62))


def _run_feed_query(folder, name, feed, queries, today, engine, files, problems, deletions, summary, needed, roles):
    """``run_feed``'s work on the engine: header checks, the one query, typing the result."""
    connection = connect(engine)
    rejects = (f"watchfloor_rejects_{next(_runs)}", f"watchfloor_scans_{next(_runs)}")
    tables, readable_of = [], {}
    geo = [column for column in GEO_COLUMNS.get(feed.format, {}).values() if column not in needed]
    for file in files:
        try:
            readable = _unzipped(file) if file.kind == "zip" else file.path
            header = GDELT_COLUMNS
            if feed.format == "gdelt" and file.kind != "parquet":
                fields = _first_line_fields(readable)
                if fields != len(GDELT_COLUMNS):
                    problems.append(Problem(file.label, 1, "file", "feed_missing_columns",
                                            f"has {fields} tab-separated columns; a GDELT 2.0 events file has "
                                            f"{len(GDELT_COLUMNS)} (is it a mentions or GKG file?); the file is "
                                            "left out"))
                    continue
            else:
                header = [column.strip() for column in _header_of(file, readable, "\t" if file.kind == "tsv" else ",")]
                missing = [column for column in needed if column not in header]
                if missing:
                    layout = FIXED_COLUMNS.get(feed.format)
                    hint = (f"an {feed.format.upper()} export has {len(layout)} columns from {layout[0]} to "
                            f"{layout[-1]}" if layout else "check feed columns and where in watchlist.yaml")
                    problems.append(Problem(file.label, 1, "file", "feed_missing_columns",
                                            f"lacks the column{'s' if len(missing) > 1 else ''} "
                                            f"{', '.join(missing)}; {hint}; the file is left out"))
                    continue
            readable_of[file.label] = readable
            table = _read_file(connection, engine, feed, file, readable, needed + [c for c in geo if c in header],
                               rejects)
            if geo:  # places are optional: a file without them gives rows without coordinates
                import ibis

                table = table.mutate(**{c: ibis.null("string") for c in geo if c not in header})
                table = table.select(*needed, *geo, "source_file")
            tables.append(table)
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, UnicodeDecodeError) as error:
            problems.append(Problem(file.label, None, "file", "unreadable",
                                    f"cannot be read ({str(error).rstrip('.')}); the file is left out"))
    if feed.table is not None:
        try:
            table = connection.table(feed.table)
            table = table.select(*[table[column].cast("string").name(column) for column in needed])
            import ibis

            tables.append(table.mutate(source_file=ibis.literal(feed.table)))
        except Exception as error:  # the engine names what is wrong: no such table, no such column
            problems.append(Problem("watchlist.yaml", None, f"feeds.{name}.table", "feed_table",
                                    f"cannot be read from the {engine} engine: {str(error).splitlines()[0]}"))
    if tables:
        import ibis

        table = tables[0] if len(tables) == 1 else ibis.union(*tables, distinct=False)
        expression, value_columns = matching_query(table, feed, queries)
        try:
            raw = expression.to_pandas()
        except Exception as error:  # a malformed file the engine gave up on: say which, keep the rest going
            problems.append(Problem(f"feeds.{name}", None, "file", "feed_unreadable",
                                    f"the {engine} engine could not read feed {name}: "
                                    f"{str(error).splitlines()[0][:300]}"))
            raw = None
        if engine == "duckdb":
            problems += _duckdb_rejects(connection, {str(Path(path).resolve()): label
                                                     for label, path in readable_of.items()}, rejects)
        if raw is not None:
            for column in raw.columns:
                if column.startswith(("cell_", "value_", "next_version", "geo_")) or column == "source_file":
                    raw[column] = raw[column].astype(object).where(raw[column].notna(), None)
            rows, bad = typed_feed_rows(name, feed, queries, raw, value_columns, deletions, today)
            problems += _bad_row_problems(bad, files, readable_of, feed)
            summary.left_out = len(bad)
            if len(raw) and roles["reported"]:
                newest = _reported_days(feed, raw["cell_reported"]).max()
                summary.newest_upload = newest.date() if pd.notna(newest) else None
            summary.matching = {indicator_id: _distinct_events(rows[rows["indicator"] == indicator_id])
                                for indicator_id, _ in queries}
        else:
            rows = empty_feed_rows()
    else:
        rows = empty_feed_rows()
        summary.matching = {indicator_id: 0 for indicator_id, _ in queries}
    return rows, summary, problems


def _distinct_events(rows: pd.DataFrame) -> int:
    """Events, not versions: rows without an id count one each."""
    ids = rows["event_id"]
    return int(ids[ids != ""].nunique() + (ids == "").sum())


def _bad_row_problems(bad, files: list[FeedFile], readable_of: dict[str, Path], feed: Feed) -> list[Problem]:
    """Problems for rows left out, with their physical line (first ``MAX_PROBLEMS_PER_FILE`` per file)."""
    problems = []
    by_label = {file.label: file for file in files}
    by_file: dict[str, list] = {}
    for item in bad:
        by_file.setdefault(item[0], []).append(item)
    for label, items in by_file.items():
        shown = items[:MAX_PROBLEMS_PER_FILE]
        wanted = {(event or "", column): [] for _, event, column, _, _ in shown}
        if label in by_label and label in readable_of:
            _locate_lines(by_label[label], readable_of[label], feed, wanted)
        for _, event, column, _, why in shown:
            lines = wanted[(event or "", column)]
            line = lines.pop(0) if lines else None
            where = "" if line is not None or not event else f"(event {event}) "
            problems.append(Problem(label, line, column, "feed_bad_row", f"{where}{why}; the row is left out"))
        if len(items) > len(shown):
            problems.append(Problem(label, None, "file", "feed_bad_rows",
                                    f"{len(items) - len(shown)} more matching rows are left out for the same kinds "
                                    "of reasons; fix the ones above and validate again"))
    return problems


def empty_feed_rows() -> pd.DataFrame:
    return pd.DataFrame({
        "line": pd.Series([], dtype="int64"), "indicator": pd.Series([], dtype="str"),
        "date": pd.Series([], dtype="datetime64[ns]"), "reported": pd.Series([], dtype="datetime64[ns]"),
        "until": pd.Series([], dtype="datetime64[ns]"), "value": pd.Series([], dtype="float64"),
        **{name: pd.Series([], dtype="str") for name in ("status", "reliability", "credibility", "source", "url",
                                                           "note", "feed", "event_id", "feed_file")},
    })


def feed_indicators(watchlist: Watchlist) -> dict[str, list[tuple[str, Indicator]]]:
    """{feed name: [(indicator id, indicator)]} for the indicators that take their rows from a feed."""
    grouped: dict[str, list[tuple[str, Indicator]]] = {}
    for indicator in watchlist.indicators:
        if indicator.feed is not None and indicator.feed.name in watchlist.feeds:
            grouped.setdefault(indicator.feed.name, []).append((indicator.id, indicator))
    return grouped


def load_feeds(folder: Path, watchlist: Watchlist, today: dt.date, engine: str | None = None) -> FeedRows:
    """Every feed of the watchlist, run for the indicators that use it."""
    frames, summaries, problems = [], {}, []
    grouped = feed_indicators(watchlist)
    for name, feed in watchlist.feeds.items():
        queries = grouped.get(name, [])
        if not queries:
            files, file_problems = feed_files(folder, name, feed)
            summaries[name] = FeedSummary(name, feed.source_label or name, engine or feed.engine, files)
            problems += file_problems
            continue
        try:
            rows, summary, feed_problems = run_feed(folder, name, feed, queries, today, engine)
        except FeedEngineMissing as error:
            problems.append(Problem("watchlist.yaml", None, f"feeds.{name}.engine", "feed_engine_missing",
                                    str(error)))
            continue
        frames.append(rows)
        summaries[name] = summary
        problems += feed_problems
    frame = pd.concat(frames, ignore_index=True) if frames else empty_feed_rows()
    return FeedRows(frame, summaries, problems)


def weekly_matches(rows: pd.DataFrame, indicator_id: str, as_of: dt.date) -> pd.DataFrame:
    """Matching events per ISO week (as known on ``as_of``): week start, events, a few examples."""
    mine = known_observations(rows[rows["indicator"] == indicator_id], as_of)
    if not len(mine):
        return pd.DataFrame({"week": [], "events": [], "examples": []})
    weeks = mine["date"] - pd.to_timedelta(mine["date"].dt.day_of_week, unit="D")
    grouped = mine.assign(week=weeks).sort_values(["week", "date"]).groupby("week", sort=True)
    return pd.DataFrame({
        "week": [week.date() for week in grouped.groups],
        "events": grouped.size().to_numpy(),
        "examples": [list(zip(group["date"].dt.date, group["event_id"],
                              group["note"].where(group["note"] != "", group["url"])))[:3]
                     for _, group in grouped],
    })


def feed_lines_as_of(summaries: dict[str, FeedSummary], observations: pd.DataFrame, as_of: dt.date) -> list[str]:
    """One line per feed as known on ``as_of`` (for briefing footers): files, newest upload on or
    before the date, matching events that count then."""
    lines = []
    limit = pd.Timestamp(as_of)
    for name, summary in summaries.items():
        rows = observations[observations["feed"] == name] if "feed" in observations.columns else observations.iloc[:0]
        known = known_observations(rows, as_of)
        newest = rows.loc[rows["reported"] <= limit, "reported"].max()
        files = ", ".join(file.label for file in summary.files[:4]) + (
            f" and {len(summary.files) - 4} more" if len(summary.files) > 4 else "")
        events = _distinct_events(known)
        lines.append(f"Feed {summary.label}: {files or 'no files'}; newest upload "
                     f"{newest.date().isoformat() if pd.notna(newest) else 'none'} on or before {as_of.isoformat()}; "
                     f"{events} matching event{'' if events == 1 else 's'} known then")
    return lines

