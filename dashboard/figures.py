"""Figure builders: pure functions from frames to plotly figures, testable without Streamlit."""

from __future__ import annotations

import datetime as dt
import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from indicators.models import THRESHOLD_KEYS, Cutoffs, Indicator, Level
from indicators.report import format_value

from .theme import FONT_FAMILY, INK, LEVEL_COLOURS, LEVEL_WORDS, SCORE_LEVELS, STALE_COLOUR

STATUS_MARKERS = {"reported": "circle", "confirmed": "diamond", "disputed": "x-thin-open",
                  "retracted": "circle-open"}
BASE_LAYOUT = dict(font=dict(family=FONT_FAMILY, size=14, color=INK), paper_bgcolor="white",
                   plot_bgcolor="white", margin=dict(l=60, r=20, t=50, b=40), hoverlabel=dict(align="left"))


def _text(value) -> str:
    """Data text for plotly hover labels, which render a subset of HTML: escape it."""
    return html.escape(str(value)) if value is not None and value == value else ""


# One margin for every chart of a page, so that stacked charts share aligned x-axes; the right margin
# holds the band labels and the colour key, clear of the data.
ALIGNED_MARGIN = dict(l=230, r=120, t=50, b=40)
EVENT_STRIP = 0.06  # the event strip takes the bottom 6% of a chart
LATER_FILL = "#9E9E9E"


def threshold_bands(indicator: Indicator, low: float, high: float) -> list[tuple[Level, float, float]]:
    """(level, from, to) bands covering [low, high] in the indicator's direction.

    A count or quantity (no negative value) starts at zero. On an ordinal scale a band edge lies
    half-way between two scale values, so that every value sits inside its level's band."""
    present = [(Level(name), value) for name, value in indicator.thresholds.present()]
    edges = [value for _, value in present]
    if indicator.levels:
        scale = sorted(indicator.levels)
        edges = [_edge_between(scale, value, indicator.direction) for value in edges]
        lo, hi = min([low] + scale + edges), max([high] + scale + edges)
        lo, hi = lo - 0.5, hi + 0.5
    else:
        lo, hi = min([low] + edges), max([high] + edges)
        pad = (hi - lo) * 0.1 or 1.0
        lo = 0.0 if lo >= 0 else lo - pad
        hi = hi + pad
    if indicator.direction == "up":
        bounds = [lo] + edges + [hi]
    else:
        bounds = [hi] + edges + [lo]
    levels = [Level.NORMAL] + [level for level, _ in present]
    return [(level, min(a, b), max(a, b)) for level, a, b in zip(levels, bounds[:-1], bounds[1:])]


def _edge_between(scale: list[float], threshold: float, direction: str) -> float:
    """Half-way between the threshold's scale value and its neighbour on the less escalatory side."""
    if direction == "up":
        below = [value for value in scale if value < threshold]
        return (max(below) + threshold) / 2 if below else threshold - 0.5
    above = [value for value in scale if value > threshold]
    return (min(above) + threshold) / 2 if above else threshold + 0.5


def band_shapes(bands) -> tuple[list[dict], list[dict]]:
    """Horizontal level bands as plotly shape and annotation dicts (set at once: add_hrect is slow).

    Each band's word sits in the right margin, beside the middle of its band, clear of the data."""
    shapes, annotations = [], []
    for level, lo, hi in bands:
        shapes.append(dict(type="rect", xref="paper", x0=0, x1=1, yref="y", y0=lo, y1=hi, layer="below",
                           fillcolor=LEVEL_COLOURS[level], opacity=0.18, line=dict(width=0)))
        annotations.append(dict(xref="paper", x=1.0, xshift=6, yref="y", y=(lo + hi) / 2, text=LEVEL_WORDS[level],
                                showarrow=False, xanchor="left", yanchor="middle", font=dict(size=11, color=INK)))
    return shapes, annotations


def x_range(start: dt.date, end: dt.date) -> list[pd.Timestamp]:
    """The axis range with a little room at both ends, so that points on the edges are not cut."""
    pad = pd.Timedelta(days=max(1, round(((end - start).days or 1) * 0.015)))
    return [pd.Timestamp(start) - pad, pd.Timestamp(end) + pad]


def _split_stale(daily: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(current, stale) y arrays of a daily series: the stale part starts on the last current day so
    that the two lines join."""
    values = daily["value"].to_numpy(dtype=float)
    stale = daily["stale"].to_numpy(dtype=bool)
    joins = np.r_[stale[1:] & ~stale[:-1], False]
    return np.where(~stale, values, np.nan), np.where(stale | joins, values, np.nan)


def _column(rows: pd.DataFrame, name: str) -> pd.Series:
    return rows[name] if name in rows.columns else pd.Series("", index=rows.index)


def _event_text(event_id, feed_file) -> str:
    """Hover line of a feed row: its event id and the file it came from (escaped like all data)."""
    if not isinstance(event_id, str) or not (event_id or feed_file):
        return ""
    return f"<br>Event {_text(event_id) or '-'} in {_text(feed_file)}"


def build_timeline_figure(indicator: Indicator, rows: pd.DataFrame, events: pd.DataFrame,
                          start: dt.date, end: dt.date, as_of: dt.date,
                          daily: pd.DataFrame | None = None, show_events: bool = True) -> go.Figure:
    """Observations of one indicator as points over level bands, the indicator's value as a line, and
    events as a strip of markers along the bottom.

    ``daily`` (from ``indicator_values_over_time``) is the value day by day as known that day: the
    latest value carried to the as-of date, or the windowed aggregate; the part after the indicator
    went stale is drawn dashed and grey. ``rows`` are the observations to draw (the caller decides
    whether rows not yet known on ``as_of`` are shown); days after ``as_of`` are shaded.
    """
    rows = rows.sort_values(["date", "line"])
    values = rows["value"].dropna()
    if daily is not None and daily["value"].notna().any():
        values = pd.concat([values, daily["value"].dropna()])
    low = float(values.min()) if len(values) else 0.0
    high = float(values.max()) if len(values) else 1.0
    figure = go.Figure()
    shapes, annotations = band_shapes(threshold_bands(indicator, low, high))
    if daily is not None and len(daily):
        current, stale = _split_stale(daily)
        name = "value" if indicator.aggregate == "latest" else f"{indicator.aggregate} over {indicator.window_days} d"
        figure.add_trace(go.Scatter(x=daily.index, y=current, mode="lines", name=name, connectgaps=False,
                                    line=dict(color=INK, width=2, shape="hv"),
                                    hovertemplate="%{x|%Y-%m-%d}: %{y}<extra></extra>"))
        if np.isfinite(stale).any():
            figure.add_trace(go.Scatter(x=daily.index, y=stale, mode="lines", name="stale (too old to count)",
                                        line=dict(color="#8C8C8C", width=2, shape="hv", dash="dash"),
                                        hovertemplate="%{x|%Y-%m-%d}: %{y} (stale)<extra></extra>"))
    for status, symbol in STATUS_MARKERS.items():
        subset = rows[rows["status"] == status]
        if subset.empty:
            continue
        y = subset["value"]
        if indicator.aggregate == "count" and daily is not None:
            on_line = daily["value"].reindex(subset["date"].dt.normalize())
            y = pd.Series(on_line.to_numpy(), index=subset.index).fillna(1.0)
        elif indicator.aggregate == "count":
            y = subset["value"].fillna(1.0)
        hover = [
            f"<b>{d:%Y-%m-%d}</b> {format_value(v) if v == v else '(counted)'} {_text(indicator.unit)}"
            f"<br>{status}; reported {rp:%Y-%m-%d}<br>Source: {_text(s)} ({_text(r)}{_text(c)})"
            f"<br>{_text(n)[:200]}<br>{_text(u)}{_event_text(e, f)}"
            for d, v, s, r, c, n, u, rp, e, f in zip(subset["date"], subset["value"], subset["source"],
                                                     subset["reliability"], subset["credibility"], subset["note"],
                                                     subset["url"], subset["reported"], _column(subset, "event_id"),
                                                     _column(subset, "feed_file"))
        ]
        figure.add_trace(go.Scatter(x=subset["date"], y=y, mode="markers", name=status, cliponaxis=False,
                                    marker=dict(symbol=symbol, size=11, color=INK if status in ("reported",
                                                "confirmed") else "#7F7F7F", line=dict(width=2)),
                                    hovertext=hover, hoverinfo="text"))
    if show_events:
        shapes += event_strip(figure, events, start, end)
    later_shapes, later_notes = as_of_marks(as_of, end)
    figure.update_layout(shapes=shapes + later_shapes, annotations=annotations + later_notes)
    figure.update_layout(**BASE_LAYOUT, height=360, showlegend=True,
                         title=dict(text=_text(indicator.name), font=dict(size=17)),
                         legend=dict(orientation="h", y=-0.15),
                         xaxis=dict(range=x_range(start, end), tickformat="%Y-%m-%d"),
                         yaxis=dict(title=_text(indicator.unit), showgrid=True, gridcolor="#EEEEEE"))
    bands = threshold_bands(indicator, low, high)
    bottom, top = min(b[1] for b in bands), max(b[2] for b in bands)
    figure.update_yaxes(range=[bottom, top])
    if indicator.aggregate == "count":  # whole events: no tick at 0.5
        figure.update_yaxes(tick0=0, dtick=max(1, int(np.ceil((top - bottom) / 6))))
    figure.update_layout(margin=ALIGNED_MARGIN)
    if indicator.levels:  # an ordinal scale reads by its labels
        scale = sorted(indicator.levels)
        figure.update_yaxes(tickvals=scale, ticktext=[_text(indicator.levels[k]) for k in scale], automargin=True)
    return figure


def as_of_marks(as_of: dt.date, end: dt.date) -> tuple[list[dict], list[dict]]:
    """The labelled as-of line and, when the chart runs past it, the later days shaded."""
    day = pd.Timestamp(as_of)
    shapes = [dict(type="line", xref="x", x0=day, x1=day, yref="paper", y0=0, y1=1,
                   line=dict(color=INK, width=1.5, dash="dot"))]
    notes = [dict(xref="x", x=day, yref="paper", y=1.0, yanchor="bottom", xanchor="right", showarrow=False,
                  text=f"as of {as_of.isoformat()}", font=dict(size=11, color=INK))]
    if end > as_of:
        shapes.append(dict(type="rect", xref="x", x0=day, x1=pd.Timestamp(end) + pd.Timedelta(days=1), yref="paper",
                           y0=0, y1=1, fillcolor=LATER_FILL, opacity=0.22, line=dict(width=0), layer="above"))
        notes.append(dict(xref="x", x=day, yref="paper", y=1.0, yanchor="bottom", xanchor="left", showarrow=False,
                          text=" later: not known on the as-of date", font=dict(size=11, color="#555555")))
    return shapes, notes


def event_strip(figure: go.Figure, events: pd.DataFrame, start: dt.date, end: dt.date) -> list[dict]:
    """Events as a compact strip along the bottom of the chart: a marker per event (hover for its
    title), a bar for events with an end date. Adds the marker trace; returns the bar shapes."""
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    shown = events[(events["date"] <= hi) & (events["end_date"].fillna(events["date"]) >= lo)]
    shapes, xs, texts = [], [], []
    for date, end_date, title, category in zip(shown["date"], shown["end_date"], shown["title"], shown["category"]):
        if pd.notna(end_date):
            shapes.append(dict(type="rect", xref="x", x0=date, x1=end_date, yref="paper", y0=0,
                               y1=EVENT_STRIP * 0.5, fillcolor="#555555", opacity=0.35, line=dict(width=0)))
        xs.append(date)
        until = f" to {end_date:%Y-%m-%d}" if pd.notna(end_date) else ""
        texts.append(f"<b>{date:%Y-%m-%d}{until}</b> {_text(title)}<br>{_text(category)}")
    if xs:
        figure.add_trace(go.Scatter(x=xs, y=[EVENT_STRIP * 0.5] * len(xs), yaxis="y2", mode="markers",
                                    name="event", cliponaxis=False,
                                    marker=dict(symbol="triangle-up", size=10, color="#333333",
                                                line=dict(width=1, color="white")),
                                    hovertext=texts, hoverinfo="text"))
        figure.update_layout(yaxis2=dict(overlaying="y", range=[0, 1], visible=False, fixedrange=True))
    return shapes


def build_index_figure(index: pd.DataFrame, events: pd.DataFrame, as_of: dt.date, start: dt.date, end: dt.date,
                       show_events: bool = True, cutoffs: Cutoffs | None = None,
                       targets: list[tuple[dt.date, dt.date | None]] = (), mark_as_of: bool = True) -> go.Figure:
    """The composite index over time, with the level cut-offs as bands, and the overall level (after
    floors) in the hover. ``targets``: (date of a known event, first day of the warning before it or
    None): each is a labelled line, its lead time a shaded span."""
    cutoffs = cutoffs or Cutoffs()
    figure = go.Figure()
    shapes, annotations = band_shapes(((Level.NORMAL, 0, cutoffs.elevated), (Level.ELEVATED, cutoffs.elevated,
                                       cutoffs.high), (Level.HIGH, cutoffs.high, cutoffs.critical),
                                       (Level.CRITICAL, cutoffs.critical, 100)))
    words = [LEVEL_WORDS[SCORE_LEVELS[int(score)]] for score in index["level"]] if "level" in index else None
    figure.add_trace(go.Scatter(x=index.index, y=index["index"], mode="lines", name="index",
                                line=dict(color=INK, width=2, shape="hv"), customdata=words,
                                hovertemplate="%{x|%Y-%m-%d}: %{y:.1f}"
                                + ("<br>overall %{customdata}" if words else "") + "<extra></extra>"))
    if show_events:
        shapes += event_strip(figure, events, start, end)
    for target, first_warning in targets:
        day = pd.Timestamp(target)
        shapes.append(dict(type="line", xref="x", x0=day, x1=day, yref="paper", y0=0, y1=1,
                           line=dict(color="#7B3294", width=2)))
        lead = f"target {target.isoformat()}: " + (f"warned {(target - first_warning).days} d ahead"
                                                    if first_warning else "no warning")
        annotations.append(dict(xref="x", x=day, yref="paper", y=0.98, xanchor="right", yanchor="top",
                                showarrow=False, text=lead, font=dict(size=11, color="#7B3294"),
                                bgcolor="rgba(255,255,255,0.8)"))
        if first_warning:
            shapes.append(dict(type="rect", xref="x", x0=pd.Timestamp(first_warning), x1=day, yref="paper", y0=0.9,
                               y1=0.94, fillcolor="#7B3294", opacity=0.6, line=dict(width=0)))
    later_shapes, later_notes = as_of_marks(as_of, end) if mark_as_of else ([], [])
    figure.update_layout(shapes=shapes + later_shapes, annotations=annotations + later_notes)
    figure.update_layout(**BASE_LAYOUT, height=320, title=dict(text="Overall index", font=dict(size=17)),
                         showlegend=False, yaxis=dict(range=[0, 100], title="index"),
                         xaxis=dict(range=x_range(start, end), tickformat="%Y-%m-%d"))
    figure.update_layout(margin=ALIGNED_MARGIN)
    return figure


def row_labels(names: list[str], width: int = 30) -> list[str]:
    """Escaped row labels that fit the aligned left margin; shortened ones stay distinct."""
    labels = []
    for name in names:
        label = name if len(name) <= width else name[:width - 1].rstrip() + "\u2026"
        while label in labels:
            label += "\u2009"
        labels.append(label)
    return [_text(label) for label in labels]


def build_state_timeline_figure(scores: pd.DataFrame, names: dict[str, str], as_of: dt.date, start: dt.date,
                                end: dt.date, held: pd.DataFrame | None = None,
                                scenarios: pd.DataFrame | None = None) -> go.Figure:
    """Each indicator's level over time as coloured bands, one row per indicator; days on which a
    level is held (``hold_days``) above that day's own level carry a row of small marks.
    ``scenarios`` (level scores, one column per scenario, named in ``names``) adds one band per scenario on
    top, each marked with a diamond."""
    if scenarios is not None and len(scenarios.columns):
        names = {**names, **{column: f"\u25c6 {names.get(column, column)}" for column in scenarios.columns}}
        offset = len(scenarios.columns)
        scores = pd.concat([scenarios.reindex(scores.index), scores], axis=1)
        if held is not None:
            held = pd.concat([pd.DataFrame(False, index=held.index, columns=list(scenarios.columns)), held], axis=1)
    else:
        offset = 0
    palette = [(-2, STALE_COLOUR), (-1, LEVEL_COLOURS[Level.NO_DATA]), (0, LEVEL_COLOURS[Level.NORMAL]),
               (1, LEVEL_COLOURS[Level.ELEVATED]), (2, LEVEL_COLOURS[Level.HIGH]), (3, LEVEL_COLOURS[Level.CRITICAL])]
    colourscale = []
    for position, (_, colour) in enumerate(palette):
        colourscale += [[position / len(palette), colour], [(position + 1) / len(palette), colour]]
    words = {-2: "STALE", -1: "NO DATA", **{s: LEVEL_WORDS[level] for s, level in SCORE_LEVELS.items() if s >= 0}}
    matrix = scores.to_numpy().T
    labels = row_labels([names.get(column, column) for column in scores.columns])
    hover = np.vectorize(words.get)(matrix) if matrix.size else matrix
    figure = go.Figure(go.Heatmap(
        z=matrix, x=scores.index, y=labels, zmin=-2.5, zmax=3.5, colorscale=colourscale, customdata=hover,
        hovertemplate="%{y}<br>%{x|%Y-%m-%d}: %{customdata}<extra></extra>",
        colorbar=dict(tickvals=[-2, -1, 0, 1, 2, 3], ticktext=[words[s] for s in (-2, -1, 0, 1, 2, 3)],
                      title="level", x=1.0, xpad=8, thickness=12, len=1.0)))
    if held is not None and held.to_numpy().any():
        rows, columns = np.nonzero(held.to_numpy())
        figure.add_trace(go.Scatter(x=held.index[rows], y=[labels[c] for c in columns], mode="markers", name="held",
                                    marker=dict(symbol="line-ew", size=7, line=dict(width=2, color=INK)),
                                    hovertemplate="%{y}<br>%{x|%Y-%m-%d}: level held<extra></extra>",
                                    showlegend=True))
        figure.update_layout(legend=dict(orientation="h", y=-0.12))
    later_shapes, later_notes = as_of_marks(as_of, end)
    if offset:  # a rule between the scenarios and the indicators
        later_shapes.append(dict(type="line", xref="paper", x0=0, x1=1, yref="y", y0=offset - 0.5, y1=offset - 0.5,
                                 line=dict(color=INK, width=2)))
    figure.update_layout(**BASE_LAYOUT, height=max(260, 34 * len(labels) + 120),
                         title=dict(text="Levels over time", font=dict(size=17)), shapes=later_shapes,
                         annotations=later_notes, xaxis=dict(range=x_range(start, end), tickformat="%Y-%m-%d"),
                         yaxis=dict(autorange="reversed", automargin=False))
    figure.update_layout(margin=ALIGNED_MARGIN)
    return figure


def recent_scores(scores: pd.DataFrame, as_of: dt.date, days: int = 90) -> dict[str, np.ndarray]:
    """{indicator id: level scores of the ``days`` days up to ``as_of``}, for the cards' level strips; days
    before the first row are no data (-1), so that every strip spans the same days."""
    window = scores.reindex(pd.date_range(as_of - dt.timedelta(days=days - 1), as_of, freq="D")).fillna(-1)
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
