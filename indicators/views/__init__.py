"""Views: what the dashboard and the briefings show, built without Streamlit.

Owns the plotly figures (timelines, event lanes, threshold bands, the map, judgments), the HTML of
the situation board, status cards and tables (every value from a data file escaped), the colours and
labels of levels, and briefings (the slide and page HTML, and its export to PNG or PDF through
Chromium). The dashboard's pages and the ``snapshot`` command both use them.

May import: ``indicators.format``, ``indicators.engine``, ``indicators.feeds``, ``indicators.store``.
"""
