"""Warning rules over time: held levels (``hold_days``) on top of each day's own level, and the
overall level with its floors. Pure functions over the daily level arrays of ``timeseries``.

``evaluate_watchlist`` is what every view calls for "where do we stand as of D".
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

from ..format.models import Overall, Watchlist
from .evaluate import (SCORE_LEVELS, EvaluationArrays, IndicatorStatus, OverallStatus, evaluate_statuses, level_score,
                       overall_status, prepare_arrays)
from .timeseries import daily_levels


def apply_holds(watchlist: Watchlist, observations: pd.DataFrame, statuses: list[IndicatorStatus],
                as_of: dt.date, arrays: EvaluationArrays | None = None) -> list[IndicatorStatus]:
    """Statuses with ``hold_days`` applied: the most escalatory level among the last ``hold_days``
    days, each judged as of its own day; ``raw_level`` keeps the day's own level.
    ``arrays``: ``prepare_arrays`` of the whole watchlist and these observations, when at hand."""
    held = [n for n, indicator in enumerate(watchlist.indicators) if (indicator.hold_days or 1) > 1]
    if not held:
        return statuses
    subset = watchlist.model_copy(update={"indicators": [watchlist.indicators[n] for n in held],
                                          "overall": Overall()})
    if arrays is not None:  # the rows' codes as positions in the subset (-1: an indicator without a hold)
        to_subset = np.full(len(watchlist.indicators) + 1, -1, dtype=np.int64)  # code -1 stays -1
        to_subset[held] = np.arange(len(held))
        arrays = dataclasses.replace(arrays, codes=to_subset[arrays.codes])
    levels = daily_levels(subset, observations, as_of, as_of, arrays)
    held_today = {indicator.id: int(levels.held[-1, n]) for n, indicator in enumerate(subset.indicators)}
    result = []
    for status in statuses:
        score = held_today.get(status.indicator.id)
        # a day whose own window is empty (no value: no data) still holds the level of the days before
        if score is not None and score > level_score(status.level):
            status = dataclasses.replace(status, level=SCORE_LEVELS[score], raw_level=status.level)
        result.append(status)
    return result


def evaluate_watchlist(watchlist: Watchlist, observations: pd.DataFrame, as_of: dt.date,
                       arrays: EvaluationArrays | None = None) -> tuple[list[IndicatorStatus], OverallStatus]:
    """Every indicator's status as of ``as_of`` with its rules (change, hold), and the overall level
    with the watchlist's cut-offs and floors."""
    arrays = arrays or prepare_arrays(watchlist, observations)
    statuses = apply_holds(watchlist, observations, evaluate_statuses(watchlist, observations, as_of, arrays), as_of,
                           arrays)
    return statuses, overall_status(statuses, watchlist.overall, watchlist.scenarios)
