"""Row checks for ``observations.csv`` and ``events.csv``, vectorized over whole columns.

Each check is a small function that takes the text frame, marks the rows it rejects and explains
them as problems. Rejected rows are left out of evaluation; the file itself is never touched.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from .csvfile import LINE_COLUMN, done, in_background
from .folder import EVENTS_FILE, OBSERVATIONS_FILE
from .models import CREDIBILITY_GRADES, OBSERVATION_STATUSES, RELIABILITY_GRADES, Watchlist
from .places import PlaceBook, locate_rows
from .problems import Problem

ISO_DATE_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"  # ASCII digits only
MAX_LISTED_IDS = 8
PARALLEL_FROM_ROWS = 20_000  # below this, checking columns on threads costs more than it saves


class Column:
    """A text column factorized once: checks run over its distinct values, then map back to rows.

    Real files repeat dates, ids, grades and sources a great deal, so this keeps validation
    vectorized and cheap at hundreds of thousands of rows.
    """

    def __init__(self, series: pd.Series):
        if isinstance(series.dtype, pd.CategoricalDtype):  # read as categories (csvfile): factorized already
            codes, uniques = series.cat.codes.to_numpy(), series.cat.categories
        else:
            codes, uniques = pd.factorize(series, use_na_sentinel=False)
        self.codes = codes.astype(np.int32) if len(uniques) < 2**31 else codes  # half the memory of int64
        # spaces around cells are accepted: strip them once per distinct value, not once per row
        self.uniques = pd.Series(np.asarray(uniques, dtype=object), dtype="str").str.strip()

    def rows(self, per_unique) -> np.ndarray:
        """Spread a per-distinct-value array back over the rows."""
        per_unique = np.asarray(per_unique)
        if per_unique.dtype == bool and not per_unique.any():  # no distinct value holds, so no row does
            return np.zeros(len(self.codes), dtype=bool)
        return per_unique[self.codes]

    def cell(self, position: int) -> str:
        return self.uniques.iat[self.codes[position]]

    def categorical(self, per_unique_text, keep: np.ndarray) -> pd.Categorical:
        """The kept rows as a categorical of the per-distinct-value text, built from codes (no strings per row)."""
        codes, categories = pd.factorize(np.asarray(per_unique_text, dtype=object))
        return pd.Categorical.from_codes(codes[self.codes[keep]], categories=pd.Index(categories, dtype="str"))


class RowChecker:
    """Collects problems for one file; ``bad`` marks rows to leave out of evaluation."""

    def __init__(self, frame: pd.DataFrame, label: str):
        self.frame = frame
        self.label = label
        self.bad = np.zeros(len(frame), dtype=bool)
        self.problems: list[Problem] = []
        self.lines = frame[LINE_COLUMN].to_numpy()
        self._columns: dict[str, Column] = {}

    def reject(self, mask, field: str, code: str, explain) -> None:
        """Mark the rows where ``mask`` holds; ``explain(position)`` words the message for one row."""
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        if not len(positions):
            return
        self.bad[positions] = True
        self.problems.extend(Problem(self.label, int(self.lines[position]), field, code, explain(position))
                             for position in positions)

    def column(self, name: str) -> Column:
        if name not in self._columns:
            self._columns[name] = self._factorized(name)
        return self._columns[name]

    def prepare(self, names: tuple[str, ...]) -> None:
        """Factorize the columns the checks will read, two at a time: pyarrow lets go of the GIL, so a
        large file's columns are split across the cores."""
        if len(self.frame) < PARALLEL_FROM_ROWS:
            return  # a thread costs more than it saves; each column is factorized when first read
        pending = [(name, in_background(lambda name=name: self._factorized(name)))
                   for name in names if name not in self._columns]
        for name, future in pending:
            self._columns[name] = future.result()

    def _factorized(self, name: str) -> Column:
        if name not in self.frame.columns:
            return Column(pd.Series("", index=self.frame.index, dtype="str"))
        return Column(self.frame[name])


MAX_VALUE = 1e15
LAST_USABLE_DAY = dt.date(2262, 4, 11)  # the last day of nanosecond timestamps: later years overflow


def parse_dates(checker: RowChecker, name: str, *, required: bool, what_is_right: str,
                not_after: dt.date | None = None, rows_are: str = "observations") -> np.ndarray:
    """Parse an ISO date column to datetime64[ns] (NaT where empty or bad); reject bad cells, and
    cells after ``not_after`` (today, for observations). The limits are compared on the text, by
    day, before any conversion: 9999-12-31 is refused, not wrapped round."""
    column = checker.column(name)
    uniques = column.uniques
    well_formed = uniques.str.fullmatch(ISO_DATE_PATTERN).fillna(False).to_numpy(dtype=bool)
    limit = min(not_after, LAST_USABLE_DAY) if not_after else LAST_USABLE_DAY
    too_late = well_formed & (uniques > limit.isoformat()).to_numpy(dtype=bool)
    usable = well_formed & ~too_late
    parsed = pd.to_datetime(uniques.where(usable), format="%Y-%m-%d", errors="coerce").to_numpy()
    parsed = parsed.astype("datetime64[ns]")
    empty = (uniques == "").to_numpy()
    if required:
        checker.reject(column.rows(empty), name, "empty", lambda _: f"is empty; {what_is_right}")
    checker.reject(column.rows(~empty & ~too_late & np.isnat(parsed)), name, "not_a_date",
                   lambda p: f'"{column.cell(p)}" is not a date; use YYYY-MM-DD, e.g. 2022-10-16')
    if not_after is not None:
        checker.reject(column.rows(too_late), name, "in_future",
                       lambda p: f"{column.cell(p)} is after today ({not_after.isoformat()}); "
                                 f"{rows_are} cannot be dated in the future (check the year)")
    else:
        checker.reject(column.rows(too_late), name, "too_far_ahead",
                       lambda p: f"{column.cell(p)} is too far ahead to be used (the last usable day is "
                                 f"{LAST_USABLE_DAY.isoformat()}); check the year")
    return column.rows(parsed)


def reject_bad_urls(checker: RowChecker) -> None:
    column = checker.column("url")
    uniques = column.uniques
    bad = ((uniques != "") & ~uniques.str.fullmatch(r"(?i)https?://\S+").fillna(False)).to_numpy(dtype=bool)
    checker.reject(column.rows(bad), "url", "not_a_web_address",
                   lambda p: f'"{column.cell(p)}" is not a web address; use one starting with http:// or https://')


def _list_ids(ids) -> str:
    ids = sorted(ids)
    shown = ", ".join(ids[:MAX_LISTED_IDS])
    return shown + (f" and {len(ids) - MAX_LISTED_IDS} more" if len(ids) > MAX_LISTED_IDS else "")


def check_indicator_ids(checker: RowChecker, watchlist: Watchlist | None, invalid_ids: set[str]) -> Column:
    column = checker.column("indicator")
    uniques = column.uniques
    known = {indicator.id for indicator in watchlist.indicators} if watchlist else set()
    empty = (uniques == "").to_numpy()
    checker.reject(column.rows(empty), "indicator", "empty", lambda _: "is empty; name an indicator id from watchlist.yaml")
    for indicator_id in sorted(invalid_ids):
        rows = column.rows((uniques == indicator_id).to_numpy())
        count = int(rows.sum())
        if count:
            checker.bad |= rows
            first = int(checker.lines[np.flatnonzero(rows)[0]])
            checker.problems.append(Problem(checker.label, first, "indicator", "definition_invalid",
                                            f"{count} observation(s) of \"{indicator_id}\" left out: its definition "
                                            "in watchlist.yaml has problems"))
    unknown = ~empty & ~uniques.isin(invalid_ids).to_numpy() & ~uniques.isin(known).to_numpy()
    hint = f"known ids: {_list_ids(known)}" if known else "watchlist.yaml defines no valid indicator"
    checker.reject(column.rows(unknown), "indicator", "unknown_indicator",
                   lambda p: f'"{column.cell(p)}" is not an indicator in watchlist.yaml; {hint}')
    return column


def _explain_not_a_number(cell: str, level_labels: dict[str, float]) -> str:
    message = f'"{cell}" is not a number'
    level = level_labels.get(cell.lower())
    if level is not None:
        return message + f'; write the level\'s number, {level:g} for "{cell}"'
    if re.fullmatch(r"-?\d+,(\d{1,2}|\d{4,})", cell):
        return message + f"; use . for decimals, e.g. {cell.replace(',', '.')}"
    if pd.notna(pd.to_numeric(cell.replace(",", "").replace(" ", ""), errors="coerce")):
        return message + f"; write it without separators, e.g. {cell.replace(',', '').replace(' ', '')}"
    return message + "; write digits only, with . for decimals (put remarks in the note column)"


def check_values(checker: RowChecker, watchlist: Watchlist | None, ids: Column) -> np.ndarray:
    column = checker.column("value")
    uniques = column.uniques
    numbers_unique = pd.to_numeric(uniques.where(uniques != ""), errors="coerce").to_numpy(dtype="float64")
    numbers = column.rows(numbers_unique)
    empty = column.rows((uniques == "").to_numpy())
    if watchlist is None:
        return numbers
    count_ids = [i.id for i in watchlist.indicators if i.aggregate == "count"]
    may_be_empty = ids.rows(ids.uniques.isin(count_ids).to_numpy())
    checker.reject(empty & ~may_be_empty & ~checker.bad, "value", "empty",
                   lambda _: "is empty; a number is required (only count indicators may leave it empty)")
    labels = {i.id: {label.lower(): key for key, label in i.levels.items()} for i in watchlist.indicators if i.levels}
    checker.reject(~empty & np.isnan(numbers), "value", "not_a_number",
                   lambda p: _explain_not_a_number(column.cell(p), labels.get(ids.cell(p), {})))
    checker.reject(np.isinf(numbers), "value", "not_finite", lambda p: f'"{column.cell(p)}" is not a finite number')
    # sums over hundreds of thousands of rows must stay finite: 1e308 + 1e308 is infinity
    checker.reject(np.isfinite(numbers) & (np.abs(numbers) > MAX_VALUE), "value", "too_large",
                   lambda p: f'"{column.cell(p)}" is too large; values up to {MAX_VALUE:,.0f} (10^15) are accepted')
    for indicator in watchlist.indicators:
        if not indicator.levels:
            continue
        scale = sorted(indicator.levels)
        of_indicator = ids.rows((ids.uniques == indicator.id).to_numpy())
        rows = of_indicator & ~np.isnan(numbers) & ~np.isin(numbers, scale) & ~checker.bad
        checker.reject(rows, "value", "not_on_scale",
                       lambda p, scale=scale, i=indicator: f"{numbers[p]:g} is not on the scale of {i.id}; "
                       "use one of " + ", ".join(f"{k:g} ({i.levels[k]})" for k in scale))
    return numbers


def check_choice(checker: RowChecker, name: str, choices: tuple[str, ...], what: str,
                 default: str = "") -> np.ndarray:
    """Check a column against a closed set (case-insensitive); returns the normalised text per distinct value."""
    column = checker.column(name)
    normalised = (column.uniques.str.lower() if name == "status" else column.uniques.str.upper()).to_numpy(dtype=object)
    bad = (column.uniques != "").to_numpy() & ~np.isin(normalised, choices)
    checker.reject(column.rows(bad), name, f"bad_{name}", lambda p: f'"{column.cell(p)}" is not {what}')
    return np.where(normalised == "", default, normalised)


def in_one_piece(text: pd.Series) -> pd.Series:
    """A text column as one Arrow array, not one per block pyarrow parsed: taking a few rows from a
    column in pieces (the rows behind each card) first joins every piece, at every take."""
    import pyarrow as pa

    if not isinstance(text.array, pd.arrays.ArrowStringArray):
        return text
    pieces = text.array.__arrow_array__()
    if pieces.num_chunks <= 1:
        return text
    whole = pd.arrays.ArrowStringArray(pa.chunked_array([pieces.combine_chunks()]), dtype=text.dtype)
    return pd.Series(whole, index=text.index, name=text.name)


def stripped_in_background(frame: pd.DataFrame, names: tuple[str, ...]) -> dict:
    """Futures of whole free-text columns, stripped on a thread while the checks run on this one
    (never factorized: notes are mostly distinct). ``kept_texts`` gives their kept rows."""
    def stripped(name: str) -> pd.Series:
        if name not in frame.columns:
            return pd.Series("", index=frame.index, dtype="str")
        return in_one_piece(frame[name].str.strip())

    if len(frame) < PARALLEL_FROM_ROWS:
        return {name: done(stripped(name)) for name in names}
    return {name: in_background(lambda name=name: stripped(name)) for name in names}


def kept_texts(texts: dict, keep: np.ndarray) -> dict[str, pd.Series]:
    """The kept rows of the free-text columns ``stripped_in_background`` is stripping."""
    return {name: stripped.result()[keep].reset_index(drop=True) for name, stripped in texts.items()}


def check_observations(frame: pd.DataFrame, watchlist: Watchlist | None, invalid_ids: set[str],
                       today: dt.date, places: PlaceBook | None = None,
                       typed: bool = True) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Check every observation row; return the typed frame of the valid rows and all problems.
    ``places`` is the watchlist's places.csv, for rows that name a place (see ``indicators.places``).
    ``typed=False`` gives the problems only (None for the frame): a writer checking a new row."""
    checker = RowChecker(frame, OBSERVATIONS_FILE)
    checker.prepare(("indicator", "date", "reported", "value", "reliability", "credibility", "status", "url"))
    texts = stripped_in_background(frame, ("source", "url", "note")) if typed else {}
    ids = check_indicator_ids(checker, watchlist, invalid_ids)
    dates = parse_dates(checker, "date", required=True, what_is_right="give the date the value applies to as YYYY-MM-DD",
                        not_after=today)
    reported = parse_dates(checker, "reported", required=False, what_is_right="", not_after=today)
    date_column, reported_column = checker.column("date"), checker.column("reported")
    checker.reject(reported < dates, "reported", "reported_before_date",
                   lambda p: f"{reported_column.cell(p)} is before the observation's date {date_column.cell(p)}; "
                             "a report cannot precede what it reports")
    values = check_values(checker, watchlist, ids)
    reliability = check_choice(checker, "reliability", RELIABILITY_GRADES,
                               "an Admiralty reliability grade; use a letter A-F")
    credibility = check_choice(checker, "credibility", CREDIBILITY_GRADES,
                               "an Admiralty credibility grade; use a digit 1-6")
    status = check_choice(checker, "status", OBSERVATION_STATUSES,
                          "a status; use " + ", ".join(OBSERVATION_STATUSES) + " (empty means reported)",
                          default="reported")
    reject_bad_urls(checker)
    keep = ~checker.bad
    located = locate_rows(checker, places or PlaceBook(), keep)  # its problems leave the row counting
    if not typed:
        return None, checker.problems
    kept_dates = dates[keep]
    kept_reported = reported[keep]
    return pd.DataFrame({
        "line": frame[LINE_COLUMN].to_numpy()[keep],
        "indicator": ids.categorical(ids.uniques, keep),
        "date": kept_dates,
        "reported": np.where(np.isnat(kept_reported), kept_dates, kept_reported),
        "value": values[keep],
        "status": checker.column("status").categorical(status, keep),
        "reliability": checker.column("reliability").categorical(reliability, keep),
        "credibility": checker.column("credibility").categorical(credibility, keep),
        **kept_texts(texts, keep),
        **located,
    }, copy=False), checker.problems  # (the arrays are this call's own: no copy into blocks of one dtype)


def check_events(frame: pd.DataFrame, places: PlaceBook | None = None,
                 typed: bool = True) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Check every event row; events may lie in the future. ``typed=False``: the problems only."""
    checker = RowChecker(frame, EVENTS_FILE)
    texts = stripped_in_background(frame, ("title", "category", "description", "source", "url")) if typed else {}
    dates = parse_dates(checker, "date", required=True, what_is_right="give the day the event happened as YYYY-MM-DD")
    ends = parse_dates(checker, "end_date", required=False, what_is_right="")
    titles = checker.column("title")
    checker.reject(titles.rows((titles.uniques == "").to_numpy()), "title", "empty",
                   lambda _: "is empty; give the event a short title")
    date_column, end_column = checker.column("date"), checker.column("end_date")
    checker.reject(ends < dates, "end_date", "end_before_start",
                   lambda p: f"{end_column.cell(p)} is before the event's date {date_column.cell(p)}")
    reject_bad_urls(checker)
    keep = ~checker.bad
    located = locate_rows(checker, places or PlaceBook(), keep)
    if not typed:
        return None, checker.problems
    rows = pd.DataFrame({
        "line": frame[LINE_COLUMN].to_numpy()[keep],
        "date": dates[keep],
        "end_date": ends[keep],
        **kept_texts(texts, keep),
        **located,
    })
    return rows.sort_values(["date", "line"], kind="stable").reset_index(drop=True), checker.problems
