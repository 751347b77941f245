"""Reading ``watchlist.yaml``: every definition problem with the indicator id and YAML line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from .models import Indicator, Overall, Watchlist
from .problems import Problem

WATCHLIST_FILE = "watchlist.yaml"
class YAML_LOADER(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when present: faster
    """Safe loading that leaves dates as text, so that a bad date gets our message, not a crash."""


YAML_LOADER.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in YAML_LOADER.yaml_implicit_resolvers.items()}
HEADER_KEYS = ("title", "theatre", "description", "marking", "as_of", "overall")


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
    if error["type"] == "string_pattern_mismatch":
        return f'"{value}" is not a valid id; use lower-case letters, digits and _, starting with a letter'
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        shown = f'"{value}"' if isinstance(value, str) else f"{value:g}"
        if error["type"] == "string_type":
            return f"{shown} is not text; put it in quotes"
        if message.startswith("is "):
            return f"{shown} {message}"
        return f"{shown} is not valid: {message[0].lower() + message[1:]}"
    return message[0].lower() + message[1:] if message else "is not valid"


MODEL_LEVEL_FIELDS = ("thresholds", "window_days", "change", "cutoffs")


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


def _pure_python_yaml_error(text: str) -> yaml.YAMLError:
    """The syntax error as PyYAML's own parser words it (libyaml words some differently)."""
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        return error
    return yaml.YAMLError("the file could not be parsed")


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


def load_definitions(folder: Path) -> Definitions:
    """Read and check ``watchlist.yaml`` in ``folder``; never raises for bad content."""
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
        # one parse: the node tree gives line numbers, the same tree gives the data
        loader = YAML_LOADER(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError:
        error = _pure_python_yaml_error(text)
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
    if "overall" in header:
        header["overall"] = _checked_overall(header["overall"], {i.id for i in indicators} | invalid, lines, problems)
    watchlist = None
    try:
        watchlist = Watchlist.model_validate({**header, "indicators": indicators or []})
    except ValidationError as error:
        for detail in error.errors():
            key = str(detail["loc"][0]) if detail["loc"] else "file"
            if key == "indicators":
                continue  # already reported per indicator above
            problems.append(Problem(WATCHLIST_FILE, lines.line_of((key,)), key, detail["type"],
                                    _describe_pydantic_error(detail)))
        if indicators:
            safe_header = {key: value for key, value in header.items()
                           if key not in {str(d["loc"][0]) for d in error.errors() if d["loc"]}}
            safe_header.setdefault("title", folder.name)
            try:
                watchlist = Watchlist.model_validate({**safe_header, "indicators": indicators})
            except ValidationError:
                watchlist = None
    return Definitions(watchlist, problems, invalid)
