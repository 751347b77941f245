"""Daily history of the overall and indicator levels, and backtests: how early would the watchlist
have warned before known events, and how often did it warn when nothing followed?

Pure functions over the daily arrays of ``timeseries`` (one vectorized pass, whatever the period).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .models import LEVEL_SCORES, Level, Watchlist
from .timeseries import composite_index_over_time, level_scores_over_time

SCORE_WORDS = {-2: "stale", -1: "no_data", 0: "normal", 1: "elevated", 2: "high", 3: "critical"}


def level_history(watchlist: Watchlist, observations: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """One row per day from ``start`` to ``end``: the overall ``level`` score (-1 no data ... 3
    critical), the ``index``, the ``index_level``, and one column per indicator with its (held) level
    score that day (-2 stale, -1 no data). Each day is judged as known that day."""
    scores = level_scores_over_time(watchlist, observations, start, end)
    overall = composite_index_over_time(watchlist, scores)
    return pd.concat([overall[["level", "index", "index_level"]], scores], axis=1)


def history_records(history: pd.DataFrame, ids: list[str]) -> list[dict]:
    """The JSON of ``watchfloor history``: {"date", "level", "index", "indicators": {id: level}}."""
    levels = history[ids].to_numpy()
    records = []
    for row, (day, level, index) in enumerate(zip(history.index, history["level"], history["index"])):
        records.append({"date": day.date().isoformat(), "level": SCORE_WORDS[int(level)],
                        "index": None if np.isnan(index) else round(float(index), 1),
                        "indicators": {i: SCORE_WORDS[int(score)] for i, score in zip(ids, levels[row])}})
    return records


def history_csv(history: pd.DataFrame, ids: list[str]) -> str:
    """CSV with header ``date,level,index,<ids>``; the index is empty when there is none."""
    table = pd.DataFrame({"date": history.index.strftime("%Y-%m-%d"),
                          "level": [SCORE_WORDS[int(v)] for v in history["level"]],
                          "index": [("" if np.isnan(v) else f"{v:.1f}") for v in history["index"]]})
    for indicator_id in ids:
        table[indicator_id] = [SCORE_WORDS[int(v)] for v in history[indicator_id]]
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def run_starts(at_or_above: np.ndarray) -> np.ndarray:
    """For each day (row), the first day of the unbroken run of True days that ends on it (-1 where
    the day itself is False). Works column by column on a 2-D array."""
    days = np.arange(len(at_or_above)).reshape((-1,) + (1,) * (at_or_above.ndim - 1))
    last_false = np.maximum.accumulate(np.where(at_or_above, -1, days), axis=0)
    return np.where(at_or_above, last_false + 1, -1)


@dataclass(frozen=True)
class TargetResult:
    date: dt.date
    warned: bool
    first_warning: dt.date | None
    lead_days: int | None
    indicators: dict[str, dt.date | None]  # each indicator's own first day at the level, run ending T-1


@dataclass(frozen=True)
class Backtest:
    level: Level
    start: dt.date
    end: dt.date
    targets: list[TargetResult]
    false_alarm_days: int

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def as_dict(self) -> dict:
        return {"level": self.level.value, "from": self.start.isoformat(), "to": self.end.isoformat(),
                "days": self.days,
                "targets": [{"date": t.date.isoformat(), "warned": t.warned,
                             "first_warning": t.first_warning.isoformat() if t.first_warning else None,
                             "lead_days": t.lead_days,
                             "indicators": {i: d.isoformat() if d else None for i, d in t.indicators.items()}}
                            for t in self.targets],
                "false_alarm_days": self.false_alarm_days}


def backtest(history: pd.DataFrame, ids: list[str], targets: list[dt.date], level: Level, start: dt.date,
             end: dt.date, lead_window: int = 90, after_window: int = 30) -> Backtest:
    """How early the overall level reached ``level`` before each target date.

    For a target T: warned when the level on T-1 is at ``level`` or above; first_warning is the
    first day of the unbroken run of such days ending on T-1; lead_days = T - first_warning. Per
    indicator, the first day of its own such run. false_alarm_days: days from ``start`` to ``end`` at
    ``level`` or above outside every [T - lead_window, T + after_window]. ``history`` must cover
    ``start`` to ``end`` and every T-1 (``level_history``).
    """
    wanted = LEVEL_SCORES[level]
    days = history.index
    overall_runs = run_starts(history["level"].to_numpy() >= wanted)
    indicator_runs = run_starts(history[ids].to_numpy() >= wanted)
    results = []
    for target in sorted(targets):
        eve = pd.Timestamp(target - dt.timedelta(days=1))
        row = days.get_indexer([eve])[0]
        if row < 0 or overall_runs[row] < 0:
            first = None
        else:
            first = days[overall_runs[row]].date()
        per_indicator = {indicator_id: (days[indicator_runs[row, n]].date()
                                        if row >= 0 and indicator_runs[row, n] >= 0 else None)
                         for n, indicator_id in enumerate(ids)}
        results.append(TargetResult(target, first is not None, first, (target - first).days if first else None,
                                    per_indicator))
    span = (days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))
    alarm = (history["level"].to_numpy() >= wanted) & span
    for target in targets:
        alarm &= ~((days >= pd.Timestamp(target - dt.timedelta(days=lead_window)))
                   & (days <= pd.Timestamp(target + dt.timedelta(days=after_window))))
    return Backtest(level, start, end, results, int(alarm.sum()))
