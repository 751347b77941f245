"""What a warning rests on: leave out, one at a time, every row that became known in a target's lead
window and see how much lead is left (``watchfloor backtest --robustness``).

Only the left-out row's indicator is recomputed for each row (the daily arrays of ``timeseries``),
then the overall and scenario levels over the whole matrix: one row costs a few milliseconds.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ..format.models import LEVEL_SCORES, Level, Watchlist
from .backtest import RowWeight, Robustness, judged_column, run_starts
from .evaluate import EPOCH, day_number
from .timeseries import CountingRows, hold_grid, overall_levels

MAX_ROBUSTNESS_ROWS = 2000
WEAKEST_SHOWN = 5


class TooManyRows(ValueError):
    """Leaving out each row would take too long: the lead windows hold more than MAX_ROBUSTNESS_ROWS rows."""


def _judged_levels(watchlist: Watchlist, matrix: np.ndarray, scenario: str | None) -> np.ndarray:
    return overall_levels(watchlist, matrix)[judged_column(scenario)]


def _lead(levels: np.ndarray, wanted: int, grid_start: int, target: dt.date) -> int:
    """Days of lead before ``target`` in the daily ``levels`` (grid from day number ``grid_start``); 0 when
    the level on the eve is below ``wanted``."""
    eve = day_number(target) - 1 - grid_start
    if eve < 0 or eve >= len(levels):
        return 0
    runs = run_starts(levels[: eve + 1] >= wanted)
    return 0 if runs[eve] < 0 else int(eve - runs[eve] + 1)


def leave_one_out(watchlist: Watchlist, observations: pd.DataFrame, targets: list[dt.date], level: Level,
                  start: dt.date, lead_window: int, scenario: str | None = None) -> dict[dt.date, Robustness]:
    """For each target T: every counting row of observations.csv (not disputed or retracted; feed rows
    are not rows of the file) whose later of ``date`` and ``reported`` lies in [T - lead_window, T) is
    left out in turn and the lead recomputed. Raises ``TooManyRows`` above MAX_ROBUSTNESS_ROWS rows."""
    wanted = LEVEL_SCORES[level]
    end = max(targets) - dt.timedelta(days=1)
    grid, lookback = hold_grid(watchlist, min(start, end), end)
    rows = CountingRows.of(watchlist, observations)
    indicators = watchlist.indicators
    matrix = np.empty((len(grid), len(indicators)), dtype=np.int64)
    for position, indicator in enumerate(indicators):
        _, held, stale = rows.scores(indicator, rows.rows_of(position), grid)
        matrix[:, position] = np.where(stale, -2, held)
    grid_start = int(grid[lookback])
    base = _judged_levels(watchlist, matrix[lookback:], scenario)

    from_file = ((observations["feed"] == "").to_numpy()[rows.positions] if "feed" in observations.columns
                 else np.ones(len(rows.positions), bool))
    known_on = np.maximum(rows.days, rows.visible)
    windows = {target: np.flatnonzero(from_file & (known_on >= day_number(target) - lead_window)
                                      & (known_on < day_number(target))) for target in targets}
    position_of = np.empty(len(rows.positions), dtype=np.int64)
    position_of[:] = -1
    for position in range(len(indicators)):
        position_of[rows.rows_of(position)] = position
    candidates = sorted({int(row) for found in windows.values() for row in found if position_of[row] >= 0})
    if len(candidates) > MAX_ROBUSTNESS_ROWS:
        raise TooManyRows(f"leaving out each row in turn needs {len(candidates):,} rows, more than "
                          f"{MAX_ROBUSTNESS_ROWS:,}; narrow the lead window (--lead-window) or give fewer targets")
    leads: dict[int, dict[dt.date, int]] = {}
    for row in candidates:
        position = int(position_of[row])
        kept = rows.rows_of(position)
        kept = kept[kept != row]
        _, held, stale = rows.scores(indicators[position], kept, grid)
        # a row changes nothing before the day it became known: recompute the days from then on only
        first = lookback + max(0, int(known_on[row]) - grid_start)
        changed = matrix[first:].copy()
        changed[:, position] = np.where(stale, -2, held)[first:]
        levels = base.copy()
        levels[first - lookback:] = _judged_levels(watchlist, changed, scenario)
        leads[row] = {target: _lead(levels, wanted, grid_start, target) for target in targets}
    lines = observations["line"].to_numpy()[rows.positions]
    names = observations["indicator"].astype(str).to_numpy()[rows.positions]
    results = {}
    for target in targets:
        found = [int(row) for row in windows[target] if position_of[row] >= 0]
        weights = sorted((RowWeight(int(lines[row]), str(names[row]),
                                    (EPOCH + np.timedelta64(int(rows.days[row]), "D")).astype(dt.date),
                                    leads[row][target]) for row in found),
                         key=lambda weight: (weight.lead_days_without, weight.line))
        lead = _lead(base, wanted, grid_start, target)
        results[target] = Robustness(len(found), min([lead] + [w.lead_days_without for w in weights]),
                                     [w for w in weights if w.lead_days_without < lead][:WEAKEST_SHOWN])
    return results
