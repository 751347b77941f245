"""Figure builders: pure functions from frames to plotly figures, testable without Streamlit."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..engine.report import format_value
from ..format.models import Cutoffs, Indicator, Level

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
EVENT_LANE = 0.22  # the event lane takes the bottom of a chart, below the data: three rows of markers
LATER_FILL = "#9E9E9E"


def threshold_bands(indicator: Indicator, low: float, high: float, integral: bool = False) -> list[tuple[Level, float,
                                                                                                      float]]:
    """(level, from, to) bands covering [low, high] in the indicator's direction, drawn from the rule
    that computes the level (``level_for_value``): up, a value at a threshold or above has its level;
    down, at it or below.

    Every band has height. A count or quantity (no negative value) starts at zero. Where values are
    whole numbers (``integral``: counts, or integer thresholds and values) a band edge lies half a step
    before the threshold, and on an ordinal scale half-way between two scale values, so that a value
    on a threshold sits inside its level's band rather than on its edge."""
    present = [(Level(name), value) for name, value in indicator.thresholds.present()]
    up = indicator.direction == "up"
    if indicator.levels:
        scale = sorted(indicator.levels)
        edges = [_edge_between(scale, value, indicator.direction) for _, value in present]
        lo, hi = min([low] + scale + edges) - 0.5, max([high] + scale + edges) + 0.5
    elif integral:  # whole numbers: every value, zero included, half a step inside its band
        edges = [value - 0.5 if up else value + 0.5 for _, value in present]
        lo, hi = min([low] + edges), max([high] + edges)
        pad = max(0.5, (hi - lo) * 0.1)
        lo = -0.5 if lo >= 0 else lo - pad  # a count or quantity starts at zero
        hi = hi + pad
    else:
        edges = [value for _, value in present]
        lo, hi = min([low] + edges), max([high] + edges)
        pad = (hi - lo) * 0.1 or 1.0
        lo = 0.0 if lo >= 0 and min(edges) > 0 else lo - pad
        hi = hi + pad
    bounds = [lo] + edges + [hi] if up else [hi] + edges + [lo]
    levels = [Level.NORMAL] + [level for level, _ in present]
    return [(level, min(a, b), max(a, b)) for level, a, b in zip(levels, bounds[:-1], bounds[1:])]


def band_of(bands, value: float, direction: str, strict: bool = False) -> Level | None:
    """The level of the band a value is drawn in: up, bands are closed below ([from, to)); down, above
    ((from, to]); the outermost bands include their outer edge. ``strict``: inside, not on an edge."""
    for position, (level, lo, hi) in enumerate(bands):
        if strict:
            inside = lo < value < hi
        elif direction == "up":
            inside = lo <= value < hi or (position == len(bands) - 1 and value == hi)
        else:
            inside = lo < value <= hi or (position == len(bands) - 1 and value == lo)
        if inside:
            return level
    return None


def values_are_integral(indicator: Indicator, values) -> bool:
    """Whole-number data: a count, or integer thresholds and values (then band edges sit half a step off)."""
    if indicator.aggregate == "count":
        return True
    numbers = [value for _, value in indicator.thresholds.present()] + [v for v in values if v == v]
    return all(float(number).is_integer() for number in numbers)


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
    traces = []  # the figure is made once, from its traces and its whole layout: plotly checks every
    # property again at each update of a figure (an update_layout costs three times a whole layout)
    bands = threshold_bands(indicator, low, high, values_are_integral(indicator, values))
    shapes, annotations = band_shapes(bands)
    if daily is not None and len(daily):
        current, stale = _split_stale(daily)
        name = "value" if indicator.aggregate == "latest" else f"{indicator.aggregate} over {indicator.window_days} d"
        if np.isfinite(current).any():  # no line, no legend entry for it
            traces.append(go.Scatter(x=daily.index, y=current, mode="lines", name=name, connectgaps=False,
                                     line=dict(color=INK, width=2, shape="hv"),
                                     hovertemplate="%{x|%Y-%m-%d}: %{y}<extra></extra>"))
        if np.isfinite(stale).any():
            traces.append(go.Scatter(x=daily.index, y=stale, mode="lines", name="stale (too old to count)",
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
        traces.append(go.Scatter(x=subset["date"], y=y, mode="markers", name=status, cliponaxis=False,
                                 marker=dict(symbol=symbol, size=11, color=INK if status in ("reported",
                                             "confirmed") else "#7F7F7F", line=dict(width=2)),
                                 hovertext=hover, hoverinfo="text"))
    numbered = numbered_events(events, start, end) if show_events else []
    lane = bool(numbered)  # a lane as soon as there is an event, lasting or not
    lane_traces, lane_layout, lane_shapes = event_lane(numbered, start, end)
    later_shapes, later_notes = as_of_marks(as_of, end)
    bottom, top = min(b[1] for b in bands), max(b[2] for b in bands)
    yaxis = dict(title=_text(indicator.unit), showgrid=True, gridcolor="#EEEEEE",
                 domain=[EVENT_LANE, 1] if lane else [0, 1], range=[bottom, top])  # the data axis, not the lane
    if indicator.aggregate == "count":  # whole events: no tick at 0.5
        yaxis.update(tick0=0, dtick=max(1, int(np.ceil((top - bottom) / 6))))
    if indicator.levels:  # an ordinal scale reads by its labels
        scale = sorted(indicator.levels)
        yaxis.update(tickvals=scale, ticktext=[_text(indicator.levels[k]) for k in scale], automargin=True)
    layout = {**BASE_LAYOUT, "shapes": shapes + lane_shapes + later_shapes,
              "annotations": annotations + later_notes, "height": 360 + (80 if lane else 0), "showlegend": True,
              "title": dict(text=_text(indicator.name), font=dict(size=17)), "legend": dict(orientation="h", y=-0.15),
              "xaxis": dict(range=x_range(start, end), tickformat="%Y-%m-%d"), "yaxis": yaxis,
              "margin": ALIGNED_MARGIN}
    return go.Figure(data=traces + lane_traces, layout=merged_layout(layout, lane_layout))


def merged_layout(layout: dict, changes: dict) -> dict:
    """``layout`` with ``changes`` merged in as plotly's update_layout merges them: a mapping into a
    mapping key by key, anything else replaced."""
    merged = dict(layout)
    for key, value in changes.items():
        base = merged.get(key)
        merged[key] = merged_layout(base, value) if isinstance(base, dict) and isinstance(value, dict) else value
    return merged


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


@dataclass(frozen=True)
class NumberedEvent:
    number: int
    date: pd.Timestamp
    end_date: pd.Timestamp | None
    title: str
    category: str
    line: int


LANE_ROWS = 3


def numbered_events(events: pd.DataFrame, start: dt.date, end: dt.date) -> list[NumberedEvent]:
    """The events that fall in the chart's days, numbered 1, 2 ... by date: the key to the legend."""
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    shown = events[(events["date"] <= hi) & (events["end_date"].fillna(events["date"]) >= lo)]
    shown = shown.sort_values(["date", "line"], kind="stable")
    return [NumberedEvent(number, date, end_date if pd.notna(end_date) else None, str(title), str(category or ""),
                          int(line))
            for number, (date, end_date, title, category, line) in enumerate(
                zip(shown["date"], shown["end_date"], shown["title"], shown["category"], shown["line"]), start=1)]


@dataclass(frozen=True)
class LaneMark:
    """One marker of the event lane: a single event, or several close together ("24-31")."""

    x: pd.Timestamp
    row: int
    events: tuple[NumberedEvent, ...]

    @property
    def label(self) -> str:
        first, last = self.events[0].number, self.events[-1].number
        return str(first) if first == last else f"{first}-{last}"


def lane_marks(numbered: list[NumberedEvent], start: dt.date, end: dt.date) -> list[LaneMark]:
    """Markers for the event lane that never sit on each other: events closer than a marker's width
    are stacked in up to three rows at the first one's day; more than three become one marker
    naming their numbers ("24-31")."""
    lo = pd.Timestamp(start)
    spacing = pd.Timedelta(days=max(1.0, (end - start).days * 0.03))  # a marker's width, and a little room
    clusters: list[list[NumberedEvent]] = []
    for event in numbered:
        if clusters and max(event.date, lo) - max(clusters[-1][0].date, lo) < spacing:
            clusters[-1].append(event)
        else:
            clusters.append([event])
    marks = []
    for cluster in clusters:
        x = max(cluster[0].date, lo)
        if len(cluster) <= LANE_ROWS:
            marks += [LaneMark(x, row, (event,)) for row, event in enumerate(cluster)]
        else:
            marks.append(LaneMark(x, 0, tuple(cluster)))
    return marks


def event_lane(numbered: list[NumberedEvent], start: dt.date, end: dt.date) -> tuple[list, dict, list[dict]]:
    """Events as numbered markers in their own lane below the data, a bar for events that last; the
    number is the key to the legend under the chart. Returns the marker trace (on ``yaxis2``), the
    layout of the lane, and the bar shapes (none when no event lasts more than a day: whether there is a
    lane is whether there are ``numbered`` events); nothing without events."""
    if not numbered:
        return [], {}, []
    lo = pd.Timestamp(start)
    shapes = []
    for event in numbered:
        if event.end_date is not None:
            shapes.append(dict(type="rect", xref="x", x0=max(event.date, lo), x1=event.end_date, yref="y2",
                               y0=0.05, y1=0.12, fillcolor="#555555", opacity=0.35, line=dict(width=0)))
    marks = lane_marks(numbered, start, end)
    texts = ["<br>".join(f"<b>{event.number}. {event.date:%Y-%m-%d}"
                         + (f" to {event.end_date:%Y-%m-%d}" if event.end_date is not None else "")
                         + f"</b> {_text(event.title)}" for event in mark.events) for mark in marks]
    trace = go.Scatter(
        x=[mark.x for mark in marks], y=[(mark.row + 0.6) / (LANE_ROWS + 0.2) for mark in marks], yaxis="y2",
        mode="markers+text", name="event", cliponaxis=False, text=[mark.label for mark in marks],
        textposition="middle center", textfont=dict(size=10, color=INK),
        marker=dict(symbol=["circle" if len(mark.events) == 1 else "square" for mark in marks],
                    size=[17 if len(mark.events) == 1 else 30 for mark in marks], color="white",
                    line=dict(width=1.5, color=INK)),
        hovertext=texts, hoverinfo="text", customdata=[f"event:{mark.events[0].line}" for mark in marks],
        showlegend=False)
    layout = dict(yaxis2=dict(domain=[0, EVENT_LANE - 0.03], range=[0, 1], visible=True, fixedrange=True,
                              showticklabels=False, showgrid=False, zeroline=False, title=dict(
                                  text="events", font=dict(size=11)), anchor="x"),
                  xaxis=dict(anchor="y2"))  # the dates under the lane, not between it and the data
    return [trace], layout, shapes


def event_legend_html(numbered: list[NumberedEvent]) -> str:
    """The numbered events as a legend under a chart: number, date (to its end) and title, as text."""
    if not numbered:
        return ""
    items = "".join(f'<li value="{event.number}"><b>{event.date:%Y-%m-%d}'
                    + (f" to {event.end_date:%Y-%m-%d}" if event.end_date is not None else "")
                    + f"</b> {html.escape(event.title)}</li>" for event in numbered)
    return (f'<ol class="wf-event-legend" style="columns:2 420px; font-size:13px; margin:0 0 8px 0; '
            f'padding-left:2.2em; color:#1A1A1A">{items}</ol>')


def build_index_figure(index: pd.DataFrame, events: pd.DataFrame, as_of: dt.date, start: dt.date, end: dt.date,
                       show_events: bool = True, cutoffs: Cutoffs | None = None,
                       targets: list[tuple[dt.date, dt.date | None]] = (), mark_as_of: bool = True) -> go.Figure:
    """The composite index over time, with the level cut-offs as bands, and the overall level (after
    floors) in the hover. ``targets``: (date of a known event, first day of the warning before it or
    None): each is a labelled line, its lead time a shaded span."""
    cutoffs = cutoffs or Cutoffs()
    shapes, annotations = band_shapes(((Level.NORMAL, 0, cutoffs.elevated), (Level.ELEVATED, cutoffs.elevated,
                                       cutoffs.high), (Level.HIGH, cutoffs.high, cutoffs.critical),
                                       (Level.CRITICAL, cutoffs.critical, 100)))
    words = [LEVEL_WORDS[SCORE_LEVELS[int(score)]] for score in index["level"]] if "level" in index else None
    line = go.Scatter(x=index.index, y=index["index"], mode="lines", name="index",
                      line=dict(color=INK, width=2, shape="hv"), customdata=words,
                      hovertemplate="%{x|%Y-%m-%d}: %{y:.1f}" + ("<br>overall %{customdata}" if words else "")
                      + "<extra></extra>")
    numbered = numbered_events(events, start, end) if show_events else []
    lane = bool(numbered)  # a lane as soon as there is an event, lasting or not
    lane_traces, lane_layout, lane_shapes = event_lane(numbered, start, end)
    shapes += lane_shapes
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
    layout = {**BASE_LAYOUT, "shapes": shapes + later_shapes, "annotations": annotations + later_notes,
              "height": 320 + (80 if lane else 0), "title": dict(text="Overall index", font=dict(size=17)),
              "showlegend": False,
              "yaxis": dict(range=[0, 100], title="index", domain=[EVENT_LANE, 1] if lane else [0, 1]),
              "xaxis": dict(range=x_range(start, end), tickformat="%Y-%m-%d"), "margin": ALIGNED_MARGIN}
    return go.Figure(data=[line] + lane_traces, layout=merged_layout(layout, lane_layout))


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
