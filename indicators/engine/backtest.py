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

from ..format.models import LEVEL_SCORES, Level, Watchlist
from .timeseries import SCENARIO_PREFIX, composite_index_over_time, level_scores_over_time

SCORE_WORDS = {-2: "stale", -1: "no_data", 0: "normal", 1: "elevated", 2: "high", 3: "critical"}


def level_history(watchlist: Watchlist, observations: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """One row per day from ``start`` to ``end``: the overall ``level`` score (-1 no data ... 3
    critical), the ``index``, the ``index_level``, one column ``scenario:<id>`` per scenario with its
    level score, and one column per indicator with its (held) level score that day (-2 stale, -1 no
    data). Each day is judged as known that day."""
    scores = level_scores_over_time(watchlist, observations, start, end)
    overall = composite_index_over_time(watchlist, scores)
    scenario_columns = [SCENARIO_PREFIX + scenario.id for scenario in watchlist.scenarios]
    return pd.concat([overall[["level", "index", "index_level"] + scenario_columns], scores], axis=1)


def history_records(history: pd.DataFrame, ids: list[str], scenario_ids: list[str] = ()) -> list[dict]:
    """The JSON of ``watchfloor history``: {"date", "level", "index", "indicators": {id: level},
    "scenarios": {id: level}}."""
    levels = history[ids].to_numpy()
    scenario_levels = history[[SCENARIO_PREFIX + i for i in scenario_ids]].to_numpy()
    records = []
    for row, (day, level, index) in enumerate(zip(history.index, history["level"], history["index"])):
        records.append({"date": day.date().isoformat(), "level": SCORE_WORDS[int(level)],
                        "index": None if np.isnan(index) else round(float(index), 1),
                        "indicators": {i: SCORE_WORDS[int(score)] for i, score in zip(ids, levels[row])},
                        "scenarios": {i: SCORE_WORDS[int(score)] for i, score in zip(scenario_ids, scenario_levels[row])}})
    return records


def history_csv(history: pd.DataFrame, ids: list[str], scenario_ids: list[str] = ()) -> str:
    """CSV with header ``date,level,index,<ids>,scenario:<scenario ids>``; the index is empty when there is none."""
    table = pd.DataFrame({"date": history.index.strftime("%Y-%m-%d"),
                          "level": [SCORE_WORDS[int(v)] for v in history["level"]],
                          "index": [("" if np.isnan(v) else f"{v:.1f}") for v in history["index"]]})
    for column in ids + [SCENARIO_PREFIX + i for i in scenario_ids]:
        table[column] = [SCORE_WORDS[int(v)] for v in history[column]]
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def run_starts(at_or_above: np.ndarray) -> np.ndarray:
    """For each day (row), the first day of the unbroken run of True days that ends on it (-1 where
    the day itself is False). Works column by column on a 2-D array."""
    days = np.arange(len(at_or_above)).reshape((-1,) + (1,) * (at_or_above.ndim - 1))
    last_false = np.maximum.accumulate(np.where(at_or_above, -1, days), axis=0)
    return np.where(at_or_above, last_false + 1, -1)


def lead_from_runs(runs: np.ndarray, days: pd.DatetimeIndex, target: dt.date) -> dt.date | None:
    """The first day of the unbroken run at the level ending on the target's eve (None: not warned)."""
    row = days.get_indexer([pd.Timestamp(target - dt.timedelta(days=1))])[0]
    return days[runs[row]].date() if row >= 0 and runs[row] >= 0 else None


@dataclass(frozen=True)
class RowWeight:
    """One row of observations.csv left out, and the lead the target would have had without it."""

    line: int
    indicator: str
    date: dt.date
    lead_days_without: int  # 0: no warning at all without the row

    def as_dict(self) -> dict:
        return {"line": self.line, "indicator": self.indicator, "date": self.date.isoformat(),
                "lead_days_without": self.lead_days_without}


@dataclass(frozen=True)
class Robustness:
    """What a target's warning rests on: every counting row of observations.csv that became known in
    the lead window left out in turn; the smallest lead left and the rows whose absence costs most."""

    rows: int
    min_lead_days: int
    weakest: list[RowWeight]

    def as_dict(self) -> dict:
        return {"rows": self.rows, "min_lead_days": self.min_lead_days,
                "weakest": [row.as_dict() for row in self.weakest]}


@dataclass(frozen=True)
class TargetResult:
    date: dt.date
    warned: bool
    first_warning: dt.date | None
    lead_days: int | None
    indicators: dict[str, dt.date | None]  # each indicator's own first day at the level, run ending T-1
    robustness: Robustness | None = None


@dataclass(frozen=True)
class Backtest:
    level: Level
    start: dt.date
    end: dt.date
    targets: list[TargetResult]
    false_alarm_days: int
    quiet_days: int = 0  # days of the period outside every target's window: where a false alarm can show
    scenario: str | None = None  # judged by this scenario's level instead of the overall level
    lead_window: int = 90
    after_window: int = 30

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def false_alarm_rate(self) -> float | None:
        """False-alarm days per quiet day; None when no day was left to test."""
        return self.false_alarm_days / self.quiet_days if self.quiet_days else None

    def as_dict(self) -> dict:
        rate = self.false_alarm_rate
        return {"level": self.level.value, "scenario": self.scenario, "from": self.start.isoformat(),
                "to": self.end.isoformat(), "days": self.days,
                "targets": [{"date": t.date.isoformat(), "warned": t.warned,
                             "first_warning": t.first_warning.isoformat() if t.first_warning else None,
                             "lead_days": t.lead_days,
                             "indicators": {i: d.isoformat() if d else None for i, d in t.indicators.items()},
                             **({"robustness": t.robustness.as_dict()} if t.robustness else {})}
                            for t in self.targets],
                "false_alarm_days": self.false_alarm_days, "quiet_days": self.quiet_days,
                "false_alarm_rate": None if rate is None else round(rate, 4)}


def judged_column(scenario_id: str | None) -> str:
    """The history column a backtest judges: the overall level, or one scenario's level."""
    return "level" if scenario_id is None else SCENARIO_PREFIX + scenario_id


def backtest(history: pd.DataFrame, ids: list[str], targets: list[dt.date], level: Level, start: dt.date,
             end: dt.date, lead_window: int = 90, after_window: int = 30, scenario: str | None = None) -> Backtest:
    """How early the overall level (or ``scenario``'s level) reached ``level`` before each target date.

    For a target T: warned when the level on T-1 is at ``level`` or above; first_warning is the
    first day of the unbroken run of such days ending on T-1; lead_days = T - first_warning. Per
    indicator, the first day of its own such run. quiet_days: days from ``start`` to ``end`` outside
    every [T - lead_window, T + after_window]; false_alarm_days: those at ``level`` or above.
    ``history`` must cover ``start`` to ``end`` and every T-1 (``level_history``).
    """
    wanted = LEVEL_SCORES[level]
    days = history.index
    judged = history[judged_column(scenario)].to_numpy()
    overall_runs = run_starts(judged >= wanted)
    indicator_runs = run_starts(history[ids].to_numpy() >= wanted)
    results = []
    for target in sorted(targets):
        first = lead_from_runs(overall_runs, days, target)
        row = days.get_indexer([pd.Timestamp(target - dt.timedelta(days=1))])[0]
        per_indicator = {indicator_id: (days[indicator_runs[row, n]].date()
                                        if row >= 0 and indicator_runs[row, n] >= 0 else None)
                         for n, indicator_id in enumerate(ids)}
        results.append(TargetResult(target, first is not None, first, (target - first).days if first else None,
                                    per_indicator))
    quiet = (days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))
    for target in targets:
        quiet &= ~((days >= pd.Timestamp(target - dt.timedelta(days=lead_window)))
                   & (days <= pd.Timestamp(target + dt.timedelta(days=after_window))))
    return Backtest(level, start, end, results, int(((judged >= wanted) & quiet).sum()), int(quiet.sum()), scenario,
                    lead_window, after_window)


MAX_PERIOD_DAYS = 36_600  # a century: each day of the period is a row of every daily array
EARLIEST_DAY, LATEST_DAY = dt.date(1678, 1, 1), dt.date(2261, 12, 31)  # what a day-by-day timeline can hold


def period_problem(start: dt.date, end: dt.date, what: str, hint: str = "narrow it with --from and --to"
                   ) -> str | None:
    """Why ``what`` cannot replay the days from ``start`` to ``end``, or None: at most
    ``MAX_PERIOD_DAYS`` days (so that time and memory stay bounded), between 1678 and 2261."""
    days = (end - start).days + 1
    if days > MAX_PERIOD_DAYS:
        return (f"{what} from {start.isoformat()} to {end.isoformat()} spans {days:,} days; at most "
                f"{MAX_PERIOD_DAYS:,} days (about a century) can be replayed: {hint}")
    if start < EARLIEST_DAY or end > LATEST_DAY:
        return (f"{what} from {start.isoformat()} to {end.isoformat()} reaches beyond the days a timeline can hold "
                f"({EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()}): {hint}")
    return None
