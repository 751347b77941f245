"""The format: what a watchlist folder holds and what makes a row valid.

Owns the folder's file names and columns (``folder``, which imports nothing), the models of
``watchlist.yaml`` (pydantic), reading its definitions, the CSV reader that keeps line numbers, the
checks of observations, events, judgments and places, the fixed column layouts of the ACLED and
GDELT exports, and ``Problem``: every error as data naming its file, line and field.

May import: nothing else in Watchfloor (it is the bottom layer).
"""
