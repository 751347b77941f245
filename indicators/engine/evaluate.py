"""Status of indicators as of a date, and the overall index: pure functions over pandas frames.

The rules (see docs/status-and-rules.md):
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

from ..format.models import (LEVEL_SCORES, NON_COUNTING_STATUSES, Cutoffs, Floor, Indicator, Level, Overall, Scenario,
                             Watchlist)
from .scenarios import ScenarioStatus, evaluate_scenarios, scenario_reason

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
    change: float | None = None  # percent change over the baseline (inf when the baseline is 0)
    baseline: float | None = None  # the baseline aggregate, scaled to the window's length
    raw_level: Level | None = None  # the level before ``hold_days``; None: same as ``level``

    @property
    def label(self) -> str | None:
        return self.indicator.label_for(self.value)

    @property
    def is_current(self) -> bool:
        """Has data and is not stale: only current indicators enter the overall index."""
        return self.level is not Level.NO_DATA and not self.stale

    @property
    def held(self) -> bool:
        """The level is held above today's own level by ``hold_days``."""
        return self.raw_level is not None and self.raw_level != self.level

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
    index_level: Level = Level.NO_DATA  # the level from the index alone, before floors
    reasons: tuple[str, ...] = ()  # plain sentences: why the level is what it is
    scenarios: tuple[ScenarioStatus, ...] = ()  # each scenario's level; the overall level is at least the highest


def to_day_numbers(dates) -> np.ndarray:
    """Days since 1970-01-01 as int64, for fast comparisons."""
    return (np.asarray(dates, dtype="datetime64[D]") - EPOCH).astype(np.int64)


FOREVER = 10**9  # day number standing for "not superseded": far after any real date


def until_day_numbers(observations: pd.DataFrame) -> np.ndarray:
    """Day from which each row no longer counts (a feed event's next version or deletion), else FOREVER."""
    if "until" not in observations.columns:
        return np.full(len(observations), FOREVER, dtype=np.int64)
    until = observations["until"].to_numpy(dtype="datetime64[D]")
    return np.where(np.isnat(until), FOREVER, (until - EPOCH).astype(np.int64))


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


def change_percent(value: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """100 x (value - baseline) / baseline; +inf when the baseline is 0 and the value is not, else 0."""
    value, baseline = np.asarray(value, dtype=float), np.asarray(baseline, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = 100.0 * (value - baseline) / np.where(baseline == 0, 1.0, baseline)
    return np.where(baseline == 0, np.where(value > 0, np.inf, 0.0), ratio)


def change_level_scores(indicator: Indicator, value: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Level scores from percent change over the baseline, with the low-baseline guard: when the
    baseline is at most ``min_baseline`` and the value at most ``min_value``, the level is normal."""
    rule = indicator.change
    scores = level_scores_for_values(indicator, np.where(np.isnan(value), np.nan, change_percent(value, baseline)))
    guarded = (baseline <= rule.min_baseline) & (value <= rule.min_value)
    return np.where(np.isnan(value), -1, np.where(guarded, 0, scores))


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
    until_days: np.ndarray  # the row stops counting on this day (superseded or deleted feed event)
    counts: np.ndarray  # status is neither disputed nor retracted
    values: np.ndarray
    lines: np.ndarray


DETAIL_COLUMNS = ("source", "url", "reliability", "credibility")  # of the row behind each level


def prepare_arrays(watchlist: Watchlist, observations: pd.DataFrame) -> EvaluationArrays:
    return EvaluationArrays(
        codes=indicator_codes(watchlist, observations["indicator"]),
        days=to_day_numbers(observations["date"].to_numpy()),
        reported_days=to_day_numbers(observations["reported"].to_numpy()),
        until_days=until_day_numbers(observations),
        counts=~observations["status"].isin(NON_COUNTING_STATUSES).to_numpy(),
        values=observations["value"].to_numpy(dtype=float),
        lines=observations["line"].to_numpy(),
    )


def texts_at(column: pd.Series, positions: np.ndarray) -> list:
    """``column.iloc[positions].astype(str).tolist()``: a text column's few values are taken from its
    array, without the Series that costs a millisecond (a day-by-day evaluation takes them every day)."""
    if isinstance(column.dtype, pd.StringDtype):
        return list(column.array.take(positions))  # str, and NaN where missing, as astype(str) gives
    return column.iloc[positions].astype(str).tolist()


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
    rows = np.flatnonzero(arrays.counts & (arrays.days <= d) & (arrays.reported_days <= d) & (arrays.until_days > d)
                    & (arrays.codes >= 0))
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
    # change rules: the same aggregate over the baseline_days before the window
    baseline_days = np.array([i.change.baseline_days if i.change else 0 for i in indicators])
    in_baseline = (days > d - windows[codes] - baseline_days[codes]) & (days <= d - windows[codes])
    baseline_events = np.bincount(codes, weights=in_baseline & (values != 0), minlength=size)
    baseline_sum = np.bincount(codes, weights=np.where(in_baseline, np.nan_to_num(values), 0.0), minlength=size)

    behind_rows = np.where(is_latest, latest_row, window_row)
    details_of = {}
    picked = behind_rows[behind_rows >= 0]
    if len(picked):
        # each column's few rows taken on its own: no frame of the columns is built, at any size
        behind = rows[picked]
        shown = {name: texts_at(observations[name], behind) for name in DETAIL_COLUMNS}
        details_of = {int(position): {name: shown[name][number] for name in DETAIL_COLUMNS}
                      for number, position in enumerate(picked)}
    statuses = []
    for position, indicator in enumerate(indicators):
        if not has_rows[position]:  # missing is never green: no counting row at all is no data
            statuses.append(IndicatorStatus(indicator, Level.NO_DATA, None, None, None, False, False, 0))
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
        level = level_for_value(indicator, value)
        if indicator.change is not None:
            raw = baseline_events[position] if indicator.aggregate == "count" else baseline_sum[position]
            baseline = float(raw * indicator.window_days / indicator.change.baseline_days)
            details["baseline"] = round(baseline, 9)
            details["change"] = float(change_percent(value, baseline))
            level = SCORE_LEVELS[int(change_level_scores(indicator, np.array([value]), np.array([baseline]))[0])]
        statuses.append(IndicatorStatus(indicator, level, value, newest_date, age, stale, disagreement, counted,
                                        **details))
    return statuses


def overall_status(statuses: list[IndicatorStatus], rules: Overall | None = None,
                   scenarios: list[Scenario] = ()) -> OverallStatus:
    """Weighted index over current indicators, its level by the cut-offs, each floor that holds, and
    each scenario's level (the overall level is at least the highest); the reasons in plain
    sentences, naming indicators and scenarios by name; coverage and drivers."""
    rules = rules or Overall()
    scenario_statuses = tuple(evaluate_scenarios(list(scenarios), level_scores_of(statuses)))
    current = [status for status in statuses if status.is_current]
    if not current:
        return OverallStatus(Level.NO_DATA, None, 0, len(statuses), (), Level.NO_DATA,
                             ("no current indicator -> no data",), scenario_statuses)
    weights = sum(status.indicator.weight for status in current)
    points = sum(status.indicator.weight * status.level.score for status in current)
    index = round(100.0 * points / (3.0 * weights), 1)  # judged as shown
    index_level = overall_level_for_index(index, rules.cutoffs)
    level, reasons = index_level, [f"index {index:.1f} -> {index_level.value}"]
    scores = {s.indicator.id: s.level.score for s in current}
    names = {s.indicator.id: s.indicator.name for s in statuses}
    for floor in rules.floors:
        lifted = floor.lifted_level
        if floor_holds(floor, scores):
            if floor.indicator:
                condition = f"{names.get(floor.indicator, floor.indicator)} is {SCORE_LEVELS[scores[floor.indicator]].value}"
            else:
                reached = sum(score >= LEVEL_SCORES[Level(floor.at)] for score in scores.values())
                condition = f"{reached} indicators are {floor.at} or above"
            reasons.append(f"{condition} -> at least {lifted.value}")
            level = max(level, lifted, key=lambda item: item.score)
    raised = [status for status in scenario_statuses if (status.level.score or 0) > 0]
    if raised:
        top = max(status.level.score for status in raised)
        for status in raised:
            if status.level.score == top:
                reasons.append(f"{scenario_reason(status)} -> at least {status.level.value}")
        level = max(level, SCORE_LEVELS[top], key=lambda item: item.score)
    drivers = sorted((s for s in current if s.level.score > 0),
                     key=lambda s: (-s.indicator.weight * s.level.score, s.indicator.name))
    return OverallStatus(level, index, len(current), len(statuses), tuple(s.indicator.id for s in drivers),
                         index_level, tuple(reasons), scenario_statuses)


def level_scores_of(statuses: list[IndicatorStatus]) -> dict[str, int]:
    """{indicator id: level score} as the daily arrays hold them: -2 stale, -1 no data, 0 ... 3."""
    return {s.indicator.id: -2 if s.stale and s.level is not Level.NO_DATA else level_score(s.level)
            for s in statuses}


def level_score(level: Level) -> int:
    """The level's score, -1 for no data."""
    return -1 if level.score is None else level.score


def floor_holds(floor: Floor, current_scores: dict[str, int]) -> bool:
    """Whether a floor's condition holds, given the level scores of the current indicators."""
    at = LEVEL_SCORES[Level(floor.at)]
    if floor.indicator is not None:
        return current_scores.get(floor.indicator, -1) >= at
    return sum(score >= at for score in current_scores.values()) >= floor.count


def overall_level_for_index(index: float | None, cutoffs: Cutoffs | None = None) -> Level:
    """Overall level for an index value (default cut-offs: >= 75 critical, >= 50 high, >= 25 elevated)."""
    if index is None or np.isnan(index):
        return Level.NO_DATA
    cutoffs = cutoffs or Cutoffs()
    return next((level for cutoff, level in cutoffs.levels() if index >= cutoff), Level.NORMAL)
