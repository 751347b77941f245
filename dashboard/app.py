"""Watchfloor dashboard: the entry script. Sets the page up, reads the view from the URL, wires pages.

Run it with ``watchfloor serve [DIR]``; everything it shows comes from ``indicators``.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import streamlit as st

if __package__ in (None, ""):  # run as a script by ``streamlit run``: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard import alerts_page, auth, data, detail, forms, freeze_imports_once, map_page, pages  # noqa: E402
from indicators.format.models import Access  # noqa: E402
from indicators.views.render import CSS, HIDE_CHROME_CSS, marking_banner, plain  # noqa: E402

freeze_imports_once()  # before the first run makes anything: Streamlit's collection after each run stays small

# url path -> title: each page lives at its own path (/timelines); the first is the home page (/)
PAGES = {"overview": "Overview", "scenarios": "Scenarios", "timelines": "Timelines", "map": "Map",
         "indicator": "Indicator detail", "events": "Events", "backtest": "Backtest", "alerts": "Alerts",
         "data-quality": "Data quality", "add-data": "Add data", "activity": "Activity"}
# ?page= links from before pages had paths, and their older names
LEGACY_PAGES = {**{key: key for key in PAGES}, "quality": "data-quality", "update": "add-data",
                "data_quality": "data-quality", "add_data": "add-data"}


def parse_date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def init_view_from_url(watchlists: dict[str, Path]) -> None:
    """On the first run of a session, take the view from the query string."""
    if st.session_state.get("_view_loaded"):
        return
    params = st.query_params
    if params.get("watchlist") in watchlists:
        st.session_state["watchlist"] = params["watchlist"]
    for key in ("as_of", "compare"):
        if parse_date(params.get(key)):
            st.session_state[key] = parse_date(params[key])
    if "compare" in st.session_state:  # a comparison date in a link is the user's choice
        st.session_state["_compare_pinned"] = True
    if params.get("later") == "1":
        st.session_state["show_later"] = True
    if params.get("indicator"):
        st.session_state["indicator"] = params["indicator"]
    if params.get("targets"):
        st.session_state["targets"] = params["targets"]
    if params.get("scenario"):
        st.session_state["target_scenario"] = params["scenario"]
    for key in map_page.MAP_URL_KEYS:  # checked by the Map page when it uses them
        if params.get(key):
            st.session_state[key] = params[key]
    st.session_state["_view_loaded"] = True


def write_view_to_url(view: dict) -> None:
    wanted = {key: str(value) for key, value in view.items() if value not in (None, "")}
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)


COMPARE_DAYS = 7


def follow_as_of() -> None:
    """The as-of date moved: the comparison date follows (as-of minus 7 days) unless the user set it,
    and never stays after the as-of date."""
    as_of, compare = st.session_state["as_of"], st.session_state["compare"]
    following = as_of - dt.timedelta(days=COMPARE_DAYS)
    if st.session_state.get("_compare_pinned"):
        if compare <= as_of:
            return  # the user's choice stays
        st.session_state["_date_message"] = (f"Compare with {compare.isoformat()} was after the new as-of date; "
                                             f"it moved to {following.isoformat()}.")
    st.session_state["compare"] = following
    st.session_state["_compare_pinned"] = False


def check_compare() -> None:
    """The user set the comparison date: keep it from now on, unless it lies after the as-of date."""
    as_of, compare = st.session_state["as_of"], st.session_state["compare"]
    if compare > as_of:
        st.session_state["_date_message"] = (f"Compare with {compare.isoformat()} is after the as-of date "
                                             f"{as_of.isoformat()}; pick a date on or before it.")
        st.session_state["compare"] = st.session_state.get("_compare_previous",
                                                           as_of - dt.timedelta(days=COMPARE_DAYS))
        return
    st.session_state["_compare_pinned"] = True


def show_marking(marking: str) -> None:
    if marking:
        st.html(marking_banner(marking))


def render_sign_in() -> None:
    st.markdown("### Watchfloor")
    st.write("Sign in to see the watchlists served here.")
    st.button("Sign in", key="sign_in", type="primary", on_click=st.login)


@dataclass
class View:
    """What every page renders from: filled in once per run, before the current page runs."""

    folder: Path | None = None
    loaded: object = None
    as_of: dt.date | None = None
    compare: dt.date | None = None
    show_later: bool = False
    visitor: object = None
    url: dict = field(default_factory=dict)  # extra query parameters a page keeps in the URL
    pages: dict = field(default_factory=dict)  # key -> st.Page, for a page that opens another


def render_page(key: str, view: View) -> None:
    """Run one page with the view of this run."""
    folder, loaded, as_of = view.folder, view.loaded, view.as_of
    if key == "overview":
        pages.render_overview(folder, loaded, as_of, view.compare)
    elif key == "scenarios":
        pages.render_scenarios(folder, loaded, as_of)
    elif key == "timelines":
        pages.render_timelines(folder, loaded, as_of, view.show_later)
    elif key == "indicator":
        view.url["indicator"] = detail.render_indicator_detail(folder, loaded, as_of, view.show_later, view.visitor)
    elif key == "map":
        view.url.update(map_page.render_map(folder, loaded, as_of, view.show_later, view.pages))
    elif key == "events":
        pages.render_events(loaded, as_of, view.show_later)
    elif key == "backtest":
        pages.render_backtest(folder, loaded, as_of)
    elif key == "alerts":
        view.url.update(alerts_page.render_alerts(folder, loaded, as_of, view.visitor))
    elif key == "add-data":
        pages.render_update(folder, loaded, view.visitor)
    elif key == "activity":
        pages.render_activity(folder)
    else:
        pages.render_data_quality(loaded)


def open_home(known: dict) -> None:
    """The hidden page at /overview: the Overview, at the root, with the same query string."""
    st.switch_page(known["overview"], query_params=st.query_params.to_dict())


def navigation(view: View):
    """The pages, each at its own path, in the sidebar; an old ?page= link opens its page, and a page
    name that does not exist says so (on the home page)."""
    # the Overview is the home page, at the root (its path name is only reserved); a link to /overview,
    # as every other page is at its name, opens it there with the link's date and watchlist
    known = {key: st.Page(functools.partial(render_page, key, view), title=title,
                          url_path="home" if key == "overview" else key, default=key == "overview")
             for key, title in PAGES.items()}
    home_link = st.Page(functools.partial(open_home, known), title=PAGES["overview"], url_path="overview",
                        visibility="hidden")
    current = st.navigation([*known.values(), home_link], position="sidebar")
    view.pages.update(known)
    legacy = st.query_params.get("page")
    if legacy:
        others = {name: value for name, value in st.query_params.to_dict().items() if name != "page"}
        target = LEGACY_PAGES.get(legacy)
        if target is None:
            st.session_state["_page_message"] = (f'There is no page "{legacy}"; the pages are: '
                                                 + ", ".join(PAGES) + ". This is the Overview.")
            st.query_params.from_dict(others)
        elif known[target] is not current:
            st.switch_page(known[target], query_params=others)
        else:
            st.query_params.from_dict(others)
    return current


def main() -> None:
    st.set_page_config(page_title="Watchfloor", layout="wide", initial_sidebar_state="expanded")
    st.html(CSS + HIDE_CHROME_CSS)
    sign_in = auth.sign_in_settings()
    if sign_in.problem is not None:  # asked for but not working: fail closed, never "no sign-in"
        auth.report_broken_sign_in(sign_in.problem)
        st.error(auth.SIGN_IN_BROKEN)
        return
    if sign_in.required and not st.user.is_logged_in:
        render_sign_in()  # nothing of the data before sign-in, not even the watchlists' names
        return
    if sign_in.required and (reason := auth.refusal(sign_in)) is not None:
        st.session_state[auth.VISITOR_KEY] = auth.Visitor(st.user.get("email"), None, True, reason)
        st.markdown("### Watchfloor")
        st.error(plain(reason))  # nothing of the data, not even the watchlists' names
        st.button("Sign out", key="sign_out", on_click=st.logout)
        return
    root = data.data_root()
    watchlists = data.find_watchlists(root)
    if not watchlists:
        st.error(plain(f"No watchlist found in {root}. A watchlist folder holds watchlist.yaml and "
                       "observations.csv; create one with: watchfloor init DIR --title T"))
        return
    view = View()
    current = navigation(view)
    init_view_from_url(watchlists)
    with st.sidebar:
        name = st.selectbox("Watchlist", list(watchlists), key="watchlist") if len(watchlists) > 1 \
            else next(iter(watchlists))
    folder = watchlists[name]
    loaded = data.load(folder)
    visitor = auth.identify(loaded.watchlist.access if loaded.watchlist else Access(), folder, sign_in)
    if visitor.signed_in:
        with st.sidebar:
            st.caption(plain(f"Signed in as {visitor.email} ({visitor.role or 'no access'})"))
            st.button("Sign out", key="sign_out", on_click=st.logout)
    if visitor.role is None:
        st.error(plain(f"{visitor.email} has no access to this watchlist; ask an editor to add you under "
                       "access.viewers in watchlist.yaml."))
        return
    if loaded.watchlist is None:
        st.error(plain(f"{folder}/watchlist.yaml cannot be used, so there is nothing to show. Fix the problems below."))
        pages.render_problem_table(loaded)
        write_view_to_url({"watchlist": name if len(watchlists) > 1 else None})
        return
    default_as_of = loaded.default_as_of()
    st.session_state.setdefault("as_of", default_as_of)
    st.session_state.setdefault("compare", st.session_state["as_of"] - dt.timedelta(days=COMPARE_DAYS))
    refused = st.session_state["compare"] > st.session_state["as_of"]
    if refused:  # from a link: refuse it, say so, and compare with the week before
        st.session_state["_date_message"] = (f"Compare with {st.session_state['compare'].isoformat()} is after the "
                                             f"as-of date {st.session_state['as_of'].isoformat()}; comparing with "
                                             "the week before instead.")
        st.session_state["compare"] = st.session_state["as_of"] - dt.timedelta(days=COMPARE_DAYS)
        st.session_state["_compare_pinned"] = False
    with st.sidebar:
        as_of = st.date_input("As of", key="as_of", format="YYYY-MM-DD", on_change=follow_as_of)
        st.session_state["_compare_previous"] = st.session_state["compare"]
        compare = st.date_input("Compare with", key="compare", format="YYYY-MM-DD", on_change=check_compare,
                                help="Follows the as-of date (7 days before it) until you set it.")
        show_later = st.toggle("Show what came later", key="show_later",
                               help="Rows and events dated or reported after the as-of date: hidden by default, "
                                    "so that every page shows the world as it was known on that date.")
        st.caption(plain(f"Folder: {folder}"))
    page_message = st.session_state.pop("_page_message", None)
    if page_message:  # names what the link asked for: text from the URL, shown as text
        st.error(plain(page_message))
    date_message = st.session_state.pop("_date_message", None)
    if date_message:
        st.error(date_message)
    marking = loaded.watchlist.marking
    show_marking(marking)
    if auth.anonymous_exposure():
        st.warning("No sign-in: anyone who can reach this address can read and write.", icon="⚠️")
    subtitle = " · ".join(part for part in (loaded.watchlist.theatre, f"as of {as_of.isoformat()}") if part)
    st.html(f'<div class="wf-title">{escape(loaded.watchlist.title)}</div>'
            f'<div class="wf-muted">{escape(subtitle)}</div>')
    forms.show_last_write()
    forms.clear_submitted_form()
    if loaded.problems:
        st.warning(f"{len(loaded.problems)} problem(s) in this watchlist's files: rows with problems are left out. "
                   "See the Data quality page.", icon="⚠️")
    view.folder, view.loaded, view.as_of, view.compare = folder, loaded, as_of, compare
    view.show_later, view.visitor = show_later, visitor
    current.run()
    show_marking(marking)
    write_view_to_url({"watchlist": name if len(watchlists) > 1 else None, "as_of": as_of.isoformat(),
                       "compare": compare.isoformat() if st.session_state.get("_compare_pinned") else None,
                       "later": "1" if show_later else None, "targets": st.session_state.get("targets") or None,
                       "scenario": st.session_state.get("target_scenario") or None, **view.url})


main()
