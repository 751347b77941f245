"""Synthetic watchlists for benchmarks: N indicators observed daily over a period.

    python bench/generate.py OUT_DIR --indicators 200 --days 3650 [--places]
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

AGGREGATES = ["latest", "latest", "sum", "count", "max", "mean"]


SITES = 300  # with places: synthetic sites, named in places.csv, one of them on every row


def generate_watchlist(folder: Path, indicators: int, days: int, end: dt.date = dt.date(2025, 12, 31),
                       seed: int = 7, places: bool = False) -> int:
    """Write a watchlist with one observation per indicator per day; returns the number of rows.
    ``places``: every row names one of ``SITES`` sites of places.csv (spread over eastern Europe)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    definitions = []
    for number in range(indicators):
        aggregate = AGGREGATES[number % len(AGGREGATES)]
        definition = {"id": f"indicator_{number:03d}", "name": f"Synthetic indicator {number}",
                      "category": f"Category {number % 8}", "unit": "units",
                      "direction": "down" if number % 7 == 6 else "up", "aggregate": aggregate,
                      "stale_after_days": 30, "weight": 1 + number % 3}
        if aggregate != "latest":
            definition["window_days"] = 30
        scale = {"latest": 100, "sum": 30 * 100, "count": 30, "max": 100, "mean": 100}[aggregate]
        cuts = [0.5 * scale, 0.7 * scale, 0.9 * scale]
        if definition["direction"] == "down":
            cuts = [scale - c for c in cuts]
        definition["thresholds"] = dict(zip(("elevated", "high", "critical"), cuts))
        definitions.append(definition)
    document = {"title": f"Synthetic {indicators}x{days}", "marking": "SYNTHETIC", "as_of": end.isoformat(),
                "indicators": definitions}
    (folder / "watchlist.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    dates = pd.date_range(end=pd.Timestamp(end), periods=days, freq="D").strftime("%Y-%m-%d").to_numpy()
    ids = np.array([d["id"] for d in definitions])
    count = indicators * days
    statuses = np.array(["", "", "", "", "", "", "", "confirmed", "disputed", "retracted"])
    frame = pd.DataFrame({
        "date": np.tile(dates, indicators),
        "indicator": np.repeat(ids, days),
        "value": rng.integers(0, 100, count).astype(str),
        "source": "Synthetic feed",
        "url": "https://example.org/feed",
        "reliability": rng.choice(list("ABCDEF"), count),
        "credibility": rng.integers(1, 7, count).astype(str),
        "status": rng.choice(statuses, count),
        "reported": "",
        "note": "",
    })
    if places:
        names = np.array([f"Site {number:03d}" for number in range(SITES)])
        pd.DataFrame({"place": names, "lat": np.round(rng.uniform(46, 58, SITES), 4),
                      "lon": np.round(rng.uniform(20, 40, SITES), 4), "country": "", "admin1": ""}).to_csv(
            folder / "places.csv", index=False, lineterminator="\n")
        frame["place"] = names[rng.integers(0, SITES, count)]
    frame.to_csv(folder / "observations.csv", index=False, lineterminator="\n")
    (folder / "events.csv").write_text("date,title,category,description,source,url,end_date\n"
                                       f"{end.isoformat()},Synthetic event,Test,,,,\n", encoding="utf-8")
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--indicators", type=int, default=200)
    parser.add_argument("--days", type=int, default=3650)
    parser.add_argument("--places", action="store_true", help="a place on every row (from places.csv)")
    args = parser.parse_args()
    rows = generate_watchlist(args.out, args.indicators, args.days, places=args.places)
    print(f"wrote {rows} observations to {args.out}")


if __name__ == "__main__":
    main()
