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

import importlib

# what ``from indicators import X`` offers, imported when first asked for: the command starts without
# pandas and answers a remembered status without it
_EXPORTS = {"IndicatorStatus": "engine.evaluate", "OverallStatus": "engine.evaluate",
            "evaluate_statuses": "engine.evaluate", "overall_status": "engine.evaluate",
            "Indicator": "format.models", "Level": "format.models", "Watchlist": "format.models",
            "Problem": "format.problems", "LoadedWatchlist": "store.loader", "NotAWatchlist": "store.loader",
            "load_watchlist": "store.loader"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'indicators' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
