"""Observations derived from event feeds (ACLED, GDELT, any table with a header), read in place.

The matching query is written once with ibis and runs on embedded DuckDB (the default) or on Apache
Spark (``engine: spark``). Only the rows that match an indicator's ``where`` leave the engine; the
small result is then typed (``feedrows``), with a problem (file, line, field) for every row left out.

ACLED is a living dataset: rows sharing an ``event_id_cnty`` are versions of one event. Each version
is visible from the UTC date of its ``timestamp`` until the date the next version (or a deletion)
appeared, its ``until``: as of D only the newest version uploaded on or before D counts.

On DuckDB the files are read in batches (at most ``BATCH_FILES``, of one layout), one after the
other on the process's DuckDB (``BatchDatabase``), which is closed after a batch the engine failed
on: a file the engine chokes on can never poison the process, and a batch that fails is read again
file by file on a new one, so only the bad file is left out. Each batch is cut down to its matching
rows and its (event, upload) keys before anything is combined, so that many overlapping exports cost
what one does; the version window then runs over the distinct keys alone. The ibis query is compiled
to SQL once per feed definition and columns (``staging_sql``), not once per batch or per read, and
reads each batch's files through SQL written out here (``_duckdb_batch``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import duckdb
import pandas as pd

from ..engine.changes import known_observations
from ..format.csvfile import FIELD_SIZE_LIMIT  # noqa: F401  (raises the csv module's field limit once)
from ..format.feed_layouts import FIXED_COLUMNS, GDELT_COLUMNS, GEO_COLUMNS, roles_of
from ..format.models import Between, Contains, Feed, Indicator, Watchlist
from ..format.problems import Problem
from .files import (TABLE_REFRESH_SECONDS, FeedFile, FileLeftOut, Prepared, UnpackLimits, engine_link, feed_files,
                    first_line_fields, header_of, prepare_file, run_folder, scratch_folder,
                    unpack_limits)
from .rows import (bad_row_problems, distinct_events, empty_feed_rows, has_versions, read_deletions, record_start_lines,
                   reported_days, typed_feed_rows)

DUCKDB_MEMORY_LIMIT = os.environ.get("WATCHFLOOR_DUCKDB_MEMORY", "512MB")
ENGINE_ERRORS = (duckdb.Error, OSError)  # what the engine raises about a file; anything else is a bug
BATCH_FILES = 256  # files read by one DuckDB connection
FEED_ROW_COLUMNS = ("feed", "event_id", "feed_file", "until")


class FeedEngineMissing(Exception):
    """The engine a feed asks for is not installed (``pip install "watchfloor[spark]"``)."""


@dataclass
class FeedSummary:
    """What a feed contributed: its files, newest upload, matching events per indicator, rows and
    files left out, and why the feed could not be read at all (``failed``)."""

    name: str
    source: str
    engine: str
    files: list[FeedFile]
    newest_upload: dt.date | None = None
    matching: dict[str, int] = field(default_factory=dict)  # indicator id -> events with a matching version
    left_out: int = 0
    files_left_out: list[str] = field(default_factory=list)  # labels of files that could not be read
    failed: str | None = None

    @property
    def label(self) -> str:
        """The feed's name, with its source when that differs: "acled (ACLED)", "tally"."""
        return self.name if self.source == self.name else f"{self.name} ({self.source})"

    @property
    def complete(self) -> bool:
        """Every file was read: the counts are the whole feed's."""
        return self.failed is None and not self.files_left_out

    def describe(self) -> str:
        """One line: "Feed acled (ACLED): 2 files (feeds/acled-2022.csv, ...), newest upload 2022-03-01,
        41 matching events" (over all the files, whatever the as-of date; see ``feed_lines_as_of``)."""
        names = ", ".join(file.label for file in self.files[:3]) + (", ..." if len(self.files) > 3 else "")
        newest = self.newest_upload.isoformat() if self.newest_upload else "none"
        files = f"{len(self.files)} file{'s' if len(self.files) != 1 else ''}"
        left = f", {len(self.files_left_out)} of them left out (cannot be read)" if self.files_left_out else ""
        total = sum(self.matching.values())
        if self.failed:
            return f"Feed {self.label}: {self.failed}; its indicators have no data"
        return (f"Feed {self.label}: {files} ({names or 'none'}){left}, newest upload {newest}, "
                f"{total} matching event{'' if total == 1 else 's'}")


@dataclass
class FeedRows:
    frame: pd.DataFrame  # observation-like rows, one per indicator and matching event version
    summaries: dict[str, FeedSummary]
    problems: list[Problem]


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


def flagged_rows(table, feed: Feed, queries: list[tuple[str, Indicator]]):
    """The rows that match at least one indicator's ``where``: a flag per indicator, the id, dates,
    source, note, url and value cells as text, ``source_file``, and for a feed with versions the
    ``event_key`` and ``version_key`` of the row. Returns the expression and the value columns."""
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
    columns = {**flags, "any_match": any_match,
               "cell_id": ibis.ifelse(any_match, _text(table, roles["id"]), null) if roles["id"] else null,
               "source_file": table["source_file"].cast("string"), **picked}
    if has_versions(feed):
        columns.update(_version_columns(table, feed))
    return table.mutate(**columns).filter(ibis._.any_match).select(*columns).drop("any_match"), value_columns


def _version_columns(table, feed: Feed) -> dict:
    roles = roles_of(feed)
    key = _text(table, roles["reported"])
    return {"event_key": _text(table, roles["id"]),
            "version_key": key.try_cast("int64") if feed.format == "acled" else key}


def version_keys(table, feed: Feed):
    """The distinct (file, event, upload) keys of every row, matching or not: a version that no longer
    matches still ends the one before it."""
    return table.select(source_file=table["source_file"].cast("string"), **_version_columns(table, feed)).distinct()


def with_next_versions(matches, keys, feed: Feed):
    """The matching rows with, for a feed with versions, the upload key of each event's next version
    (``next_version``). The window runs over the distinct keys only, and a version seen in several
    overlapping exports is one row (the first file's)."""
    import ibis

    if not has_versions(feed):
        return matches
    keys = keys.select("event_key", "version_key").distinct()
    keys = keys.mutate(next_version=keys.version_key.lead().over(
        ibis.window(group_by=keys.event_key, order_by=keys.version_key)).cast("string"))
    ranked = matches.mutate(copy=ibis.row_number().over(
        ibis.window(group_by=[matches.event_key, matches.version_key], order_by=matches.source_file)))
    matches = ranked.filter((ranked.copy == 0) | ranked.version_key.isnull()).drop("copy")
    joined = matches.left_join(keys, [matches.event_key == keys.event_key, matches.version_key == keys.version_key])
    return joined.select(*[matches[column] for column in matches.columns], keys.next_version)


@dataclass(frozen=True)
class StagingQueries:
    """A feed's DuckDB SQL, compiled from the ibis query once per feed definition and columns: over a
    view ``batch`` (a batch's files), its matching rows (``matching``) and, for a feed with versions,
    its version keys (``keys``); over the views ``staged_matches`` and ``staged_keys`` (every batch's
    results), the rows with their next version (``combine``, with the ibis schema of its result)."""

    matching: str
    keys: str | None
    combine: str
    combined_schema: object  # an ibis Schema


_staging_sql: dict[str, StagingQueries] = {}
STAGING_SQL_KEPT = 64  # compiled queries a process keeps (one per feed definition and file layout)


def staging_sql(feed: Feed, queries: list[tuple[str, Indicator]], schema) -> StagingQueries:
    """The feed's queries for batches with ``schema`` (a batch's columns as ``_duckdb_batch`` gives
    them). Compiled once per feed definition and columns: building and compiling the ibis query costs
    more than running it on a batch of a few small files, and a feed is read in many batches."""
    import ibis

    definitions = [indicator.feed.model_dump(mode="json") for _, indicator in queries]
    key = json.dumps([feed.model_dump(mode="json"), definitions, [[name, str(kind)] for name, kind in schema.items()]],
                     sort_keys=True)
    if key not in _staging_sql:
        batch = ibis.table(schema, name="batch")
        matching = flagged_rows(batch, feed, queries)[0]
        keys = version_keys(batch, feed) if has_versions(feed) else None
        combined = with_next_versions(ibis.table(matching.schema(), name="staged_matches"),
                                      ibis.table(keys.schema(), name="staged_keys") if keys is not None else None,
                                      feed)
        if len(_staging_sql) >= STAGING_SQL_KEPT:
            _staging_sql.clear()
        _staging_sql[key] = StagingQueries(ibis.to_sql(matching, dialect="duckdb"),
                                           ibis.to_sql(keys, dialect="duckdb") if keys is not None else None,
                                           ibis.to_sql(combined, dialect="duckdb"), combined.schema())
    return _staging_sql[key]


def _copy_to_parquet(connection: duckdb.DuckDBPyConnection, batch: str, sql: str, path: Path) -> None:
    """Run ``sql`` over ``batch`` (a SELECT, as the view ``batch``) on the connection, into a Parquet file."""
    connection.execute(f"CREATE OR REPLACE TEMPORARY VIEW batch AS {batch}")
    connection.execute(f"COPY ({sql}) TO {_sql_text(str(path))} (FORMAT 'parquet')")


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _duckdb_batch(feed: Feed, layout: tuple, paths: list[str], columns: list[str], rejects: bool = True
                  ) -> tuple[str, dict[str, str]]:
    """DuckDB's SELECT over files of one layout, ``(kind, gzipped, header)``: the ``columns`` as text,
    ``source_file`` (the path read) and the layout's place columns (NULL where the files lack them);
    and its schema, every column text. The table ``_spark_file`` gives on Spark, written out as SQL
    because it is made once per batch: through ibis, each batch would ask DuckDB for the files' schema
    and compile its query again, which costs more than reading a few small files. DuckDB keeps the
    lines it cannot split in its ``reject_errors`` and ``reject_scans``."""
    kind, header = layout[0], layout[-1]
    files = "[" + ", ".join(_sql_text(path) for path in paths) + "]"
    errors = ("store_rejects = true, rejects_table = 'reject_errors', rejects_scan = 'reject_scans'" if rejects
              else "ignore_errors = true")
    if kind == "parquet":
        source = f"read_parquet({files}, filename = true)"
    elif feed.format == "gdelt":
        types = ", ".join(f"{_sql_text(name)}: 'VARCHAR'" for name in GDELT_COLUMNS)
        source = (f"read_csv({files}, header = false, delim = '\t', quote = '', escape = '', filename = true, "
                  f"auto_detect = false, columns = {{{types}}}, {errors})")
    else:
        delimiter = "\t" if kind == "tsv" else ","
        source = (f"read_csv({files}, header = true, delim = '{delimiter}', quote = '\"', escape = '\"', "
                  f"all_varchar = true, filename = true, auto_detect = true, {errors})")
    places = _absent_places(feed, columns)
    selected = ([f"CAST({_sql_name(column)} AS VARCHAR) AS {_sql_name(column)}" for column in columns]
                + ["CAST(filename AS VARCHAR) AS source_file"]
                + [f"CAST({_sql_name(column) if column in header else 'NULL'} AS VARCHAR) AS {_sql_name(column)}"
                   for column in places])
    return f"SELECT {', '.join(selected)} FROM {source}", batch_schema(feed, columns)


def _absent_places(feed: Feed, columns: list[str]) -> list[str]:
    return [column for column in GEO_COLUMNS.get(feed.format, {}).values() if column not in columns]


def batch_schema(feed: Feed, columns: list[str]) -> dict[str, str]:
    """The columns of a batch as ``_duckdb_batch`` selects them, whatever the files' layout: all text."""
    return {column: "string" for column in [*columns, "source_file", *_absent_places(feed, columns)]}


# ---------------------------------------------------------------- engines


_connections: dict[str, object] = {}


def _duckdb_settings() -> dict:
    """Order does not matter to the feed query; a bounded memory makes large windows and joins spill to
    a private scratch folder instead of growing the process past a gigabyte."""
    return {"preserve_insertion_order": False, "memory_limit": DUCKDB_MEMORY_LIMIT,
            "temp_directory": str(scratch_folder() / "duckdb")}


def duckdb_database() -> duckdb.DuckDBPyConnection:
    """A new in-process DuckDB for batches of files. As on an ibis connection, no Python variable is
    ever read as a table."""
    return duckdb.connect(config={**_duckdb_settings(), "python_enable_replacements": False})


class BatchDatabase:
    """The DuckDB batches of files are read on, one after the other: opened for the first batch, and
    closed after a batch the engine failed on, so that the next batch gets a new one (an error that
    ends a connection ends only its batch). Opening a DuckDB costs about 20 ms; a batch of a few small
    files takes little more, so the process keeps one for all its feeds (``_feed_database``)."""

    def __init__(self) -> None:
        self._connection: duckdb.DuckDBPyConnection | None = None

    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            self._connection = duckdb_database()
        return self._connection

    def batch_done(self) -> None:
        """Forget the batch's rejected lines, so that the next batch's are its own; a DuckDB that cannot
        is closed (the next batch gets a new one)."""
        if self._connection is None:
            return
        try:
            self._connection.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
        except duckdb.Error:
            self.close()

    def feed_done(self) -> None:
        """Forget a feed's views of its staged files (the files go with the feed's run); a DuckDB that
        cannot is closed."""
        if self._connection is None:
            return
        try:
            self._connection.execute("DROP VIEW IF EXISTS batch; DROP VIEW IF EXISTS staged_matches; "
                                     "DROP VIEW IF EXISTS staged_keys")
        except duckdb.Error:
            self.close()

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()

    def ibis(self):
        """The same DuckDB as an ibis connection."""
        import ibis

        return ibis.duckdb.from_connection(self.connection())


_feed_database = BatchDatabase()  # used under ``_engine_lock``: one feed query at a time


def duckdb_connection():
    """A new in-process DuckDB as an ibis connection (``connect("duckdb")``)."""
    return BatchDatabase().ibis()


def connect(engine: str):
    """An ibis connection: a new DuckDB, or the process's Spark session (local mode, or Spark Connect
    when ``SPARK_REMOTE`` is set), made once."""
    if engine == "duckdb":
        return duckdb_connection()
    if engine in _connections:
        return _connections[engine]
    import ibis

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


def _spark_file(connection, feed: Feed, layout: tuple, path: str, columns: list[str], label: str):
    """One file of a layout, ``(kind, gzipped, header)``, on Spark as an ibis table of text columns plus
    ``source_file`` (``label``) and the layout's place columns (NULL where the file lacks them: places
    are optional): the table ``_duckdb_batch`` gives on DuckDB."""
    import ibis

    kind, header = layout[0], layout[-1]
    if kind == "parquet":
        table = connection.read_parquet(path)
    elif feed.format == "gdelt":
        table = connection.read_csv(path, header=False, sep="\t", quote="",
                                    schema=", ".join(f"`{name}` STRING" for name in GDELT_COLUMNS))
    else:
        table = connection.read_csv(path, header=True, sep="\t" if kind == "tsv" else ",", quote='"', escape='"',
                                    inferSchema=False, multiLine=True)
    places = {column: table[column].cast("string") if column in header else ibis.null("string")
              for column in GEO_COLUMNS.get(feed.format, {}).values() if column not in columns}
    return table.select(*[table[column].cast("string").name(column) for column in columns],
                        source_file=ibis.literal(label), **places)


def _duckdb_rejects(connection, read: dict[str, Prepared], encoding: str | None) -> list[Problem]:
    """Lines DuckDB could not split into the header's columns (too many or too few cells) in this batch."""
    try:
        frame = connection.execute(
            "SELECT s.file_path, e.line, first(e.error_message ORDER BY e.byte_position) AS error_message "
            "FROM reject_errors e JOIN reject_scans s USING (scan_id, file_id) GROUP BY 1, 2 ORDER BY 1, 2").df()
    except Exception:  # no scan stored rejects
        return []
    found = []
    for path, lines in frame.groupby("file_path", sort=True):
        prepared = read.get(str(path))
        if prepared is None:
            continue
        starts = record_start_lines(prepared.file, encoding, set(lines["line"].astype(int)))  # a note may span lines
        for row in lines.itertuples(index=False):
            why = ("cannot be split into the header's columns" if prepared.file.outside
                   else f"cannot be read: {str(row.error_message).rstrip('.')}")
            found.append(Problem(prepared.file.label, starts.get(int(row.line), int(row.line)), "file",
                                 "feed_bad_line", f"{why}; the row is left out (check quotes and delimiters on "
                                                  "this line)"))
    return found


def _engine_sentence(error: Exception, file: FeedFile | None, names: dict[str, str]) -> str:
    """The engine's first line about a failure, the paths it read shown as the files' labels; nothing
    from a file outside the watchlist folder (the engine may quote a line)."""
    if file is not None and file.outside:
        return "the engine cannot read it"
    text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    for path, label in names.items():
        text = text.replace(path, label)
    text = "".join(character if character.isprintable() else "?" for character in text[:300])  # raw bytes of a file
    return f"the engine cannot read it: {text.rstrip('.: ')}"


# ---------------------------------------------------------------- running a feed


class CacheEntry(Protocol):
    table: object  # a pyarrow.Table
    frame: pd.DataFrame  # the same as pandas
    extra: dict


class DerivedCache(Protocol):
    """What the feeds need of a derived cache (``indicators.store.cache`` is one; the feeds do not
    import the store, which sits above them): entries of a kind, made for a key, keyed on files."""

    def load(self, folder: Path, kind: str, key: dict) -> CacheEntry | None: ...

    def store(self, folder: Path, kind: str, key: dict, frame: pd.DataFrame, extra: dict) -> None: ...

    def file_key(self, path: Path) -> list: ...

    def code_version(self) -> str: ...


_results: dict[tuple, tuple[pd.DataFrame, FeedSummary, list[Problem]]] = {}
_results_lock = threading.Lock()
_engine_lock = threading.Lock()


def _result_key(folder: Path, name: str, feed: Feed, queries, files, deletion_files, today) -> tuple:
    refresh = int(time.time() // TABLE_REFRESH_SECONDS) if feed.table is not None else 0
    return (str(folder), name, feed.model_dump_json(), tuple(q.model_dump_json() for _, q in queries),
            tuple((f.label, f.size, f.mtime_ns) for f in files + deletion_files), today, refresh,
            tuple(os.environ.get(name, "") for name in ("WATCHFLOOR_UNPACK_RATIO", "WATCHFLOOR_UNPACK_LIMIT")))


def run_feed(folder: Path, name: str, feed: Feed, queries: list[tuple[str, Indicator]], today: dt.date,
             engine: str | None = None, cache: DerivedCache | None = None
             ) -> tuple[pd.DataFrame, FeedSummary, list[Problem]]:
    """The observation rows one feed gives its indicators, its summary and every problem found.

    Kept in the process on the files' size and modification time: a new export shows on the next
    call; and in ``cache`` (the derived cache the store passes in), if given, between processes."""
    engine = engine or feed.engine
    files, problems = feed_files(folder, name, feed)
    deletions, deletion_problems, deletion_files = read_deletions(folder, name, feed)
    problems += deletion_problems
    summary = FeedSummary(name, feed.source_label or name, engine, files)
    if feed.path is not None and not files:  # an export folder that is gone is not "no events"
        summary.failed = f'its path "{feed.path}" matches no file'
    key = _result_key(folder, name, feed, queries, files, deletion_files, today) + (engine,)
    with _results_lock:
        if key in _results:
            return _results[key]
    known_before = len(problems)  # found afresh on every call: the files and the deletions
    stored_key = _stored_key(cache, key, files + deletion_files) if feed.path is not None and cache else None
    result = _from_cache(cache, folder, name, stored_key, summary, problems) if stored_key else None
    if result is None:
        with _engine_lock:  # one feed query at a time per process (app sessions run in threads)
            scratch = run_folder()
            try:
                result = _run_feed_query(folder, name, feed, queries, today, engine, files, problems, deletions,
                                         summary, scratch, cache)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        if stored_key:
            _to_cache(cache, folder, name, stored_key, result, known_before)
    with _results_lock:
        if len(_results) > 16:
            _results.pop(next(iter(_results)))
        _results[key] = result
    return result


SUMMARY_FIELDS = ("newest_upload", "matching", "left_out", "files_left_out", "failed")


def _stored_key(cache: DerivedCache, key: tuple, files: list[FeedFile]) -> dict:
    """The derived cache's key of a feed's result: everything the in-process key holds, each file by
    its content key too (a same-size rewrite with its time put back is another file), and the code."""
    return {"run": repr(key), "files": [[file.label, cache.file_key(file.path)] for file in files],
            "code": cache.code_version()}


def _from_cache(cache: DerivedCache, folder: Path, name: str, key: dict, summary: FeedSummary,
                problems: list[Problem]):
    entry = cache.load(folder, f"feed-{name}", key)
    if entry is None:
        return None
    stored = entry.extra
    summary.newest_upload = dt.date.fromisoformat(stored["newest_upload"]) if stored["newest_upload"] else None
    summary.matching, summary.left_out = stored["matching"], stored["left_out"]
    summary.files_left_out, summary.failed = stored["files_left_out"], stored["failed"]
    return entry.frame, summary, problems + [Problem(**problem) for problem in stored["problems"]]


def _to_cache(cache: DerivedCache, folder: Path, name: str, key: dict, result, known_before: int) -> None:
    """Store a feed's rows, its summary and the problems its query found (not those of finding its files)."""
    rows, summary, problems = result
    extra = {field_name: getattr(summary, field_name) for field_name in SUMMARY_FIELDS}
    extra["newest_upload"] = summary.newest_upload.isoformat() if summary.newest_upload else None
    extra["problems"] = [problem.as_dict() for problem in problems[known_before:]]
    cache.store(folder, f"feed-{name}", key, rows, extra)


class StageCache:
    """Each feed file's staged rows (its matching rows, and its version keys) in the derived cache,
    keyed on the file's content, the feed's definition and the indicators' where: an export dropped
    beside the others is the only file read; an edited where reads every file again."""

    def __init__(self, cache: DerivedCache, folder: Path, name: str, feed: Feed, queries, needed: list[str]):
        self.cache, self.folder, self.name, self.feed = cache, folder, name, feed
        self.common = {"feed": feed.model_dump_json(), "queries": [q.model_dump_json() for _, q in queries],
                       "needed": needed, "code": cache.code_version()}
        self.loaded: list[tuple[FeedFile, CacheEntry, CacheEntry | None]] = []

    def _kinds(self, file: FeedFile) -> tuple[str, str]:
        digest = hashlib.sha256(file.label.encode()).hexdigest()[:12]  # a kind per file: each keeps its own
        return f"stage-{self.name}-{digest}", f"stagekeys-{self.name}-{digest}"

    def _key(self, file: FeedFile) -> dict:
        return {"file": [file.label, self.cache.file_key(file.path)], **self.common}

    def load(self, file: FeedFile) -> bool:
        """Whether the file's staged rows are in the cache (then kept to be written to scratch)."""
        rows_kind, keys_kind = self._kinds(file)
        key = self._key(file)
        rows = self.cache.load(self.folder, rows_kind, key)
        keys = self.cache.load(self.folder, keys_kind, key) if rows is not None and has_versions(self.feed) else None
        if rows is None or (has_versions(self.feed) and keys is None):
            return False
        self.loaded.append((file, rows, keys))
        return True

    def write_loaded(self, scratch: Path, problems: list[Problem]) -> list[Path]:
        """The cached files' staged rows as Parquet files in scratch (as a read would leave them)."""
        import pyarrow.parquet as pq

        staged = []
        for number, (file, rows, keys) in enumerate(self.loaded):
            out = scratch / f"cached-{number}.parquet"
            pq.write_table(rows.table, out)
            if keys is not None:
                pq.write_table(keys.table, out.with_suffix(".keys.parquet"))
            problems.extend(Problem(**problem) for problem in rows.extra["problems"])
            staged.append(out)
        return staged

    def store(self, files: list[FeedFile], out: Path, keys_out: Path, links: dict, problems: list[Problem]) -> None:
        """Split a batch's staged rows (and keys) by file and store each file's share, in Arrow (a
        GDELT batch's version keys are millions of rows: as pandas they doubled the peak)."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        label_of = {path: item.file.label for path, item in links.items()}
        parts = {"rows": out, "keys": keys_out} if has_versions(self.feed) else {"rows": out}
        # a batch of one file (a big export) is streamed, never whole in memory (GDELT's keys are
        # millions of rows); a batch of many files is read once and split
        tables = {} if len(files) == 1 else {name: _relabelled(pq.read_table(path), label_of)
                                             for name, path in parts.items()}
        for file in files:
            rows_kind, keys_kind = self._kinds(file)
            key = self._key(file)
            mine = [problem.as_dict() for problem in problems if problem.file == file.label]
            for name, path in parts.items():
                if tables:
                    share = tables[name].filter(pc.equal(tables[name]["source_file"], file.label))
                else:
                    share = _relabelled_stream(pq.ParquetFile(path), label_of)
                self.cache.store(self.folder, rows_kind if name == "rows" else keys_kind, key, share,
                                 {"problems": mine} if name == "rows" else {})


def _relabelled_stream(parquet, label_of: dict[str, str]):
    import pyarrow as pa

    def batches():
        for batch in parquet.iter_batches(batch_size=262_144):
            yield from _relabelled(pa.Table.from_batches([batch]), label_of).to_batches()

    return pa.RecordBatchReader.from_batches(parquet.schema_arrow, batches())


def _relabelled(table, label_of: dict[str, str]):
    """``table`` with its ``source_file`` paths (in scratch) replaced by the files' labels."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = table["source_file"]
    paths = pa.array(list(label_of), type=column.type)
    labels = pa.array(list(label_of.values()), type=column.type)
    index = pc.index_in(column, value_set=paths)
    relabelled = pc.if_else(pc.is_null(index), column, pc.take(labels, index))
    return table.set_column(table.schema.get_field_index("source_file"), "source_file", relabelled)


def _needed_columns(feed: Feed, queries) -> list[str]:
    roles = roles_of(feed)
    return list(dict.fromkeys(
        [column for column in roles.values() if column]
        + [column for _, indicator in queries for column, _ in indicator.feed.conditions()]
        + [indicator.feed.value for _, indicator in queries if indicator.feed.value]))


def _prepared_files(files: list[FeedFile], feed: Feed, needed: list[str], scratch: Path, limits: UnpackLimits,
                    problems: list[Problem], summary: FeedSummary):
    """(layout, prepared file) for each file that can be read; each that cannot is named and left out."""
    for number, file in enumerate(files):
        try:
            prepared = prepare_file(file, feed.encoding, scratch, number, limits)
        except FileLeftOut as error:
            _leave_out(file, str(error), problems, summary)
            continue
        except OSError as error:
            _leave_out(file, f"cannot be read ({(error.strerror or str(error)).lower()}); the file is left out",
                       problems, summary)
            continue
        problems.extend(prepared.problems)
        if feed.format == "gdelt" and file.kind != "parquet":
            fields = first_line_fields(prepared)
            if fields != len(GDELT_COLUMNS):
                prepared.release()
                _leave_out(file, f"has {fields} tab-separated columns; a GDELT 2.0 events file has "
                                 f"{len(GDELT_COLUMNS)} (is it a mentions or GKG file?); the file is left out",
                           problems, summary, "feed_missing_columns", 1)
                continue
            yield ("gdelt", prepared.gzipped, GDELT_COLUMNS), prepared
            continue
        kind = "parquet" if file.kind == "parquet" else ("tsv" if file.kind == "tsv" else "csv")
        header = [column.strip() for column in header_of(prepared, "\t" if kind == "tsv" else ",")]
        missing = [column for column in needed if column not in header]
        if missing:
            prepared.release()
            layout = FIXED_COLUMNS.get(feed.format)
            hint = (f"an {feed.format.upper()} export has {len(layout)} columns from {layout[0]} to {layout[-1]}"
                    if layout else "check feed columns and where in watchlist.yaml")
            _leave_out(file, f"lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; {hint}; "
                             "the file is left out", problems, summary, "feed_missing_columns", 1)
            continue
        # files with the same header in the same order can be read together (DuckDB binds by position)
        yield (kind, prepared.gzipped, tuple(header)), prepared


def _leave_out(file: FeedFile, message: str, problems: list[Problem], summary: FeedSummary,
               code: str = "feed_file_unreadable", line: int | None = None) -> None:
    problems.append(Problem(file.label, line, "file", code, message))
    summary.files_left_out.append(file.label)


def _run_feed_query(folder, name, feed, queries, today, engine, files, problems, deletions, summary, scratch,
                    cache: DerivedCache | None = None):
    """``run_feed``'s work: prepare the files, run the query, type the result."""
    limits, setting_problems = unpack_limits()
    problems += setting_problems
    needed = _needed_columns(feed, queries)
    stages = StageCache(cache, folder, name, feed, queries, needed) if engine == "duckdb" and cache else None
    unread = [file for file in files if stages is None or not stages.load(file)]
    prepared = _prepared_files(unread, feed, needed, scratch, limits, problems, summary)
    try:
        if engine == "duckdb":
            raw, value_columns = _query_on_duckdb(feed, queries, needed, prepared, scratch, limits, problems, summary,
                                                  stages)
        else:
            raw, value_columns = _query_on_spark(name, feed, queries, needed, prepared, scratch, problems, summary)
    except FeedEngineMissing:
        raise
    except Exception as error:  # the engine gave up on the whole feed: say so, the other feeds go on
        summary.failed = _engine_sentence(error, None, {str(scratch) + "/": ""})
        problems.append(Problem(f"feeds.{name}", None, "file", "feed_unreadable",
                                f"the {engine} engine could not read feed {name}: {summary.failed}; its indicators "
                                "have no data until it can"))
        raw = None
    if raw is None:
        summary.matching = {indicator_id: 0 for indicator_id, _ in queries}
        return empty_feed_rows(), summary, problems
    for column in raw.columns:
        if column.startswith(("cell_", "value_", "next_version", "geo_")) or column == "source_file":
            raw[column] = raw[column].astype(object).where(raw[column].notna(), None)
    # the engine returns rows in any order (it reads in parallel): one fixed order makes every result,
    # and which copy of a repeated event is kept, the same on every run
    order = raw.astype(str).sort_values(list(raw.columns), kind="stable").index
    raw = raw.loc[order].reset_index(drop=True)
    rows, bad = typed_feed_rows(name, feed, queries, raw, value_columns, deletions, today)
    problems += bad_row_problems(bad, files, feed)
    summary.left_out = len(bad)
    roles = roles_of(feed)
    if len(raw) and roles["reported"]:
        newest = reported_days(feed, raw["cell_reported"]).max()
        summary.newest_upload = newest.date() if pd.notna(newest) else None
    summary.matching = {indicator_id: distinct_events(rows[rows["indicator"] == indicator_id])
                        for indicator_id, _ in queries}
    return rows, summary, problems


def _query_on_duckdb(feed, queries, needed, prepared, scratch, limits, problems, summary, stages=None):
    """Each batch of files cut down in turn (to a Parquet file in scratch), on the process's DuckDB while
    no batch fails (``BatchDatabase``), then the staged results combined on it. Files whose staged rows the
    derived cache holds (``stages``) are not read again: an appended export costs only itself. Returns
    the matching rows as text, and the value columns."""
    staged: list[Path] = []
    labels: dict[str, str] = {}
    numbers = itertools.count()
    if stages is not None:
        staged += stages.write_loaded(scratch, problems)

    database = _feed_database

    def stage(layout, batch: list[Prepared]) -> None:
        out = scratch / f"stage-{next(numbers)}.parquet"
        links = {str(engine_link(item, scratch, next(numbers))): item for item in batch}
        labels.update({path: item.file.label for path, item in links.items()})
        keys_out = out.with_suffix(".keys.parquet")
        try:
            connection = database.connection()
            select, schema = _duckdb_batch(feed, layout, list(links), needed)
            matching, keys = (compiled := staging_sql(feed, queries, schema)).matching, compiled.keys
            _copy_to_parquet(connection, select, matching, out)
            rejected = _duckdb_rejects(connection, links, feed.encoding)
            if has_versions(feed):  # a second, narrow scan: the keys, distinct within the batch
                select, _ = _duckdb_batch(feed, layout, list(links), needed, rejects=False)
                _copy_to_parquet(connection, select, keys, keys_out)
            problems.extend(rejected)
            staged.append(out)
            if stages is not None:
                stages.store([item.file for item in batch], out, keys_out, links, problems)
        except ENGINE_ERRORS as error:
            database.close()  # the next batch, or this one's files one by one, on a new DuckDB
            out.unlink(missing_ok=True)
            keys_out.unlink(missing_ok=True)
            if len(batch) == 1:
                _leave_out(batch[0].file, _engine_sentence(error, batch[0].file, {path: item.file.label for path, item
                                                                                   in links.items()})
                           + "; the file is left out", problems, summary)
            else:  # read again one by one: only the file the engine chokes on is left out
                for item in batch:
                    stage(layout, [item])
        finally:
            database.batch_done()
            for link in links:
                Path(link).unlink(missing_ok=True)

    pending: dict[tuple, list[Prepared]] = {}
    pending_bytes = 0

    def flush(layout) -> None:
        nonlocal pending_bytes
        batch = pending.pop(layout)
        try:
            stage(layout, batch)
        finally:
            for item in batch:
                if item.temporary:
                    pending_bytes -= item.readable.stat().st_size if item.readable.exists() else 0
                item.release()

    try:
        for layout, item in prepared:
            pending.setdefault(layout, []).append(item)
            pending_bytes += item.readable.stat().st_size if item.temporary else 0
            if len(pending[layout]) >= BATCH_FILES:
                flush(layout)
            elif pending_bytes > limits.limit:  # unpacked copies waiting in scratch: read them before unpacking more
                for waiting in list(pending):
                    flush(waiting)
        for layout in list(pending):
            flush(layout)
        if not staged:
            return _no_rows(feed, queries), _value_columns(queries)
        raw = _combined(database.connection(), staging_sql(feed, queries, batch_schema(feed, needed)), feed, staged)
    except ENGINE_ERRORS:
        database.close()
        raise
    finally:
        database.feed_done()
    raw["source_file"] = raw["source_file"].map(lambda path: labels.get(path, path))
    return raw, _value_columns(queries)


def _combined(connection: duckdb.DuckDBPyConnection, compiled: StagingQueries, feed: Feed,
              staged: list[Path]) -> pd.DataFrame:
    """Every batch's staged rows combined (``with_next_versions``), as pandas. The compiled SQL runs on
    views of the staged files, and its result becomes the frame ibis's own ``to_pandas`` would give:
    building and compiling the expression for each read costs more than running it on small files."""
    from ibis.backends.duckdb.converter import DuckDBPandasData

    def view(name: str, paths: list[Path]) -> None:
        files = "[" + ", ".join(_sql_text(str(path)) for path in paths) + "]"
        connection.execute(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS SELECT * FROM read_parquet({files})")

    view("staged_matches", staged)
    if has_versions(feed):
        view("staged_keys", [path.with_suffix(".keys.parquet") for path in staged])
    # as a relation, whose Arrow result is collected as it runs: ``execute`` would first hold the whole
    # result in DuckDB too (a cold status on 12.5 million feed rows peaked at 850-920 MB, against 730-780)
    table = connection.sql(compiled.combine).to_arrow_table()
    # as ibis's DuckDB backend turns a result into pandas (``Backend.execute``)
    frame = pd.DataFrame({name: column.to_pylist() if column.null_count else column.to_pandas()
                          for name, column in zip(table.column_names, table.columns)})
    return DuckDBPandasData.convert_table(frame, compiled.combined_schema)


def _value_columns(queries) -> list[str]:
    return sorted({indicator.feed.value for _, indicator in queries if indicator.feed.value})


def _no_rows(feed: Feed, queries) -> pd.DataFrame:
    """The engine's result when no file could be staged: the columns, no row."""
    roles = roles_of(feed)
    columns = ([f"match_{number}" for number in range(len(queries))] + ["cell_id", "source_file"]
               + [f"cell_{role}" for role, column in roles.items() if column and role != "id"]
               + [f"value_{position}" for position in range(len(_value_columns(queries)))]
               + (["next_version"] if has_versions(feed) else []))
    return pd.DataFrame({column: pd.Series([], dtype=object) for column in columns})


def _query_on_spark(name, feed, queries, needed, prepared, scratch, problems, summary):
    """The same query on Spark: the prepared files (and a catalog table) as one union."""
    import ibis

    connection = connect("spark")
    kept: list[Prepared] = []
    tables = []
    try:
        for number, (layout, item) in enumerate(prepared):
            kept.append(item)
            link = engine_link(item, scratch, number)
            tables.append(_spark_file(connection, feed, layout, str(link), needed, item.file.label))
        if feed.table is not None:
            try:
                table = connection.table(feed.table)
                table = table.select(*[table[column].cast("string").name(column) for column in needed])
                tables.append(table.mutate(source_file=ibis.literal(feed.table)))
            except Exception as error:  # the engine names what is wrong: no such table, no such column
                problems.append(Problem("watchlist.yaml", None, f"feeds.{name}.table", "feed_table",
                                        f"cannot be read from the spark engine: {str(error).splitlines()[0]}"))
                summary.failed = "its table cannot be read"
        if not tables:
            return _no_rows(feed, queries), _value_columns(queries)
        table = tables[0] if len(tables) == 1 else ibis.union(*tables, distinct=False)
        expression, value_columns = flagged_rows(table, feed, queries)
        keys = version_keys(table, feed) if has_versions(feed) else None
        return with_next_versions(expression, keys, feed).to_pandas(), value_columns
    finally:
        for item in kept:
            item.release()


def feed_indicators(watchlist: Watchlist) -> dict[str, list[tuple[str, Indicator]]]:
    """{feed name: [(indicator id, indicator)]} for the indicators that take their rows from a feed."""
    grouped: dict[str, list[tuple[str, Indicator]]] = {}
    for indicator in watchlist.indicators:
        if indicator.feed is not None and indicator.feed.name in watchlist.feeds:
            grouped.setdefault(indicator.feed.name, []).append((indicator.id, indicator))
    return grouped


def load_feeds(folder: Path, watchlist: Watchlist, today: dt.date, engine: str | None = None,
               cache: DerivedCache | None = None) -> FeedRows:
    """Every feed of the watchlist, run for the indicators that use it; ``cache``: the derived cache
    (``indicators.store.cache``, passed in by the store) that keeps results between processes."""
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
            rows, summary, feed_problems = run_feed(folder, name, feed, queries, today, engine, cache)
        except FeedEngineMissing as error:
            problems.append(Problem("watchlist.yaml", None, f"feeds.{name}.engine", "feed_engine_missing",
                                    str(error)))
            summaries[name] = FeedSummary(name, feed.source_label or name, engine or feed.engine, [],
                                          failed=str(error))
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
        events = distinct_events(known)
        lines.append(f"Feed {summary.label}: {files or 'no files'}; newest upload "
                     f"{newest.date().isoformat() if pd.notna(newest) else 'none'} on or before {as_of.isoformat()}; "
                     f"{events} matching event{'' if events == 1 else 's'} known then")
    return lines

