"""The documentation holds together: every relative link in README.md and docs/*.md opens a file that
exists, every #anchor a heading that exists (as a git host renders it), every image has alt text, and
the README's first watchlist is a valid one."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import REPO
from indicators.cli import app

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^(```|~~~)")
INLINE_CODE = re.compile(r"(`+).*?\1")
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the lines outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """The anchor a git host gives a heading: lower case, punctuation dropped, spaces made hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found, seen = set(), {}
    for _, line in prose_lines(path):
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str, str, str]]:
    """(line, "!" for an image, text, target) of every Markdown link outside code."""
    return [(number, bang, text, target) for number, line in prose_lines(path)
            for bang, text, target in LINK.findall(INLINE_CODE.sub("", line))]


def relative_links():
    for page in PAGES:
        for number, _, _, target in links(page):
            if not re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: are not checked
                yield pytest.param(page, number, target, id=f"{page.relative_to(REPO)}:{number}:{target}")


@pytest.mark.parametrize(("page", "line", "target"), list(relative_links()))
def test_relative_link_points_to_an_existing_file_and_heading(page, line, target):
    where = f"{page.relative_to(REPO)}:{line}"
    file_part, _, anchor = target.partition("#")
    destination = (page.parent / file_part).resolve() if file_part else page
    assert destination.exists(), f"{where}: {target}: no such file"
    assert REPO in destination.parents or destination == REPO, f"{where}: {target} leaves the repository"
    if anchor:
        assert destination.suffix == ".md", f"{where}: {target}: an anchor into a file that is not Markdown"
        assert anchor in anchors(destination), f"{where}: {target}: no heading with this anchor"


def test_the_checks_find_links_and_headings():
    """The link and heading readers see what a reader sees (so that the test above cannot pass empty)."""
    assert len(list(relative_links())) > 50
    assert {"watchlistyaml", "places-and-placescsv", "what-is-guaranteed-with-hostile-or-broken-files",
            "updating-data"} <= anchors(REPO / "docs" / "format.md")
    assert "the-engine-duckdb-in-process-spark-for-scale" in anchors(REPO / "docs" / "feeds.md")
    assert "mail-through-your-smtp-server-apprises-mailto-add-userpassword-for-authentication" \
        not in anchors(REPO / "docs" / "alerts.md")  # a comment inside a code block is no heading


def test_every_image_has_alt_text_and_exists():
    images = [(page, number, text, target) for page in PAGES
              for number, bang, text, target in links(page) if bang]
    assert {target for _, _, _, target in images} >= {"docs/images/overview.png", "images/scenarios.png",
                                                      "images/map.png", "images/briefing-slide.png"}
    for page, number, text, target in images:
        assert len(text.split()) >= 5, f"{page.relative_to(REPO)}:{number}: {target}: say what the image shows"
        assert (page.parent / target).is_file(), f"{page.relative_to(REPO)}:{number}: {target}: no such file"


def test_every_docs_page_is_linked_from_both_indexes():
    readme_targets = {target for *_, target in links(REPO / "README.md")}
    index_targets = {target for *_, target in links(REPO / "docs" / "README.md")}
    for page in sorted((REPO / "docs").glob("*.md")):
        if page.name != "README.md":
            assert f"docs/{page.name}" in readme_targets, f"README.md does not link docs/{page.name}"
            assert page.name in index_targets, f"docs/README.md does not link {page.name}"


def test_the_readme_watchlist_validates_and_reads_as_the_readme_says(tmp_path):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Your own watchlist", 1)[1].split("\n## ", 1)[0]
    yaml_text = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    csv_text = re.search(r"```csv\n(.*?)```", section, re.S).group(1)
    folder = tmp_path / "border-watch"
    folder.mkdir()
    (folder / "watchlist.yaml").write_text(yaml_text, encoding="utf-8")
    (folder / "observations.csv").write_text(csv_text, encoding="utf-8")
    runner = CliRunner()
    validated = runner.invoke(app, ["validate", str(folder)])
    assert validated.exit_code == 0, validated.output
    assert "no problems" in validated.output
    status = runner.invoke(app, ["status", str(folder), "--as-of", "2022-02-10", "--json"])
    assert status.exit_code == 0, status.output
    report = json.loads(status.stdout)
    assert report["overall"]["level"] == "critical"
    assert report["indicators"][0]["value"] == 30000
    assert "(CRITICAL: 30,000 troops)" in section
