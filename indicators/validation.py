"""Row checks for ``observations.csv`` and ``events.csv``, vectorized over whole columns.

Each check is a small function that takes the text frame, marks the rows it rejects and explains
them as problems. Rejected rows are left out of evaluation; the file itself is never touched.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from .csvfile import LINE_COLUMN
from .models import CREDIBILITY_GRADES, OBSERVATION_STATUSES, RELIABILITY_GRADES, Watchlist
from .problems import Problem

OBSERVATIONS_FILE = "observations.csv"
EVENTS_FILE = "events.csv"
OBSERVATION_REQUIRED = ("date", "indicator", "value")
OBSERVATION_COLUMNS = OBSERVATION_REQUIRED + ("source", "url", "reliability", "credibility", "status",
                                             "reported", "note")
EVENT_REQUIRED = ("date", "title")
EVENT_COLUMNS = EVENT_REQUIRED + ("category", "description", "source", "url", "end_date")
ISO_DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"
MAX_LISTED_IDS = 8


class RowChecker:
    """Collects problems for one file; ``bad`` marks rows to leave out of evaluation."""

    def __init__(self, frame: pd.DataFrame, label: str):
        self.frame = frame
        self.label = label
        self.bad = np.zeros(len(frame), dtype=bool)
        self.problems: list[Problem] = []
        self.lines = frame[LINE_COLUMN].to_numpy()

    def reject(self, mask, field: str, code: str, explain) -> None:
        """Mark the rows where ``mask`` holds; ``explain(position)`` words the message for one row."""
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        if not len(positions):
            return
        self.bad[positions] = True
        self.problems.extend(Problem(self.label, int(self.lines[position]), field, code, explain(position))
                             for position in positions)

    def column(self, name: str) -> pd.Series:
        if name in self.frame.columns:
            return self.frame[name]
        return pd.Series("", index=self.frame.index, dtype="str")


def parse_dates(checker: RowChecker, name: str, *, required: bool, what_is_right: str) -> pd.Series:
    """Parse an ISO date column; reject empty (when required) and malformed cells."""
    text = checker.column(name)
    empty = (text == "").to_numpy()
    well_formed = text.str.fullmatch(ISO_DATE_PATTERN).fillna(False).to_numpy(dtype=bool)
    dates = pd.to_datetime(text.where(well_formed), format="%Y-%m-%d", errors="coerce")
    if required:
        checker.reject(empty, name, "empty", lambda _: f"is empty; {what_is_right}")
    values = text.to_numpy()
    checker.reject(~empty & dates.isna().to_numpy(), name, "not_a_date",
                   lambda p: f'"{values[p]}" is not a date; use YYYY-MM-DD, e.g. 2022-10-16')
    return dates


def reject_future(checker: RowChecker, dates: pd.Series, name: str, today: dt.date) -> None:
    limit = pd.Timestamp(today)
    future = (dates > limit).to_numpy()
    values = checker.column(name).to_numpy()
    checker.reject(future, name, "in_future",
                   lambda p: f"{values[p]} is after today ({today.isoformat()}); "
                             "observations cannot be dated in the future (check the year)")


def reject_bad_urls(checker: RowChecker) -> None:
    urls = checker.column("url")
    bad = ((urls != "") & ~urls.str.match(r"https?://\S+$", case=False).fillna(False)).to_numpy(dtype=bool)
    values = urls.to_numpy()
    checker.reject(bad, "url", "not_a_web_address",
                   lambda p: f'"{values[p]}" is not a web address; use one starting with http:// or https://')


def _list_ids(ids) -> str:
    ids = sorted(ids)
    shown = ", ".join(ids[:MAX_LISTED_IDS])
    return shown + (f" and {len(ids) - MAX_LISTED_IDS} more" if len(ids) > MAX_LISTED_IDS else "")


def check_indicator_ids(checker: RowChecker, watchlist: Watchlist | None, invalid_ids: set[str]) -> pd.Series:
    ids = checker.column("indicator")
    known = {indicator.id for indicator in watchlist.indicators} if watchlist else set()
    empty = (ids == "").to_numpy()
    checker.reject(empty, "indicator", "empty", lambda _: "is empty; name an indicator id from watchlist.yaml")
    of_invalid = ids.isin(invalid_ids).to_numpy()
    for indicator_id in sorted(invalid_ids):
        rows = (ids == indicator_id).to_numpy()
        count = int(rows.sum())
        if count:
            checker.bad |= rows
            first = int(checker.lines[np.flatnonzero(rows)[0]])
            checker.problems.append(Problem(checker.label, first, "indicator", "definition_invalid",
                                            f"{count} observation(s) of \"{indicator_id}\" left out: its definition "
                                            "in watchlist.yaml has problems"))
    unknown = ~empty & ~of_invalid & ~ids.isin(known).to_numpy()
    values = ids.to_numpy()
    hint = f"known ids: {_list_ids(known)}" if known else "watchlist.yaml defines no valid indicator"
    checker.reject(unknown, "indicator", "unknown_indicator",
                   lambda p: f'"{values[p]}" is not an indicator in watchlist.yaml; {hint}')
    return ids


def check_values(checker: RowChecker, watchlist: Watchlist | None, ids: pd.Series) -> pd.Series:
    text = checker.column("value")
    numbers = pd.to_numeric(text.where(text != ""), errors="coerce").astype("float64")
    empty = (text == "").to_numpy()
    if watchlist is None:
        return numbers
    count_ids = [i.id for i in watchlist.indicators if i.aggregate == "count"]
    may_be_empty = ids.isin(count_ids).to_numpy()
    checker.reject(empty & ~may_be_empty & ~checker.bad, "value", "empty",
                   lambda _: "is empty; a number is required (only count indicators may leave it empty)")
    values = text.to_numpy()
    id_values = ids.to_numpy()
    labels = {i.id: {label.lower(): key for key, label in i.levels.items()} for i in watchlist.indicators if i.levels}

    def explain_not_number(position: int) -> str:
        cell = values[position]
        message = f'"{cell}" is not a number'
        level = labels.get(id_values[position], {}).get(cell.lower())
        if level is not None:
            return message + f'; write the level\'s number, {level:g} for "{cell}"'
        if re.fullmatch(r"-?\d+,(\d{1,2}|\d{4,})", cell):
            return message + f"; use . for decimals, e.g. {cell.replace(',', '.')}"
        if pd.notna(pd.to_numeric(cell.replace(",", "").replace(" ", ""), errors="coerce")):
            return message + f"; write it without separators, e.g. {cell.replace(',', '').replace(' ', '')}"
        return message + "; write digits only, with . for decimals (put remarks in the note column)"

    checker.reject(~empty & numbers.isna().to_numpy(), "value", "not_a_number", explain_not_number)
    checker.reject(~np.isfinite(numbers.fillna(0).to_numpy()), "value", "not_finite",
                   lambda p: f'"{values[p]}" is not a finite number')
    for indicator in watchlist.indicators:
        if not indicator.levels:
            continue
        scale = sorted(indicator.levels)
        rows = ((ids == indicator.id) & numbers.notna() & ~numbers.isin(scale)).to_numpy() & ~checker.bad
        checker.reject(rows, "value", "not_on_scale",
                       lambda p, scale=scale, i=indicator: f"{numbers.iat[p]:g} is not on the scale of {i.id}; "
                       "use one of " + ", ".join(f"{k:g} ({i.levels[k]})" for k in scale))
    return numbers


def check_choice(checker: RowChecker, name: str, choices: tuple[str, ...], what: str) -> pd.Series:
    text = checker.column(name)
    normalised = text.str.lower() if name == "status" else text.str.upper()
    bad = ((text != "") & ~normalised.isin(choices)).to_numpy()
    values = text.to_numpy()
    checker.reject(bad, name, f"bad_{name}", lambda p: f'"{values[p]}" is not {what}')
    return normalised


def check_observations(frame: pd.DataFrame, watchlist: Watchlist | None, invalid_ids: set[str],
                       today: dt.date) -> tuple[pd.DataFrame, list[Problem]]:
    """Check every observation row; return the typed frame of the valid rows and all problems."""
    checker = RowChecker(frame, OBSERVATIONS_FILE)
    ids = check_indicator_ids(checker, watchlist, invalid_ids)
    dates = parse_dates(checker, "date", required=True, what_is_right="give the date the value applies to as YYYY-MM-DD")
    reported = parse_dates(checker, "reported", required=False, what_is_right="")
    reject_future(checker, dates, "date", today)
    reject_future(checker, reported, "reported", today)
    early = (reported < dates).to_numpy()
    date_text, reported_text = checker.column("date").to_numpy(), checker.column("reported").to_numpy()
    checker.reject(early, "reported", "reported_before_date",
                   lambda p: f"{reported_text[p]} is before the observation's date {date_text[p]}; "
                             "a report cannot precede what it reports")
    values = check_values(checker, watchlist, ids)
    reliability = check_choice(checker, "reliability", RELIABILITY_GRADES,
                               "an Admiralty reliability grade; use a letter A-F")
    credibility = check_choice(checker, "credibility", CREDIBILITY_GRADES,
                               "an Admiralty credibility grade; use a digit 1-6")
    status = check_choice(checker, "status", OBSERVATION_STATUSES,
                          "a status; use " + ", ".join(OBSERVATION_STATUSES) + " (empty means reported)")
    reject_bad_urls(checker)
    keep = ~checker.bad
    typed = pd.DataFrame({
        "line": frame[LINE_COLUMN].to_numpy()[keep],
        "indicator": ids.to_numpy()[keep],
        "date": dates.to_numpy()[keep],
        "reported": reported.fillna(dates).to_numpy()[keep],
        "value": values.to_numpy()[keep],
        "status": status.replace("", "reported").to_numpy()[keep],
        "reliability": reliability.to_numpy()[keep],
        "credibility": credibility.to_numpy()[keep],
        "source": checker.column("source").to_numpy()[keep],
        "url": checker.column("url").to_numpy()[keep],
        "note": checker.column("note").to_numpy()[keep],
    })
    typed["indicator"] = typed["indicator"].astype("category")
    return typed, checker.problems


def check_events(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """Check every event row; events may lie in the future."""
    checker = RowChecker(frame, EVENTS_FILE)
    dates = parse_dates(checker, "date", required=True, what_is_right="give the day the event happened as YYYY-MM-DD")
    ends = parse_dates(checker, "end_date", required=False, what_is_right="")
    titles = checker.column("title")
    checker.reject((titles == "").to_numpy(), "title", "empty", lambda _: "is empty; give the event a short title")
    date_text, end_text = checker.column("date").to_numpy(), checker.column("end_date").to_numpy()
    checker.reject((ends < dates).to_numpy(), "end_date", "end_before_start",
                   lambda p: f"{end_text[p]} is before the event's date {date_text[p]}")
    reject_bad_urls(checker)
    keep = ~checker.bad
    typed = pd.DataFrame({
        "line": frame[LINE_COLUMN].to_numpy()[keep],
        "date": dates.to_numpy()[keep],
        "end_date": ends.to_numpy()[keep],
        "title": titles.to_numpy()[keep],
        **{name: checker.column(name).to_numpy()[keep] for name in ("category", "description", "source", "url")},
    })
    return typed.sort_values(["date", "line"], kind="stable").reset_index(drop=True), checker.problems
