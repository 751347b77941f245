"""Where the bundled watchlists are: one place that works in a checkout and in an installed package.

In a checkout they are the repository's ``data/`` folder; an installed package carries the same
folders as the package ``watchfloor_bundled`` (see ``pyproject.toml``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

DEFAULT_WATCHLIST_NAME = "belarus-2022"
CHECKOUT_DATA = Path(__file__).resolve().parents[2] / "data"


def bundled_data() -> Path:
    """The folder holding the bundled watchlists."""
    if (CHECKOUT_DATA / DEFAULT_WATCHLIST_NAME).is_dir():
        return CHECKOUT_DATA
    spec = importlib.util.find_spec("watchfloor_bundled")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            if (Path(location) / DEFAULT_WATCHLIST_NAME).is_dir():
                return Path(location)
    return CHECKOUT_DATA  # not found: callers say that the folder is missing


def default_watchlist() -> Path:
    """The bundled default watchlist: Belarus 2022."""
    return bundled_data() / DEFAULT_WATCHLIST_NAME
