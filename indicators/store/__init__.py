"""The store: a watchlist folder read and written.

Owns loading a watchlist (definitions, the CSV files, the feeds: one ``LoadedWatchlist`` with every
problem; a command's reads begun ahead, while it imports the rest), the derived cache in the user's
cache folder (typed rows and remembered answers), locked, atomic and byte-preserving writes (``add``,
``add-event``, ``judge``, edits, ``upgrade``), new watchlists (``init``), the bundled watchlists, and
the activity of a folder under git. A read never writes into the watchlist folder.

May import: ``indicators.format``, ``indicators.engine``, ``indicators.feeds``.
"""
