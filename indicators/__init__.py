"""Watchfloor's library: watchlist models, loading and validation, evaluation and writing.

It never imports streamlit or plotly, so the CLI stays quick and the logic is testable alone.
"""

from .evaluate import IndicatorStatus, OverallStatus, evaluate_statuses, overall_status
from .loader import LoadedWatchlist, NotAWatchlist, load_watchlist
from .models import Indicator, Level, Watchlist
from .problems import Problem

__all__ = ["Indicator", "IndicatorStatus", "Level", "LoadedWatchlist", "NotAWatchlist", "OverallStatus",
           "Problem", "Watchlist", "evaluate_statuses", "load_watchlist", "overall_status"]
