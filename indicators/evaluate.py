"""Status of indicators as of a date, and the overall index: pure functions over pandas frames.

The rules (see README, "How status is computed"):
- a row counts as of D when date <= D, reported <= D and its status is not disputed or retracted;
- ``latest`` takes the newest counting row; several on that date: the most escalatory value, and
  the status records that sources disagree;
- ``sum``/``count``/``max``/``mean`` aggregate counting rows with D - window_days < date <= D;
  a ``count`` row with value 0 is a nil report: no event, but it refreshes the indicator's date;
- an indicator with no counting row at all as of D has no data, whatever its aggregate;
- levels come from the thresholds in the indicator's direction; stale when the newest counting
  row is more than ``stale_after_days`` old.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .models import LEVEL_SCORES, NON_COUNTING_STATUSES, Indicator, Level, Watchlist

OVERALL_CUTOFFS = ((75.0, Level.CRITICAL), (50.0, Level.HIGH), (25.0, Level.ELEVATED))
EPOCH = np.datetime64("1970-01-01", "D")


@dataclass(frozen=True)
class IndicatorStatus:
    """Where one indicator stands as of a date."""

    indicator: Indicator
    level: Level
    value: float | None
    date: dt.date | None  # date of the newest counting row
    age_days: int | None
    stale: bool
    disagreement: bool  # several counting rows on the latest date with different values
    rows_counted: int
    source: str = ""
    url: str = ""
    reliability: str = ""
    credibility: str = ""

    @property
    def label(self) -> str | None:
        return self.indicator.label_for(self.value)

    @property
    def is_current(self) -> bool:
        """Has data and is not stale: only current indicators enter the overall index."""
        return self.level is not Level.NO_DATA and not self.stale

    @property
    def grade(self) -> str:
        """Admiralty grade of the row behind the value, e.g. ``B2`` (empty when not given)."""
        return f"{self.reliability}{self.credibility}"


@dataclass(frozen=True)
class OverallStatus:
    level: Level
    index: float | None
    current: int
    total: int
    drivers: tuple[str, ...]  # ids of current indicators above normal, strongest first


def to_day_numbers(dates) -> np.ndarray:
    """Days since 1970-01-01 as int64, for fast comparisons."""
    return (np.asarray(dates, dtype="datetime64[D]") - EPOCH).astype(np.int64)


def indicator_codes(watchlist: Watchlist, column: pd.Series) -> np.ndarray:
    """Position of each row's indicator in ``watchlist.indicators`` (-1 for ids it does not define)."""
    positions = {indicator.id: number for number, indicator in enumerate(watchlist.indicators)}
    if isinstance(column.dtype, pd.CategoricalDtype):
        mapping = np.array([positions.get(str(c), -1) for c in column.cat.categories] + [-1], dtype=np.int64)
        return mapping[column.cat.codes.to_numpy()]  # code -1 (missing) maps to the trailing -1
    return pd.Categorical(column, categories=list(positions)).codes.astype(np.int64)


def day_number(date: dt.date) -> int:
    return int((np.datetime64(date, "D") - EPOCH).astype(np.int64))


def level_for_value(indicator: Indicator, value: float | None) -> Level:
    """Level of one value given the indicator's thresholds and direction."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return Level.NO_DATA
    levels = level_scores_for_values(indicator, np.array([value], dtype=float))
    return SCORE_LEVELS[int(levels[0])]


SCORE_LEVELS = {-1: Level.NO_DATA, **{score: level for level, score in LEVEL_SCORES.items()}}


def level_scores_for_values(indicator: Indicator, values: np.ndarray) -> np.ndarray:
    """Vectorized levels as scores: -1 no data, 0 normal ... 3 critical."""
    scores = np.where(np.isnan(values), -1, 0)
    for name, threshold in indicator.thresholds.present():
        reached = values >= threshold if indicator.direction == "up" else values <= threshold
        scores = np.where(reached & (scores >= 0), LEVEL_SCORES[Level(name)], scores)
    return scores


def _first_per_group(codes: np.ndarray, candidates: np.ndarray, order_key: np.ndarray, size: int) -> np.ndarray:
    """Position of the candidate row with the smallest ``order_key`` in each group (-1 when none)."""
    positions = np.flatnonzero(candidates)
    chosen = np.full(size, -1)
    if len(positions):
        ranked = positions[np.lexsort((order_key[positions], codes[positions]))]
        group_codes = codes[ranked]
        firsts = np.flatnonzero(np.r_[True, group_codes[1:] != group_codes[:-1]])
        chosen[group_codes[firsts]] = ranked[firsts]
    return chosen


@dataclass(frozen=True)
class EvaluationArrays:
    """The observation columns evaluation needs, as numpy arrays: prepare once, evaluate many dates."""

    codes: np.ndarray  # position of the row's indicator in the watchlist, -1 if unknown
    days: np.ndarray
    reported_days: np.ndarray
    counts: np.ndarray  # status is neither disputed nor retracted
    values: np.ndarray
    lines: np.ndarray


def prepare_arrays(watchlist: Watchlist, observations: pd.DataFrame) -> EvaluationArrays:
    return EvaluationArrays(
        codes=indicator_codes(watchlist, observations["indicator"]),
        days=to_day_numbers(observations["date"].to_numpy()),
        reported_days=to_day_numbers(observations["reported"].to_numpy()),
        counts=~observations["status"].isin(NON_COUNTING_STATUSES).to_numpy(),
        values=observations["value"].to_numpy(dtype=float),
        lines=observations["line"].to_numpy(),
    )


def evaluate_statuses(watchlist: Watchlist, observations: pd.DataFrame, as_of: dt.date,
                      arrays: EvaluationArrays | None = None) -> list[IndicatorStatus]:
    """Status of every indicator as of ``as_of``, in the order of ``watchlist.yaml``.

    Vectorized over all rows: one pass of numpy group operations, whatever the number of indicators.
    Pass ``arrays`` from ``prepare_arrays`` to evaluate many dates of the same data faster.
    """
    indicators = watchlist.indicators
    size = len(indicators)
    arrays = arrays or prepare_arrays(watchlist, observations)
    d = day_number(as_of)
    rows = np.flatnonzero(arrays.counts & (arrays.days <= d) & (arrays.reported_days <= d) & (arrays.codes >= 0))
    codes = arrays.codes[rows]
    days = arrays.days[rows]
    values = arrays.values[rows]
    lines = arrays.lines[rows]

    newest = np.full(size, -(10**9), dtype=np.int64)
    np.maximum.at(newest, codes, days)
    has_rows = np.bincount(codes, minlength=size) > 0
    sign = np.array([1.0 if i.direction == "up" else -1.0 for i in indicators])
    is_latest = np.array([i.aggregate == "latest" for i in indicators])
    windows = np.array([i.window_days or 0 for i in indicators])

    # latest: rows on the newest date; the most escalatory value wins
    on_newest = days == newest[codes]
    escalation = np.where(on_newest, values * sign[codes], -np.inf)
    best = np.full(size, -np.inf)
    np.fmax.at(best, codes, escalation)
    lowest = np.full(size, np.inf)
    np.fmin.at(lowest, codes, np.where(on_newest, values * sign[codes], np.inf))
    latest_row = _first_per_group(codes, on_newest & (escalation == best[codes]), lines, size)
    newest_count = np.bincount(codes, weights=on_newest, minlength=size)

    # windowed aggregates: D - window_days < date <= D
    in_window = days > d - windows[codes]
    window_count = np.bincount(codes, weights=in_window, minlength=size)
    # a count row whose value is 0 is a nil report ("checked, nothing found"): no event, but fresh data
    event_count = np.bincount(codes, weights=in_window & (values != 0), minlength=size)
    window_sum = np.bincount(codes, weights=np.where(in_window, np.nan_to_num(values), 0.0), minlength=size)
    window_max = np.full(size, -np.inf)
    np.fmax.at(window_max, codes, np.where(in_window, values, -np.inf))
    window_row = _first_per_group(codes, in_window, -(days * 10**7 + lines), size)

    behind_rows = np.where(is_latest, latest_row, window_row)
    details_of = {}
    picked = behind_rows[behind_rows >= 0]
    if len(picked):
        frame = observations.iloc[rows[picked]][["source", "url", "reliability", "credibility"]].astype(str)
        details_of = {int(position): dict(zip(frame.columns, row)) for position, row in
                      zip(picked, frame.itertuples(index=False))}
    statuses = []
    for position, indicator in enumerate(indicators):
        if not has_rows[position]:  # missing is never green: no counting row at all is no data
            statuses.append(IndicatorStatus(indicator, Level.NO_DATA, None, None, None,
                                            indicator.stale_after_days is not None, False, 0))
            continue
        newest_date = (EPOCH + np.timedelta64(int(newest[position]), "D")).astype(dt.date)
        age = (as_of - newest_date).days
        stale = indicator.stale_after_days is not None and age > indicator.stale_after_days
        disagreement = False
        if indicator.aggregate == "latest":
            value = float(best[position] * sign[position])
            disagreement = bool(lowest[position] < best[position])
            counted = int(newest_count[position])
        else:
            counted = int(window_count[position])
            if indicator.aggregate == "count":
                counted = int(event_count[position])
                value = float(counted)
            elif indicator.aggregate == "sum":
                value = float(window_sum[position])
            elif counted == 0:
                value = None
            elif indicator.aggregate == "max":
                value = float(window_max[position])
            else:
                value = float(window_sum[position] / counted)
        details = details_of.get(int(behind_rows[position]), {}) if behind_rows[position] >= 0 else {}
        statuses.append(IndicatorStatus(indicator, level_for_value(indicator, value), value, newest_date, age,
                                        stale, disagreement, counted, **details))
    return statuses


def overall_status(statuses: list[IndicatorStatus]) -> OverallStatus:
    """Weighted index over current indicators, its level, coverage and drivers."""
    current = [status for status in statuses if status.is_current]
    if not current:
        return OverallStatus(Level.NO_DATA, None, 0, len(statuses), ())
    weights = sum(status.indicator.weight for status in current)
    points = sum(status.indicator.weight * status.level.score for status in current)
    index = 100.0 * points / (3.0 * weights)
    level = overall_level_for_index(index)
    drivers = sorted((s for s in current if s.level.score > 0),
                     key=lambda s: (-s.indicator.weight * s.level.score, s.indicator.name))
    return OverallStatus(level, round(index, 1), len(current), len(statuses),
                         tuple(s.indicator.id for s in drivers))


def overall_level_for_index(index: float | None) -> Level:
    """Overall level for an index value: >= 75 critical, >= 50 high, >= 25 elevated, else normal."""
    if index is None or np.isnan(index):
        return Level.NO_DATA
    return next((level for cutoff, level in OVERALL_CUTOFFS if index >= cutoff), Level.NORMAL)
