"""A new, valid watchlist folder for ``watchfloor init``."""

from __future__ import annotations

import json
from pathlib import Path

from ..format.models import Watchlist
from ..format.folder import AUDIT_COLUMNS, EVENT_COLUMNS, OBSERVATION_COLUMNS

SCHEMA_FILE = "watchlist.schema.json"
SCHEMA_LINE = f"# yaml-language-server: $schema={SCHEMA_FILE}"
WATCHLIST_TEMPLATE = SCHEMA_LINE + """
# Watchfloor watchlist. Every key is described in docs/format.md.
title: {title}
theatre: ""                          # the area or crisis, e.g. "Belarus-Ukraine border"
description: ""
marking: "UNCLASSIFIED // OPEN SOURCE"   # shown as a banner on every view and export
# as_of: 2022-10-17                  # optional: the default date to view (otherwise today)

indicators:
  - id: example_troop_numbers        # lower-case letters, digits and _, unique
    name: Example troop numbers      # what the card shows
    category: Military posture       # cards are grouped by category
    unit: troops
    description: >
      Why this indicator matters and why its thresholds sit where they do.
    direction: up                    # up: higher is more escalatory; down: lower is
    thresholds:                      # any of elevated, high, critical, ordered by direction
      elevated: 5000
      high: 15000
      critical: 25000
    aggregate: latest                # latest | sum | count | max | mean (window_days for all but latest)
    # window_days: 30
    stale_after_days: 30             # grey "stale" badge when no report for longer than this
    weight: 1                        # weight in the overall index
    # levels: {{0: normal, 1: heightened, 2: high, 3: critical}}   # labels for ordinal scales
"""


def watchlist_schema() -> dict:
    """JSON Schema of ``watchlist.yaml``, generated from the pydantic models so that it never drifts."""
    schema = Watchlist.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Watchfloor watchlist.yaml",
            **{key: value for key, value in schema.items() if key != "title"}}


def watchlist_schema_json() -> str:
    return json.dumps(watchlist_schema(), indent=2, ensure_ascii=False) + "\n"


class FolderNotEmpty(Exception):
    pass


def create_watchlist(folder: Path, title: str) -> list[Path]:
    """Write a new watchlist skeleton; refuses to overwrite an existing watchlist."""
    existing = [folder / name for name in ("watchlist.yaml", "observations.csv", "events.csv")
                if (folder / name).exists()]
    if existing:
        raise FolderNotEmpty(f"{existing[0]} already exists; choose a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    quoted_title = '"' + title.replace("\\", "\\\\").replace('"', '\\"') + '"'
    files = {
        "watchlist.yaml": WATCHLIST_TEMPLATE.format(title=quoted_title),
        "observations.csv": ",".join(OBSERVATION_COLUMNS + AUDIT_COLUMNS) + "\n",
        "events.csv": ",".join(EVENT_COLUMNS + AUDIT_COLUMNS) + "\n",
        SCHEMA_FILE: watchlist_schema_json(),
        # what writers leave beside the data: previous versions, locks, a killed writer's temporary file
        ".gitignore": ".history/\n.*.lock\n.*.tmp\n.watchfloor/\n",
    }
    written = []
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written
