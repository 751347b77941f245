"""Watchfloor's library, in layers; each imports only the layers below it (tests/test_layout.py):

    format    what a watchlist folder holds and what makes a row valid
    engine    what the rows mean on a day and over time: levels, scenarios, rules, backtests, scores
    feeds     ACLED and GDELT exports read as observations (DuckDB in process, or Spark)
    store     a watchlist folder read (with the derived cache) and written (locked, atomic)
    service   alerts and watching, sending, serving the dashboard
    views     figures, boards and briefings, built without Streamlit
    cli       the ``watchfloor`` command: a thin shell over the above

It never imports streamlit (the dashboard in ``dashboard/`` does), so the commands stay quick and the
logic is testable alone; plotly is imported by ``views`` only.
"""

from .engine.evaluate import IndicatorStatus, OverallStatus, evaluate_statuses, overall_status
from .format.models import Indicator, Level, Watchlist
from .format.problems import Problem
from .store.loader import LoadedWatchlist, NotAWatchlist, load_watchlist

__all__ = ["Indicator", "IndicatorStatus", "Level", "LoadedWatchlist", "NotAWatchlist", "OverallStatus",
           "Problem", "Watchlist", "evaluate_statuses", "load_watchlist", "overall_status"]
