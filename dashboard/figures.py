"""Figure builders: pure functions from frames to plotly figures, testable without Streamlit."""

from __future__ import annotations

import datetime as dt
import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from indicators.models import THRESHOLD_KEYS, Indicator, Level
from indicators.report import format_value

from .theme import FONT_FAMILY, INK, LEVEL_COLOURS, LEVEL_WORDS, SCORE_LEVELS, STALE_COLOUR

STATUS_MARKERS = {"reported": "circle", "confirmed": "diamond", "disputed": "x-thin-open",
                  "retracted": "circle-open"}
BASE_LAYOUT = dict(font=dict(family=FONT_FAMILY, size=14, color=INK), paper_bgcolor="white",
                   plot_bgcolor="white", margin=dict(l=60, r=20, t=50, b=40), hoverlabel=dict(align="left"))


def _text(value) -> str:
    """Data text for plotly hover labels, which render a subset of HTML: escape it."""
    return html.escape(str(value)) if value is not None and value == value else ""


def threshold_bands(indicator: Indicator, low: float, high: float) -> list[tuple[Level, float, float]]:
    """(level, from, to) bands covering [low, high] in the indicator's direction."""
    present = [(Level(name), value) for name, value in indicator.thresholds.present()]
    edges = [value for _, value in present]
    lo, hi = min([low] + edges), max([high] + edges)
    pad = (hi - lo) * 0.1 or 1.0
    lo, hi = lo - pad, hi + pad
    if indicator.direction == "up":
        bounds = [lo] + edges + [hi]
        levels = [Level.NORMAL] + [level for level, _ in present]
    else:
        bounds = [hi] + edges + [lo]
        levels = [Level.NORMAL] + [level for level, _ in present]
    return [(level, min(a, b), max(a, b)) for level, a, b in zip(levels, bounds[:-1], bounds[1:])]


def band_shapes(bands) -> tuple[list[dict], list[dict]]:
    """Horizontal level bands as plotly shape and annotation dicts (set at once: add_hrect is slow)."""
    shapes, annotations = [], []
    for level, lo, hi in bands:
        shapes.append(dict(type="rect", xref="paper", x0=0, x1=1, yref="y", y0=lo, y1=hi, layer="below",
                           fillcolor=LEVEL_COLOURS[level], opacity=0.18, line=dict(width=0)))
        # the word sits in the middle of its band, so that thin bands do not push it into the next one
        annotations.append(dict(xref="paper", x=0.005, yref="y", y=(lo + hi) / 2, text=LEVEL_WORDS[level],
                                showarrow=False, xanchor="left", yanchor="middle", font=dict(size=11, color=INK)))
    return shapes, annotations


def build_timeline_figure(indicator: Indicator, rows: pd.DataFrame, events: pd.DataFrame,
                          start: dt.date, end: dt.date, as_of: dt.date,
                          aggregate: pd.Series | None = None) -> go.Figure:
    """Observations of one indicator as points and a line, over level bands, with event markers.

    ``aggregate`` (daily values of a windowed indicator, from ``indicator_values_over_time``) is
    drawn as the line, and each report sits on it on its date.
    """
    rows = rows.sort_values(["date", "line"])
    values = rows["value"].dropna()
    if aggregate is not None and len(aggregate.dropna()):
        values = pd.concat([values, aggregate.dropna()])
    low = float(values.min()) if len(values) else 0.0
    high = float(values.max()) if len(values) else 1.0
    figure = go.Figure()
    shapes, annotations = band_shapes(threshold_bands(indicator, low, high))
    counting = rows[~rows["status"].isin(["disputed", "retracted"])]
    if aggregate is not None:
        figure.add_trace(go.Scatter(x=aggregate.index, y=aggregate.to_numpy(), mode="lines",
                                    name=f"{indicator.aggregate} over {indicator.window_days} d",
                                    line=dict(color=INK, width=2, shape="hv"),
                                    hovertemplate="%{x|%Y-%m-%d}: %{y}<extra></extra>"))
    elif indicator.aggregate == "latest" and len(counting):
        figure.add_trace(go.Scatter(x=counting["date"], y=counting["value"], mode="lines", name="value",
                                    line=dict(color=INK, width=2, shape="hv"), hoverinfo="skip"))
    for status, symbol in STATUS_MARKERS.items():
        subset = rows[rows["status"] == status]
        if subset.empty:
            continue
        y = subset["value"]
        if indicator.aggregate == "count" and aggregate is not None:
            on_line = aggregate.reindex(subset["date"].dt.normalize())
            y = pd.Series(on_line.to_numpy(), index=subset.index).fillna(1.0)
        elif indicator.aggregate == "count":
            y = subset["value"].fillna(1.0)
        hover = [
            f"<b>{d:%Y-%m-%d}</b> {format_value(v) if v == v else '(counted)'} {_text(indicator.unit)}"
            f"<br>{status}<br>Source: {_text(s)} ({_text(r)}{_text(c)})<br>{_text(n)[:200]}<br>{_text(u)}"
            for d, v, s, r, c, n, u in zip(subset["date"], subset["value"], subset["source"], subset["reliability"],
                                           subset["credibility"], subset["note"], subset["url"])
        ]
        figure.add_trace(go.Scatter(x=subset["date"], y=y, mode="markers", name=status,
                                    marker=dict(symbol=symbol, size=11, color=INK if status in ("reported",
                                                "confirmed") else "#7F7F7F", line=dict(width=2)),
                                    hovertext=hover, hoverinfo="text"))
    shapes += event_shapes(figure, events, start, end) + [as_of_line(as_of)]
    figure.update_layout(shapes=shapes, annotations=annotations)
    figure.update_layout(**BASE_LAYOUT, height=360, showlegend=True,
                         title=dict(text=_text(indicator.name), font=dict(size=17)),
                         legend=dict(orientation="h", y=-0.15),
                         xaxis=dict(range=[pd.Timestamp(start), pd.Timestamp(end)], tickformat="%Y-%m-%d"),
                         yaxis=dict(title=_text(indicator.unit), showgrid=True, gridcolor="#EEEEEE"))
    if indicator.levels:  # an ordinal scale reads by its labels
        scale = sorted(indicator.levels)
        figure.update_yaxes(tickvals=scale, ticktext=[_text(indicator.levels[k]) for k in scale], automargin=True)
    return figure


def as_of_line(as_of: dt.date) -> dict:
    return dict(type="line", xref="x", x0=pd.Timestamp(as_of), x1=pd.Timestamp(as_of), yref="paper", y0=0, y1=1,
                line=dict(color=INK, width=1, dash="dot"))


def event_shapes(figure: go.Figure, events: pd.DataFrame, start: dt.date, end: dt.date) -> list[dict]:
    """Events as dashed vertical lines, or shaded regions when they have an end date; adds a hover trace."""
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    shown = events[(events["date"] <= hi) & (events["end_date"].fillna(events["date"]) >= lo)]
    shapes, xs, texts = [], [], []
    for date, end_date, title, category in zip(shown["date"], shown["end_date"], shown["title"], shown["category"]):
        if pd.notna(end_date):
            shapes.append(dict(type="rect", xref="x", x0=date, x1=end_date, yref="paper", y0=0, y1=1, layer="below",
                               fillcolor="#888888", opacity=0.12, line=dict(width=0)))
        else:
            shapes.append(dict(type="line", xref="x", x0=date, x1=date, yref="paper", y0=0, y1=1,
                               line=dict(color="#888888", width=1, dash="dash")))
        xs.append(date)
        texts.append(f"<b>{date:%Y-%m-%d}</b> {_text(title)}<br>{_text(category)}")
    if xs:
        figure.add_trace(go.Scatter(x=xs, y=[1.0] * len(xs), yaxis="y2", mode="markers", name="event",
                                    marker=dict(symbol="triangle-down", size=10, color="#555555"),
                                    hovertext=texts, hoverinfo="text"))
        figure.update_layout(yaxis2=dict(overlaying="y", range=[0, 1.05], visible=False, fixedrange=True))
    return shapes


def build_index_figure(index: pd.DataFrame, events: pd.DataFrame, as_of: dt.date) -> go.Figure:
    """The composite index over time, with the level cut-offs as bands."""
    figure = go.Figure()
    shapes, annotations = band_shapes(((Level.NORMAL, 0, 25), (Level.ELEVATED, 25, 50), (Level.HIGH, 50, 75),
                                       (Level.CRITICAL, 75, 100)))
    figure.add_trace(go.Scatter(x=index.index, y=index["index"], mode="lines", name="index",
                                line=dict(color=INK, width=2, shape="hv"),
                                hovertemplate="%{x|%Y-%m-%d}: %{y:.1f}<extra></extra>"))
    if len(index):
        shapes += event_shapes(figure, events, index.index[0].date(), index.index[-1].date())
    figure.update_layout(shapes=shapes + [as_of_line(as_of)], annotations=annotations)
    figure.update_layout(**BASE_LAYOUT, height=320, title=dict(text="Overall index", font=dict(size=17)),
                         showlegend=False, yaxis=dict(range=[0, 100], title="index"),
                         xaxis=dict(tickformat="%Y-%m-%d"))
    return figure


def build_state_timeline_figure(scores: pd.DataFrame, names: dict[str, str]) -> go.Figure:
    """Each indicator's level over time as coloured bands, one row per indicator."""
    palette = [(-2, STALE_COLOUR), (-1, LEVEL_COLOURS[Level.NO_DATA]), (0, LEVEL_COLOURS[Level.NORMAL]),
               (1, LEVEL_COLOURS[Level.ELEVATED]), (2, LEVEL_COLOURS[Level.HIGH]), (3, LEVEL_COLOURS[Level.CRITICAL])]
    colourscale = []
    for position, (_, colour) in enumerate(palette):
        colourscale += [[position / len(palette), colour], [(position + 1) / len(palette), colour]]
    words = {-2: "STALE", -1: "NO DATA", **{s: LEVEL_WORDS[level] for s, level in SCORE_LEVELS.items() if s >= 0}}
    matrix = scores.to_numpy().T
    labels = [_text(names.get(column, column)) for column in scores.columns]
    hover = np.vectorize(words.get)(matrix)
    figure = go.Figure(go.Heatmap(
        z=matrix, x=scores.index, y=labels, zmin=-2.5, zmax=3.5, colorscale=colourscale, customdata=hover,
        hovertemplate="%{y}<br>%{x|%Y-%m-%d}: %{customdata}<extra></extra>",
        colorbar=dict(tickvals=[-2, -1, 0, 1, 2, 3], ticktext=[words[s] for s in (-2, -1, 0, 1, 2, 3)],
                      title="level")))
    figure.update_layout(**BASE_LAYOUT, height=max(260, 34 * len(labels) + 120),
                         title=dict(text="Levels over time", font=dict(size=17)),
                         xaxis=dict(tickformat="%Y-%m-%d"), yaxis=dict(autorange="reversed", automargin=True))
    return figure


def recent_scores(scores: pd.DataFrame, as_of: dt.date, days: int = 90) -> dict[str, np.ndarray]:
    """{indicator id: level scores of the ``days`` days up to ``as_of``}, for the cards' level strips."""
    window = scores.loc[pd.Timestamp(as_of - dt.timedelta(days=days - 1)):pd.Timestamp(as_of)]
    matrix = window.to_numpy()
    return {column: matrix[:, position] for position, column in enumerate(window.columns)}


def sparkline_html(scores: np.ndarray, height: int = 26) -> str:
    """A small bar strip of level scores over time; grey where nothing was current.

    Runs of equal days become one bar, so the HTML stays small. Plain HTML (no SVG or script), so it
    survives the HTML sanitiser and renders the same everywhere.
    """
    if len(scores) == 0:
        return ""
    scores = np.asarray(scores, dtype=int)
    starts = np.flatnonzero(np.r_[True, scores[1:] != scores[:-1]])
    lengths = np.diff(np.r_[starts, len(scores)])
    bars = []
    for start, length in zip(starts, lengths):
        score = int(scores[start])
        colour = LEVEL_COLOURS[SCORE_LEVELS[score]] if score >= 0 else STALE_COLOUR
        bar = round((height - 2) * (max(score, 0) + 1) / 4)
        bars.append(f'<span style="flex-grow:{length};height:{bar}px;background:{colour}"></span>')
    return (f'<div class="wf-spark" style="height:{height}px" role="img" '
            f'aria-label="level over the last {len(scores)} days">{"".join(bars)}</div>')
