"""One level palette for every view: cards, threshold bands, the state timeline and exports.

Colours follow the Okabe-Ito colour-blind-safe set and always come with a text label.
"""

from __future__ import annotations

from ..engine.evaluate import SCORE_LEVELS  # noqa: F401 - score -> level, shared with the library
from ..format.models import Level

LEVEL_COLOURS = {
    Level.NORMAL: "#0072B2",    # blue
    Level.ELEVATED: "#F0E442",  # yellow
    Level.HIGH: "#E69F00",      # orange
    Level.CRITICAL: "#D55E00",  # vermillion
    Level.NO_DATA: "#8C8C8C",   # grey
}
STALE_COLOUR = "#CFCFCF"  # light grey: data too old to count
TEXT_ON_LEVEL = {
    Level.NORMAL: "#FFFFFF", Level.ELEVATED: "#1A1A1A", Level.HIGH: "#1A1A1A",
    Level.CRITICAL: "#FFFFFF", Level.NO_DATA: "#1A1A1A",
}
LEVEL_WORDS = {level: level.word for level in Level}
INK = "#1A1A1A"
MUTED = "#555555"
FONT_FAMILY = "Inter, 'Helvetica Neue', Arial, sans-serif"


def level_fill(level: Level) -> str:
    """CSS for a mark filled with a level's colour, its text readable on it."""
    return f"background:{LEVEL_COLOURS[level]};color:{TEXT_ON_LEVEL[level]}"
