"""Settings shared by the whole suite."""

from hypothesis import settings

# Property tests check behaviour, not speed (speed is measured by bench/run.py): on a busy 2-core
# machine a slow example must not fail a test.
settings.register_profile("watchfloor", deadline=None)
settings.load_profile("watchfloor")
