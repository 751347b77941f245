"""The Activity page's sources: who changed which row, the previous versions, and the commits that
changed the watchlist's own files."""

from __future__ import annotations

import subprocess

from helpers import indicator, write_watchlist
from indicators.store.activity import git_commits


def git(folder, *args):
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "ana@example.org", "GIT_COMMITTER_NAME": "A",
                        "GIT_COMMITTER_EMAIL": "ana@example.org", "HOME": str(folder), "PATH": "/usr/bin:/bin"})


def test_only_commits_that_changed_the_watchlists_files_are_listed(tmp_path):
    folder = write_watchlist(tmp_path / "repo" / "w", [indicator()], "2022-10-16,troops,25,,,,,,,\n")
    git(tmp_path / "repo", "init", "-q")
    git(tmp_path / "repo", "add", "-A")
    git(tmp_path / "repo", "commit", "-qm", "First rows")
    (folder / "watchlist.schema.json").write_text("{}")  # a tool's file beside the data, not the data
    (tmp_path / "repo" / "code.py").write_text("x = 1\n")
    git(tmp_path / "repo", "add", "-A")
    git(tmp_path / "repo", "commit", "-qm", "Development: schema and code")
    with (folder / "observations.csv").open("a") as file:
        file.write("2022-10-17,troops,30,,,,,,,\n")
    git(tmp_path / "repo", "commit", "-qam", "A new troop count")
    assert git_commits(folder)["message"].tolist() == ["A new troop count", "First rows"]
