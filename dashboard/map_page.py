"""The Map page: where the watchlist's observations, events and feed rows happened, as known on a day.

One ``render_map`` function, like the other pages: it reads its controls, takes the cached rows and
draws ``map_figure.build_map_figure``. The view (period, day, layers, shading, centre and zoom)
lives in the URL; a click on a marker opens its indicator or event.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from indicators.engine.boundaries import region_of_points, regions
from indicators.engine.mapdata import (MAX_MARKERS, View, aggregate_markers, fit_view, located_rows, region_changes,
                                       rows_known_on)
from indicators.store.loader import LoadedWatchlist
from indicators.views.map_figure import LAYERS, MAP_CONFIG, build_map_figure
from indicators.views.render import plain

from . import data

MAP_URL_KEYS = ("map_from", "map_day", "map_layers", "map_shade", "map_view")
PERIOD_DAYS = 90
PLAY_SECONDS = 1.0
LAYER_WORDS = {"observations": "Observations", "events": "Events", "feed": "Feed rows",
               "regions": "Regions shaded by change", "borders": "Region borders"}
FIT = "(fit the markers)"
DRAWN = "(as in the link or box)"
DAY_KEY = "map_day_input"
ASPECT = 0.55


@st.cache_resource(max_entries=8, show_spinner=False)
def _located(folder: str, signature: tuple, today: dt.date):
    loaded = data.load(Path(folder))
    scores, _, _ = data.history(Path(folder), loaded.default_as_of())
    return located_rows(loaded.observations, loaded.events, scores)


@st.cache_resource(max_entries=8, show_spinner=False)
def _choices(folder: str, signature: tuple, today: dt.date) -> tuple[list[str], list[str]]:
    """(indicators that can shade regions, place names to centre on), once per file version."""
    loaded = data.load(Path(folder))
    observations = loaded.observations
    with_places = {str(name) for name in pd.unique(observations.loc[observations["lat"].notna(), "indicator"])}
    ids = [i for i in loaded.watchlist.indicators if i.aggregate in ("count", "sum") and i.window_days
           and i.id in with_places]
    rows = _located(folder, signature, today)
    places = sorted(str(place) for place in pd.unique(rows["place"]) if place)
    return [i.id for i in sorted(ids, key=lambda i: i.feed is None)], places


@st.cache_resource(max_entries=16, show_spinner=False)
def _rows_of(folder: str, signature: tuple, today: dt.date, indicator_id: str):
    """One indicator's observations with the shipped region each lies in (-1 outside them or unplaced)."""
    observations = data.load(Path(folder)).observations
    rows = observations[(observations["indicator"] == indicator_id).to_numpy()]
    return rows, region_of_points(rows["lon"].to_numpy(dtype=float), rows["lat"].to_numpy(dtype=float))


def located(folder: Path):
    return _located(str(folder), data.files_signature(folder), dt.date.today())


def choices(folder: Path) -> tuple[list[str], list[str]]:
    return _choices(str(folder), data.files_signature(folder), dt.date.today())


def _parse_date(text, default: dt.date, low: dt.date, high: dt.date) -> dt.date:
    try:
        value = dt.date.fromisoformat(str(text)) if text else default
    except ValueError:
        value = default
    return min(max(value, low), high)


def _pin(widget: str, kept: str) -> None:
    """The user set the period or the day: keep it (and put it in the URL) until they change it again."""
    value = st.session_state.get(widget)
    st.session_state[kept] = value.isoformat() if isinstance(value, dt.date) else ""


def _open_clicked() -> None:
    """A click on a marker: open its indicator, or its event on the Events page (a callback, so that
    it runs before the page radio is drawn again)."""
    selection = (st.session_state.get("map_chart") or {}).get("selection") or {}
    points = selection.get("points") or []
    if points:
        target = points[0].get("customdata") or ""
        if isinstance(target, list):
            target = target[0] if target else ""
        kind, _, key = str(target).partition(":")
        if kind == "indicator" and key:
            st.session_state["indicator"], st.session_state["_map_open"] = key, "indicator"
        elif kind == "event" and key:
            st.session_state["event_line"], st.session_state["_map_open"] = int(key), "events"
        return
    boxes = selection.get("box") or []
    if boxes:  # a box drawn: zoom to it (and keep it in the URL)
        box = boxes[0]
        xs, ys = box.get("x") or [], box.get("y") or []
        if len(xs) == 2 and len(ys) == 2:
            import math

            lats = [math.degrees(2 * math.atan(math.exp(math.radians(y))) - math.pi / 2) for y in ys]
            view = fit_view(np.array(lats), np.array(xs, dtype=float), ASPECT, margin=0.0)
            st.session_state.update(map_view=view.text(), map_centre=DRAWN, map_zoom=view.zoom)


def render_map(folder: Path, loaded: LoadedWatchlist, as_of: dt.date, show_later: bool,
               pages: dict | None = None) -> dict:
    """The Map page; returns its part of the URL. ``pages`` (key -> st.Page) are what a click opens."""
    opening = st.session_state.pop("_map_open", None)
    if opening and pages and opening in pages:  # a marker was clicked: its indicator or event
        kept = {key: value for key, value in st.query_params.to_dict().items() if not key.startswith("map_")}
        if opening == "indicator":
            kept["indicator"] = st.session_state["indicator"]
        st.switch_page(pages[opening], query_params=kept)
    rows = located(folder)
    names = {indicator.id: indicator.name for indicator in loaded.watchlist.indicators}
    units = {indicator.id: indicator.unit for indicator in loaded.watchlist.indicators}
    if not len(rows):
        st.info("Nothing to map yet: no observation, event or feed row of this watchlist has a place. Give rows a "
                "place (a name from places.csv or the gazetteer) or lat and lon columns; see docs/format.md, "
                "\"Places and places.csv\".")
        return {}
    first_day = min(as_of, rows["date"].min().date())
    default_from = max(first_day, as_of - dt.timedelta(days=PERIOD_DAYS - 1))
    state = st.session_state
    top = st.columns([1, 1, 4])
    # the period and the day follow the as-of date until the user (or a link) sets them
    state["map_from_input"] = _parse_date(state.get("map_from"), default_from, first_day, as_of)
    start = top[0].date_input("From", min_value=first_day, max_value=as_of, key="map_from_input", format="YYYY-MM-DD",
                              on_change=_pin, args=("map_from_input", "map_from"),
                              help="The map shows what happened from this day on (default: 90 days before the "
                                   "as-of date).")
    days = [start + dt.timedelta(days=n) for n in range((as_of - start).days + 1)]
    state[DAY_KEY] = _parse_date(state.get("map_day"), as_of, start, as_of)
    playing = top[1].toggle("Play", key="map_play", help="Step day by day up to the as-of date, to watch the "
                                                         "picture build up.")
    controls = st.columns([3, 2, 2, 1])
    if "map_layers_input" not in state:
        state["map_layers_input"] = [layer for layer in (state.get("map_layers") or ",".join(LAYERS)).split(",")
                                     if layer in LAYERS]
    layer_choice = controls[0].pills("Layers", list(LAYERS), selection_mode="multi", format_func=LAYER_WORDS.get,
                                     key="map_layers_input") or []
    candidates, places = choices(folder)
    shade = None
    if candidates:
        wanted = state.get("map_shade") if state.get("map_shade") in candidates else candidates[0]
        shade = controls[1].selectbox("Regions shaded by", candidates, index=candidates.index(wanted),
                                      format_func=names.get, key="map_shade_input",
                                      help="Matching rows in the indicator's window against the mean of the four "
                                           "windows before it, per region.")
    given = View.parse(state.get("map_view"))
    if state.get("map_centre") not in [FIT, DRAWN] + places:
        state["map_centre"] = DRAWN if given else FIT
    centre = controls[2].selectbox("Centre on", [FIT, DRAWN] + places, key="map_centre",
                                   help="The markers' extent, the view of the link or of the box drawn, or a place.")
    state.setdefault("map_zoom", given.zoom if given else 6.0)
    zoom = controls[3].number_input("Zoom", 0.0, 12.0, step=0.5, key="map_zoom", disabled=centre == FIT,
                                    help="0 is the whole world; each step halves the width shown (with Centre on "
                                         "a place or the link's view).")
    settings = dict(folder=folder, loaded=loaded, rows=rows, names=names, units=units, days=days, start=start,
                    as_of=as_of, show_later=show_later, layers=tuple(layer_choice), shade=shade, centre=centre,
                    zoom=zoom, given=given, places=places, playing=playing)
    if playing:
        st.fragment(lambda: _draw(**settings), run_every=PLAY_SECONDS)()
    else:
        _draw(**settings)
    view = View.parse(state.get("map_view"))
    state.update(map_layers=",".join(layer_choice), map_shade=shade or "")
    return {"map_from": state.get("map_from") or None, "map_day": state.get("map_day") or None,
            "map_layers": ",".join(layer_choice) if tuple(layer_choice) != LAYERS else None,
            "map_shade": shade if shade and shade != candidates[0] else None,
            "map_view": view.text() if centre != FIT and view is not None else None}


def _draw(folder: Path, loaded: LoadedWatchlist, rows, names, units, days, start, as_of, show_later, layers, shade,
          centre, zoom, given, places, playing) -> None:
    """The day slider, the map and its captions (a fragment that reruns by itself while playing)."""
    state = st.session_state
    if playing:
        following = state[DAY_KEY] + dt.timedelta(days=1)
        if following > as_of:
            state["map_play"] = False
            st.rerun()  # the whole page, so that the timer stops and the URL gets the day
        state[DAY_KEY], state["map_day"] = following, following.isoformat()
    day = st.select_slider("Day", days, key=DAY_KEY, format_func=dt.date.isoformat, on_change=_pin,
                           args=(DAY_KEY, "map_day"),
                           help="The map as known on this day (rows count from their reported date).")
    shown = rows_known_on(rows, day, start, show_later)
    markers = aggregate_markers(shown)
    changes = None
    if shade and "regions" in layers:
        shaded_rows, region_index = _rows_of(str(folder), data.files_signature(folder), dt.date.today(), shade)
        changes = region_changes(shaded_rows, loaded.watchlist.indicator(shade), day, regions(), region_index)
    if centre == DRAWN and given:
        view = View(given.lat, given.lon, zoom)
    elif centre in places:
        spot = rows[rows["place"] == centre].iloc[0]
        view = View(round(float(spot["lat"]), 3), round(float(spot["lon"]), 3), zoom)
    else:  # the markers and the shaded regions
        lats, lons = [shown["lat"].to_numpy()], [shown["lon"].to_numpy()]
        if changes is not None and len(changes.frame):
            boxes = np.array([regions()[index].bbox for index in changes.frame["region"]])
            lats += [boxes[:, 1], boxes[:, 3]]
            lons += [boxes[:, 0], boxes[:, 2]]
        view = fit_view(np.concatenate(lats), np.concatenate(lons), ASPECT)
    if centre != FIT:
        state["map_view"] = view.text()
    else:
        state.pop("map_view", None)
    figure = build_map_figure(markers, view, day, names, units, layers, changes, regions(), names.get(shade, ""),
                              units.get(shade, "") if shade else "", aspect=ASPECT)
    st.plotly_chart(figure, width="stretch", key="map_chart", on_select=_open_clicked,
                    selection_mode=("points", "box"), config={**MAP_CONFIG, "toImageButtonOptions": {
                        "format": "png", "scale": 2, "filename": f"{loaded.folder.name}-map-{day.isoformat()}"}})
    _captions(markers, shown, changes, day, show_later, names.get(shade, ""))


def _captions(markers, shown, changes, day: dt.date, show_later: bool, shaded_name: str) -> None:
    known = int((~shown["later"]).sum()) if len(shown) else 0
    parts = [f"{known} row{'' if known == 1 else 's'} with a place known on {day.isoformat()}"]
    if show_later:
        parts.append(f"{int(shown['later'].sum())} later (grey, open)")
    if markers.cell_degrees:
        parts.append(f"more than {MAX_MARKERS:,} places: grouped in cells of about {markers.cell_degrees:.2g} degrees; "
                     "zoom with Centre on and Zoom, or draw a box, to see single rows")
    parts.append("colour: the indicator's level on the row's own day; size: the value against the indicator's "
                 "largest (cells: the number of rows); click a marker to open its indicator or event")
    st.caption(plain("; ".join(parts) + "."))
    if changes is not None:
        words = (f"Regions: {shaded_name}, {changes.window[0].isoformat()} to {changes.window[1].isoformat()} against "
                 f"the mean of the four windows from {changes.baseline[0].isoformat()} to "
                 f"{changes.baseline[1].isoformat()}; a region with a baseline of at most {changes.min_baseline:g} and "
                 f"at most {changes.min_value:g} now is 'too few to compare'.")
        if changes.outside:
            words += (f" {changes.outside} row(s) lie outside the regions shipped (see "
                      "docs/dashboard-and-briefings.md, 'The map').")
        if changes.unplaced:
            words += f" {changes.unplaced} row(s) have no coordinates and are not counted in any region."
        st.caption(plain(words))
