"""The Streamlit app, run headless with AppTest: every page, cards, as-of, URL state, problems, escaping."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from streamlit.testing.v1 import AppTest

from indicators.views.theme import STALE_COLOUR
from helpers import DEFAULT_WATCHLIST, indicator, open_page, run_app, shown, write_watchlist
from indicators.engine.evaluate import evaluate_statuses
from indicators.store.loader import load_watchlist

PAGES = ["overview", "scenarios", "timelines", "map", "indicator", "events", "backtest", "alerts", "data-quality",
         "add-data", "activity"]
HOSTILE = "<img src=x onerror=alert(1)>"




def html_of(app: AppTest) -> str:
    return "\n".join(element.proto.body for element in app.get("html"))


def card_levels(app: AppTest) -> dict[str, str]:
    """{indicator id: level} as the Overview shows them: a row each, or named in a group's folded line."""
    return dict(re.findall(r'data-indicator="([^"]+)" data-level="([^"]+)"', html_of(app)))


def library_levels(as_of: dt.date) -> dict[str, str]:
    loaded = load_watchlist(DEFAULT_WATCHLIST)
    return {s.indicator.id: s.level.value for s in evaluate_statuses(loaded.watchlist, loaded.observations, as_of)}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_without_exception_or_error(monkeypatch, page):
    app = run_app(monkeypatch, page=page)
    assert not app.error
    assert "UNCLASSIFIED // OPEN SOURCE" in html_of(app)


def test_overview_shows_one_card_per_indicator_with_the_library_level(monkeypatch):
    app = run_app(monkeypatch)
    assert card_levels(app) == library_levels(dt.date(2022, 10, 17))
    body = html_of(app)
    assert 'data-overall-level="high"' in body  # the index is ELEVATED; a scenario (Belarus entering the war) is HIGH
    assert "9 of 12 indicators current" in body
    assert body.count('class="wf-banner"') == 2  # marking at top and bottom


def test_changing_the_as_of_date_changes_the_cards(monkeypatch):
    app = run_app(monkeypatch)
    app.sidebar.date_input(key="as_of").set_value(dt.date(2022, 2, 10)).run()
    assert not app.exception
    levels = card_levels(app)
    assert levels == library_levels(dt.date(2022, 2, 10))
    assert levels["russian_troops_in_belarus"] == "critical"  # Lithuania's "approaching 30,000" of 02-09
    assert levels["belarus_threat_level"] == "no_data"
    assert app.query_params["as_of"] == ["2022-02-10"] or app.query_params["as_of"] == "2022-02-10"


def test_query_parameters_restore_the_view(monkeypatch):
    app = run_app(monkeypatch, page="indicator", as_of="2022-03-01", compare="2022-02-01",
                  indicator="belarus_threat_level")
    assert app.sidebar.date_input(key="as_of").value == dt.date(2022, 3, 1)
    assert app.sidebar.date_input(key="compare").value == dt.date(2022, 2, 1)
    assert app.selectbox(key="indicator").value == "belarus_threat_level"


def test_stale_indicator_card_is_grey_with_a_badge(monkeypatch):
    app = run_app(monkeypatch, as_of="2022-09-01")
    app.toggle(key="full_cards").set_value(True).run()
    # the last troop figure before September is Lithuania's 30,000 of 2022-02-09; stale after 45 days
    card = re.search(r'<div class="wf-card" data-indicator="russian_troops_in_belarus".*?</div></div>', html_of(app))
    assert "STALE: no report for 204 days" in card.group(0)
    assert f"border-left-color:{STALE_COLOUR}" in card.group(0)
    assert 'data-overall-level="elevated"' in html_of(app) and "5 of 12 indicators current" in html_of(app)


def test_watchlist_with_problems_opens_with_a_banner_and_lists_them(monkeypatch, tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()],
                             "2022-10-16,troops,25,,,,,,,\n2022-10-17,troops,about 9000,,,,,,,\n", as_of="2022-10-17")
    app = run_app(monkeypatch, root=folder)
    assert any("1 problem(s) in this watchlist's files" in w.value for w in app.warning)
    assert card_levels(app) == {"troops": "high"}
    open_page(app, "quality")
    table = app.dataframe[0].value
    assert table[["file", "line", "field"]].values.tolist() == [["observations.csv", 3, "value"]]


def test_unusable_definitions_show_an_error_not_a_traceback(monkeypatch, tmp_path):
    folder = tmp_path / "w"
    folder.mkdir()
    (folder / "watchlist.yaml").write_text("title: [\n")
    (folder / "observations.csv").write_text("date,indicator,value\n")
    app = run_app(monkeypatch, root=folder)
    assert "watchlist.yaml cannot be used" in shown(app.error[0].value)


def test_hostile_names_are_shown_as_text(monkeypatch, tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator(name=HOSTILE, category=HOSTILE, unit=HOSTILE)],
                             f'2022-10-16,troops,25,"{HOSTILE}",,,,,,"{HOSTILE}"\n', as_of="2022-10-17",
                             title=HOSTILE, marking=HOSTILE)
    app = run_app(monkeypatch, root=folder)
    body = html_of(app)
    assert "<img" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body


def test_editing_a_file_shows_on_the_next_rerun(monkeypatch, tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], "2022-10-16,troops,5,,,,,,,\n", as_of="2022-10-17")
    app = run_app(monkeypatch, root=folder)
    assert card_levels(app) == {"troops": "normal"}
    with open(folder / "observations.csv", "a", encoding="utf-8") as handle:
        handle.write("2022-10-17,troops,35,,,,,,,\n")
    app.run()
    assert card_levels(app) == {"troops": "critical"}


def test_folder_of_watchlists_gets_a_selector(monkeypatch, tmp_path):
    write_watchlist(tmp_path / "alpha", [indicator()], "2022-10-16,troops,5,,,,,,,\n", title="Alpha")
    write_watchlist(tmp_path / "beta", [indicator()], "2022-10-16,troops,35,,,,,,,\n", title="Beta")
    app = run_app(monkeypatch, root=tmp_path, watchlist="beta", as_of="2022-10-17")
    assert app.sidebar.selectbox(key="watchlist").value == "beta"
    assert "Beta" in html_of(app) and card_levels(app) == {"troops": "critical"}


def test_add_observation_form_writes_exactly_the_previewed_line(monkeypatch, tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], "2022-10-16,troops,5,,,,,,,\n", as_of="2022-10-17")
    before = (folder / "observations.csv").read_bytes()
    app = run_app(monkeypatch, root=folder, page="update")
    app.text_input(key="new_value").input("12")
    app.text_input(key="new_source").input("Ministry, of Defence")
    app.selectbox(key="new_reliability").select("B")
    app.selectbox(key="new_credibility").select("2")
    app.run()
    preview = app.code[0].value
    assert preview == '2022-10-17,troops,12,"Ministry, of Defence",,B,2,,,'
    app.button(key="add_observation").click().run()
    assert not app.exception
    assert (folder / "observations.csv").read_bytes() == before + (preview + "\n").encode()
    assert [shown(message.value) for message in app.success] == ["Added to observations.csv:"]
    assert app.code[0].value == preview  # the exact line written, shown as text
    # the form is cleared for the next row
    assert app.text_input(key="new_value").value == "" and app.text_input(key="new_source").value == ""
    assert app.selectbox(key="new_reliability").value == ""
    open_page(app, "overview")
    assert card_levels(app) == {"troops": "elevated"}


def test_add_observation_form_with_bad_input_shows_the_error_and_writes_nothing(monkeypatch, tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], "2022-10-16,troops,5,,,,,,,\n", as_of="2022-10-17")
    before = (folder / "observations.csv").read_bytes()
    app = run_app(monkeypatch, root=folder, page="update")
    app.text_input(key="new_value").input("about 12").run()
    app.button(key="add_observation").click().run()
    assert [shown(error.value) for error in app.error] == [
        'value: "about 12" is not a number; write digits only, with . for decimals (put remarks in the note '
        "column). Nothing was written."]
    assert (folder / "observations.csv").read_bytes() == before


def test_retract_button_keeps_the_row_with_its_status_changed(monkeypatch, tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], "2022-10-16,troops,25,,,,,,,\n", as_of="2022-10-17")
    app = run_app(monkeypatch, root=folder, page="indicator", indicator="troops")
    app.button(key="set_retracted").click().run()
    assert not app.exception
    assert (folder / "observations.csv").read_text().splitlines()[1] == "2022-10-16,troops,25,,,,,retracted,,"
    open_page(app, "overview")
    assert card_levels(app) == {"troops": "no_data"}


@pytest.mark.parametrize("action", ["retract", "fix"])
def test_a_row_saved_elsewhere_above_the_clicked_line_is_not_overwritten(monkeypatch, tmp_path, action):
    folder = write_watchlist(tmp_path / "w", [indicator()], "2022-10-16,troops,25,MoD,,,,,,\n", as_of="2022-10-17")
    app = run_app(monkeypatch, root=folder, page="indicator", indicator="troops")
    assert app.selectbox(key="edit_line").value == 2  # the user looks at line 2: the MoD row
    # a colleague's Excel save inserts a row above it before the click: line 2 is now their row
    path = folder / "observations.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + "2022-10-17,troops,3,Colleague,,,,,,their row\n" + "".join(lines[1:]))
    saved = path.read_bytes()
    if action == "retract":
        app.button(key="set_retracted").click().run()
    else:
        app.text_input(key="fix_source_2").input("MoD (fixed)")
        app.button(key="save_fix").click().run()
    assert path.read_bytes() == saved  # the colleague's row is intact, nothing was written
    assert "changed on disk since it was read" in app.error[0].value and not app.success
    assert app.button(key="reload_after_refusal")  # a reload is offered ...
    app.button(key="reload_after_refusal").click().run()
    assert not app.error  # ... and works: the page now shows the file as it is
    labels = app.selectbox(key="edit_line").options
    assert any("Colleague" in label for label in labels)


def test_text_from_data_is_never_markdown_in_headers_messages_and_help(monkeypatch, tmp_path):
    beacon = "![x](http://127.0.0.1:9/b.png) $$x$$ :red[x]"
    folder = write_watchlist(tmp_path / "w", [indicator(name=f"Troops {beacon}", unit=f"men {beacon}")],
                             "2022-10-16,troops,25,MoD,,,,,,\n", as_of="2022-10-17")
    app = run_app(monkeypatch, root=folder, page="indicator", indicator="troops")
    header = app.subheader[0].value
    assert header == r"Troops \!\[x\]\(http\:\/\/127\.0\.0\.1\:9\/b\.png\) \$\$x\$\$ \:red\[x\]"
    open_page(app, "update")
    assert app.text_input(key="new_value").proto.help.startswith(r"a number\, in men \!\[x\]")
    app.text_input(key="new_value").input(beacon).run()
    app.button(key="add_observation").click().run()
    assert app.error[0].value.startswith(r"value\: \"\!\[x\]\(http")  # the refused cell, as text


def test_briefing_button_makes_an_html_download_of_the_view(monkeypatch):
    app = run_app(monkeypatch)
    app.selectbox(key="briefing_format").select("html")
    app.button(key="make_briefing").click().run()
    assert not app.exception and not app.error
    _, name, files, fmt = app.session_state["briefing"]
    assert (name, fmt) == ("belarus-2022-briefing-2022-10-17-since-2022-10-10.html", "html")
    assert b"Status as of <b>2022-10-17</b>; changes since <b>2022-10-10</b>" in files[0]
    assert app.get("download_button")[0].proto.label == f"Download {name}"


def test_chart_camera_button_names_the_png_and_doubles_its_scale():
    from dashboard.pages import chart_config

    loaded = load_watchlist(DEFAULT_WATCHLIST)
    config = chart_config(loaded, "russian_troops_in_belarus", dt.date(2022, 10, 17))
    assert config["toImageButtonOptions"] == {"format": "png", "scale": 2,
                                              "filename": "belarus-2022-russian_troops_in_belarus-2022-10-17"}


def test_an_old_page_link_opens_its_page_and_an_unknown_page_says_so(monkeypatch):
    for old in ("quality", "data_quality"):  # links from before pages had paths, and a name the README once gave
        app = run_app(monkeypatch, page=old)
        assert [metric.label for metric in app.metric][:2] == ["Problems", "Observations used"]
        assert "page" not in app.query_params
    app = run_app(monkeypatch, page="dashboard")
    assert [shown(error.value) for error in app.error] == [
        'There is no page "dashboard"; the pages are: overview, scenarios, timelines, map, indicator, events, '
        "backtest, alerts, data-quality, add-data, activity. This is the Overview."]
    assert card_levels(app)  # the Overview


def test_backtest_targets_are_picked_from_the_events_and_the_hint_comes_from_the_open_watchlist(monkeypatch,
                                                                                                 tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], "2024-01-02,troops,25,,,,,,,\n",
                             events="date,title\n2024-01-20,Border closed\n", as_of="2024-02-01")
    app = run_app(monkeypatch, root=folder, page="backtest")
    assert [shown(info.value) for info in app.info] == [
        "Pick the events a warning should have come before, e.g. 2024-01-20 (Border closed), to see how early the "
        "level reached the warning level before each, and how often it warned in vain."]
    picker = app.multiselect(key="bt_picked")
    assert picker.options == ["2024-01-20 Border closed"]
    picker.select("2024-01-20").run()
    table = app.dataframe[0].value
    assert table[["what", "warned", "lead (days)"]].values.tolist() == [["Border closed", True, 18]]
    assert app.query_params["targets"] in ("2024-01-20", ["2024-01-20"])
