"""Shared builders for tests: small watchlists written into a temporary folder."""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from pathlib import Path

import yaml

from indicators.engine.evaluate import evaluate_statuses
from indicators.store.loader import load_watchlist

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WATCHLIST = REPO / "data" / "belarus-2022"
OBSERVATION_HEADER = "date,indicator,value,source,url,reliability,credibility,status,reported,note\n"
FIXED_TODAY = dt.date(2026, 1, 1)
APP = str(REPO / "dashboard" / "app.py")


def write_watchlist(folder: Path, indicators: list[dict], observations: str = "", events: str | None = None,
                    **header) -> Path:
    """Write a watchlist folder; ``observations`` are CSV lines after the standard header."""
    folder.mkdir(parents=True, exist_ok=True)
    document = {"title": header.pop("title", "Test watchlist"), **header, "indicators": indicators}
    (folder / "watchlist.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    (folder / "observations.csv").write_text(OBSERVATION_HEADER + textwrap.dedent(observations).lstrip(),
                                             encoding="utf-8")
    if events is not None:
        (folder / "events.csv").write_text(textwrap.dedent(events).lstrip(), encoding="utf-8")
    return folder


def indicator(id: str = "troops", **fields) -> dict:
    """An indicator definition with sensible defaults for tests."""
    return {"id": id, "name": fields.pop("name", id.replace("_", " ").title()),
            "category": fields.pop("category", "Military"),
            "thresholds": fields.pop("thresholds", {"elevated": 10, "high": 20, "critical": 30}), **fields}


def statuses_of(folder: Path, as_of: dt.date) -> dict:
    """{indicator id: IndicatorStatus} as of a date, failing the test on any data problem."""
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    assert loaded.problems == [], [p.format() for p in loaded.problems]
    return {s.indicator.id: s for s in evaluate_statuses(loaded.watchlist, loaded.observations, as_of)}


def shown(markdown: str) -> str:
    """What Streamlit shows for a message whose data was escaped with ``indicators.views.render.plain``."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def run_app(monkeypatch, root: Path = DEFAULT_WATCHLIST, **query):
    """The app in Streamlit's AppTest on the watchlist folder ``root``, with URL query parameters;
    fails the test on any exception."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("WATCHFLOOR_ROOT", str(root))
    app = AppTest.from_file(APP, default_timeout=120)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, app.exception
    return app


def open_page(app, page: str):
    """Go to another page of a running AppTest the way a link does (``?page=``), keeping the session."""
    app.query_params["page"] = page
    app.run()
    assert not app.exception, app.exception
    return app
