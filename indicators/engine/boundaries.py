"""The boundary data the map draws (Natural Earth, shipped in ``indicators/geodata``), and which
first-level region a point lies in.

The files are TopoJSON (shared, quantized arcs); they are decoded once per process into rings of
(longitude, latitude) points. See ``geodata/README.md`` for where they come from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

GEODATA = Path(__file__).resolve().parents[1] / "geodata"
COUNTRIES_FILE = GEODATA / "countries-50m.json"
REGIONS_FILE = GEODATA / "admin1.json"


@dataclass(frozen=True)
class Shape:
    """A country or region: its name, its country (for regions), code, and closed rings of
    (longitude, latitude) points (outer rings and holes alike: containment is even-odd)."""

    name: str
    country: str
    code: str
    rings: tuple[np.ndarray, ...]
    bbox: tuple[float, float, float, float]  # west, south, east, north

    def overlaps(self, west: float, south: float, east: float, north: float) -> bool:
        return not (self.bbox[2] < west or self.bbox[0] > east or self.bbox[3] < south or self.bbox[1] > north)


def _decode_arcs(topology: dict) -> list[np.ndarray]:
    transform = topology.get("transform")
    arcs = []
    for arc in topology["arcs"]:
        points = np.asarray(arc, dtype=float)
        if transform:  # quantized and delta-encoded
            points = np.cumsum(points, axis=0) * transform["scale"] + transform["translate"]
        arcs.append(points)
    return arcs


def _ring(arcs: list[np.ndarray], indices: list[int]) -> np.ndarray:
    pieces = []
    for number, index in enumerate(indices):
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        pieces.append(arc if number == 0 else arc[1:])  # consecutive arcs share their end point
    return np.concatenate(pieces)


def read_topology(path: Path, layer: str) -> list[Shape]:
    """The shapes of one layer of a TopoJSON file (Polygon and MultiPolygon geometries)."""
    topology = json.loads(Path(path).read_text(encoding="utf-8"))
    arcs = _decode_arcs(topology)
    shapes = []
    for geometry in topology["objects"][layer]["geometries"]:
        polygons = {"Polygon": [geometry.get("arcs", [])], "MultiPolygon": geometry.get("arcs", [])}.get(
            geometry.get("type"), [])
        rings = tuple(_ring(arcs, ring) for polygon in polygons for ring in polygon if ring)
        if not rings:
            continue
        points = np.concatenate(rings)
        properties = geometry.get("properties") or {}
        shapes.append(Shape(str(properties.get("name", "")), str(properties.get("country", "")),
                            str(properties.get("iso", geometry.get("id", ""))), rings,
                            (float(points[:, 0].min()), float(points[:, 1].min()),
                             float(points[:, 0].max()), float(points[:, 1].max()))))
    return shapes


@lru_cache(maxsize=1)
def countries() -> tuple[Shape, ...]:
    """Every country, at 1:50m."""
    return tuple(read_topology(COUNTRIES_FILE, "countries"))


@lru_cache(maxsize=1)
def regions() -> tuple[Shape, ...]:
    """The first-level regions shipped (see geodata/README.md), at 1:10m simplified."""
    return tuple(read_topology(REGIONS_FILE, "regions"))


def contains(shape: Shape, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Which points lie inside the shape (even-odd rule over all its rings), vectorized over points."""
    inside = np.zeros(len(lon), dtype=bool)
    west, south, east, north = shape.bbox
    candidates = np.flatnonzero((lon >= west) & (lon <= east) & (lat >= south) & (lat <= north))
    if not len(candidates):
        return inside
    x, y = lon[candidates], lat[candidates]
    crossings = np.zeros(len(candidates), dtype=bool)
    for ring in shape.rings:
        x0, y0 = ring[:-1, 0], ring[:-1, 1]
        x1, y1 = ring[1:, 0], ring[1:, 1]
        for ax, ay, bx, by in zip(x0, y0, x1, y1):
            straddles = (ay > y) != (by > y)
            if straddles.any():
                crossing_x = ax + (y - ay) * (bx - ax) / (by - ay if by != ay else 1e-300)
                crossings ^= straddles & (x < crossing_x)
    inside[candidates] = crossings
    return inside


def region_of_points(lon: np.ndarray, lat: np.ndarray, shapes: tuple[Shape, ...] | None = None) -> np.ndarray:
    """The index in ``shapes`` (default: ``regions()``) of the region each point lies in, -1 outside
    them all. Computed once per distinct point: feed rows repeat their locations a great deal."""
    shapes = regions() if shapes is None else shapes
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    result = np.full(len(lon), -1, dtype=np.int64)
    known = ~(np.isnan(lon) | np.isnan(lat))
    if not known.any():
        return result
    points, inverse = np.unique(np.column_stack([lon[known], lat[known]]), axis=0, return_inverse=True)
    found = np.full(len(points), -1, dtype=np.int64)
    for index, shape in enumerate(shapes):
        open_points = found < 0
        if not open_points.any():
            break
        hits = np.zeros(len(points), dtype=bool)
        hits[open_points] = contains(shape, points[open_points, 0], points[open_points, 1])
        found[hits] = index
    result[known] = found[inverse.ravel()]
    return result
