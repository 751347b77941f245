"""The engine: what the rows mean on a day, and over time.

Owns the evaluation of indicators (levels, staleness, windows, the overall index and its floors),
scenarios and their signs, warning rules over time (holds, changes against a baseline), history,
backtests and their robustness, judgments' standing and scores, the changes between two days, the
map's data, and the plain-text and JSON reports the commands print. Pure functions of typed rows: no
file is read or written here (but the packaged boundary data the map draws).

May import: ``indicators.format``.
"""
