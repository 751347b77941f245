"""Levels of every indicator for every day of a period, and the composite index over time.

Same rules as ``evaluate`` but computed for all days at once: a row becomes visible on the day it
was reported and, for windowed aggregates, stops counting ``window_days`` after its date.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from dataclasses import dataclass

import heapq

from ..format.models import LEVEL_SCORES, NON_COUNTING_STATUSES, Indicator, Level, Watchlist
from .evaluate import (FOREVER, EvaluationArrays, change_level_scores, day_number, level_scores_for_values,
                       prepare_arrays, to_day_numbers, until_day_numbers)
from .scenarios import scenario_scores_over_time

NEVER = -(10**9)  # day number standing for "no counting row yet"; far below any real date


def _max_key_over_time(keys, visible, until, grid) -> tuple[np.ndarray, np.ndarray]:
    """(largest key among the rows visible each grid day, whether any is): rows are visible from
    ``visible`` to the day before ``until``. A running maximum when nothing is ever superseded; a
    sweep over a heap (lazy removal) when feed events are revised or deleted."""
    if not (until < FOREVER).any():
        order = np.argsort(visible, kind="stable")
        best = np.maximum.accumulate(keys[order])
        position = np.searchsorted(visible[order], grid, side="right") - 1
        return best[np.clip(position, 0, None)], position >= 0
    live = visible < until
    keys, visible, until = keys[live], visible[live], until[live]
    arrivals, departures = np.argsort(visible, kind="stable"), np.argsort(until, kind="stable")
    heap: list[int] = []
    removed: dict[int, int] = {}
    result = np.zeros(len(grid), dtype=np.int64)
    known = np.zeros(len(grid), dtype=bool)
    a = d = 0
    for position, day in enumerate(grid):
        while a < len(arrivals) and visible[arrivals[a]] <= day:
            heapq.heappush(heap, -int(keys[arrivals[a]]))
            a += 1
        while d < len(departures) and until[departures[d]] <= day:
            key = int(keys[departures[d]])
            removed[key] = removed.get(key, 0) + 1
            d += 1
        while heap and removed.get(-heap[0], 0):
            removed[-heap[0]] -= 1
            heapq.heappop(heap)
        if heap:
            result[position], known[position] = -heap[0], True
    return result, known


def _latest_values(days, visible, values, direction, grid, until=None) -> tuple[np.ndarray, np.ndarray]:
    """(value, newest date) on each grid day for ``latest``: ties broken by the most escalatory."""
    if not len(days):
        return np.full(len(grid), np.nan), np.full(len(grid), NEVER)
    until = np.full(len(days), FOREVER) if until is None else until
    escalation = values if direction == "up" else -values
    distinct, rank = np.unique(escalation, return_inverse=True)
    width = len(distinct) + 1
    chosen, known = _max_key_over_time(days * width + rank, visible, until, grid)
    value = np.where(known, distinct[chosen % width] if direction == "up" else -distinct[chosen % width], np.nan)
    newest = np.where(known, chosen // width, NEVER)
    return value, newest


def _newest_dates(days, visible, grid, until=None) -> np.ndarray:
    if not len(days):
        return np.full(len(grid), NEVER)
    until = np.full(len(days), FOREVER) if until is None else until
    best, known = _max_key_over_time(days, visible, until, grid)
    return np.where(known, best, NEVER)


def _spread(first: np.ndarray, last: np.ndarray, amounts: np.ndarray, size: int) -> np.ndarray:
    """Each amount added to every grid position from ``first`` to ``last`` (clipped to the grid)."""
    live = (last >= 0) & (first < size) & (first <= last)
    totals = np.zeros(size + 1)
    np.add.at(totals, np.clip(first[live], 0, None), amounts[live])
    np.add.at(totals, np.minimum(last[live] + 1, size), -amounts[live])
    return np.round(np.cumsum(totals)[:size], 9)


def _amounts(aggregate: str, values: np.ndarray) -> np.ndarray:
    """What a row adds: count, one event (a nil report, value 0, adds none); sum, its value."""
    if aggregate == "count":
        return (values != 0).astype(float)
    return np.nan_to_num(values)


def _baseline_values(indicator: Indicator, days, visible, values, grid, until=None) -> np.ndarray:
    """The change rule's baseline for each grid day: the aggregate over the baseline_days before the
    window, scaled to the window's length (a row is in it from date+window_days for baseline_days)."""
    window, baseline_days = indicator.window_days, indicator.change.baseline_days
    first = np.maximum(visible, days + window) - grid[0]
    last = days + window + baseline_days - 1 - grid[0]
    if until is not None:
        last = np.minimum(last, until - 1 - grid[0])
    raw = _spread(first, last, _amounts(indicator.aggregate, values), len(grid))
    return raw * window / baseline_days


def _window_values(indicator: Indicator, days, visible, values, grid, until=None) -> np.ndarray:
    """sum/count/max/mean over the window for each grid day (rows count from visible to date+w-1,
    or to the day before ``until`` when a newer version of a feed event supersedes them)."""
    start, size, window = grid[0], len(grid), indicator.window_days
    first = visible - start
    last = days + window - 1 - start
    if until is not None:
        last = np.minimum(last, until - 1 - start)
    if indicator.aggregate in ("sum", "count"):
        return _spread(first, last, _amounts(indicator.aggregate, values), size)
    if indicator.aggregate == "mean":
        counts = _spread(first, last, np.ones(len(values)), size)
        sums = _spread(first, last, np.nan_to_num(values), size)
        return np.where(counts > 0.5, sums / np.where(counts > 0.5, counts, 1), np.nan)
    live = (last >= 0) & (first < size) & (first <= last)
    first, last, values = np.clip(first[live], 0, None), last[live], values[live]
    # max: rows whose interval is the full window share a rolling maximum; late reports are few.
    full = (last - first) == (window - 1)
    daily = np.full(window - 1 + size, np.nan)  # NaN, not -inf: fmax ignores NaN (all NaN: no value)
    np.fmax.at(daily, window - 1 + first[full], values[full])
    rolled = np.fmax.reduce(np.lib.stride_tricks.sliding_window_view(daily, window), axis=1)
    # rows that started before the grid are clipped: fold them in directly
    for lo, hi, value in zip(first[~full], last[~full], values[~full]):
        rolled[lo:hi + 1] = np.fmax(rolled[lo:hi + 1], value)
    return rolled


def _daily_values(indicator: Indicator, days, visible, values, grid, until=None) -> tuple[np.ndarray, np.ndarray]:
    """(value, date of the newest counting row) on each grid day, by the indicator's aggregate."""
    if until is not None and not (until < FOREVER).any():
        until = None
    if indicator.aggregate == "latest":
        return _latest_values(days, visible, values, indicator.direction, grid, until)
    newest = _newest_dates(days, visible, grid, until)
    # before the first counting row is known there is no data, not an empty window
    return np.where(newest == NEVER, np.nan, _window_values(indicator, days, visible, values, grid, until)), newest


@dataclass(frozen=True)
class DailyLevels:
    """Every indicator's level score for every day (rows: days, columns: indicators in watchlist order).

    ``raw``: the level each day by itself (-1 no data, 0 normal ... 3 critical); ``held``: after
    ``hold_days``; ``stale``: the indicator is stale that day.
    """

    days: pd.DatetimeIndex
    raw: np.ndarray
    held: np.ndarray
    stale: np.ndarray

    def scores(self) -> np.ndarray:
        """Held levels with stale days as -2: what the state timeline and the index use."""
        return np.where(self.stale, -2, self.held)


def _stale_days(indicator: Indicator, newest: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Days on which the newest counting row is more than ``stale_after_days`` old (never before the
    first row: that is no data, not stale)."""
    if indicator.stale_after_days is None:
        return np.zeros(len(grid), dtype=bool)
    return (newest != NEVER) & (grid - newest > indicator.stale_after_days)


def _rolling_max(scores: np.ndarray, days: int) -> np.ndarray:
    """Each day's maximum over itself and the ``days - 1`` days before it."""
    if days <= 1 or not len(scores):
        return scores
    padded = np.concatenate([np.full(days - 1, scores.min()), scores])
    return np.lib.stride_tricks.sliding_window_view(padded, days).max(axis=1)


def indicator_daily_scores(indicator: Indicator, days: np.ndarray, visible: np.ndarray, values: np.ndarray,
                           until: np.ndarray | None, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(raw level scores, held level scores, stale) of one indicator on each grid day, from its counting
    rows (date, reported and until day numbers, values). The grid must start ``hold_days - 1`` days
    before the first day whose held level is wanted."""
    until = until if until is not None and (until < FOREVER).any() else None
    value, newest = _daily_values(indicator, days, visible, values, grid, until)
    if indicator.change is not None:
        baseline = _baseline_values(indicator, days, visible, values, grid, until)
        scores = change_level_scores(indicator, value, baseline)
    else:
        scores = level_scores_for_values(indicator, value)
    stale_days = _stale_days(indicator, newest, grid)
    # a stale day holds nothing: an old level must not come back with the next, lower report
    current_scores = np.where(stale_days, -1, scores)
    held = np.where(stale_days, scores, _rolling_max(current_scores, indicator.hold_days or 1))
    return scores, held, stale_days


@dataclass(frozen=True)
class CountingRows:
    """The counting rows (not disputed or retracted) as day-number arrays, grouped by indicator:
    ``rows_of(position)`` gives the positions of one indicator's rows in these arrays, and
    ``positions`` each row's position in the observations."""

    positions: np.ndarray
    days: np.ndarray
    visible: np.ndarray
    values: np.ndarray
    until: np.ndarray
    order: np.ndarray
    bounds: np.ndarray

    @classmethod
    def of(cls, watchlist: Watchlist, observations: pd.DataFrame,
           arrays: EvaluationArrays | None = None) -> CountingRows:
        """From ``arrays`` when given (``prepare_arrays`` of this watchlist and these observations)."""
        arrays = arrays or prepare_arrays(watchlist, observations)
        positions = np.flatnonzero(arrays.counts)
        codes = arrays.codes[positions]
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(watchlist.indicators) + 1))
        return cls(positions, arrays.days[positions], arrays.reported_days[positions], arrays.values[positions],
                   arrays.until_days[positions], order, bounds)

    def rows_of(self, position: int) -> np.ndarray:
        return self.order[self.bounds[position]:self.bounds[position + 1]]

    def scores(self, indicator: Indicator, rows: np.ndarray, grid: np.ndarray):
        """``indicator_daily_scores`` over the given rows."""
        return indicator_daily_scores(indicator, self.days[rows], self.visible[rows], self.values[rows],
                                      self.until[rows], grid)


def hold_grid(watchlist: Watchlist, start: dt.date, end: dt.date) -> tuple[np.ndarray, int]:
    """Day numbers from ``start`` (less the longest hold's look-back) to ``end``, and the look-back."""
    lookback = max([indicator.hold_days or 1 for indicator in watchlist.indicators] + [1]) - 1
    return np.arange(day_number(start) - lookback, day_number(end) + 1), lookback


def daily_levels(watchlist: Watchlist, observations: pd.DataFrame, start: dt.date, end: dt.date,
                 arrays: EvaluationArrays | None = None) -> DailyLevels:
    """Raw and held level scores and staleness of every indicator for every day from start to end.

    Each day is judged as known that day (rows count from their reported date); a held level looks
    back ``hold_days`` days, including days before ``start``. ``arrays``: as for ``CountingRows.of``."""
    grid, lookback = hold_grid(watchlist, start, end)
    rows = CountingRows.of(watchlist, observations, arrays)
    size = len(watchlist.indicators)
    raw = np.empty((len(grid), size), dtype=np.int64)
    held = np.empty_like(raw)
    stale = np.empty((len(grid), size), dtype=bool)
    for position, indicator in enumerate(watchlist.indicators):
        raw[:, position], held[:, position], stale[:, position] = rows.scores(indicator, rows.rows_of(position), grid)
    keep = slice(lookback, None)
    index = pd.DatetimeIndex(grid[keep].astype("datetime64[D]"), name="date")
    return DailyLevels(index, raw[keep], held[keep], stale[keep])


def level_scores_over_time(watchlist: Watchlist, observations: pd.DataFrame,
                           start: dt.date, end: dt.date) -> pd.DataFrame:
    """Frame indexed by day, one column per indicator id, holding the (held) level score that day:
    -1 no data, 0 normal, 1 elevated, 2 high, 3 critical; stale days are -2."""
    levels = daily_levels(watchlist, observations, start, end)
    return pd.DataFrame(levels.scores(), index=levels.days, columns=[i.id for i in watchlist.indicators])


SCENARIO_PREFIX = "scenario:"  # history columns of scenario levels: scenario:<id> (ids never hold a colon)


def composite_index_over_time(watchlist: Watchlist, scores: pd.DataFrame) -> pd.DataFrame:
    """Daily overall index (0-100, NaN when nothing is current), coverage, and the overall level score
    (-1 no data, 0 normal ... 3 critical) from the index by the cut-offs, lifted by every floor that
    holds and by the highest scenario level; ``index_level`` is the level from the index alone, and
    one column ``scenario:<id>`` per scenario holds its level score."""
    ids = [indicator.id for indicator in watchlist.indicators]
    result = overall_levels(watchlist, scores[ids].to_numpy())
    return pd.DataFrame(result, index=scores.index)


def overall_levels(watchlist: Watchlist, matrix: np.ndarray) -> dict[str, np.ndarray]:
    """``composite_index_over_time`` on the bare matrix of level scores (rows: days, columns: the
    watchlist's indicators in order; -2 stale, -1 no data)."""
    rules = watchlist.overall
    weights = np.array([indicator.weight for indicator in watchlist.indicators])
    current = matrix >= 0
    weight_sum = (current * weights).sum(axis=1)
    points = (np.where(current, matrix, 0) * weights).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        index = np.where(weight_sum > 0, 100.0 * points / (3.0 * np.where(weight_sum > 0, weight_sum, 1)), np.nan)
    shown = np.round(index, 1)  # judged as shown
    index_level = np.zeros(len(index), dtype=np.int64)
    for cutoff, level in reversed(rules.cutoffs.levels()):  # elevated, high, critical: the highest reached wins
        index_level = np.where(shown >= cutoff, LEVEL_SCORES[level], index_level)
    index_level = np.where(np.isnan(shown), -1, index_level)
    level = index_level.copy()
    positions = {indicator.id: number for number, indicator in enumerate(watchlist.indicators)}
    for floor in rules.floors:
        at = LEVEL_SCORES[Level(floor.at)]
        if floor.indicator is not None:
            holds = matrix[:, positions[floor.indicator]] >= at if floor.indicator in positions else False
        else:
            holds = (matrix >= at).sum(axis=1) >= floor.count
        level = np.where(holds & (level >= 0), np.maximum(level, LEVEL_SCORES[floor.lifted_level]), level)
    scenario_scores = scenario_scores_over_time(watchlist.scenarios, list(positions), matrix)
    if len(watchlist.scenarios):
        level = np.where(level >= 0, np.maximum(level, scenario_scores.max(axis=1)), level)
    return {"index": index, "current": current.sum(axis=1), "level": level, "index_level": index_level,
            **{SCENARIO_PREFIX + scenario.id: scenario_scores[:, n] for n, scenario in enumerate(watchlist.scenarios)}}


def indicator_values_over_time(indicator: Indicator, observations: pd.DataFrame, start: dt.date,
                               end: dt.date) -> pd.DataFrame:
    """One indicator day by day, each day as known that day: ``value`` (the latest value carried
    forward, or the windowed aggregate; NaN without data) and ``stale`` (no report for longer than
    ``stale_after_days``)."""
    grid = np.arange(day_number(start), day_number(end) + 1)
    mine = ((observations["indicator"] == indicator.id).to_numpy()
            & ~observations["status"].isin(NON_COUNTING_STATUSES).to_numpy())
    value, newest = _daily_values(indicator, to_day_numbers(observations["date"].to_numpy()[mine]),
                                  to_day_numbers(observations["reported"].to_numpy()[mine]),
                                  observations["value"].to_numpy(dtype=float)[mine], grid,
                                  until_day_numbers(observations)[mine])
    return pd.DataFrame({"value": value, "stale": _stale_days(indicator, newest, grid)},
                        index=pd.DatetimeIndex(grid.astype("datetime64[D]"), name="date"))
