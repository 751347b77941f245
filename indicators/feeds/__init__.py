"""Event feeds: ACLED and GDELT exports read as observations.

- ``files``: finding a feed's files, checking them (UTF-8, size), unpacking archives within bounds,
  and setting aside the ones that cannot be read, each named.
- ``query``: the query over the files (ibis on DuckDB in process, or Spark), in batches, each event's
  newest version, matched by the indicators' ``where``; results kept in the process and, through the
  derived cache the store passes in, between processes.
- ``rows``: typing the matched rows into observation rows, deletions, and the problems of bad rows.

May import: ``indicators.format``, ``indicators.engine``.
"""
