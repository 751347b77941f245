"""What the map shows, as data (pure functions over frames; the figure is drawn in ``dashboard``).

- ``located_rows`` and ``rows_known_on``: the observations, events and feed rows with a place that
  are known on a day (and, apart, those that came later), each with its indicator's level on its
  own date.
- ``aggregate_markers``: at most ``MAX_MARKERS`` markers: one per kind, indicator and place while
  that fits, else binned on a grid that coarsens until it fits (730,000 rows stay a few thousand).
- ``region_changes``: a windowed count or sum per first-level region against a baseline of the four
  windows before (as ACLED's change maps), with the low-baseline guard.
- ``fit_view``: the centre and zoom that show a set of points.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..format.models import NON_COUNTING_STATUSES, Indicator
from .boundaries import Shape, region_of_points
from .evaluate import change_percent

KINDS = ("observation", "event", "feed")
NO_LEVEL = -9  # events carry no level
MAX_MARKERS = 2000
DETAIL_ROWS = 6  # rows listed in a marker's hover; the rest are counted
BASELINE_WINDOWS = 4
DEFAULT_MIN_BASELINE = 1.0  # the low-baseline guard when the indicator declares no change rule
DEFAULT_MIN_VALUE = 2.0
MERCATOR_LIMIT = 85.0
ROW_COLUMNS = ("kind", "later", "counting", "lat", "lon", "place", "located_by", "indicator", "date", "reported",
               "value", "size", "level", "status", "source", "grade", "note", "url", "title", "category",
               "end_date", "event_id", "feed_file", "line")


def mercator_y(lat) -> np.ndarray:
    """Web Mercator northing in degrees-equivalent units (so that x is the longitude itself)."""
    clipped = np.radians(np.clip(np.asarray(lat, dtype=float), -MERCATOR_LIMIT, MERCATOR_LIMIT))
    return np.degrees(np.log(np.tan(np.pi / 4 + clipped / 2)))


def _column(frame: pd.DataFrame, name: str, default="") -> np.ndarray:
    if name in frame.columns:
        return frame[name].to_numpy()
    return np.full(len(frame), default, dtype=object)


def _levels_on_dates(scores: pd.DataFrame | None, indicators: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Each row's indicator level score on the row's own date (-1 where the scores do not reach)."""
    if scores is None or not len(scores) or not len(dates):
        return np.full(len(dates), -1, dtype=np.int64)
    first = scores.index[0].to_datetime64()
    positions = ((dates.astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64))
    columns = pd.Index(scores.columns).get_indexer(indicators)
    inside = (positions >= 0) & (positions < len(scores)) & (columns >= 0)
    matrix = scores.to_numpy()
    levels = np.full(len(dates), -1, dtype=np.int64)
    levels[inside] = matrix[positions[inside], columns[inside]]
    return levels


def _relative_sizes(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """|value| / the largest |value| of the same indicator (``codes``; 0-1, NaN without a value): a
    marker's size compares a row with its own indicator, never troops with tonnes."""
    magnitude = np.abs(values.astype(float))
    largest = np.zeros(codes.max() + 1 if len(codes) else 0)
    known = ~np.isnan(magnitude)
    np.maximum.at(largest, codes[known], magnitude[known])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(known, magnitude / np.where(largest[codes] > 0, largest[codes], 1.0), np.nan)


def located_rows(observations: pd.DataFrame, events: pd.DataFrame, scores: pd.DataFrame | None) -> pd.DataFrame:
    """Every observation, feed row and event with coordinates, typed for the map once (the app caches
    it per file version): kind, provenance, the indicator's level on the row's own date (from the
    daily ``scores``), and the value's size relative to its indicator. ``rows_known_on`` then picks
    a day's rows cheaply."""
    frames = []
    placed = observations["lat"].notna().to_numpy() & observations["lon"].notna().to_numpy()
    rows = observations[placed]
    if len(rows):
        indicator = rows["indicator"]
        codes = (indicator.cat.codes.to_numpy() if isinstance(indicator.dtype, pd.CategoricalDtype)
                 else pd.factorize(indicator)[0])
        indicators = indicator.astype(str).to_numpy()
        dates = rows["date"].to_numpy()
        feed = _column(rows, "feed", "")
        frames.append(pd.DataFrame({
            "kind": np.where(pd.Series(feed).fillna("").astype(str).to_numpy() != "", "feed", "observation"),
            "later": False,
            "counting": ~rows["status"].astype(str).isin(NON_COUNTING_STATUSES).to_numpy(),
            "lat": rows["lat"].to_numpy(dtype=float), "lon": rows["lon"].to_numpy(dtype=float),
            "place": rows["place"].astype(str).to_numpy(), "located_by": rows["located_by"].astype(str).to_numpy(),
            "indicator": indicators, "date": dates, "reported": rows["reported"].to_numpy(),
            "value": rows["value"].to_numpy(dtype=float),
            "size": _relative_sizes(codes, rows["value"].to_numpy(dtype=float)),
            "level": _levels_on_dates(scores, indicators, dates),
            "status": rows["status"].astype(str).to_numpy(), "source": rows["source"].astype(str).to_numpy(),
            "grade": (rows["reliability"].astype(str) + rows["credibility"].astype(str)).to_numpy(),
            "note": rows["note"].astype(str).to_numpy(), "url": rows["url"].astype(str).to_numpy(),
            "title": "", "category": "", "end_date": pd.NaT,
            "event_id": _column(rows, "event_id"), "feed_file": _column(rows, "feed_file"),
            "line": rows["line"].to_numpy(dtype=np.int64),
            "until": rows["until"].to_numpy() if "until" in rows.columns else pd.NaT,
        }))
    rows = events[events["lat"].notna().to_numpy() & events["lon"].notna().to_numpy()]
    if len(rows):
        frames.append(pd.DataFrame({
            "kind": "event", "later": False, "counting": True,
            "lat": rows["lat"].to_numpy(dtype=float), "lon": rows["lon"].to_numpy(dtype=float),
            "place": rows["place"].astype(str).to_numpy(), "located_by": rows["located_by"].astype(str).to_numpy(),
            "indicator": "", "date": rows["date"].to_numpy(), "reported": rows["date"].to_numpy(),
            "value": np.nan, "size": np.nan, "level": NO_LEVEL, "status": "", "source": rows["source"].to_numpy(),
            "grade": "", "note": rows["description"].to_numpy(), "url": rows["url"].to_numpy(),
            "title": rows["title"].to_numpy(), "category": rows["category"].to_numpy(),
            "end_date": rows["end_date"].to_numpy(), "event_id": "", "feed_file": "",
            "line": rows["line"].to_numpy(dtype=np.int64), "until": pd.NaT,
        }))
    columns = list(ROW_COLUMNS) + ["until"]
    if not frames:
        return pd.DataFrame({name: pd.Series([], dtype=_EMPTY_TYPES.get(name, "object")) for name in columns})
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for name in ("date", "reported", "end_date", "until"):
        frame[name] = frame[name].astype("datetime64[ns]")
    return frame[columns]


def rows_known_on(located: pd.DataFrame, day: dt.date, start: dt.date, show_later: bool = False) -> pd.DataFrame:
    """The located rows (``located_rows``) dated from ``start`` (an event also while it lasts) that are
    known on ``day``, and with ``show_later`` those dated or reported after it (``later`` True). A
    feed version already replaced on ``day`` is left out: its newer version is the one known then."""
    limit, first = np.datetime64(pd.Timestamp(day), "ns"), np.datetime64(pd.Timestamp(start), "ns")
    dates, reported = located["date"].to_numpy(), located["reported"].to_numpy()
    ends = located["end_date"].to_numpy()
    until = located["until"].to_numpy()
    in_period = (dates >= first) | (~np.isnat(ends) & (ends >= first))
    replaced = ~np.isnat(until) & (until <= limit)
    known = (dates <= limit) & (reported <= limit) & ~replaced
    later = ~known & ~replaced
    keep = in_period & (known | (later & show_later))
    return located[keep].assign(later=later[keep])


_EMPTY_TYPES = {"later": "bool", "counting": "bool", "lat": "float64", "lon": "float64", "value": "float64",
                "size": "float64", "level": "int64", "line": "int64", "date": "datetime64[ns]",
                "reported": "datetime64[ns]", "end_date": "datetime64[ns]", "until": "datetime64[ns]"}


@dataclass
class Markers:
    """One row per marker (``frame``) and, for markers that stand for rows at one place, those rows
    newest first (``detail``, at most ``DETAIL_ROWS`` per marker, with a ``marker`` column).

    ``frame`` columns: kind, later, counting, lat, lon, level (the newest row's level at a place; the
    most escalatory in a grid cell), size (0-1), rows, first, last, indicator (when one), indicators
    (how many), place, binned (True for grid cells), cell_degrees."""

    frame: pd.DataFrame
    detail: pd.DataFrame
    rows: int  # rows behind all markers
    cell_degrees: float | None  # the grid cell when binned


def _group(keys: list[np.ndarray]) -> tuple[np.ndarray, int]:
    combined = np.zeros(len(keys[0]), dtype=np.int64)
    for key in keys:
        codes, uniques = pd.factorize(key)
        combined = combined * (len(uniques) + 1) + codes
    groups, inverse = np.unique(combined, return_inverse=True)
    return inverse.ravel(), len(groups)


def aggregate_markers(rows: pd.DataFrame, max_markers: int = MAX_MARKERS) -> Markers:
    """Markers for ``rows`` (from ``rows_known_on``): one per kind, indicator and place (rows of one
    indicator at one place share a marker: its newest row's level and value, every row in its
    hover); when that gives more than ``max_markers``, one per kind in cells of a grid that doubles
    until it fits."""
    if not len(rows):
        empty = pd.DataFrame({name: [] for name in ("kind", "later", "counting", "lat", "lon", "level", "size", "rows",
                                                      "first", "last", "indicator", "indicators", "place", "binned")})
        return Markers(empty, rows.assign(marker=pd.Series([], dtype="int64")), 0, None)
    lat, lon = rows["lat"].to_numpy(), rows["lon"].to_numpy()
    kind, later, counting = rows["kind"].to_numpy(), rows["later"].to_numpy(), rows["counting"].to_numpy()
    indicator = rows["indicator"].to_numpy()
    marker, count = _group([kind, later, counting, indicator, np.round(lat, 5), np.round(lon, 5)])
    if count <= max_markers:
        return _place_markers(rows, marker, count)
    span = max(float(np.ptp(lon)), float(np.ptp(mercator_y(lat))), 1e-3)
    cell = span / 64
    y = mercator_y(lat)
    while True:
        marker, count = _group([kind, later, np.floor(lon / cell).astype(np.int64), np.floor(y / cell).astype(np.int64)])
        if count <= max_markers:
            return _cell_markers(rows, marker, count, cell)
        cell *= 2


def _place_markers(rows: pd.DataFrame, marker: np.ndarray, count: int) -> Markers:
    order = np.lexsort((-rows["line"].to_numpy(), -rows["reported"].to_numpy().astype("datetime64[ns]").astype(np.int64),
                        -rows["date"].to_numpy().astype("datetime64[ns]").astype(np.int64), marker))
    ordered = rows.iloc[order].assign(marker=marker[order])
    newest = ordered.drop_duplicates("marker")  # the first of each marker: its newest row
    sizes = np.bincount(marker, minlength=count)
    dates = rows["date"].to_numpy().astype("datetime64[ns]")
    first = np.full(count, np.datetime64("NaT"), dtype="datetime64[ns]")
    last = first.copy()
    stamps = dates.astype(np.int64)
    low = np.full(count, np.iinfo(np.int64).max)
    high = np.full(count, np.iinfo(np.int64).min)
    np.minimum.at(low, marker, stamps)
    np.maximum.at(high, marker, stamps)
    first, last = low.astype("datetime64[ns]"), high.astype("datetime64[ns]")
    frame = pd.DataFrame({
        "kind": newest["kind"].to_numpy(), "later": newest["later"].to_numpy(), "counting": newest["counting"].to_numpy(),
        "lat": newest["lat"].to_numpy(), "lon": newest["lon"].to_numpy(), "level": newest["level"].to_numpy(),
        "size": newest["size"].to_numpy(), "rows": sizes, "first": first, "last": last,
        "indicator": newest["indicator"].to_numpy(), "indicators": 1, "place": newest["place"].to_numpy(),
        "binned": False,
    })
    detail = ordered[ordered.groupby("marker").cumcount().to_numpy() < DETAIL_ROWS]
    return Markers(frame, detail, len(rows), None)


def _cell_markers(rows: pd.DataFrame, marker: np.ndarray, count: int, cell: float) -> Markers:
    sizes = np.bincount(marker, minlength=count)
    lat = np.bincount(marker, weights=rows["lat"].to_numpy(), minlength=count) / sizes
    lon = np.bincount(marker, weights=rows["lon"].to_numpy(), minlength=count) / sizes
    level = np.full(count, NO_LEVEL, dtype=np.int64)
    np.maximum.at(level, marker, rows["level"].to_numpy(dtype=np.int64))
    stamps = rows["date"].to_numpy().astype("datetime64[ns]").astype(np.int64)
    low = np.full(count, np.iinfo(np.int64).max)
    high = np.full(count, np.iinfo(np.int64).min)
    np.minimum.at(low, marker, stamps)
    np.maximum.at(high, marker, stamps)
    indicator_codes, indicator_names = pd.factorize(rows["indicator"].to_numpy())
    pairs = np.unique(marker.astype(np.int64) * (len(indicator_names) + 1) + indicator_codes)
    distinct = np.bincount(pairs // (len(indicator_names) + 1), minlength=count)
    sole = np.full(count, -1, dtype=np.int64)
    sole[pairs // (len(indicator_names) + 1)] = pairs % (len(indicator_names) + 1)
    first_row = np.full(count, len(rows), dtype=np.int64)
    np.minimum.at(first_row, marker, np.arange(len(rows)))
    frame = pd.DataFrame({
        "kind": rows["kind"].to_numpy()[first_row], "later": rows["later"].to_numpy()[first_row], "counting": True,
        "lat": lat, "lon": lon, "level": level, "size": np.sqrt(sizes / sizes.max()), "rows": sizes,
        "first": low.astype("datetime64[ns]"), "last": high.astype("datetime64[ns]"),
        "indicator": np.where(distinct == 1, np.asarray(indicator_names, dtype=object)[np.maximum(sole, 0)], ""),
        "indicators": distinct, "place": "", "binned": True,
    })
    return Markers(frame, rows.iloc[0:0].assign(marker=pd.Series([], dtype="int64")), len(rows), cell)


# ---------------------------------------------------------------- change per region


CHANGE_CATEGORIES = {  # category -> legend label, least to most
    "fewer": "fewer (-25% or more)",
    "same": "about the same (within 25%)",
    "more": "more (+25% to +100%)",
    "much_more": "much more (+100% or more, or new)",
    "few": "too few to compare",
}


@dataclass
class RegionChanges:
    """Per region with rows in the window or its baseline: ``frame`` (region index into the shapes,
    name, country, value, baseline, change in percent, category); rows placed outside every region
    shipped, and rows that count but have no coordinates."""

    frame: pd.DataFrame
    outside: int
    unplaced: int
    window: tuple[dt.date, dt.date]
    baseline: tuple[dt.date, dt.date]
    min_baseline: float
    min_value: float


def region_changes(observations: pd.DataFrame, indicator: Indicator, day: dt.date, shapes: tuple[Shape, ...],
                   region_index: np.ndarray | None = None) -> RegionChanges:
    """The indicator's count (or sum) per region in its window ending on ``day``, against the mean of
    the ``BASELINE_WINDOWS`` windows before it; rows as known on ``day``. ``region_index`` (per row
    of ``observations``, from ``region_of_points``) may be given to save the lookup."""
    width = indicator.window_days or 1
    limit = pd.Timestamp(day)
    window_start = limit - pd.Timedelta(days=width)  # exclusive
    baseline_start = window_start - pd.Timedelta(days=width * BASELINE_WINDOWS)
    mine = (observations["indicator"] == indicator.id).to_numpy()
    if region_index is None:
        region_index = region_of_points(observations["lon"].to_numpy(dtype=float), observations["lat"].to_numpy(dtype=float),
                                        shapes)
    until = observations["until"] if "until" in observations.columns else pd.Series(pd.NaT, index=observations.index)
    counting = (mine & ~observations["status"].isin(NON_COUNTING_STATUSES).to_numpy()
                & (observations["reported"] <= limit).to_numpy() & (until.isna() | (until > limit)).to_numpy())
    dates = observations["date"]
    in_window = counting & ((dates > window_start) & (dates <= limit)).to_numpy()
    in_baseline = counting & ((dates > baseline_start) & (dates <= window_start)).to_numpy()
    amounts = (np.ones(len(observations)) if indicator.aggregate == "count"
               else np.nan_to_num(observations["value"].to_numpy(dtype=float)))
    if indicator.aggregate == "count":  # a nil report (value 0) counts no event
        amounts = np.where(observations["value"].to_numpy(dtype=float) == 0, 0.0, amounts)
    located = observations["lat"].notna().to_numpy() & observations["lon"].notna().to_numpy()
    used = in_window | in_baseline
    inside = used & (region_index >= 0)
    value = np.bincount(region_index[inside & in_window], weights=amounts[inside & in_window], minlength=len(shapes))
    baseline = np.bincount(region_index[inside & in_baseline], weights=amounts[inside & in_baseline],
                           minlength=len(shapes)) / BASELINE_WINDOWS
    rule = indicator.change
    min_baseline = rule.min_baseline if rule else DEFAULT_MIN_BASELINE
    min_value = rule.min_value if rule else DEFAULT_MIN_VALUE
    shown = np.flatnonzero((value > 0) | (baseline > 0))
    change = change_percent(value[shown], baseline[shown])
    guarded = (baseline[shown] <= min_baseline) & (value[shown] <= min_value)
    category = np.select([guarded, change >= 100, change >= 25, change > -25], ["few", "much_more", "more", "same"],
                         "fewer")
    frame = pd.DataFrame({
        "region": shown, "name": [shapes[i].name for i in shown], "country": [shapes[i].country for i in shown],
        "value": value[shown], "baseline": baseline[shown], "change": change, "category": category,
    })
    days = lambda stamp: (stamp + pd.Timedelta(days=1)).date()  # noqa: E731 - the first day inside
    return RegionChanges(frame, int((used & located & (region_index < 0)).sum()), int((used & ~located).sum()),
                         (days(window_start), day), (days(baseline_start), window_start.date()), min_baseline,
                         min_value)


# ---------------------------------------------------------------- the view


@dataclass(frozen=True)
class View:
    """The part of the map shown: its centre and a zoom (0 the whole world; each step halves the
    width shown: 360 / 2**zoom degrees of longitude)."""

    lat: float
    lon: float
    zoom: float

    @property
    def width_degrees(self) -> float:
        return 360.0 / 2 ** self.zoom

    def ranges(self, aspect: float) -> tuple[list[float], list[float]]:
        """(x range in degrees of longitude, y range in Mercator units) for a plot ``aspect`` = height / width."""
        half = self.width_degrees / 2
        centre_y = float(mercator_y(self.lat))
        return [self.lon - half, self.lon + half], [centre_y - half * aspect, centre_y + half * aspect]

    def text(self) -> str:
        """As the URL writes it: lat,lon,zoom."""
        return f"{self.lat:.3f},{self.lon:.3f},{self.zoom:.1f}"

    @classmethod
    def parse(cls, text: str | None) -> View | None:
        try:
            lat, lon, zoom = (float(part) for part in str(text).split(","))
        except (TypeError, ValueError):
            return None
        if not (-85 <= lat <= 85 and -180 <= lon <= 180 and 0 <= zoom <= 12):
            return None
        return cls(lat, lon, zoom)


def fit_view(lat: np.ndarray, lon: np.ndarray, aspect: float = 0.6, margin: float = 0.12,
             fallback: View = View(52.0, 28.0, 4.0)) -> View:
    """The view that shows every point, with a margin; ``fallback`` when there is none."""
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    known = ~(np.isnan(lat) | np.isnan(lon))
    if not known.any():
        return fallback
    lat, lon = lat[known], lon[known]
    y = mercator_y(lat)
    width = max(float(np.ptp(lon)), float(np.ptp(y)) / aspect, 1.0) * (1 + 2 * margin)
    centre_y = (float(y.min()) + float(y.max())) / 2
    centre_lat = math.degrees(2 * math.atan(math.exp(math.radians(centre_y))) - math.pi / 2)
    zoom = max(0.0, min(12.0, math.log2(360.0 / width)))
    return View(round(centre_lat, 3), round((float(lon.min()) + float(lon.max())) / 2, 3), round(zoom, 1))
