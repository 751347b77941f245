"""Levels of every indicator for every day of a period, and the composite index over time.

Same rules as ``evaluate`` but computed for all days at once: a row becomes visible on the day it
was reported and, for windowed aggregates, stops counting ``window_days`` after its date.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .evaluate import day_number, indicator_codes, level_scores_for_values, to_day_numbers
from .models import NON_COUNTING_STATUSES, Indicator, Watchlist

NEVER = -(10**9)  # day number standing for "no counting row yet"; far below any real date


def _latest_values(days, visible, values, direction, grid) -> tuple[np.ndarray, np.ndarray]:
    """(value, newest date) on each grid day for ``latest``: ties broken by the most escalatory."""
    if not len(days):
        return np.full(len(grid), np.nan), np.full(len(grid), NEVER)
    order = np.argsort(visible, kind="stable")
    escalation = values if direction == "up" else -values
    distinct, rank = np.unique(escalation, return_inverse=True)
    width = len(distinct) + 1
    keys = days[order] * width + rank[order]
    best = np.maximum.accumulate(keys)
    position = np.searchsorted(visible[order], grid, side="right") - 1
    known = position >= 0
    chosen = best[np.clip(position, 0, None)]
    value = np.where(known, distinct[chosen % width] if direction == "up" else -distinct[chosen % width], np.nan)
    newest = np.where(known, chosen // width, NEVER)
    return value, newest


def _newest_dates(days, visible, grid) -> np.ndarray:
    if not len(days):
        return np.full(len(grid), NEVER)
    order = np.argsort(visible, kind="stable")
    best = np.maximum.accumulate(days[order])
    position = np.searchsorted(visible[order], grid, side="right") - 1
    return np.where(position >= 0, best[np.clip(position, 0, None)], NEVER)


def _window_values(indicator: Indicator, days, visible, values, grid) -> np.ndarray:
    """sum/count/max/mean over the window for each grid day (rows count from visible to date+w-1)."""
    start, size, window = grid[0], len(grid), indicator.window_days
    first = visible - start
    last = days + window - 1 - start
    live = (last >= 0) & (first < size) & (first <= last)
    first, last, values = np.clip(first[live], 0, None), last[live], values[live]
    if indicator.aggregate in ("sum", "count", "mean"):
        # count: a row with value 0 is a nil report and adds no event
        ones = (values != 0).astype(float) if indicator.aggregate == "count" else np.ones(len(values))
        counts = np.zeros(size + 1)
        np.add.at(counts, first, ones)
        np.add.at(counts, np.minimum(last + 1, size), -ones)
        counts = np.round(np.cumsum(counts)[:size], 9)
        if indicator.aggregate == "count":
            return counts
        sums = np.zeros(size + 1)
        clean = np.nan_to_num(values)
        np.add.at(sums, first, clean)
        np.add.at(sums, np.minimum(last + 1, size), -clean)
        sums = np.cumsum(sums)[:size]
        if indicator.aggregate == "sum":
            return np.round(sums, 9)
        return np.where(counts > 0.5, sums / np.where(counts > 0.5, counts, 1), np.nan)
    # max: rows whose interval is the full window share a rolling maximum; late reports are few.
    full = (last - first) == (window - 1)
    daily = np.full(size, np.nan)  # NaN, not -inf: pandas' rolling max ignores NaN
    np.fmax.at(daily, first[full], values[full])
    rolled = pd.Series(daily).rolling(window, min_periods=1).max().to_numpy(copy=True)
    # rows that started before the grid are clipped: fold them in directly
    for lo, hi, value in zip(first[~full], last[~full], values[~full]):
        rolled[lo:hi + 1] = np.fmax(rolled[lo:hi + 1], value)
    return rolled


def _daily_values(indicator: Indicator, days, visible, values, grid) -> tuple[np.ndarray, np.ndarray]:
    """(value, date of the newest counting row) on each grid day, by the indicator's aggregate."""
    if indicator.aggregate == "latest":
        return _latest_values(days, visible, values, indicator.direction, grid)
    newest = _newest_dates(days, visible, grid)
    # before the first counting row is known there is no data, not an empty window
    return np.where(newest == NEVER, np.nan, _window_values(indicator, days, visible, values, grid)), newest


def _counting_arrays(observations: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Rows that count (not disputed or retracted) with their date, reported date and value arrays."""
    counting = observations[~observations["status"].isin(NON_COUNTING_STATUSES).to_numpy()]
    return (counting, to_day_numbers(counting["date"].to_numpy()), to_day_numbers(counting["reported"].to_numpy()),
            counting["value"].to_numpy(dtype=float))


def level_scores_over_time(watchlist: Watchlist, observations: pd.DataFrame,
                           start: dt.date, end: dt.date) -> pd.DataFrame:
    """Frame indexed by day, one column per indicator id, holding the level score that day:
    -1 no data, 0 normal, 1 elevated, 2 high, 3 critical; stale days are -2."""
    grid = np.arange(day_number(start), day_number(end) + 1)
    counting, days_all, visible_all, values_all = _counting_arrays(observations)
    codes = indicator_codes(watchlist, counting["indicator"])
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(watchlist.indicators) + 1))
    columns = {}
    for position, indicator in enumerate(watchlist.indicators):
        rows = order[bounds[position]:bounds[position + 1]]
        value, newest = _daily_values(indicator, days_all[rows], visible_all[rows], values_all[rows], grid)
        scores = level_scores_for_values(indicator, value)
        if indicator.stale_after_days is not None:
            scores = np.where(grid - newest > indicator.stale_after_days, -2, scores)
        columns[indicator.id] = scores
    index = pd.DatetimeIndex(grid.astype("datetime64[D]"), name="date")
    return pd.DataFrame(columns, index=index)


def composite_index_over_time(watchlist: Watchlist, scores: pd.DataFrame) -> pd.DataFrame:
    """Daily overall index (0-100, NaN when nothing is current) and coverage from level scores."""
    weights = np.array([indicator.weight for indicator in watchlist.indicators])
    matrix = scores[[indicator.id for indicator in watchlist.indicators]].to_numpy()
    current = matrix >= 0
    weight_sum = (current * weights).sum(axis=1)
    points = (np.where(current, matrix, 0) * weights).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        index = np.where(weight_sum > 0, 100.0 * points / (3.0 * np.where(weight_sum > 0, weight_sum, 1)), np.nan)
    return pd.DataFrame({"index": index, "current": current.sum(axis=1)}, index=scores.index)


def indicator_values_over_time(indicator: Indicator, observations: pd.DataFrame, start: dt.date,
                               end: dt.date) -> pd.DataFrame:
    """One indicator day by day, each day as known that day: ``value`` (the latest value carried
    forward, or the windowed aggregate; NaN without data) and ``stale`` (no report for longer than
    ``stale_after_days``)."""
    grid = np.arange(day_number(start), day_number(end) + 1)
    counting, days, visible, values = _counting_arrays(observations)
    mine = (counting["indicator"] == indicator.id).to_numpy()
    value, newest = _daily_values(indicator, days[mine], visible[mine], values[mine], grid)
    limit = indicator.stale_after_days
    stale = (newest != NEVER) & (grid - newest > limit) if limit is not None else np.zeros(len(grid), dtype=bool)
    return pd.DataFrame({"value": value, "stale": stale},
                        index=pd.DatetimeIndex(grid.astype("datetime64[D]"), name="date"))
