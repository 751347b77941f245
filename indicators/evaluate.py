"""Status of indicators as of a date, and the overall index: pure functions over pandas frames.

The rules (see README, "How status is computed"):
- a row counts as of D when date <= D, reported <= D and its status is not disputed or retracted;
- ``latest`` takes the newest counting row; several on that date: the most escalatory value, and
  the status records that sources disagree;
- ``sum``/``count``/``max``/``mean`` aggregate counting rows with D - window_days < date <= D;
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


def counting_mask(observations: pd.DataFrame, as_of: dt.date) -> np.ndarray:
    limit = np.datetime64(as_of, "ns")
    return ((observations["date"].to_numpy() <= limit) & (observations["reported"].to_numpy() <= limit)
            & ~observations["status"].isin(NON_COUNTING_STATUSES).to_numpy())


def _status_from_rows(indicator: Indicator, rows: pd.DataFrame, as_of: dt.date) -> IndicatorStatus:
    """Status of one indicator from its counting rows (already filtered to date <= as_of)."""
    if rows.empty:
        value = 0.0 if indicator.aggregate in ("sum", "count") else None
        return IndicatorStatus(indicator, level_for_value(indicator, value), value, None, None,
                               indicator.stale_after_days is not None, False, 0)
    newest = rows["date"].max()
    newest_date = newest.date()
    age = (as_of - newest_date).days
    stale = indicator.stale_after_days is not None and age > indicator.stale_after_days
    if indicator.aggregate == "latest":
        used = rows[rows["date"] == newest]
        values = used["value"]
        value = float(values.max() if indicator.direction == "up" else values.min())
        disagreement = values.nunique() > 1
        behind = used[used["value"] == value].sort_values("line").iloc[0]
    else:
        start = pd.Timestamp(as_of) - pd.Timedelta(days=indicator.window_days)
        used = rows[rows["date"] > start]
        disagreement = False
        if indicator.aggregate == "count":
            value = float(len(used))
        elif indicator.aggregate == "sum":
            value = float(used["value"].sum())
        elif used.empty:
            value = None
        elif indicator.aggregate == "max":
            value = float(used["value"].max())
        else:
            value = float(used["value"].mean())
        behind = used.sort_values(["date", "line"]).iloc[-1] if not used.empty else None
    level = level_for_value(indicator, value)
    details = {}
    if behind is not None:
        details = {key: str(behind[key]) for key in ("source", "url", "reliability", "credibility")}
    return IndicatorStatus(indicator, level, value, newest_date, age, stale, bool(disagreement), len(used),
                           **details)


def evaluate_statuses(watchlist: Watchlist, observations: pd.DataFrame, as_of: dt.date) -> list[IndicatorStatus]:
    """Status of every indicator as of ``as_of``, in the order of ``watchlist.yaml``."""
    counting = observations[counting_mask(observations, as_of)]
    groups = {str(key): rows for key, rows in counting.groupby("indicator", observed=True, sort=False)}
    empty = counting.iloc[0:0]
    return [_status_from_rows(indicator, groups.get(indicator.id, empty), as_of)
            for indicator in watchlist.indicators]


def overall_status(statuses: list[IndicatorStatus]) -> OverallStatus:
    """Weighted index over current indicators, its level, coverage and drivers."""
    current = [status for status in statuses if status.is_current]
    if not current:
        return OverallStatus(Level.NO_DATA, None, 0, len(statuses), ())
    weights = sum(status.indicator.weight for status in current)
    points = sum(status.indicator.weight * status.level.score for status in current)
    index = 100.0 * points / (3.0 * weights)
    level = next((level for cutoff, level in OVERALL_CUTOFFS if index >= cutoff), Level.NORMAL)
    drivers = sorted((s for s in current if s.level.score > 0),
                     key=lambda s: (-s.indicator.weight * s.level.score, s.indicator.name))
    return OverallStatus(level, round(index, 1), len(current), len(statuses),
                         tuple(s.indicator.id for s in drivers))


def overall_level_for_index(index: float | None) -> Level:
    if index is None or np.isnan(index):
        return Level.NO_DATA
    return next((level for cutoff, level in OVERALL_CUTOFFS if index >= cutoff), Level.NORMAL)
