"""Typing a feed's matching rows into observation rows, and naming every row left out with its line.

The engine hands over text cells; here they become dates, upload days, validity ends (``until``) and
values. A row whose date, upload time or value cannot be used, whose date lies after today, or whose
upload time lies before its own date (a timestamp cut short, say) is left out and named: never
clamped or dropped without a word. Messages about a file outside the watchlist folder name the file,
line and field but never quote the file's content.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..format.csvfile import empty_frame
from ..format.feed_layouts import ACLED_DELETION_COLUMNS, GDELT_COLUMNS, roles_of
from ..format.folder import ROW_TEXT_COLUMNS
from ..format.models import Feed, Indicator
from ..format.places import feed_places
from ..format.problems import Problem
from .files import ESCAPED, FeedFile, inside_folder, open_text

MAX_PROBLEMS_PER_FILE = 20  # further bad rows of one file are summed up in one problem
ACLED_DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y", "%d-%b-%y", "%d %b %Y", "%d-%B-%y")
WHAT_IS_RIGHT = {
    "acled": "ACLED writes YYYY-MM-DD (also 16 May 2025 or 7-Feb-25)",
    "gdelt": "GDELT writes YYYYMMDD",
    "csv": "use YYYY-MM-DD",
}
UPLOAD_FORM = {"acled": "Unix time in seconds", "gdelt": "YYYYMMDDHHMMSS", "csv": "YYYY-MM-DD"}


@dataclass(frozen=True)
class BadRow:
    """A matching row left out: where it is, and why (``why`` quotes the cell; ``why_unquoted`` does not)."""

    file: str
    event: str | None
    field: str
    cell: str
    why: str
    why_unquoted: str


def has_versions(feed: Feed) -> bool:
    """Rows sharing an id are versions of one event (ACLED; a csv feed with id and reported columns)."""
    roles = roles_of(feed)
    return feed.format == "acled" or (feed.format == "csv" and bool(roles["id"]) and bool(roles["reported"]))


def parse_dates(cells: pd.Series, formats: tuple[str, ...]) -> pd.Series:
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


def reported_days(feed: Feed, cells: pd.Series) -> pd.Series:
    if feed.format == "acled":
        return _utc_days(cells)
    return parse_dates(cells, _date_formats(feed, "reported")).dt.normalize()


def typed_feed_rows(name: str, feed: Feed, queries: list[tuple[str, Indicator]], raw: pd.DataFrame,
                    value_columns: list[str], deletions: dict[str, dt.date], today: dt.date,
                    ) -> tuple[pd.DataFrame, list[BadRow]]:
    """Observation rows from the engine's result; and the rows left out."""
    roles = roles_of(feed)
    bad: list[BadRow] = []

    def leave_out(positions, field: str, cells: pd.Series, why, why_unquoted) -> None:
        for position in positions:
            cell = cells.iat[position] or ""
            bad.append(BadRow(raw["source_file"].iat[position], raw["cell_id"].iat[position], field, cell,
                              why(position, cell), why_unquoted(position, cell)))

    dates = parse_dates(raw["cell_date"], _date_formats(feed, "date"))
    keep = dates.notna().to_numpy().copy()
    leave_out(np.flatnonzero(~keep), roles["date"], raw["cell_date"],
              lambda _, cell: f'"{cell}" is not a date; {WHAT_IS_RIGHT[feed.format]}' if cell
              else "is empty; every event needs its date",
              lambda _, cell: f"is not a date; {WHAT_IS_RIGHT[feed.format]}" if cell
              else "is empty; every event needs its date")
    future = keep & (dates > pd.Timestamp(today)).to_numpy()
    leave_out(np.flatnonzero(future), roles["date"], raw["cell_date"],
              lambda _, cell: f'"{cell}" is after today ({today.isoformat()}); check the year',
              lambda _, cell: f"is after today ({today.isoformat()}); check the year")
    keep &= ~future
    if roles["reported"]:
        reported = reported_days(feed, raw["cell_reported"])
        form = UPLOAD_FORM[feed.format]
        missing = reported.isna().to_numpy() & keep
        leave_out(np.flatnonzero(missing), roles["reported"], raw["cell_reported"],
                  lambda _, cell: f'"{cell}" is not an upload time; use {form}' if cell else f"is empty; it must hold {form}",
                  lambda _, cell: f"is not an upload time; use {form}" if cell else f"is empty; it must hold {form}")
        keep &= ~missing
        # an upload before the event's own date cannot be: a timestamp cut short or mistyped, never clamped
        early = keep & (reported < dates).to_numpy()
        leave_out(np.flatnonzero(early), roles["reported"], raw["cell_reported"],
                  lambda position, cell: f'"{cell}" is {reported.iat[position]:%Y-%m-%d} (UTC), before the event\'s '
                                         f"own date {dates.iat[position]:%Y-%m-%d}; an event cannot be known before "
                                         "it happened (is the time cut short?)",
                  lambda *_: "is before the event's own date; an event cannot be known before it happened (is the "
                             "time cut short?)")
        keep &= ~early
        reported = reported.fillna(dates)
    else:
        reported = dates
    if "next_version" in raw.columns:
        following = reported_days(feed, raw["next_version"])
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
            need = f"indicator {indicator_id} needs a number here"
            leave_out(np.flatnonzero(mine & ~np.isfinite(values)), indicator.feed.value, cells,
                      lambda _, cell: f'"{cell}" is not a number; {need}' if cell else f"is empty; {need}",
                      lambda _, cell: f"is not a number; {need}" if cell else f"is empty; {need}")
            mine &= np.isfinite(values)
        frame = base[mine].assign(indicator=indicator_id, value=values[mine])
        if feed.format == "gdelt" or (roles["id"] and not has_versions(feed)):
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
    # text as text, whatever the engine or the derived cache handed over (object, str): one answer
    for column in rows.columns:
        if rows[column].dtype == object:
            rows[column] = rows[column].astype("str")
    return rows, bad


def _note(raw: pd.DataFrame) -> pd.Series:
    note = raw["cell_note"].fillna("") if "cell_note" in raw else pd.Series("", index=raw.index)
    if "cell_source" in raw:
        sources = raw["cell_source"].fillna("")
        note = note.where(sources == "", note + np.where(note == "", "", " ") + "(sources: " + sources + ")")
    return note.astype(str)


FEED_ROW_DTYPES = (("line", "int64"), ("indicator", "str"), ("date", "datetime64[ns]"), ("reported", "datetime64[ns]"),
                   ("until", "datetime64[ns]"), ("value", "float64"),
                   *((name, "str") for name in ROW_TEXT_COLUMNS + ("feed", "event_id", "feed_file")))


def empty_feed_rows() -> pd.DataFrame:
    return empty_frame(FEED_ROW_DTYPES)


def distinct_events(rows: pd.DataFrame) -> int:
    """Events, not versions: rows without an id count one each."""
    ids = rows["event_id"]
    return int(ids[ids != ""].nunique() + (ids == "").sum())


# ---------------------------------------------------------------- naming rows left out


def bad_row_problems(bad: list[BadRow], files: list[FeedFile], feed: Feed) -> list[Problem]:
    """Problems for rows left out, with their physical line (first ``MAX_PROBLEMS_PER_FILE`` per file)."""
    problems = []
    by_label = {file.label: file for file in files}
    by_file: dict[str, list[BadRow]] = {}
    for item in bad:
        by_file.setdefault(item.file, []).append(item)
    for label, items in by_file.items():
        shown = items[:MAX_PROBLEMS_PER_FILE]
        file = by_label.get(label)
        wanted = {(item.event or "", item.field, item.cell): [] for item in shown}
        if file is not None:
            _locate_lines(file, feed, wanted)
        outside = file is not None and file.outside
        for item in shown:
            lines = wanted[(item.event or "", item.field, item.cell)]
            line = lines.pop(0) if lines else None
            where = "" if line is not None or not item.event or outside else f"(event {item.event}) "
            why = item.why_unquoted if outside else item.why
            problems.append(Problem(label, line, item.field, "feed_bad_row", f"{where}{why}; the row is left out"))
        if len(items) > len(shown):
            problems.append(Problem(label, None, "file", "feed_bad_rows",
                                    f"{len(items) - len(shown)} more matching rows are left out for the same kinds "
                                    "of reasons; fix the ones above and validate again"))
    return problems


def _locate_lines(file: FeedFile, feed: Feed, wanted: dict[tuple[str, str, str], list[int]]) -> None:
    """Fill in the physical line of each (event id, column, cell) asked for, scanning the file once."""
    if file.kind == "parquet" or not wanted:
        return
    roles = roles_of(feed)
    delimiter = "\t" if feed.format == "gdelt" or file.kind == "tsv" else ","
    with open_text(file, feed.encoding) as handle:
        if feed.format == "gdelt":
            header = list(GDELT_COLUMNS)
            reader = csv.reader(handle, delimiter=delimiter, quoting=csv.QUOTE_NONE)
            line_before = 0
        else:
            reader = csv.reader(handle, delimiter=delimiter)
            header = [cell.strip() for cell in next(reader, [])]
            line_before = reader.line_num
        id_at = header.index(roles["id"]) if roles["id"] in header else None
        column_at = {column: header.index(column) for _, column, _ in wanted if column in header}
        ids = {event for event, _, _ in wanted}
        for record in reader:
            line = line_before + 1
            line_before = reader.line_num
            event = record[id_at].strip() if id_at is not None and id_at < len(record) else ""
            if event not in ids:
                continue
            for (wanted_id, column, cell), lines in wanted.items():
                at = column_at.get(column)
                if wanted_id == event and (at is None or (record[at].strip() if at < len(record) else "") == cell):
                    lines.append(line)


def record_start_lines(file: FeedFile, encoding: str | None, records: set[int]) -> dict[int, int]:
    """{record number (header = 1): the physical line it starts on}, for the records asked for."""
    starts, line_before = {}, 0
    with open_text(file, encoding) as handle:
        reader = csv.reader(handle)
        for number, _ in enumerate(reader, start=1):
            if number in records:
                starts[number] = line_before + 1
                if len(starts) == len(records):
                    break
            line_before = reader.line_num
    return starts


# ---------------------------------------------------------------- ACLED deletions


def read_deletions(folder, name: str, feed: Feed) -> tuple[dict[str, dt.date], list[Problem], list[FeedFile]]:
    """{event id: first deletion date (UTC)} from the ACLED deletions file(s); every row left out is
    named with its line."""
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
        file = FeedFile(path, label, stat.st_size, stat.st_mtime_ns, not inside_folder(path, folder.resolve()))
        files.append(file)
        with open(path, "rb") as raw:
            handle = io.TextIOWrapper(raw, encoding=feed.encoding or "utf-8-sig", errors="surrogateescape",
                                      newline="")
            reader = csv.reader(handle)
            header = [cell.strip() for cell in next(reader, [])]
            missing = [column for column in ACLED_DELETION_COLUMNS if column not in header]
            if missing:
                problems.append(Problem(label, 1, "file", "feed_missing_columns",
                                        f"lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                                        "an ACLED deletions file has the header event_id_cnty,deleted_timestamp"))
                continue
            id_at, time_at = header.index("event_id_cnty"), header.index("deleted_timestamp")
            line_before = reader.line_num
            for record in reader:
                line, line_before = line_before + 1, reader.line_num
                if not any(cell.strip() for cell in record):
                    continue
                if any(ESCAPED.search(cell) for cell in record):
                    problems.append(Problem(label, line, "encoding", "feed_decoding",
                                            f"is not {feed.encoding or 'UTF-8'} here; the deletion is left out: save "
                                            "the file as UTF-8, or give the feed's encoding"))
                    continue
                cells = record + [""] * (len(header) - len(record))
                event, stamp = cells[id_at].strip(), cells[time_at].strip()
                if not event:
                    problems.append(Problem(label, line, "event_id_cnty", "feed_bad_row",
                                            "is empty; a deletion names the event it deletes; the deletion is left out"))
                    continue
                try:
                    day = dt.datetime.fromtimestamp(int(stamp), dt.timezone.utc).date()
                except (ValueError, OverflowError, OSError):
                    shown = "" if file.outside else f'"{stamp}" '
                    problems.append(Problem(label, line, "deleted_timestamp", "feed_bad_number",
                                            f"{shown}is not a Unix time in seconds; the deletion is left out"))
                    continue
                deleted[event] = min(day, deleted.get(event, day))
    return deleted, problems, files
