"""The map figure: a pure function from markers, region changes and a view to a plotly figure.

Drawn with plain cartesian scatter traces over Web Mercator coordinates (x: longitude; y: Mercator
northing in degree units), over the Natural Earth borders shipped with the package: no tile server,
no topojson from a CDN (plotly's geo traces fetch one), nothing fetched at all. The same figure
works with the "basic" plotly.js bundle that briefings inline.
"""

from __future__ import annotations

import datetime as dt
import html
import textwrap
from functools import lru_cache

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..engine.boundaries import Shape, countries, regions
from ..engine.mapdata import CHANGE_CATEGORIES, NO_LEVEL, Markers, RegionChanges, View, mercator_y
from ..engine.report import format_value
from ..format.models import Level
from .figures import merged_layout
from .theme import FONT_FAMILY, INK, LEVEL_COLOURS, LEVEL_WORDS, MUTED, SCORE_LEVELS, STALE_COLOUR

KIND_SYMBOLS = {"observation": "circle", "feed": "square", "event": "triangle-up"}
KIND_WORDS = {"observation": "observation", "feed": "feed row", "event": "event"}
LATER_COLOUR = "#9E9E9E"
WATER, LAND, BORDER, REGION_BORDER = "#EAF1F7", "#F7F7F4", "#8A8A8A", "#B8B8B8"
CHANGE_COLOURS = {"fewer": "#56B4E9", "same": "#D0D0D0", "more": "#E7B6D1", "much_more": "#CC79A7", "few": "#EFEFEF"}
LAYERS = ("observations", "events", "feed", "regions", "borders")  # what the Layers control can switch
KIND_LAYERS = {"observation": "observations", "event": "events", "feed": "feed"}
MAP_CONFIG = {"displaylogo": False, "scrollZoom": True, "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
              "toImageButtonOptions": {"scale": 2}}


def _text(value) -> str:
    """Data text for hover labels, which render a subset of HTML: escaped."""
    return html.escape(str(value)) if value is not None and value == value else ""


def _wrapped(value, width: int = 80, limit: int = 240) -> str:
    text = " ".join(str(value).split()) if value is not None and value == value else ""
    if len(text) > limit:
        text = text[:limit - 1] + "\u2026"
    return "<br>".join(_text(line) for line in textwrap.wrap(text, width))


def level_colour(score: int) -> str:
    if score == NO_LEVEL:
        return INK
    if score == -2:
        return STALE_COLOUR
    return LEVEL_COLOURS[SCORE_LEVELS.get(int(score), Level.NO_DATA)]


def level_word(score: int) -> str:
    if score == -2:
        return "STALE"
    return LEVEL_WORDS[SCORE_LEVELS.get(int(score), Level.NO_DATA)]


# ---------------------------------------------------------------- base map


@lru_cache(maxsize=8)
def _projected_rings(layer: str, grid: float) -> tuple[tuple[Shape, np.ndarray, np.ndarray], ...]:
    """Each shape's rings as (x, y) with NaN between rings, thinned to one point per ``grid`` cell."""
    shapes = countries() if layer == "countries" else regions()
    projected = []
    for shape in shapes:  # one entry per shape, in order (a region's index finds its rings)
        xs, ys = [np.empty(0)], [np.empty(0)]
        for ring in shape.rings:
            x, y = ring[:, 0], mercator_y(ring[:, 1])
            cells = np.floor(x / grid) * 1e6 + np.floor(y / grid)
            keep = np.r_[True, cells[1:] != cells[:-1]]
            keep[-1] = True
            if keep.sum() < 4:
                continue
            xs.append(np.r_[x[keep], np.nan])
            ys.append(np.r_[y[keep], np.nan])
        projected.append((shape, np.concatenate(xs), np.concatenate(ys)))
    return tuple(projected)


def _grid_for(view: View) -> float:
    """Points closer than about a pixel and a half of a 1,100-pixel-wide map are not drawn (a power of two,
    so that nearby zooms share the cache)."""
    return 2.0 ** math_floor_log2(view.width_degrees / 800)


def math_floor_log2(value: float) -> int:
    return int(np.floor(np.log2(max(value, 1e-6))))


def _outlines(layer: str, view: View, x_range, y_range) -> tuple[list[tuple[Shape, np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    """The shapes of a layer inside the (widened) view, and their rings joined with NaN gaps."""
    width = x_range[1] - x_range[0]
    west, east = x_range[0] - width / 2, x_range[1] + width / 2
    height = y_range[1] - y_range[0]
    low, high = y_range[0] - height / 2, y_range[1] + height / 2
    inside = []
    for shape, x, y in _projected_rings(layer, _grid_for(view)):
        south, north = mercator_y(shape.bbox[1]), mercator_y(shape.bbox[3])
        if not len(x) or shape.bbox[2] < west or shape.bbox[0] > east or north < low or south > high:
            continue
        inside.append((shape, x, y))
    if not inside:
        return [], np.array([]), np.array([])
    return inside, np.concatenate([x for _, x, _ in inside]), np.concatenate([y for _, _, y in inside])


def _base_map(traces: list, view: View, x_range, y_range, borders: bool, label_size: int) -> list[dict]:
    """Land, country borders and (optionally) first-level region borders; returns country labels."""
    shown, x, y = _outlines("countries", view, x_range, y_range)
    if len(x):
        traces.append(go.Scatter(x=x, y=y, mode="lines", fill="toself", fillcolor=LAND, name="countries",
                                 line=dict(color=BORDER, width=0.8), hoverinfo="skip", showlegend=False))
    if borders:
        _, rx, ry = _outlines("regions", view, x_range, y_range)
        if len(rx):
            traces.append(go.Scatter(x=rx, y=ry, mode="lines", name="regions", hoverinfo="skip", showlegend=False,
                                     line=dict(color=REGION_BORDER, width=0.6, dash="dot")))
    labels, named = [], set()
    width = x_range[1] - x_range[0]
    for shape, _, _ in sorted(shown, key=lambda item: -len(max(item[0].rings, key=len))):
        if shape.name in named:  # a country drawn in several parts is named once, at its largest
            continue
        ring = max(shape.rings, key=len)
        centre_x, centre_y = float(np.mean(ring[:, 0])), float(np.mean(mercator_y(ring[:, 1])))
        big_enough = (shape.bbox[2] - shape.bbox[0]) > width / 10
        if big_enough and x_range[0] < centre_x < x_range[1] and y_range[0] < centre_y < y_range[1]:
            named.add(shape.name)
            labels.append(dict(x=centre_x, y=centre_y, text=_text(shape.name).upper(), showarrow=False,
                               font=dict(size=label_size, color="#9A9A9A"), xref="x", yref="y"))
    return labels


# ---------------------------------------------------------------- region shading


def _region_layer(traces: list, changes: RegionChanges, shapes: tuple[Shape, ...], indicator_name: str,
                  unit: str, view: View) -> None:
    """A filled trace per region, its hover on the fill (never a point a click could take for a
    marker's), and one legend entry per category. The traces are built from values made here, so
    plotly's per-trace checks are skipped: they made a redraw of a hundred regions slow."""
    frame = changes.frame
    projected = _projected_rings("regions", _grid_for(view)) if shapes is regions() else None
    for row in frame.itertuples(index=False):
        if projected is not None:  # the shipped regions: projected and thinned once per zoom
            _, x, y = projected[row.region]
        else:
            rings = shapes[row.region].rings
            x = np.concatenate([np.r_[ring[:, 0], np.nan] for ring in rings])
            y = np.concatenate([np.r_[mercator_y(ring[:, 1]), np.nan] for ring in rings])
        change = "new: none in the baseline" if np.isinf(row.change) else f"{row.change:+.0f}%"
        hover = (f"<b>{_text(row.name)}</b>, {_text(row.country)}<br>{_text(indicator_name)}: "
                 f"{format_value(row.value)} {_text(unit)} in {changes.window[0]:%Y-%m-%d} to "
                 f"{changes.window[1]:%Y-%m-%d}<br>baseline {format_value(round(row.baseline, 2))} per window "
                 f"({changes.baseline[0]:%Y-%m-%d} to {changes.baseline[1]:%Y-%m-%d})<br>"
                 f"{CHANGE_CATEGORIES[row.category]}: {change}")
        traces.append(go.Scatter(x=x, y=y, mode="lines", fill="toself", fillcolor=CHANGE_COLOURS[row.category],
                                 opacity=0.85, line=dict(color="#7A7A7A", width=0.8), hoveron="fills",
                                 text=hover, hoverinfo="text", name=CHANGE_CATEGORIES[row.category],
                                 legendgroup=f"change-{row.category}", showlegend=False, _validate=False))
    titled = False
    for category, label in CHANGE_CATEGORIES.items():
        if not (frame["category"] == category).any():
            continue
        # the whole name, wrapped to the legend's width (a name cut mid-word reads as another indicator)
        title = None if titled else dict(text=_wrapped(f"Regions: {indicator_name}, change", width=30, limit=120))
        titled = True
        traces.append(go.Scatter(x=[None], y=[None], mode="markers", name=label, legendgroup=f"change-{category}",
                                 legendgrouptitle=title, hoverinfo="skip",
                                 marker=dict(symbol="square", size=13, color=CHANGE_COLOURS[category],
                                             line=dict(color="#7A7A7A", width=1))))


# ---------------------------------------------------------------- markers


def _row_line(row, names: dict[str, str], units: dict[str, str]) -> str:
    """One row of a marker's hover: date, value, status, source and grade, note, link, place."""
    if row.kind == "event":
        until = f" to {pd.Timestamp(row.end_date):%Y-%m-%d}" if pd.notna(row.end_date) else ""
        parts = [f"<b>{pd.Timestamp(row.date):%Y-%m-%d}{until}</b> {_text(row.title)}"
                 + (f" ({_text(row.category)})" if row.category else ""),
                 f"Source: {_text(row.source) or '-'}"]
    else:
        value = format_value(row.value) if row.value == row.value else "(counted)"
        parts = [f"<b>{pd.Timestamp(row.date):%Y-%m-%d}</b> {value} {_text(units.get(row.indicator, ''))}; {row.status}; "
                 f"reported {pd.Timestamp(row.reported):%Y-%m-%d}; level that day {level_word(row.level)}",
                 f"Source: {_text(row.source) or '-'}" + (f" ({_text(row.grade)})" if row.grade.strip() else "")]
        if row.event_id:
            parts.append(f"Event {_text(row.event_id)} in {_text(row.feed_file)}")
    if row.note:
        parts.append(_wrapped(row.note))
    if row.url:
        parts.append(_wrapped(row.url, 100, 160))
    return "<br>".join(parts)


def marker_hover(marker, rows: pd.DataFrame, names: dict[str, str], units: dict[str, str], day: dt.date) -> str:
    """The hover of one marker: what it stands for, where, and its rows with their full provenance."""
    kind = KIND_WORDS[marker.kind]
    when = f"{pd.Timestamp(marker.first):%Y-%m-%d}" + (
        f" to {pd.Timestamp(marker.last):%Y-%m-%d}" if marker.last != marker.first else "")
    later = f"<br><i>later: not known on {day.isoformat()}</i>" if marker.later else ""
    if marker.binned:
        what = (f"<b>{_text(names.get(marker.indicator, marker.indicator))}</b>" if marker.indicators == 1 else
                f"{marker.indicators} indicators")
        level = "" if marker.kind == "event" else f"; most escalatory level on their days: {level_word(marker.level)}"
        return (f"{marker.rows:,} {kind}s near {marker.lat:.2f}, {marker.lon:.2f} ({what}), {when}{level}{later}"
                "<br>Zoom in (or draw a box) to see them one by one")
    first = rows.iloc[0]
    title = ("Event" if marker.kind == "event" else f"<b>{_text(names.get(marker.indicator, marker.indicator))}</b>")
    where = _text(first.place) or f"{marker.lat:.4f}, {marker.lon:.4f}"
    located = f" ({_text(first.located_by)})" if first.located_by and first.located_by != "coordinates on the row" else ""
    header = (f"{title} &middot; {kind} at {where}{located}<br>{marker.rows} row{'' if marker.rows == 1 else 's'}, "
              f"{when}{later}")
    body = "<br>".join(_row_line(row, names, units) for row in rows.itertuples(index=False))
    more = marker.rows - len(rows)
    tail = f"<br>... and {more} earlier row{'' if more == 1 else 's'}" if more > 0 else ""
    action = "<br><i>Click to open the " + ("event" if marker.kind == "event" else "indicator") + "</i>"
    return header + "<br>" + body + tail + action


def _marker_targets(frame: pd.DataFrame, detail: pd.DataFrame) -> list[str]:
    """What a click opens: "indicator:ID", "event:LINE", or "" (a cell of several indicators)."""
    lines = detail.drop_duplicates("marker").set_index("marker")["line"] if len(detail) else pd.Series(dtype="int64")
    targets = []
    for number, (kind, indicator) in enumerate(zip(frame["kind"], frame["indicator"])):
        if kind == "event":
            targets.append(f"event:{int(lines[number])}" if number in lines.index else "")
        else:
            targets.append(f"indicator:{indicator}" if indicator else "")
    return targets


def _marker_layer(traces: list, markers: Markers, names: dict[str, str], units: dict[str, str], day: dt.date,
                  kinds: set[str], magnify: float = 1.0) -> None:
    """One trace per kind, level and open or filled symbol (plotly checks per-point colours and symbols
    one by one: scalars keep a redraw of 2,000 markers fast); later rows first, events on top."""
    frame = markers.frame
    if not len(frame):
        return
    detail = markers.detail
    by_marker = {number: group for number, group in detail.groupby("marker")} if len(detail) else {}
    none = detail.iloc[0:0]
    hovers = [marker_hover(marker, by_marker.get(number, none), names, units, day)
              for number, marker in enumerate(frame.itertuples(index=False))]
    frame = frame.assign(hover=hovers, target=_marker_targets(frame, detail),
                         hollow=~frame["counting"].to_numpy(dtype=bool) | frame["later"].to_numpy(dtype=bool))
    binned = bool(frame["binned"].any())
    base, spread = (10.0, 24.0) if binned else (9.0, 17.0)
    for later in (True, False):
        for kind in ("feed", "observation", "event"):
            if kind not in kinds:
                continue
            part = frame[(frame["kind"] == kind) & (frame["later"] == later)]
            for (level, hollow), group in part.groupby(["level", "hollow"], sort=True):
                sizes = group["size"].to_numpy(dtype=float)
                px = np.where(np.isnan(sizes), base, base + spread * np.sqrt(np.nan_to_num(sizes)))
                if kind == "event":
                    px = np.full(len(group), 13.0)
                traces.append(go.Scatter(
                    x=group["lon"].to_numpy(), y=mercator_y(group["lat"].to_numpy()), mode="markers",
                    name=KIND_WORDS[kind], showlegend=False, customdata=group["target"].to_numpy(),
                    hovertext=group["hover"].to_numpy(), hoverinfo="text",
                    marker=dict(symbol=KIND_SYMBOLS[kind] + ("-open" if hollow else ""), size=px * magnify,
                                color=LATER_COLOUR if later else level_colour(int(level)),
                                opacity=0.6 if later else 0.92,
                                line=dict(color=LATER_COLOUR if later else INK, width=1.5 if later else 0.8)),
                    # a click opens the marker's page: nothing is greyed out as "not selected"
                    unselected=dict(marker=dict(opacity=0.6 if later else 0.92))))


def _legend(traces: list, markers: Markers, kinds: set[str], day: dt.date) -> None:
    """Legend entries that say what colour and shape mean, in words (dummy traces: nothing to hover)."""
    frame = markers.frame
    if not len(frame):
        return
    shown = frame[frame["kind"].isin(kinds)]
    levels = sorted({int(s) for s in shown.loc[~shown["later"] & (shown["kind"] != "event"), "level"]}, reverse=True)
    for score in levels:
        traces.append(go.Scatter(x=[None], y=[None], mode="markers", name=level_word(score), hoverinfo="skip",
                                 legendgroup="levels", legendgrouptitle=dict(text="Level on the row's day"),
                                 marker=dict(symbol="circle", size=11, color=level_colour(score),
                                             line=dict(color=INK, width=0.8))))
    for kind in ("observation", "feed", "event"):
        if (shown["kind"] == kind).any():
            traces.append(go.Scatter(x=[None], y=[None], mode="markers", name=KIND_WORDS[kind], hoverinfo="skip",
                                     legendgroup="kinds", legendgrouptitle=dict(text="Kind"),
                                     marker=dict(symbol=KIND_SYMBOLS[kind], size=11, color="#FFFFFF",
                                                 line=dict(color=INK, width=1.5))))
    if (~shown["counting"]).any():
        traces.append(go.Scatter(x=[None], y=[None], mode="markers", name="disputed or retracted",
                                 hoverinfo="skip", legendgroup="kinds",
                                 marker=dict(symbol="circle-open", size=11, color=INK)))
    if shown["later"].any():
        traces.append(go.Scatter(x=[None], y=[None], mode="markers", name=f"later: not known on {day.isoformat()}",
                                 hoverinfo="skip", legendgroup="kinds",
                                 marker=dict(symbol="circle-open", size=11, color=LATER_COLOUR,
                                             line=dict(width=1.5))))


# ---------------------------------------------------------------- the figure


def build_map_figure(markers: Markers, view: View, day: dt.date, names: dict[str, str], units: dict[str, str],
                     layers: tuple[str, ...] = LAYERS, changes: RegionChanges | None = None,
                     region_shapes: tuple[Shape, ...] = (), shaded_name: str = "", shaded_unit: str = "",
                     height: int = 640, aspect: float = 0.55, title: str | None = None,
                     legend_width: int = 250, marker_scale: float = 1.0, label_size: int = 11,
                     credit: bool = True, layout_changes: dict | None = None) -> go.Figure:
    """The map as known on ``day``: borders, regions shaded by change (``changes``), markers.

    ``layers`` switches parts on: observations, events, feed (the marker kinds), regions (the
    shading) and borders (first-level region borders). ``aspect`` is the plot's height / width, for
    the initial ranges of ``view``. ``label_size``: the countries' names; ``credit``: the boundaries'
    source in a corner (a briefing names it under the map instead); ``layout_changes``: merged into the
    layout as update_layout would."""
    traces: list = []  # the figure is made once, from its traces and whole layout (plotly checks every
    # property again at each update of a figure)
    x_range, y_range = view.ranges(aspect)
    labels = _base_map(traces, view, x_range, y_range, "borders" in layers, label_size)
    if changes is not None and "regions" in layers and len(changes.frame):
        _region_layer(traces, changes, region_shapes, shaded_name, shaded_unit, view)
    kinds = {kind for kind, layer in KIND_LAYERS.items() if layer in layers}
    _marker_layer(traces, markers, names, units, day, kinds, marker_scale)
    _legend(traces, markers, kinds, day)
    layout = dict(
        font=dict(family=FONT_FAMILY, size=13, color=INK), paper_bgcolor="white", plot_bgcolor=WATER,
        height=height, margin=dict(l=8, r=legend_width, t=40 if title else 8, b=28),
        hoverlabel=dict(align="left", font_size=12),
        title=dict(text=_text(title), font=dict(size=16)) if title else None,
        annotations=labels + [dict(xref="paper", yref="paper", x=1, y=0, yanchor="top", xanchor="right",
                                   showarrow=False, text="Boundaries: Natural Earth (public domain)",
                                   font=dict(size=10, color=MUTED))] * credit,
        legend=dict(orientation="v", x=1.0, xanchor="left", y=0.93, bgcolor="rgba(255,255,255,0.88)",
                    bordercolor="#D0D0D0", borderwidth=1, font=dict(size=12), groupclick="toggleitem"),
        xaxis=dict(range=x_range, visible=False, fixedrange=False, constrain="range"),
        yaxis=dict(range=y_range, visible=False, scaleanchor="x", scaleratio=1, constrain="range"),
        dragmode="pan", showlegend=True, uirevision=view.text())
    return go.Figure(data=traces, layout=merged_layout(layout, layout_changes or {}))


def briefing_map_html(loaded, as_of: dt.date, start: dt.date, size: str) -> str:
    """The map of ``as_of`` for a briefing (rows from ``start``, regions shaded by the first windowed
    feed indicator): an interactive plotly div, or "" when nothing of the watchlist has a place."""
    from ..engine.boundaries import region_of_points, regions
    from ..engine.mapdata import aggregate_markers, fit_view, located_rows, region_changes, rows_known_on
    from ..engine.timeseries import level_scores_over_time

    observations, events = loaded.observations, loaded.events
    if not (observations["lat"].notna().any() or events["lat"].notna().any()):
        return ""
    watchlist = loaded.watchlist
    first = min([as_of] + [day.date() for day in observations["date"] if pd.notna(day)][:1])
    scores = level_scores_over_time(watchlist, observations, min(first, start), as_of) if len(observations) else None
    shown = rows_known_on(located_rows(observations, events, scores), as_of, start)
    if not len(shown):
        return ""
    names = {indicator.id: indicator.name for indicator in watchlist.indicators}
    units = {indicator.id: indicator.unit for indicator in watchlist.indicators}
    placed = set(observations.loc[observations["lat"].notna(), "indicator"].astype(str))
    shade = next((i for i in sorted(watchlist.indicators, key=lambda i: i.feed is None)
                  if i.aggregate in ("count", "sum") and i.window_days and i.id in placed), None)
    changes = None
    if shade is not None:
        changes = region_changes(observations, shade, as_of, regions(),
                                 region_of_points(observations["lon"].to_numpy(float), observations["lat"].to_numpy(float)))
    wide = size == "slide"
    width, height = {"slide": (1500, 700), "a4": (940, 560)}[size]
    legend_room = 340 if wide else 0
    aspect = (height - 50) / (width - legend_room) if wide else (height - 90) / width
    lats, lons = [shown["lat"].to_numpy()], [shown["lon"].to_numpy()]
    if changes is not None and len(changes.frame):
        boxes = np.array([regions()[index].bbox for index in changes.frame["region"]])
        lats += [boxes[:, 1], boxes[:, 3]]
        lons += [boxes[:, 0], boxes[:, 2]]
    view = fit_view(np.concatenate(lats), np.concatenate(lons), aspect)
    # a slide is read from the back of a room: the legend beside the map, at 18 px; on A4, below it
    text = 18 if wide else 11
    changes_of_layout = dict(
        width=width, margin=dict(l=4, r=legend_room + 4, t=44, b=4), title=dict(font=dict(size=22 if wide else 14)),
        legend=dict(orientation="v" if wide else "h", x=1.0 if wide else 0, xanchor="left", y=1.0 if wide else -0.01,
                    yanchor="top", tracegroupgap=6, font=dict(size=text), bgcolor="rgba(255,255,255,0)",
                    borderwidth=0, grouptitlefont=dict(size=text)),
        height=height if wide else height + 90)  # on A4 the legend goes below the map
    figure = build_map_figure(aggregate_markers(shown), view, as_of, names, units, LAYERS, changes, regions(),
                              shade.name if shade else "", shade.unit if shade else "", height=height, aspect=aspect,
                              title=f"Where, {start.isoformat()} to {as_of.isoformat()}", legend_width=8,
                              marker_scale=1.2 if wide else 0.8, label_size=16 if wide else 11, credit=False,
                              layout_changes=changes_of_layout)
    return ('<div class="wf-map" data-name="Map" style="break-inside:avoid">' + figure.to_html(
        full_html=False, include_plotlyjs=False, div_id="chart-map",
        config={"displaylogo": False, "responsive": False, "scrollZoom": False}) +
        f'<div class="wf-muted" style="font-size:{text}px">Boundaries: Natural Earth (public domain); colour: the '
        "level on the row's day; size: the value against its indicator's largest.</div></div>")
