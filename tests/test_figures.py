"""Figure builders are pure functions: frames in, plotly figures out, tested without Streamlit."""

from __future__ import annotations

import datetime as dt

import numpy as np

from hypothesis import given, settings
from hypothesis import strategies as st

from indicators.views.figures import (band_of, build_index_figure, build_state_timeline_figure, build_timeline_figure,
                                      sparkline_html, threshold_bands, values_are_integral)
from indicators.views.theme import LEVEL_COLOURS, STALE_COLOUR
from helpers import DEFAULT_WATCHLIST
from indicators.engine.evaluate import level_for_value
from indicators.engine.timeseries import composite_index_over_time, indicator_values_over_time, level_scores_over_time
from indicators.format.models import Indicator, Level
from indicators.store.loader import load_watchlist

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
    # events: numbered markers in their own lane below the data, never over the points
    assert event.yaxis == "y2" and any("Union Resolve" in text for text in event.hovertext)
    assert list(figure.layout.yaxis2.domain)[1] < list(figure.layout.yaxis.domain)[0]
    numbers = [n for label in event.text for n in range(int(label.split("-")[0]), int(label.split("-")[-1]) + 1)]
    assert numbers == list(range(1, len(numbers) + 1))  # every event once, in date order
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


def test_events_that_last_a_day_get_a_lane_of_their_own_below_the_data_too():
    # events without an end date draw no bar in the lane: the data must still leave the lane its room
    events = LOADED.events[LOADED.events["end_date"].isna()]
    start, end = dt.date(2021, 11, 22), dt.date(2022, 2, 20)
    rows = LOADED.observations[LOADED.observations["indicator"] == TROOPS.id]
    timeline = build_timeline_figure(TROOPS, rows, events, start, end, end)
    index = composite_index_over_time(LOADED.watchlist, level_scores_over_time(LOADED.watchlist, LOADED.observations,
                                                                                start, end))
    overall = build_index_figure(index, events, end, start, end)
    for figure, height in ((timeline, 360), (overall, 320)):
        assert "event" in [trace.name for trace in figure.data]
        assert list(figure.layout.yaxis2.domain)[1] < list(figure.layout.yaxis.domain)[0]
        assert figure.layout.height == height + 80
    without = build_timeline_figure(TROOPS, rows, events.iloc[0:0], start, end, end)
    assert list(without.layout.yaxis.domain) == [0, 1] and without.layout.height == 360


def test_a_chart_without_data_has_no_value_line_in_its_legend():
    threat = LOADED.watchlist.indicator("belarus_threat_level")
    start, end = dt.date(2021, 9, 9), dt.date(2022, 3, 10)
    daily = indicator_values_over_time(threat, LOADED.observations.iloc[0:0], start, end)
    figure = build_timeline_figure(threat, LOADED.observations.iloc[0:0], LOADED.events, start, end, end, daily)
    assert [trace.name for trace in figure.data] == ["event"]


def test_events_close_together_are_stacked_in_the_lane_and_numbered_in_the_legend():
    import pandas as pd

    from indicators.views.figures import event_legend_html, lane_marks, numbered_events

    events = pd.DataFrame({"date": pd.to_datetime(["2022-02-10", "2022-02-10", "2022-02-11", "2022-03-20"]),
                           "end_date": pd.to_datetime([None, "2022-02-20", None, None]),
                           "title": ["A <b>", "B", "C", "D"], "category": ["", "", "", ""], "line": [2, 3, 4, 5]})
    numbered = numbered_events(events, dt.date(2022, 1, 1), dt.date(2022, 12, 31))
    assert [mark.label for mark in lane_marks(numbered, dt.date(2022, 1, 1), dt.date(2022, 12, 31))] == [
        "1", "2", "3", "4"]
    assert [mark.row for mark in lane_marks(numbered, dt.date(2022, 1, 1), dt.date(2022, 12, 31))] == [0, 1, 2, 0]
    crowded = pd.DataFrame({"date": pd.to_datetime([f"2022-10-{day:02d}" for day in range(10, 16)]),
                            "end_date": pd.NaT, "title": list("ABCDEF"), "category": "", "line": range(2, 8)})
    marks = lane_marks(numbered_events(crowded, dt.date(2022, 1, 1), dt.date(2022, 12, 31)), dt.date(2022, 1, 1),
                       dt.date(2022, 12, 31))
    assert [mark.label for mark in marks] == ["1-6"]  # a crowded week: one marker naming its events
    legend = event_legend_html(numbered)
    assert '<li value="1"><b>2022-02-10</b> A &lt;b&gt;</li>' in legend
    assert '<li value="2"><b>2022-02-10 to 2022-02-20</b> B</li>' in legend


thresholds_strategy = st.lists(st.integers(-5, 20), min_size=1, max_size=3)


@settings(max_examples=300)
@given(st.sampled_from(["up", "down"]), thresholds_strategy, st.lists(st.integers(0, 2), min_size=3, max_size=3),
       st.lists(st.one_of(st.integers(-10, 30), st.floats(-10, 30, allow_nan=False)), min_size=1, max_size=6),
       st.booleans())
def test_the_band_under_a_point_is_the_points_level(direction, raw, which, values, counted):
    """For random thresholds (either direction) and values, the band a value is drawn in is the
    level the same rule gives it; whole-number data sits inside its band, never on an edge."""
    ordered = sorted(set(raw)) if direction == "up" else sorted(set(raw), reverse=True)
    keys = [key for key, keep in zip(("elevated", "high", "critical"), which) if keep] or ["elevated"]
    thresholds = dict(zip(keys, ordered))
    indicator = Indicator(id="i", name="I", category="C", direction=direction, thresholds=thresholds,
                          aggregate="count" if counted else "latest", window_days=7 if counted else None)
    if counted:
        values = [abs(int(value)) for value in values]
    integral = values_are_integral(indicator, values)
    bands = threshold_bands(indicator, min(values), max(values), integral)
    assert all(hi > lo for _, lo, hi in bands)  # every band has height
    for value in values:
        assert band_of(bands, value, direction, strict=integral) == level_for_value(indicator, value), (value, bands)
