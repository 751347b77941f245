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
from indicators.evaluate import level_for_value
from indicators.timeseries import composite_index_over_time, indicator_values_over_time, level_scores_over_time

LOADED = load_watchlist(DEFAULT_WATCHLIST)
TROOPS = LOADED.watchlist.indicator("russian_troops_in_belarus")
START, END, AS_OF = dt.date(2022, 1, 1), dt.date(2023, 3, 31), dt.date(2022, 10, 17)


def test_threshold_bands_follow_the_direction_and_start_a_quantity_at_zero():
    up = Indicator(id="u", name="U", category="C", thresholds={"elevated": 10, "critical": 30})
    assert [(level, lo, hi) for level, lo, hi in threshold_bands(up, 0, 40)] == [
        (Level.NORMAL, 0.0, 10), (Level.ELEVATED, 10, 30), (Level.CRITICAL, 30, 44.0)]
    assert threshold_bands(up, 3, 40)[0][1] == 0.0  # a count or quantity: the axis includes zero
    assert threshold_bands(up, -5, 40)[0][1] == -9.5  # negative data: room below it instead
    down = Indicator(id="d", name="D", category="C", direction="down", thresholds={"high": 20, "critical": 5})
    assert [level for level, _, _ in threshold_bands(down, 0, 40)] == [Level.NORMAL, Level.HIGH, Level.CRITICAL]
    assert threshold_bands(down, 0, 40)[0][1:] == (20, 44.0)


def test_every_value_of_an_ordinal_scale_sits_inside_its_own_levels_band():
    threat = LOADED.watchlist.indicator("belarus_threat_level")
    bands = threshold_bands(threat, 0, 3)
    assert [(level, lo, hi) for level, lo, hi in bands] == [
        (Level.NORMAL, -0.5, 0.5), (Level.ELEVATED, 0.5, 1.5), (Level.HIGH, 1.5, 2.5), (Level.CRITICAL, 2.5, 3.5)]
    uneven = Indicator(id="o", name="O", category="C", direction="down", thresholds={"elevated": 5, "critical": 1},
                       levels={0: "none", 1: "low", 5: "mid", 9: "full"})
    for value in uneven.levels:
        band = next(band for band in threshold_bands(uneven, 0, 9) if band[1] < value < band[2])
        assert band[0] == level_for_value(uneven, value)


def test_band_labels_sit_in_the_right_margin_clear_of_the_data():
    figure = build_timeline_figure(TROOPS, LOADED.observations.iloc[0:0], LOADED.events.iloc[0:0], START, END, AS_OF)
    labels = [note for note in figure.layout.annotations if note.text in ("NORMAL", "ELEVATED", "HIGH", "CRITICAL")]
    assert len(labels) == 4 and all(note.x == 1.0 and note.xanchor == "left" for note in labels)
    assert figure.layout.margin.r >= 100


def test_timeline_has_bands_points_by_status_and_an_event_strip():
    rows = LOADED.observations[LOADED.observations["indicator"] == TROOPS.id]
    daily = indicator_values_over_time(TROOPS, LOADED.observations, START, END)
    figure = build_timeline_figure(TROOPS, rows, LOADED.events, START, END, AS_OF, daily)
    names = [trace.name for trace in figure.data]
    assert names == ["value", "stale (too old to count)", "reported", "disputed", "event"]
    # events are markers along the bottom, not lines across the chart
    assert [shape for shape in figure.layout.shapes if shape.type == "line"] == [
        shape for shape in figure.layout.shapes if shape.type == "line" and shape.x0 == np.datetime64(AS_OF)]
    event = figure.data[-1]
    assert event.yaxis == "y2" and max(event.y) < 0.1 and any("Union Resolve" in text for text in event.hovertext)
    # points on the edges are not cut
    assert figure.data[2].cliponaxis is False
    assert figure.layout.xaxis.range[0] < np.datetime64(START) and figure.layout.xaxis.range[1] > np.datetime64(END)
    hidden = build_timeline_figure(TROOPS, rows, LOADED.events, START, END, AS_OF, daily, show_events=False)
    assert "event" not in [trace.name for trace in hidden.data]
    band_colours = [shape.fillcolor for shape in figure.layout.shapes if shape.type == "rect" and shape.yref == "y"]
    assert band_colours[:4] == [LEVEL_COLOURS[level] for level in (Level.NORMAL, Level.ELEVATED, Level.HIGH,
                                                                   Level.CRITICAL)]
    reported = next(trace for trace in figure.data if trace.name == "reported")
    assert any("The Baltic Times (BNS); LRT" in text and "(B2)" in text for text in reported.hovertext)
    assert figure.layout.xaxis.tickformat == "%Y-%m-%d"


def test_disputed_points_are_drawn_differently():
    threat = LOADED.watchlist.indicator("belarus_threat_level")
    rows = LOADED.observations[LOADED.observations["indicator"] == threat.id]
    figure = build_timeline_figure(threat, rows, LOADED.events.iloc[0:0], START, END, AS_OF)
    symbols = {trace.name: trace.marker.symbol for trace in figure.data if trace.mode == "markers"}
    assert symbols == {"confirmed": "diamond", "disputed": "x-thin-open"}


def test_hover_text_from_data_is_escaped():
    rows = LOADED.observations[LOADED.observations["indicator"] == TROOPS.id].copy()
    rows["source"] = "<script>alert(1)</script>"
    figure = build_timeline_figure(TROOPS, rows, LOADED.events.iloc[0:0], START, END, AS_OF)
    hover = " ".join(text for trace in figure.data if trace.hovertext for text in trace.hovertext)
    assert "<script>" not in hover and "&lt;script&gt;" in hover


def test_the_last_value_is_carried_to_the_as_of_date_and_drawn_stale_once_too_old():
    as_of = dt.date(2022, 9, 1)  # the last troop figure known then is Lithuania's 30,000 of 2022-02-09
    rows = LOADED.observations[LOADED.observations["indicator"] == TROOPS.id]
    daily = indicator_values_over_time(TROOPS, LOADED.observations, START, as_of)
    figure = build_timeline_figure(TROOPS, rows, LOADED.events.iloc[0:0], START, as_of, as_of, daily)
    current, stale = figure.data[0], figure.data[1]
    assert stale.line.dash == "dash" and stale.line.color == "#8C8C8C"
    assert stale.y[-1] == 30000  # carried to the as-of date ...
    assert np.isnan(current.y[-1])  # ... as stale, not as a current value
    finite = np.isfinite(np.asarray(stale.y, dtype=float))
    first_stale = int(np.flatnonzero(~finite)[-1]) + 1  # the stale run that ends on the as-of date
    assert np.isfinite(current.y[first_stale])  # the two lines join on the last current day


def test_days_after_the_as_of_date_are_shaded_and_labelled():
    rows = LOADED.observations[LOADED.observations["indicator"] == TROOPS.id]
    figure = build_timeline_figure(TROOPS, rows, LOADED.events.iloc[0:0], START, END, AS_OF)
    later = [shape for shape in figure.layout.shapes if shape.type == "rect" and shape.xref == "x"]
    assert len(later) == 1 and later[0].x0 == np.datetime64(AS_OF)
    notes = [note.text for note in figure.layout.annotations]
    assert "as of 2022-10-17" in notes and " later: not known on the as-of date" in notes
    upto = build_timeline_figure(TROOPS, rows, LOADED.events.iloc[0:0], START, AS_OF, AS_OF)
    assert [shape for shape in upto.layout.shapes if shape.type == "rect" and shape.xref == "x"] == []


def test_index_and_state_timeline_share_aligned_x_axes():
    scores = level_scores_over_time(LOADED.watchlist, LOADED.observations, START, END)
    index = composite_index_over_time(LOADED.watchlist, scores)
    figure = build_index_figure(index, LOADED.events, AS_OF, START, END)
    assert round(float(figure.data[0].y[(AS_OF - START).days]), 1) == 36.1  # the overview's index that day
    assert [shape.y0 for shape in figure.layout.shapes if shape.type == "rect"][:4] == [0, 25, 50, 75]
    state = build_state_timeline_figure(scores, {i.id: i.name for i in LOADED.watchlist.indicators}, AS_OF, START,
                                        END)
    assert list(state.data[0].colorbar.ticktext) == ["STALE", "NO DATA", "NORMAL", "ELEVATED", "HIGH", "CRITICAL"]
    troops = build_timeline_figure(TROOPS, LOADED.observations.iloc[0:0], LOADED.events, START, END, AS_OF)
    for other in (state, troops):
        assert (other.layout.margin.l, other.layout.margin.r) == (figure.layout.margin.l, figure.layout.margin.r)
        assert other.layout.xaxis.range == figure.layout.xaxis.range


def test_state_timeline_shortens_long_names_and_keeps_them_apart():
    scores = level_scores_over_time(LOADED.watchlist, LOADED.observations, START, END)
    long = "Strikes and incidents involving Belarusian territory"
    names = {column: long for column in scores.columns[:2]}
    state = build_state_timeline_figure(scores, names, AS_OF, START, END)
    labels = list(state.data[0].y)
    assert labels[0] == "Strikes and incidents involvi\u2026" and len(labels[0]) == 30 and labels[1] != labels[0]
    assert len(set(labels)) == len(labels) and labels[2] == scores.columns[2]


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
