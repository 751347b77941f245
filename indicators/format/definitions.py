"""Reading ``watchlist.yaml``: every definition problem with the indicator id and YAML line."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from .feed_layouts import FIXED_COLUMNS
from .folder import WATCHLIST_FILE
from .models import Feed, Indicator, Overall, Scenario, Watchlist
from .problems import Problem

class YAML_LOADER(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when present: faster
    """Safe loading that leaves dates as text, so that a bad date gets our message, not a crash."""


YAML_LOADER.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in YAML_LOADER.yaml_implicit_resolvers.items()}
HEADER_KEYS = ("title", "theatre", "description", "marking", "as_of", "overall", "alerts", "access", "feeds",
               "scenarios")


@dataclass
class Definitions:
    """The valid part of ``watchlist.yaml`` plus what was wrong with the rest."""

    watchlist: Watchlist | None
    problems: list[Problem] = field(default_factory=list)
    invalid_indicator_ids: set[str] = field(default_factory=set)


class _LineMap:
    """Line numbers of the keys and items in a composed YAML document."""

    def __init__(self, node: yaml.Node | None):
        self.node = node

    def line_of(self, path: tuple) -> int | None:
        node, line = self.node, None
        if node is None:
            return None
        line = node.start_mark.line + 1
        for step in path:
            if isinstance(node, yaml.MappingNode):
                match = next((pair for pair in node.value if pair[0].value == str(step)), None)
                if match is None:
                    return line
                line = match[0].start_mark.line + 1
                node = match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
                node = node.value[step]
                line = node.start_mark.line + 1
            else:
                return line
        return line


def _describe_pydantic_error(error: dict) -> str:
    value = error.get("input")
    message = error["msg"].removeprefix("Value error, ").replace("Input should be", "it must be")
    if error["type"] == "missing":
        return "is required"
    if error["type"] == "extra_forbidden":
        return "is not a known key; check its spelling"
    if error["type"] == "too_short":
        least = error.get("ctx", {}).get("min_length", 1)
        return f"needs at least {least} item{'' if least == 1 else 's'} (got none)" if not value else \
            f"needs at least {least} items (got {len(value)})"
    if error["type"] == "string_pattern_mismatch":
        return f'"{value}" is not a valid id; use lower-case letters, digits and _, starting with a letter'
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        shown = f'"{value}"' if isinstance(value, str) else f"{value:g}" if isinstance(value, float) else str(value)
        if error["type"] == "string_type":
            return f"{shown} is not text; put it in quotes"
        if message.startswith("is "):
            return f"{shown} {message}"
        return f"{shown} is not valid: {message[0].lower() + message[1:]}"
    return message[0].lower() + message[1:] if message else "is not valid"


def _checked_feed_queries(watchlist: Watchlist, lines: _LineMap, problems: list[Problem],
                          invalid: set[str]) -> Watchlist | None:
    """Indicators whose ``feed`` names no feed, or a column the feed's fixed layout does not have,
    are left out with a problem on the line of the offending key."""
    kept = []
    for index, indicator in enumerate(watchlist.indicators):
        query = indicator.feed
        if query is None:
            kept.append(indicator)
            continue
        wrong = None
        if query.name not in watchlist.feeds:
            known = ", ".join(watchlist.feeds) or "none (add a feeds: section)"
            wrong = ("name", "unknown_feed", f'"{query.name}" is not a feed of this watchlist; feeds: {known}')
        else:
            feed = watchlist.feeds[query.name]
            layout = FIXED_COLUMNS.get(feed.format)
            if layout is not None:
                for column, _ in query.conditions():
                    if column not in layout:
                        wrong = (f"where.{column}", "unknown_column", _not_a_column(column, feed.format, layout))
                        break
                if wrong is None and query.value is not None and query.value not in layout:
                    wrong = ("value", "unknown_column", _not_a_column(query.value, feed.format, layout))
        if wrong is None:
            kept.append(indicator)
            continue
        field_name, code, message = wrong
        indicator_index = _indicator_position(lines, indicator.id, index)
        line = lines.line_of(("indicators", indicator_index, "feed") + tuple(field_name.split(".")))
        problems.append(Problem(WATCHLIST_FILE, line, f"indicator {indicator.id}: feed.{field_name}", code, message))
        invalid.add(indicator.id)
    if len(kept) == len(watchlist.indicators):
        return watchlist
    if not kept:
        return None
    return watchlist.model_copy(update={"indicators": kept})


def _not_a_column(column: str, layout_name: str, layout: tuple[str, ...]) -> str:
    import difflib

    close = difflib.get_close_matches(column, layout, n=1, cutoff=0.6) or [
        name for name in layout if name.lower() == column.lower()]
    hint = f'did you mean "{close[0]}"? (names are case-sensitive)' if close else (
        f"its columns run from {layout[0]} to {layout[-1]} (see docs/feeds.md)")
    return f'"{column}" is not a column of the {layout_name.upper()} layout; {hint}'


def _indicator_position(lines: _LineMap, indicator_id: str, fallback: int) -> int:
    """Position of the indicator with this id in the file's list (valid ones may have been dropped)."""
    node = lines.node
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "indicators" and isinstance(value, yaml.SequenceNode):
                for number, item in enumerate(value.value):
                    if isinstance(item, yaml.MappingNode) and any(
                            k.value == "id" and getattr(v, "value", None) == indicator_id for k, v in item.value):
                        return number
    return fallback


MODEL_LEVEL_FIELDS = ("thresholds", "window_days", "change", "cutoffs", "feed")


def _field_path(loc: tuple, message: str) -> str:
    parts = []
    for part in loc:  # list positions as written in the file, counted from 1: floors[2]
        if isinstance(part, int):
            if parts:
                parts[-1] += f"[{part + 1}]"
        else:
            parts.append(str(part))
    if not parts:
        # errors from whole-indicator checks name their field first
        return next((name for name in MODEL_LEVEL_FIELDS if message.startswith(name)), "indicator")
    return ".".join(parts)


MAX_NESTING = 40  # watchlist.yaml needs five levels; anything far deeper is a mistake or an attack
PLAIN_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")}


def _shape_problem(root: yaml.Node) -> Problem | None:
    """The first thing in the composed document that watchlist.yaml must not hold, before any value
    is built: an alias (a "billion laughs" file expands to gigabytes), a key given twice (a second
    ``marking:`` would silently win), a tag such as ``!!python/object``, or absurd nesting. The walk
    visits each node once, whatever the aliases would expand to."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int, int]] = [(root, 1, 1)]  # node, depth, the line it is used on
    while stack:
        node, depth, used_on = stack.pop()
        line = node.start_mark.line + 1
        if id(node) in seen:
            line = used_on
            return Problem(WATCHLIST_FILE, line, "file", "yaml_alias",
                           "uses an alias (*name) to repeat a value; aliases are not allowed in watchlist.yaml: "
                           "write the value out")
        seen.add(id(node))
        if node.tag not in PLAIN_TAGS:
            return Problem(WATCHLIST_FILE, line, "file", "yaml_tag",
                           f"has the tag {node.tag.replace('tag:yaml.org,2002:', '!!')}, which watchlist.yaml "
                           "does not allow; write plain text, numbers, lists and mappings")
        if depth > MAX_NESTING:
            return Problem(WATCHLIST_FILE, line, "file", "yaml_nesting",
                           f"is nested more than {MAX_NESTING} levels deep; a watchlist needs five at most")
        if isinstance(node, yaml.MappingNode):
            keys: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in keys:
                        return Problem(WATCHLIST_FILE, key.start_mark.line + 1, str(key.value)[:80], "duplicate_key",
                                       f"is given twice in the same mapping (first on line {keys[key.value]}); "
                                       "keep one: a second value would silently replace the first")
                    keys[key.value] = key.start_mark.line + 1
                stack.append((key, depth + 1, key.start_mark.line + 1))
                stack.append((value, depth + 1, key.start_mark.line + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1, line) for item in reversed(node.value))
    return None


def _pure_python_yaml_error(text: str, fallback: yaml.YAMLError) -> yaml.YAMLError:
    """The syntax error as PyYAML's own parser words it (libyaml words some differently). Nesting
    beyond libyaml's limit is final: the pure-Python parser would take seconds over such a file (its
    scanner is quadratic in open brackets) only to run out of stack."""
    if getattr(fallback, "problem", None) == "exceeded maximum nesting depth":
        return fallback
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        return error
    except RecursionError:
        return fallback
    return fallback


def _checked_feeds(raw, lines: _LineMap, problems: list[Problem]) -> dict:
    """The ``feeds`` section with each feed that is not valid reported and left out (its indicators
    then name an unknown feed and are left out too)."""
    if not isinstance(raw, dict):
        problems.append(Problem(WATCHLIST_FILE, lines.line_of(("feeds",)), "feeds", "not_a_mapping",
                                "must be a mapping of feed names to feeds (format, path)"))
        return {}
    feeds = {}
    for name, definition in raw.items():
        try:
            feeds[str(name)] = Feed.model_validate(definition)
        except ValidationError as error:
            for detail in error.errors():
                message = _describe_pydantic_error(detail)
                field_path = _field_path(("feeds", str(name)) + tuple(detail["loc"]), message)
                if not detail["loc"]:
                    field_path = f"feeds.{name}"
                problems.append(Problem(WATCHLIST_FILE, lines.line_of(("feeds", str(name)) + tuple(detail["loc"])),
                                        field_path, detail["type"],
                                        message.removeprefix(f"{field_path.split('.')[-1]} ")))
    return feeds


def _checked_overall(raw, known_ids: set[str], lines: _LineMap, problems: list[Problem]) -> Overall:
    """The ``overall`` section, or the defaults (index cut-offs 25/50/75, no floors) with its problems
    reported when it is not valid; floors naming an unknown indicator are reported and left out."""
    try:
        overall = Overall.model_validate(raw)
    except ValidationError as error:
        for detail in error.errors():
            message = _describe_pydantic_error(detail)
            field_path = _field_path(("overall",) + tuple(detail["loc"]), message)
            if not detail["loc"] or (detail["type"] == "value_error" and field_path == "overall.floors"):
                field_path = "overall"
            problems.append(Problem(WATCHLIST_FILE, lines.line_of(("overall",) + tuple(detail["loc"])), field_path,
                                    detail["type"], message.removeprefix(f"{field_path.split('.')[-1]} ")))
        return Overall()
    floors = []
    for number, floor in enumerate(overall.floors):
        if floor.indicator is not None and floor.indicator not in known_ids:
            problems.append(Problem(WATCHLIST_FILE, lines.line_of(("overall", "floors", number, "indicator")),
                                    f"overall.floors[{number + 1}].indicator", "unknown_indicator",
                                    f'"{floor.indicator}" is not an indicator of this watchlist; use one of its ids'))
            continue
        floors.append(floor)
    return overall.model_copy(update={"floors": floors})


def _checked_scenarios(raw, known_ids: set[str], lines: _LineMap, problems: list[Problem],
                       today: dt.date) -> list[Scenario]:
    """The ``scenarios`` section: each scenario that is not valid (a bad key, a sign of an unknown
    indicator, a repeated id or sign, ``happened`` after today) is reported and left out on its own.
    A level that needs more seen signs than the scenario has is reported as a warning; the scenario stays."""
    if not isinstance(raw, list):
        problems.append(Problem(WATCHLIST_FILE, lines.line_of(("scenarios",)), "scenarios", "not_a_list",
                                "must be a list of scenarios, each with id, name and signs"))
        return []
    kept: list[Scenario] = []
    seen_ids: dict[str, int] = {}
    repeated: set[str] = set()
    for index, item in enumerate(raw):
        item_line = lines.line_of(("scenarios", index))
        if not isinstance(item, dict):
            problems.append(Problem(WATCHLIST_FILE, item_line, f"scenarios[{index + 1}]", "not_a_mapping",
                                    "each scenario must be a mapping with id, name and signs"))
            continue
        scenario_id = str(item.get("id", f"#{index + 1}"))
        label = f"scenario {scenario_id}"
        if scenario_id in seen_ids:
            repeated.add(scenario_id)
            problems.append(Problem(WATCHLIST_FILE, item_line, f"{label}: id", "duplicate_id",
                                    f'"{scenario_id}" is already used by the scenario on line {seen_ids[scenario_id]}; '
                                    "ids must be unique"))
            continue
        seen_ids[scenario_id] = item_line or 0

        def report(path: tuple, field_path: str, code: str, message: str) -> None:
            problems.append(Problem(WATCHLIST_FILE, lines.line_of(("scenarios", index) + path),
                                    f"{label}: {field_path}", code, message))

        try:
            scenario = Scenario.model_validate(item)
        except ValidationError as error:
            for detail in error.errors():
                if detail["type"] == "duplicate_sign":
                    position = detail["ctx"]["position"]
                    report(("signs", position, "indicator"), f"signs[{position + 1}].indicator", "duplicate_sign",
                           detail["msg"])
                    continue
                message = _describe_pydantic_error(detail)
                field_path = _field_path(tuple(detail["loc"]), message)
                report(tuple(detail["loc"]), field_path, detail["type"],
                       message.removeprefix(f"{field_path.split('.')[-1]} "))
            continue
        unknown = [(number, sign.indicator) for number, sign in enumerate(scenario.signs)
                   if sign.indicator not in known_ids]
        for number, indicator_id in unknown:
            report(("signs", number, "indicator"), f"signs[{number + 1}].indicator", "unknown_indicator",
                   f'"{indicator_id}" is not an indicator of this watchlist; use one of its ids')
        if scenario.happened is not None and scenario.happened > today:
            report(("happened",), "happened", "in_future",
                   f"{scenario.happened.isoformat()} is after today ({today.isoformat()}); a scenario can only "
                   "have happened on a day already known (check the year)")
            continue
        if unknown:
            continue
        for level, needed in scenario.levels.present():
            if needed.seen > len(scenario.signs):
                default = "" if "levels" in item else " (the default levels)"
                report(("levels", level.value), f"levels.{level.value}", "unreachable_level",
                       f"warning: needs {needed.seen} signs seen{default} but the scenario has "
                       f"{len(scenario.signs)}; the level can never be reached (add signs or give levels)")
        kept.append(scenario)
    return [scenario for scenario in kept if scenario.id not in repeated]


def load_definitions(folder: Path, today: dt.date | None = None) -> Definitions:
    """Read and check ``watchlist.yaml`` in ``folder``; never raises for bad content. An ``as_of``
    after ``today`` is reported and left out (the watchlist then opens as of today)."""
    path = folder / WATCHLIST_FILE
    if not path.is_file():
        return Definitions(None, [Problem(WATCHLIST_FILE, None, "file", "missing_file",
                                          f"{WATCHLIST_FILE} is missing; every watchlist folder needs one "
                                          "(create one with: watchfloor init DIR --title T)")])
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        return Definitions(None, [Problem(WATCHLIST_FILE, line, "file", "encoding",
                                          f"byte 0x{raw[error.start]:02x} is not UTF-8; save the file as UTF-8")])
    try:
        # one parse: the node tree gives line numbers and is checked, then the same tree gives the data
        loader = YAML_LOADER(text)
        try:
            node = loader.get_single_node()
            shape = _shape_problem(node) if node is not None else None
            if shape is not None:
                return Definitions(None, [shape])
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except RecursionError:
        return Definitions(None, [Problem(WATCHLIST_FILE, None, "file", "yaml_nesting",
                                          "is nested too deeply to read; a watchlist needs five levels at most")])
    except yaml.YAMLError as libyaml_error:
        error = _pure_python_yaml_error(text, libyaml_error)
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(error, "problem", None) or str(error)
        return Definitions(None, [Problem(WATCHLIST_FILE, line, "file", "yaml_syntax",
                                          f"is not valid YAML: {reason}; check indentation and quoting")])
    lines = _LineMap(node)
    if not isinstance(data, dict):
        return Definitions(None, [Problem(WATCHLIST_FILE, 1, "file", "not_a_mapping",
                                          "must be a mapping with title and indicators (see watchfloor init)")])
    problems: list[Problem] = []
    header = {key: data[key] for key in HEADER_KEYS if key in data}
    for key in data:
        if key not in HEADER_KEYS and key != "indicators":
            problems.append(Problem(WATCHLIST_FILE, lines.line_of((key,)), str(key), "unknown_key",
                                    f"is not a known key; expected one of {', '.join(HEADER_KEYS)}, indicators"))
    raw_indicators = data.get("indicators")
    if not isinstance(raw_indicators, list) or not raw_indicators:
        problems.append(Problem(WATCHLIST_FILE, lines.line_of(("indicators",)), "indicators", "no_indicators",
                                "needs a list of at least one indicator"))
        raw_indicators = []
    indicators: list[Indicator] = []
    invalid: set[str] = set()
    seen: dict[str, int] = {}
    for index, raw_indicator in enumerate(raw_indicators):
        item_line = lines.line_of(("indicators", index))
        if not isinstance(raw_indicator, dict):
            problems.append(Problem(WATCHLIST_FILE, item_line, f"indicators[{index + 1}]", "not_a_mapping",
                                    "each indicator must be a mapping with id, name, category, thresholds"))
            continue
        indicator_id = str(raw_indicator.get("id", f"#{index + 1}"))
        if indicator_id in seen:
            invalid.add(indicator_id)
            problems.append(Problem(WATCHLIST_FILE, item_line, f"indicator {indicator_id}: id", "duplicate_id",
                                    f'"{indicator_id}" is already used by the indicator on line {seen[indicator_id]}; '
                                    "ids must be unique"))
            continue
        seen[indicator_id] = item_line or 0
        try:
            indicator = Indicator.model_validate(raw_indicator)
        except ValidationError as error:
            invalid.add(indicator_id)
            for detail in error.errors():
                message = _describe_pydantic_error(detail)
                field_path = _field_path(detail["loc"], message)
                message = message.removeprefix(f"{field_path} ")
                # whole-indicator checks have no location: their field is named first in the message
                located = tuple(detail["loc"][:3]) or tuple(field_path.split(".")[:1])
                line = lines.line_of(("indicators", index) + located)
                problems.append(Problem(WATCHLIST_FILE, line, f"indicator {indicator_id}: {field_path}",
                                        detail["type"], message))
            continue
        indicators.append(indicator)
    # A duplicated id makes both definitions ambiguous: drop the first as well.
    indicators = [indicator for indicator in indicators if indicator.id not in invalid]
    if "feeds" in header:
        header["feeds"] = _checked_feeds(header["feeds"], lines, problems)
    if "overall" in header:
        header["overall"] = _checked_overall(header["overall"], {i.id for i in indicators} | invalid, lines, problems)
    raw_scenarios = header.pop("scenarios", None)
    watchlist = None
    try:
        watchlist = Watchlist.model_validate({**header, "indicators": indicators or []})
    except ValidationError as error:
        for detail in error.errors():
            key = str(detail["loc"][0]) if detail["loc"] else "file"
            if key == "indicators":
                continue  # already reported per indicator above
            message = _describe_pydantic_error(detail)
            field_path = _field_path(detail["loc"], message) if detail["loc"] else key
            problems.append(Problem(WATCHLIST_FILE, lines.line_of(tuple(detail["loc"][:3])), field_path,
                                    detail["type"], message))
        if indicators:
            safe_header = {key: value for key, value in header.items()
                           if key not in {str(d["loc"][0]) for d in error.errors() if d["loc"]}}
            safe_header.setdefault("title", folder.name)
            try:
                watchlist = Watchlist.model_validate({**safe_header, "indicators": indicators})
            except ValidationError:
                watchlist = None
    if watchlist is not None:
        watchlist = _checked_feed_queries(watchlist, lines, problems, invalid)
    today = today or dt.date.today()
    if "scenarios" in data:
        known = ({i.id for i in watchlist.indicators} if watchlist is not None else set()) | invalid
        scenarios = _checked_scenarios(raw_scenarios, known, lines, problems, today)
        if watchlist is not None:
            watchlist = watchlist.model_copy(update={"scenarios": scenarios})
    if watchlist is not None and watchlist.as_of is not None and watchlist.as_of > today:
        problems.append(Problem(WATCHLIST_FILE, lines.line_of(("as_of",)), "as_of", "in_future",
                                f"{watchlist.as_of.isoformat()} is after today ({today.isoformat()}); "
                                "the as-of date must be a day already known (check the year)"))
        watchlist = watchlist.model_copy(update={"as_of": None})
    return Definitions(watchlist, problems, invalid)
