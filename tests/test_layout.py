"""The tree shows the architecture: the library's layers import only the layers below them, no module
imports itself back through others, and nothing in the library needs Streamlit."""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import REPO

LIBRARY = REPO / "indicators"
# each layer, and the layers it may import (besides itself)
ALLOWED = {
    "format": set(),
    "engine": {"format"},
    "feeds": {"format", "engine"},
    "store": {"format", "engine", "feeds"},
    "service": {"format", "engine", "feeds", "store"},
    "views": {"format", "engine", "feeds", "store"},
    "cli": {"format", "engine", "feeds", "store", "service", "views"},
}


def module_name(path: Path, repo: Path = REPO) -> str:
    parts = path.relative_to(repo).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, repo: Path = REPO) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, at the top or inside a function; relative imports
    resolved; ``from X import name`` as X.name when that is a module of the library."""
    name = module_name(path, repo)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                candidate = f"{origin}.{alias.name}"
                is_module = (repo / Path(*candidate.split("."))).with_suffix(".py").is_file() or (
                    repo / Path(*candidate.split("."))).is_dir()
                found.append((node.lineno, candidate if is_module else origin))
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "indicators" or len(parts) < 2:
        return None
    return parts[1]


def library_files(repo: Path = REPO) -> list[Path]:
    return sorted(path for path in (repo / "indicators").rglob("*.py"))


def test_every_module_of_the_library_sits_in_a_layer():
    loose = [path.relative_to(REPO).as_posix() for path in LIBRARY.glob("*.py")
             if path.name not in ("__init__.py", "cli.py")]
    assert loose == []
    layers = {path.name for path in LIBRARY.iterdir() if path.is_dir() and (path / "__init__.py").is_file()}
    assert layers == set(ALLOWED) - {"cli"}


def test_each_layer_says_what_it_owns_and_what_it_may_import():
    for layer in set(ALLOWED) - {"cli"}:
        docstring = ast.get_docstring(ast.parse((LIBRARY / layer / "__init__.py").read_text(encoding="utf-8")))
        assert docstring and "May import" in docstring, layer
        said = docstring.split("May import", 1)[1]
        for other in ALLOWED:
            if other != layer and other != "cli":
                assert (f"indicators.{other}" in said) == (other in ALLOWED[layer]), (layer, other)


def upward_imports(repo: Path = REPO) -> list[str]:
    """Every import of the library that points up, or into the app, as PATH:LINE: what."""
    wrong = []
    for path in library_files(repo):
        own = layer_of(module_name(path, repo)) or "cli"
        if path == repo / "indicators" / "__init__.py":
            continue  # the package's own re-exports
        for line, module in imports_of(path, repo):
            where = path.relative_to(repo).as_posix()
            if module.split(".")[0] == "dashboard":
                wrong.append(f"{where}:{line}: imports the app ({module})")
            target = layer_of(module)
            if target is not None and target != own and target not in ALLOWED[own]:
                wrong.append(f"{where}:{line}: {own} imports {target} ({module})")
    return wrong


def test_imports_point_down_only():
    assert upward_imports() == []


def test_the_library_never_needs_streamlit_and_only_the_views_draw():
    wrong = []
    for path in library_files():
        own = layer_of(module_name(path))
        for line, module in imports_of(path):
            top = module.split(".")[0]
            if top == "streamlit" or (top in ("plotly", "kaleido") and own != "views"):
                wrong.append(f"{path.relative_to(REPO)}:{line}: {module}")
    assert wrong == []


def test_no_module_imports_itself_back_through_others():
    graph = {module_name(path): {module for _, module in imports_of(path) if module.startswith("indicators.")}
             for path in library_files()}
    cycles = []

    def visit(module: str, trail: list[str]) -> None:
        for nxt in sorted(graph.get(module, ())):
            if nxt in trail:
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt in graph and len(trail) < 40:
                visit(nxt, trail + [nxt])

    for module in graph:
        if module != "indicators":  # the package's re-exports import everything they name
            visit(module, [module])
    assert cycles == []


def test_the_check_names_an_upward_import(tmp_path):
    """The check can fail: in a copy of the library, an engine module importing the store, and a view
    importing the app, are named with their file and line."""
    for path in library_files():
        copy = tmp_path / path.relative_to(REPO)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(path.read_bytes())
    (tmp_path / "dashboard").mkdir()
    (tmp_path / "dashboard" / "data.py").write_text("")
    (tmp_path / "indicators" / "engine" / "probe.py").write_text(
        '"""A probe."""\n\n\ndef f():\n    from ..store.loader import load_watchlist\n    return load_watchlist\n')
    (tmp_path / "indicators" / "views" / "probe.py").write_text("from dashboard import data\n")
    assert upward_imports(tmp_path) == [
        "indicators/engine/probe.py:5: engine imports store (indicators.store.loader)",
        "indicators/views/probe.py:1: imports the app (dashboard.data)"]
