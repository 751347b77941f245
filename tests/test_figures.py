"""Figure builders are pure functions: frames in, plotly figures out, tested without Streamlit."""

from __future__ import annotations

import datetime as dt

import numpy as np

from dashboard.figures import (build_index_figure, build_state_timeline_figure, build_timeline_figure,
                               sparkline_html, threshold_bands)
from dashboard.theme import LEVEL_COLOURS, STALE_COLOUR
from helpers import DEFAULT_WATCHLIST
from indicators.loader import load_watchlist
from indicators.models import Indicator, Level
from indicators.timeseries import composite_index_over_time, level_scores_over_time

LOADED = load_watchlist(DEFAULT_WATCHLIST)
TROOPS = LOADED.watchlist.indicator("russian_troops_in_belarus")
START, END, AS_OF = dt.date(2022, 1, 1), dt.date(2023, 3, 31), dt.date(2022, 10, 17)


def test_threshold_bands_follow_the_direction():
    up = Indicator(id="u", name="U", category="C", thresholds={"elevated": 10, "critical": 30})
    assert [(level, lo, hi) for level, lo, hi in threshold_bands(up, 0, 40)] == [
        (Level.NORMAL, -4.0, 10), (Level.ELEVATED, 10, 30), (Level.CRITICAL, 30, 44.0)]
    down = Indicator(id="d", name="D", category="C", direction="down", thresholds={"high": 20, "critical": 5})
    assert [level for level, _, _ in threshold_bands(down, 0, 40)] == [Level.NORMAL, Level.HIGH, Level.CRITICAL]
    assert threshold_bands(down, 0, 40)[0][1:] == (20, 44.0)


def test_timeline_has_bands_points_by_status_and_event_markers():
    rows = LOADED.observations[LOADED.observations["indicator"] == TROOPS.id]
    figure = build_timeline_figure(TROOPS, rows, LOADED.events, START, END, AS_OF)
    names = [trace.name for trace in figure.data]
    assert names == ["value", "reported", "confirmed", "event"]
    band_colours = [shape.fillcolor for shape in figure.layout.shapes if shape.type == "rect" and shape.yref == "y"]
    assert band_colours[:4] == [LEVEL_COLOURS[level] for level in (Level.NORMAL, Level.ELEVATED, Level.HIGH,
                                                                   Level.CRITICAL)]
    reported = next(trace for trace in figure.data if trace.name == "reported")
    assert any("NewsGram (RFE/RL)" in text and "(C3)" in text for text in reported.hovertext)
    assert figure.layout.xaxis.tickformat == "%Y-%m-%d"


def test_disputed_points_are_drawn_differently():
    threat = LOADED.watchlist.indicator("belarus_threat_level")
    rows = LOADED.observations[LOADED.observations["indicator"] == threat.id]
    figure = build_timeline_figure(threat, rows, LOADED.events.iloc[0:0], START, END, AS_OF)
    symbols = {trace.name: trace.marker.symbol for trace in figure.data if trace.mode == "markers"}
    assert symbols == {"reported": "circle", "disputed": "x-thin-open"}


def test_hover_text_from_data_is_escaped():
    rows = LOADED.observations[LOADED.observations["indicator"] == TROOPS.id].copy()
    rows["source"] = "<script>alert(1)</script>"
    figure = build_timeline_figure(TROOPS, rows, LOADED.events.iloc[0:0], START, END, AS_OF)
    hover = " ".join(text for trace in figure.data if trace.hovertext for text in trace.hovertext)
    assert "<script>" not in hover and "&lt;script&gt;" in hover


def test_index_and_state_timeline():
    scores = level_scores_over_time(LOADED.watchlist, LOADED.observations, START, END)
    index = composite_index_over_time(LOADED.watchlist, scores)
    figure = build_index_figure(index, LOADED.events, AS_OF)
    assert round(float(figure.data[0].y[(AS_OF - START).days]), 1) == 33.3  # the overview's index that day
    assert [shape.y0 for shape in figure.layout.shapes if shape.type == "rect"][:4] == [0, 25, 50, 75]
    state = build_state_timeline_figure(scores, {i.id: i.name for i in LOADED.watchlist.indicators})
    assert list(state.data[0].y) == [i.name for i in LOADED.watchlist.indicators]
    assert list(state.data[0].colorbar.ticktext) == ["STALE", "NO DATA", "NORMAL", "ELEVATED", "HIGH", "CRITICAL"]


def test_sparkline_merges_runs_and_greys_missing_days():
    html = sparkline_html(np.array([-2, -2, 0, 0, 0, 3]))
    assert html.count("<span") == 3
    assert f"flex-grow:2;height:6px;background:{STALE_COLOUR}" in html
    assert f"flex-grow:1;height:24px;background:{LEVEL_COLOURS[Level.CRITICAL]}" in html


def test_an_ordinal_scale_is_labelled_on_its_axis():
    threat = LOADED.watchlist.indicator("belarus_threat_level")
    rows = LOADED.observations[LOADED.observations["indicator"] == threat.id]
    figure = build_timeline_figure(threat, rows, LOADED.events.iloc[0:0], START, END, AS_OF)
    assert list(figure.layout.yaxis.ticktext) == ["normal regime", "heightened terrorist threat",
                                                  "counter-terrorist operation", "martial law"]
