"""The ``watchfloor`` command: a thin shell over the library.

It only parses arguments, calls ``indicators`` and turns its results and exceptions into text and
exit codes: 0 fine, 1 problems in the data, 2 usage errors. It never imports streamlit or plotly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import json
import re
import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Watchfloor: escalation indicators from dated, sourced observations.")

EXIT_PROBLEMS = 1
EXIT_USAGE = 2


@app.callback()
def options(context: typer.Context,
            no_cache: bool = typer.Option(False, "--no-cache", help="Read every file afresh: neither use nor fill "
                                          "the derived cache (see: watchfloor cache --info).")) -> None:
    """Watchfloor: escalation indicators from dated, sourced observations."""
    context.call_on_close(_settle_cache)
    if no_cache:
        import os

        from .store.cache import NO_CACHE_VARIABLE

        os.environ[NO_CACHE_VARIABLE] = "1"  # for this process and the dashboard server it starts


def _settle_cache() -> None:
    """A command is done when the cache entries it started writing are written (see store/cache.py)."""
    cache = sys.modules.get(f"{__package__}.store.cache")  # not imported: nothing to wait for
    if cache is not None:
        cache.settle()


def command_name() -> str:
    """How the user runs this command (``scripts/watchfloor`` in a checkout), for the hints we print."""
    import os

    return os.environ.get("WATCHFLOOR_COMMAND") or "watchfloor"


# Characters a terminal acts on instead of showing: C0 controls (but line feed and tab), DEL, C1
# controls, and the bidirectional overrides that reorder what follows. A cell holding ESC [2J must
# not clear the analyst's screen, nor a right-to-left override disguise a file name.
_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escaped(character: str) -> str:
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every terminal control character shown as an escape (``\\x1b``, ``\\u202e``)."""
    return _TERMINAL_CONTROLS.sub(lambda match: _escaped(match.group()), text)


def json_terminal_safe(text: str) -> str:
    """JSON text (``json.dumps`` escapes C0 controls already) with C1 controls and bidirectional
    overrides written as ``\\u`` escapes too: the same JSON, safe on a terminal."""
    return _TERMINAL_CONTROLS.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def echo(text: str, err: bool = False, nl: bool = True) -> None:
    """Print ``text`` with terminal control characters from data shown as escapes, never acted on."""
    stripped = text.lstrip()
    safe = json_terminal_safe(text) if stripped.startswith(("{", "[")) else terminal_safe(text)
    typer.echo(safe, err=err, nl=nl)


def fail_usage(message: str) -> None:
    echo(f"Error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


def parse_date_option(text: Optional[str], option: str) -> Optional[dt.date]:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail_usage(f'{option} "{text}" is not a date; use YYYY-MM-DD, e.g. 2022-10-17')


def read_ahead(folder: Path) -> None:
    """Start reading the watchlist's rows files on threads while the command goes on to import the
    rest of the library; the loader takes the reads up (see store/readahead.py). Call it once the
    command's options are known to be good, before its heavy imports."""
    from .store.readahead import read_ahead as start_reading

    start_reading(folder)


def load_or_fail(folder: Path):
    from .store.loader import NotAWatchlist, load_watchlist

    try:
        return load_watchlist(folder)
    except NotAWatchlist as error:
        fail_usage(str(error))


def loaded_watchlist_or_fail(folder: Path):
    """The loaded watchlist; exits 1 with the problems when watchlist.yaml cannot be used."""
    loaded = load_or_fail(folder)
    if loaded.watchlist is None:
        for problem in loaded.problems:
            echo(problem.format(f"{folder}/"), err=True)
        echo(f"{folder}: watchlist.yaml cannot be used; see: {command_name()} validate {folder}", err=True)
        raise typer.Exit(EXIT_PROBLEMS)
    return loaded


@app.command()
def validate(folder: Path = typer.Argument(..., help="Watchlist folder."),
             as_json: bool = typer.Option(False, "--json", help="Print the problems as JSON.")) -> None:
    """Check a watchlist; print every problem as PATH:LINE: field: message."""
    read_ahead(folder)
    from .engine.report import problems_summary

    loaded = load_or_fail(folder)
    if as_json:
        echo(json.dumps({"valid": not loaded.problems, "folder": str(folder),
                               "observations": loaded.total_observation_rows, "events": loaded.total_event_rows,
                               "judgments": loaded.total_judgment_rows,
                               "problems": [problem.as_dict() for problem in loaded.problems]},
                              indent=2, ensure_ascii=False))
    else:
        prefix = f"{folder}/"
        for problem in loaded.problems:
            echo(problem.format(prefix))
        left_out = loaded.total_observation_rows - loaded.csv_observations_used
        for summary in loaded.feeds.values():
            echo(f"{folder}: {summary.describe()}"
                 + (f", {summary.left_out} matching row{'' if summary.left_out == 1 else 's'} left out"
                    if summary.left_out else ""))
        echo(f"{folder}: {problems_summary(loaded.problems)}; "
                   f"{loaded.csv_observations_used} of {loaded.total_observation_rows} observations"
                   + (f", {len(loaded.judgments)} of {loaded.total_judgment_rows} judgments"
                      if loaded.total_judgment_rows else "")
                   + f" and {len(loaded.events)} of {loaded.total_event_rows} events valid"
                   + (f" ({left_out} observation{'' if left_out == 1 else 's'} left out of evaluation)" if left_out else ""))
    raise typer.Exit(EXIT_PROBLEMS if loaded.problems else 0)


@app.command()
def status(folder: Path = typer.Argument(..., help="Watchlist folder."),
           as_of: Optional[str] = typer.Option(None, "--as-of", help="Date to evaluate, YYYY-MM-DD "
                                               "(default: the watchlist's as_of, else today)."),
           as_json: bool = typer.Option(False, "--json", help="Print the status as JSON.")) -> None:
    """Print where every indicator stands as of a date, and the overall level.

    Run again on unchanged files, it prints the answer it remembered (see store/answers.py)."""
    from .store import answers

    date = parse_date_option(as_of, "--as-of")
    question, answer = answers.ask(folder, "status", {"as_of": as_of, "json": as_json})
    if answer is None:
        answer = _status_answer(folder, date, as_json)
        answers.remember(question, answer)
    echo(answer.output)
    if answer.errors:
        echo(answer.errors, err=True)
    raise typer.Exit(answer.exit_code)


def _status_answer(folder: Path, date: Optional[dt.date], as_json: bool):
    read_ahead(folder)
    from .engine.report import problems_summary, status_report, status_table
    from .engine.rules import evaluate_watchlist
    from .store.answers import Answer

    loaded = loaded_watchlist_or_fail(folder)
    date = date or loaded.default_as_of()
    statuses, overall = evaluate_watchlist(loaded.watchlist, loaded.observations, date)
    if as_json:
        output = json.dumps(status_report(loaded.title, date, overall, statuses), indent=2, ensure_ascii=False)
    else:
        output = status_table(loaded.title, date, overall, statuses)
    errors = ""
    if loaded.problems:
        errors = (f"{folder}: {problems_summary(loaded.problems)}; the status uses the valid rows only "
                  f"(see: {command_name()} validate {folder})")
    return Answer(output, errors, 0)


@app.command()
def feed(folder: Path = typer.Argument(..., help="Watchlist folder."),
         indicator: Optional[str] = typer.Option(None, "--indicator", help="Only this indicator (its id)."),
         weekly: bool = typer.Option(False, "--weekly", help="Matching events per week, with examples."),
         as_of: Optional[str] = typer.Option(None, "--as-of", help="As known on this date, YYYY-MM-DD "
                                             "(default: the watchlist's as_of, else today)."),
         engine: Optional[str] = typer.Option(None, "--engine", help="Run the feeds on duckdb or spark, whatever "
                                              "watchlist.yaml says (to compare engines).")) -> None:
    """Show what each feed indicator's where matches: events, dates, examples; tune a where with it."""
    from .feeds.query import weekly_matches
    from .store.loader import load_watchlist

    date = parse_date_option(as_of, "--as-of")
    if engine not in (None, "duckdb", "spark"):
        fail_usage(f'--engine "{engine}" is not an engine; use duckdb or spark')
    loaded = load_or_fail(folder) if engine is None else load_watchlist(folder, feed_engine=engine)
    if loaded.watchlist is None:
        loaded_watchlist_or_fail(folder)
    date = date or loaded.default_as_of()
    fed = [i for i in loaded.watchlist.indicators if i.feed is not None]
    if indicator is not None:
        if indicator not in {i.id for i in loaded.watchlist.indicators}:
            fail_usage(f'--indicator "{indicator}" is not an indicator of {folder}; ids: '
                       + ", ".join(i.id for i in loaded.watchlist.indicators))
        fed = [i for i in fed if i.id == indicator]
        if not fed:
            fail_usage(f"{indicator} takes its rows from observations.csv, not from a feed")
    if not fed:
        echo(f"{folder}: no indicator takes its rows from a feed (add feeds: and an indicator's feed:)")
        raise typer.Exit(0)
    for summary in loaded.feeds.values():
        echo(summary.describe())
    for item in fed:
        rows = weekly_matches(loaded.observations, item.id, date)
        conditions = "; ".join(f"{column} {_condition_text(condition)}" for column, condition in item.feed.conditions())
        echo("")
        echo(f"{item.id} ({item.name}) from feed {item.feed.name}: {conditions or 'every row'}")
        total = int(rows["events"].sum()) if len(rows) else 0
        if not total:
            echo(f"  no matching events known on {date.isoformat()}")
            continue
        echo(f"  {total} matching event{'s' if total != 1 else ''} known on {date.isoformat()}, "
             f"dated {rows['examples'].iloc[0][0][0].isoformat()} to {rows['examples'].iloc[-1][-1][0].isoformat()}")
        if weekly:
            for week, events, examples in rows.itertuples(index=False):
                echo(f"  week of {week.isoformat()}: {events:>5}  " + "; ".join(
                    f"{day.isoformat()} {event_id or '-'}: {_shorten(note)}" for day, event_id, note in examples))
        else:
            newest = [example for examples in rows["examples"] for example in examples][-5:]
            for day, event_id, note in reversed(newest):
                echo(f"  {day.isoformat()}  {event_id or '-'}  {_shorten(note)}")
    problems = [p for p in loaded.problems if p.code.startswith("feed") or p.field.startswith("feeds.")]
    for problem in problems:
        echo(problem.format(f"{folder}/"), err=True)
    raise typer.Exit(EXIT_PROBLEMS if problems else 0)


def _condition_text(condition) -> str:
    from .format.models import Between, Contains

    if isinstance(condition, Contains):
        return "contains " + " or ".join(f'"{text}"' for text in condition.contains)
    if isinstance(condition, Between):
        ends = [f">= {condition.at_least:g}"] if condition.at_least is not None else []
        ends += [f"<= {condition.at_most:g}"] if condition.at_most is not None else []
        return " and ".join(ends)
    if isinstance(condition, list):
        return "in " + ", ".join(condition)
    return f"= {condition}"


def _shorten(text: str, width: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 3] + "..."


@app.command()
def init(folder: Path = typer.Argument(..., help="New watchlist folder."),
         title: str = typer.Option(..., "--title", help="The watchlist's title.")) -> None:
    """Create a new watchlist: a commented watchlist.yaml and header-only CSVs."""
    from .store.skeleton import FolderNotEmpty, create_watchlist

    try:
        written = create_watchlist(folder, title)
    except FolderNotEmpty as error:
        fail_usage(str(error))
    except OSError as error:
        fail_usage(f"cannot create {folder}: {error.strerror}")
    for path in written:
        echo(f"created {path}")
    echo(f"next: edit {folder}/watchlist.yaml, then run: {command_name()} validate {folder}")


def write_or_fail(write, folder: Path) -> None:
    from .store.writing import RowRejected, WriteRefused

    if not folder.is_dir():
        fail_usage(f"{folder} is not a folder; give the path of a watchlist folder")
    try:
        line = write()
    except RowRejected as error:
        for problem in error.problems:
            echo(f"Error: {problem.field}: {problem.message}", err=True)
        echo("Nothing was written.", err=True)
        raise typer.Exit(EXIT_PROBLEMS)
    except WriteRefused as error:
        echo(f"Error: {error}", err=True)
        raise typer.Exit(EXIT_PROBLEMS)
    except TimeoutError:
        echo(f"Error: another program is writing to {folder}; nothing was written, try again", err=True)
        raise typer.Exit(EXIT_PROBLEMS)
    except OSError as error:
        echo(f"Error: {system_error_sentence(error)}; nothing was written (the file is as it was)", err=True)
        raise typer.Exit(EXIT_PROBLEMS)
    echo(f"added: {line.rstrip()}")


PLACE_HELP = "Where it happened: a name from places.csv or the gazetteer (needs a place column in the file)."
LAT_HELP = "Latitude, WGS84 decimal degrees (needs a lat column; give --lon too)."
LON_HELP = "Longitude, WGS84 decimal degrees (needs a lon column; give --lat too)."


@app.command()
def add(folder: Path = typer.Argument(..., help="Watchlist folder."),
        indicator: str = typer.Option(..., "--indicator", help="Indicator id."),
        date: str = typer.Option(..., "--date", help="Date the value applies to, YYYY-MM-DD."),
        value: str = typer.Option("", "--value", help="The value (may be empty for count indicators)."),
        source: str = typer.Option("", "--source"), url: str = typer.Option("", "--url"),
        reliability: str = typer.Option("", "--reliability", help="Admiralty grade A-F."),
        credibility: str = typer.Option("", "--credibility", help="Admiralty grade 1-6."),
        status: str = typer.Option("", "--status", help="reported, confirmed, disputed or retracted."),
        reported: str = typer.Option("", "--reported", help="When the report became available, YYYY-MM-DD."),
        note: str = typer.Option("", "--note"),
        place: str = typer.Option("", "--place", help=PLACE_HELP), lat: str = typer.Option("", "--lat", help=LAT_HELP),
        lon: str = typer.Option("", "--lon", help=LON_HELP),
        by: Optional[str] = typer.Option(None, "--by", help="Who enters the row, for entered_by (default: git's "
                                         "user.email).")) -> None:
    """Append one observation to observations.csv (checked first; nothing written when bad)."""
    from .store.writing import append_observation

    values = {"date": date, "indicator": indicator, "value": value, "source": source, "url": url,
              "reliability": reliability, "credibility": credibility, "status": status, "reported": reported,
              "note": note, "place": place, "lat": lat, "lon": lon}
    who = entered_by(folder, by)
    write_or_fail(lambda: append_observation(folder, values, entered_by=who), folder)


@app.command("add-event")
def add_event(folder: Path = typer.Argument(..., help="Watchlist folder."),
              date: str = typer.Option(..., "--date", help="Day of the event, YYYY-MM-DD."),
              title: str = typer.Option(..., "--title"), category: str = typer.Option("", "--category"),
              description: str = typer.Option("", "--description"), source: str = typer.Option("", "--source"),
              url: str = typer.Option("", "--url"),
              end_date: str = typer.Option("", "--end-date", help="Last day, for events that last."),
              place: str = typer.Option("", "--place", help=PLACE_HELP),
              lat: str = typer.Option("", "--lat", help=LAT_HELP), lon: str = typer.Option("", "--lon", help=LON_HELP),
              by: Optional[str] = typer.Option(None, "--by", help="Who enters the row, for entered_by (default: "
                                               "git's user.email).")) -> None:
    """Append one event to events.csv (created when missing)."""
    from .store.writing import append_event

    values = {"date": date, "title": title, "category": category, "description": description, "source": source,
              "url": url, "end_date": end_date, "place": place, "lat": lat, "lon": lon}
    who = entered_by(folder, by)
    write_or_fail(lambda: append_event(folder, values, entered_by=who), folder)


@app.command()
def judge(folder: Path = typer.Argument(..., help="Watchlist folder."),
          scenario: str = typer.Option(..., "--scenario", help="Scenario id."),
          likelihood: str = typer.Option(..., "--likelihood", help='One of the seven ICD 203 terms, e.g. "very likely" '
                                         "(see docs/scenarios-and-judgments.md)."),
          confidence: str = typer.Option("", "--confidence", help="low, moderate or high."),
          rationale: str = typer.Option("", "--rationale", help="Why: the words of the judgment, the evidence."),
          source: str = typer.Option("", "--source"), url: str = typer.Option("", "--url"),
          analyst: str = typer.Option("", "--analyst", help="Who made the judgment (a person or a body)."),
          date: Optional[str] = typer.Option(None, "--date", help="Day the judgment was made, YYYY-MM-DD "
                                             "(default: today)."),
          reported: str = typer.Option("", "--reported", help="Day it became known, if later, YYYY-MM-DD."),
          by: Optional[str] = typer.Option(None, "--by", help="Who enters the row, for entered_by (default: git's "
                                           "user.email).")) -> None:
    """Record an estimative judgment: how likely a scenario is, in ICD 203 words (checked first)."""
    from .store.writing import append_judgment

    values = {"date": date or dt.date.today().isoformat(), "scenario": scenario, "likelihood": likelihood,
              "confidence": confidence, "rationale": rationale, "source": source, "url": url, "analyst": analyst,
              "reported": reported}
    who = entered_by(folder, by)
    write_or_fail(lambda: append_judgment(folder, values, entered_by=who), folder)


@app.command()
def score(folder: Path = typer.Argument(..., help="Watchlist folder."),
          horizon: int = typer.Option(90, "--horizon", min=1, max=3660, help="A judgment made on day j is read as "
                                      '"happens within (j, j + horizon]".'),
          as_of: Optional[str] = typer.Option(None, "--as-of", help="Score as known on this day (default: the "
                                              "watchlist's as_of, else today)."),
          as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Score the estimative judgments against what happened: Brier, reference, skill, reliability."""
    from .engine.judging import score_judgments
    from .engine.report import problems_summary, scores_table

    date = parse_date_option(as_of, "--as-of")
    loaded = loaded_watchlist_or_fail(folder)
    date = date or loaded.default_as_of()
    if not loaded.watchlist.scenarios:
        fail_usage(f"{folder} declares no scenarios; judgments are about scenarios (see "
                   "docs/scenarios-and-judgments.md)")
    result = score_judgments(loaded.judgments, loaded.watchlist, date, horizon)
    echo(json.dumps(result.as_dict(), indent=2) if as_json else scores_table(loaded.watchlist, result))
    if loaded.problems:
        echo(f"{folder}: {problems_summary(loaded.problems)}; the scores use the valid rows only "
             f"(see: {command_name()} validate {folder})", err=True)


@app.command()
def upgrade(folder: Path = typer.Argument(..., help="Watchlist folder.")) -> None:
    """Add the entered_by and entered_at columns to observations.csv, events.csv and judgments.csv (once)."""
    from .format.folder import (EVENT_COLUMNS, EVENTS_FILE, JUDGMENT_COLUMNS, JUDGMENTS_FILE, OBSERVATION_COLUMNS,
                                OBSERVATIONS_FILE)
    from .store.writing import upgrade_file

    if not folder.is_dir():
        fail_usage(f"{folder} is not a folder; give the path of a watchlist folder")
    for name, columns in ((OBSERVATIONS_FILE, OBSERVATION_COLUMNS), (EVENTS_FILE, EVENT_COLUMNS),
                          (JUDGMENTS_FILE, JUDGMENT_COLUMNS)):
        if upgrade_file(folder / name, columns):
            echo(f"{folder / name}: added the columns entered_by, entered_at (the previous file is in .history/)")
        elif (folder / name).exists():
            echo(f"{folder / name}: already has entered_by and entered_at")


def entered_by(folder: Path, given: Optional[str]) -> str:
    """Who enters a row from the command line: --by, else git's user.email where the folder is."""
    from .store.activity import git_user_email

    return given if given is not None else git_user_email(folder)


def parse_level_option(text: str):
    from .format.models import RAISED_LEVELS, Level

    if text not in RAISED_LEVELS:
        fail_usage(f'--level "{text}": use elevated, high or critical')
    return Level(text)


@app.command()
def history(folder: Path = typer.Argument(..., help="Watchlist folder."),
            start: Optional[str] = typer.Option(None, "--from", help="First day, YYYY-MM-DD (default: the first "
                                                "observation's date)."),
            end: Optional[str] = typer.Option(None, "--to", help="Last day (default: the watchlist's as_of, "
                                              "else today)."),
            as_csv: bool = typer.Option(False, "--csv", help="Print CSV instead of JSON.")) -> None:
    """The overall level, index and every indicator's level for every day, as known that day."""
    from .engine.backtest import history_csv, history_records, level_history, period_problem

    first, last = parse_date_option(start, "--from"), parse_date_option(end, "--to")
    if first and last and first <= last and (problem := period_problem(first, last, "the history")):
        fail_usage(problem)  # before anything is read
    loaded = loaded_watchlist_or_fail(folder)
    last = last or loaded.default_as_of()
    first = first or loaded.first_observation_date(last)
    if first > last:
        fail_usage(f"--from {first.isoformat()} is after --to {last.isoformat()}")
    if problem := period_problem(first, last, "the history"):
        fail_usage(problem)
    frame = level_history(loaded.watchlist, loaded.observations, first, last)
    ids = [indicator.id for indicator in loaded.watchlist.indicators]
    scenario_ids = [scenario.id for scenario in loaded.watchlist.scenarios]
    echo(history_csv(frame, ids, scenario_ids) if as_csv else
         json.dumps(history_records(frame, ids, scenario_ids), ensure_ascii=False), nl=not as_csv)


@app.command()
def backtest(folder: Path = typer.Argument(..., help="Watchlist folder."),
             targets: list[str] = typer.Option([], "--target", help="Date of a known event, YYYY-MM-DD "
                                               "(repeat for several; default with --scenario: its happened date)."),
             scenario: Optional[str] = typer.Option(None, "--scenario", help="Judge by this scenario's level (its "
                                                    "id) instead of the overall level."),
             level: str = typer.Option("high", "--level", help="Warning level: elevated, high or critical."),
             start: Optional[str] = typer.Option(None, "--from", help="First day (default: the first "
                                                 "observation's date)."),
             end: Optional[str] = typer.Option(None, "--to", help="Last day (default: the latest target plus "
                                               "--after-window)."),
             lead_window: int = typer.Option(90, "--lead-window", min=0, help="Days before a target in which a "
                                             "warning is not a false alarm."),
             after_window: int = typer.Option(30, "--after-window", min=0, help="Days after a target in which a "
                                              "warning is not a false alarm."),
             robustness: bool = typer.Option(False, "--robustness", help="Leave out each row of the lead window "
                                             "in turn: which rows the warning rests on."),
             as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """How early the watchlist (or a scenario) warned before known events, its false alarms, and
    which rows the warning rests on."""
    from .engine.backtest import backtest as run_backtest
    from .engine.backtest import level_history, period_problem
    from .engine.report import backtest_table

    wanted = parse_level_option(level)
    dates = [parse_date_option(text, "--target") for text in targets]
    first, last = parse_date_option(start, "--from"), parse_date_option(end, "--to")
    if dates and (problem := period_problem(min(dates), max(dates), "the period of the --target dates",
                                            "backtest targets that far apart in separate runs")):
        fail_usage(problem)
    loaded = loaded_watchlist_or_fail(folder)
    watchlist = loaded.watchlist
    if scenario is not None:
        if scenario not in {item.id for item in watchlist.scenarios}:
            fail_usage(f'--scenario "{scenario}" is not a scenario of {folder}; '
                       + (f"ids: {', '.join(item.id for item in watchlist.scenarios)}" if watchlist.scenarios
                          else "it has none (see docs/scenarios-and-judgments.md)"))
        happened = watchlist.scenario(scenario).happened
        if not dates:
            if happened is None:
                fail_usage(f"scenario {scenario} has no happened date; give the date to test with --target D")
            dates = [happened]
    if not dates:
        fail_usage("give the date of a known event with --target D (or --scenario ID of a scenario that happened)")
    last = last or max(dates) + dt.timedelta(days=after_window)
    first = first or loaded.first_observation_date(min(dates))
    if first > last:
        fail_usage(f"--from {first.isoformat()} is after --to {last.isoformat()}")
    # the history also covers every target's eve, inside the period or not
    span_start = min([first] + [date - dt.timedelta(days=1) for date in dates])
    span_end = max([last] + [date - dt.timedelta(days=1) for date in dates])
    if problem := period_problem(span_start, span_end, "the backtest (with every target's eve)"):
        fail_usage(problem)
    frame = level_history(watchlist, loaded.observations, span_start, span_end)
    ids = [indicator.id for indicator in watchlist.indicators]
    result = run_backtest(frame, ids, dates, wanted, first, last, lead_window, after_window, scenario)
    if robustness:
        from .engine.robustness import TooManyRows, leave_one_out

        try:
            weights = leave_one_out(watchlist, loaded.observations, dates, wanted, span_start, lead_window, scenario)
        except TooManyRows as error:
            fail_usage(str(error))
        result = dataclasses.replace(result, targets=[dataclasses.replace(target, robustness=weights[target.date])
                                                      for target in result.targets])
    echo(json.dumps(result.as_dict(), indent=2) if as_json else backtest_table(watchlist, result))


@app.command()
def watch(folder: Path = typer.Argument(..., help="Watchlist folder."),
          every: str = typer.Option("10m", "--every", help="Evaluate at least this often (30s, 10m, 1h), and "
                                    "whenever a file changes."),
          once: bool = typer.Option(False, "--once", help="One evaluation and delivery round, then exit (cron)."),
          notify: list[str] = typer.Option([], "--notify", help="An Apprise URL to send to, besides the "
                                           "watchlist's alerts.notify (repeat for several)."),
          url_base: str = typer.Option("http://localhost:8501", "--url-base", help="The dashboard's address, "
                                       "for the links in each message."),
          as_of: Optional[str] = typer.Option(None, "--as-of", help="Evaluate as of this day instead of today "
                                              "(to replay a period, one day per run)."),
          send_timeout: float = typer.Option(30, "--send-timeout", min=1, max=3600, help="Give up a send after "
                                             "this many seconds in all (it stays pending).")) -> None:
    """Tell the watch officer when a level changes: record each alert, then send it through Apprise."""
    from .service.watching import WatchError, parse_every, watch as run_watch

    day = parse_date_option(as_of, "--as-of")
    if not folder.is_dir():
        fail_usage(f"{folder} is not a folder; give the path of a watchlist folder")
    try:
        seconds = parse_every(every)
        if day is not None and not once:
            fail_usage("--as-of replays one day: use it with --once")
        result = run_watch(folder, seconds, once, url_base, notify, day, lambda text: echo(text),
                           send_seconds=send_timeout)
    except WatchError as error:
        fail_usage(str(error))
    except KeyboardInterrupt:
        raise typer.Exit(0)
    if result is not None and (result.pending or result.held):
        raise typer.Exit(EXIT_PROBLEMS)  # --once: a message is still pending, or a feed unread (cron mails this)


def acting_person(folder: Path, given: Optional[str]) -> str:
    """Who acknowledges or silences: --by, else git's user.email, else the login name."""
    import getpass

    return entered_by(folder, given) or getpass.getuser()


def act_or_fail(action):
    """Run an acknowledgement or a silence; a refusal exits 1 (2 for an id the record lacks)."""
    from .service.alertactions import AlertActionRefused, UnknownInRecord

    try:
        return action()
    except UnknownInRecord as error:
        fail_usage(str(error))
    except AlertActionRefused as error:
        echo(f"Error: {error}; nothing was recorded", err=True)
        raise typer.Exit(EXIT_PROBLEMS)
    except TimeoutError:
        echo("Error: another program is writing the alert record; nothing was recorded, try again", err=True)
        raise typer.Exit(EXIT_PROBLEMS)


@app.command()
def alerts(folder: Path = typer.Argument(..., help="Watchlist folder."),
           since: Optional[str] = typer.Option(None, "--since", help="Only alerts as of this day or later."),
           ack: Optional[str] = typer.Option(None, "--ack", help="Acknowledge this alert (its id): you saw it; it "
                                             "is no longer reminded."),
           comment: Optional[str] = typer.Option(None, "--comment", help="With --ack: what you saw or are doing."),
           by: Optional[str] = typer.Option(None, "--by", help="With --ack: who acknowledges (default: git's "
                                            "user.email, else the login name)."),
           as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The alerts recorded by watch, with the state and delivery of each; --ack acknowledges one."""
    from .engine.report import alerts_table
    from .service.alertstates import read_history

    first = parse_date_option(since, "--since")
    if not folder.is_dir():
        fail_usage(f"{folder} is not a folder; give the path of a watchlist folder")
    if ack is not None:
        from .service.alertactions import acknowledge

        if comment is None:
            fail_usage('--ack needs --comment "..." (what you saw, or what you are doing about it)')
        act_or_fail(lambda: acknowledge(folder, ack, acting_person(folder, by), comment))
        alert = read_history(folder).find(ack)
        echo(f"alert {ack} acknowledged by {alert.acknowledged['by']}: {alert.summary()}; it is no longer reminded")
        return
    if comment is not None or by is not None:
        fail_usage("--comment and --by go with --ack ID")
    history = read_history(folder)
    for problem in history.problems:
        echo(f"warning: {problem}", err=True)
    entries = [history.alert_as_dict(alert) for alert in history.alerts.values()
               if first is None or alert.as_of >= first]
    if as_json:
        echo(json.dumps(entries, indent=2, ensure_ascii=False))
        return
    loose = [message.as_dict() for message in history.messages_without_alert()
             if first is None or message.record["as_of"] >= first.isoformat()]
    now = dt.datetime.now(dt.timezone.utc)
    names = _subject_names(folder)
    echo(alerts_table(entries, loose, [silence.as_dict(names, now) for silence in history.silences.values()]))


def _subject_names(folder: Path) -> dict[str, str]:
    """Subject -> name ("indicator:troops" -> "Troops") from watchlist.yaml alone; empty when it cannot be read."""
    from .format.definitions import load_definitions

    try:
        watchlist = load_definitions(folder).watchlist
    except Exception:  # noqa: BLE001 - names are a courtesy: the ids still say what is meant
        return {}
    if watchlist is None:
        return {}
    return {**{f"indicator:{item.id}": item.name for item in watchlist.indicators},
            **{f"scenario:{item.id}": item.name for item in watchlist.scenarios}}


@app.command()
def silence(folder: Path = typer.Argument(..., help="Watchlist folder."),
            indicator: Optional[str] = typer.Option(None, "--indicator", help="Silence this indicator's alerts (its id)."),
            scenario: Optional[str] = typer.Option(None, "--scenario", help="Silence this scenario's alerts (its id)."),
            overall: bool = typer.Option(False, "--overall", help="Silence the overall level's alerts."),
            until: Optional[str] = typer.Option(None, "--until", help="Last day of the silence, YYYY-MM-DD (it ends "
                                                "when that day is over)."),
            comment: Optional[str] = typer.Option(None, "--comment", help="Why (a known noisy feed, a planned exercise)."),
            by: Optional[str] = typer.Option(None, "--by", help="Who silences (default: git's user.email, else the "
                                             "login name)."),
            list_them: bool = typer.Option(False, "--list", help="List the silences, active first."),
            expire: Optional[str] = typer.Option(None, "--expire", help="End this silence now (its id)."),
            as_json: bool = typer.Option(False, "--json", help="With --list: print JSON.")) -> None:
    """Mute an indicator, a scenario or the overall level until a day: alerts are recorded, not sent."""
    from .service.alertactions import add_silence, expire_silence, subject_for
    from .service.alertstates import read_history

    if not folder.is_dir():
        fail_usage(f"{folder} is not a folder; give the path of a watchlist folder")
    chosen = [name for name, wanted in (("--list", list_them), ("--expire", expire is not None),
                                        ("a new silence", any((indicator, scenario, overall, until)))) if wanted]
    if len(chosen) > 1:
        fail_usage(f"give either --list, --expire ID or a new silence, not {' and '.join(chosen)}")
    if list_them:
        now = dt.datetime.now(dt.timezone.utc)
        names = _subject_names(folder)
        order = {"active": 0, "ended": 1, "expired": 2}
        found = sorted((silence.as_dict(names, now) for silence in read_history(folder).silences.values()),
                       key=lambda item: (order[item["state"]], item["until"]))
        if as_json:
            echo(json.dumps(found, indent=2, ensure_ascii=False))
        elif not found:
            echo(f"No silences recorded; add one with: {command_name()} silence {folder} --indicator ID --until D "
                 '--comment "..."')
        for item in [] if as_json else found:
            ended = (f", expired {item['expired']['at']} by {item['expired']['by'] or 'someone'}" if item["expired"]
                     else "")
            echo(f"{item['id']}  {item['state'].upper():<7}  {item['name']} through {item['until']}  "
                 f"(by {item['by'] or 'someone'} at {item['at']}: {item['comment']}{ended})")
        return
    who = acting_person(folder, by)
    if expire is not None:
        act_or_fail(lambda: expire_silence(folder, expire, who))
        echo(f"silence {expire} expired; alerts on its subject are sent again from the next round of watch")
        return
    if until is None or comment is None:
        fail_usage('a silence needs --until D and --comment "..." (or use --list, --expire ID)')
    day = parse_date_option(until, "--until")
    loaded = loaded_watchlist_or_fail(folder)
    subject = act_or_fail(lambda: subject_for(indicator, scenario, overall, loaded.watchlist))
    silence_id, _ = act_or_fail(lambda: add_silence(folder, subject, day, who, comment))
    names = _subject_names(folder)
    from .service.alertstates import subject_name

    echo(f"silence {silence_id}: alerts on {subject_name(subject, names)} are recorded but not sent through "
         f"{day.isoformat()} (expire it early with: {command_name()} silence {folder} --expire {silence_id})")


SNAPSHOT_FORMATS = {".png": "png", ".pdf": "pdf", ".html": "html", ".htm": "html"}


@app.command()
def snapshot(folder: Path = typer.Argument(..., help="Watchlist folder."),
             out: Path = typer.Option(..., "--out", help="FILE.png, FILE.pdf or FILE.html (format from the extension)."),
             as_of: Optional[str] = typer.Option(None, "--as-of", help="Status date (default: the watchlist's as_of, "
                                                 "else today)."),
             since: Optional[str] = typer.Option(None, "--since", help="Show changes since this date "
                                                 "(default: 7 days before --as-of); charts cover the last 90 days, "
                                                 "or start here when that is earlier."),
             indicators: Optional[str] = typer.Option(None, "--indicators", help="Comma-separated ids to chart "
                                                      "(default: those at elevated or above)."),
             size: Optional[str] = typer.Option(None, "--size", help="slide (1920x1080, default for PNG and HTML) "
                                                "or a4 (portrait, default for PDF)."),
             made_at: Optional[str] = typer.Option(None, "--made-at", help="Pin the 'made at' time "
                                                   "(YYYY-MM-DDTHH:MM:SS) for reproducible files."),
             timeout: float = typer.Option(90, "--timeout", help="Give up after this many seconds.")) -> None:
    """Export a briefing: PNG, PDF or self-contained HTML with marking, as-of date and sources."""
    fmt = SNAPSHOT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        fail_usage(f"--out {out}: use a .png, .pdf or .html file name")
    size = size or ("a4" if fmt == "pdf" else "slide")
    if size not in ("slide", "a4"):
        fail_usage(f'--size "{size}": use slide or a4')
    date = parse_date_option(as_of, "--as-of")
    since_date = parse_date_option(since, "--since")
    try:
        pinned = dt.datetime.fromisoformat(made_at) if made_at else None
    except ValueError:
        fail_usage(f'--made-at "{made_at}" is not a time; use YYYY-MM-DDTHH:MM:SS')
    made: dict = {}

    def make_page() -> str:
        loaded = loaded_watchlist_or_fail(folder)
        from .views.briefing import build_briefing_html, default_options

        ids = tuple(part.strip() for part in indicators.split(",") if part.strip()) if indicators else ()
        made["loaded"] = loaded
        made["options"] = default_options(loaded, date, since_date, ids, size, pinned, page_bands=fmt == "pdf")
        return build_briefing_html(loaded, made["options"])

    try:
        if fmt == "html":
            files = [make_page().encode("utf-8")]
        else:  # the browser starts while the watchlist is read and the page is built
            from .views.export import ExportError, render

            try:
                files = render(make_page, fmt, size, timeout, lambda: made["loaded"].watchlist.marking)
            except ExportError as error:
                echo(f"Error: {error}", err=True)
                raise typer.Exit(EXIT_PROBLEMS)
    except KeyError as error:
        fail_usage(f"--indicators: {error.args[0]}")
    loaded, options = made["loaded"], made["options"]
    from .store.writing import replace_atomically

    paths = numbered_paths(out, len(files))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        for path, data in zip(paths, files):
            replace_atomically(path, data)
        stale = numbered_paths(out, len(files) + 1)[-1]
        while stale.exists():  # a further slide of an earlier export of the same name: not this briefing's
            stale.unlink()
            stale = numbered_paths(out, int(stale.stem.rsplit("-", 1)[1]) + 1)[-1]
    except OSError as error:
        fail_usage(f"cannot write {out}: {error.strerror}")
    if loaded.problems:
        echo(f"{folder}: {len(loaded.problems)} problem(s) in the files; the briefing uses the valid rows "
                   f"only (see: {command_name()} validate {folder})", err=True)
    written = ", ".join(str(path) for path in paths)
    slides = f", {len(paths)} slides" if len(paths) > 1 else ""
    echo(f"wrote {written} ({fmt.upper()}, {size}{slides}, as of {options.as_of.isoformat()})")


def numbered_paths(out: Path, count: int) -> list[Path]:
    """``out`` for the first file of a briefing, then ``NAME-2.png``, ``NAME-3.png`` ... for further slides."""
    return [out] + [out.with_name(f"{out.stem}-{number}{out.suffix}") for number in range(2, count + 1)]


@app.command()
def serve(folder: Optional[Path] = typer.Argument(None, help="A watchlist folder, or a folder of watchlists "
                                                  "(default: the bundled Belarus 2022 watchlist)."),
          port: int = typer.Option(8501, "--port", help="Port to listen on."),
          host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; the default keeps the "
                                   "dashboard on this machine."),
          browser: bool = typer.Option(True, "--browser/--no-browser", help="Open a browser tab once it is up."),
          auth: Optional[Path] = typer.Option(None, "--auth", help="A secrets file with an [auth] section: "
                                              "OpenID Connect sign-in (see docs/team.md)."),
          allow_anonymous: bool = typer.Option(False, "--allow-anonymous", help="Listen beyond this machine "
                                               "without sign-in: anyone who reaches the address can read and "
                                               "write.")) -> None:
    """Start the dashboard on a watchlist (http://localhost:8501 by default); never asks anything."""
    from .service.serving import ServeError, check_exposure, run_server
    from .store.bundled import default_watchlist

    folder = folder or default_watchlist()
    if not folder.is_dir():
        fail_usage(f"{folder} is not a folder; give a watchlist folder or a folder of watchlists")
    try:
        exposure = check_exposure(host, auth, allow_anonymous)
        code = run_server(folder, port, host, browser, lambda text, error: echo(text, err=error), exposure)
    except ServeError as error:
        fail_usage(str(error))
    raise typer.Exit(code)


@app.command("cache")
def cache_command(info: bool = typer.Option(False, "--info", help="Where the cache is and what it holds."),
                  clear: bool = typer.Option(False, "--clear", help="Remove every entry (they are made again when "
                                             "needed).")) -> None:
    """The derived cache of typed rows and feed results (never inside a watchlist folder)."""
    from .store import cache

    if info == clear:
        fail_usage("give --info or --clear")
    if clear:
        removed = cache.clear()
        echo(f"removed {removed} entr{'y' if removed == 1 else 'ies'} from {cache.cache_root()}")
        return
    folders = cache.info()
    state = "" if cache.enabled() else " (turned off in this environment: WATCHFLOOR_NO_CACHE)"
    echo(f"cache: {cache.cache_root()}{state}")
    if not folders:
        echo("  empty")
    for item in folders:
        echo(f"  {item.folder}: {item.entries} entr{'y' if item.entries == 1 else 'ies'}, "
             f"{item.size / 1e6:.1f} MB")


@app.command()
def schema() -> None:
    """Print the JSON Schema of watchlist.yaml (for editors that complete and check YAML)."""
    from .store.skeleton import watchlist_schema_json

    echo(watchlist_schema_json(), nl=False)


def system_error_sentence(error: OSError) -> str:
    """A plain sentence for an error of the operating system, naming the path."""
    import errno

    reasons = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
               errno.EACCES: "permission denied", errno.EPERM: "permission denied",
               errno.EISDIR: "it is a folder, not a file", errno.ENOTDIR: "part of the path is not a folder",
               errno.ENOENT: "it does not exist", errno.EROFS: "the disk is read-only",
               errno.EIO: "the disk reported an input/output error"}
    reason = reasons.get(error.errno, (error.strerror or str(error)).lower())
    where = f"{error.filename}: " if error.filename else ""
    return f"{where}{reason}"


def main() -> None:
    """Entry point: never let a traceback reach the user."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as error:
        echo(f"Error: {system_error_sentence(error)}", err=True)
        sys.exit(EXIT_PROBLEMS)
    except RecursionError:
        echo("Error: a file is nested too deeply to read; check the file named in the command", err=True)
        sys.exit(EXIT_PROBLEMS)
    except OverflowError as error:
        echo(f"Error: a number or date is out of range ({error}); check the values and dates given", err=True)
        sys.exit(EXIT_PROBLEMS)
    except Exception as error:  # noqa: BLE001 - the last guard before the user's terminal
        echo(f"Error: {type(error).__name__}: {error}. This is a bug in Watchfloor; please report it "
                   "with the command you ran.", err=True)
        sys.exit(3)
    finally:
        # The process ends now: keep Python's last garbage collection at exit from walking every object
        # the command made (a tenth of a second once pandas is loaded). Atexit handlers, the joining of
        # threads and the flushing of files all still run; the cache was settled when the command closed.
        gc.freeze()


if __name__ == "__main__":
    main()
