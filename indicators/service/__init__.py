"""Services: what runs beside the data.

Owns alerts (states recorded in an append-only ``.watchfloor/alerts.jsonl``, rounds, messages,
acknowledgements and silences), ``watch`` (the loop that evaluates, records and delivers), sending
through Apprise in a child process with a deadline, and serving the dashboard (``serve``: the
Streamlit process, its host and sign-in checks).

May import: ``indicators.format``, ``indicators.engine``, ``indicators.feeds``, ``indicators.store``.
"""
