"""The package's layers point one way (app -> firf's public API -> pipeline -> extract, model ->
data, metrics, missing), with no import cycle: what keeps each part changeable on its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "firf"
MAX_LINES = 350


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """Every firf module ``path`` imports, at module level or inside functions
    (``from firf.model import losses`` imports ``firf.model.losses``, not the package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules
            found |= submodules or {node.module}
    return found & modules


def firf_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imported_modules(path, set(paths)) for name, path in paths.items()}


def test_no_import_cycle():
    graph = firf_graph()
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if target == node or (node == "firf" and target.startswith("firf.")):
                continue  # the package's lazy table names its modules; it imports none eagerly
            if state.get(target) == "open":
                pytest.fail("import cycle: " + " -> ".join([*trail, node, target]))
            if target not in state:
                visit(target, [*trail, node])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


@pytest.mark.parametrize(
    ("lower", "forbidden"),
    [
        ("firf.extract", ("firf.pipeline", "firf.extractors", "firf.cli", "firf.model")),
        ("firf.model", ("firf.pipeline", "firf.extractors", "firf.cli", "firf.extract")),
        ("firf.data", ("firf.pipeline", "firf.cli", "firf.model", "firf.metrics")),
        ("firf.metrics", ("firf.pipeline", "firf.cli", "firf.model", "firf.data")),
        ("firf.missing", ("firf.pipeline", "firf.cli", "firf.model", "firf.data")),
        ("firf.prediction", ("firf.",)),
        ("firf.features", ("firf.pipeline", "firf.extractors", "firf.extract", "firf.model")),
    ],
)
def test_lower_layers_do_not_import_upper_ones(lower, forbidden):
    for module, targets in firf_graph().items():
        if module == lower or module.startswith(lower + "."):
            bad = sorted(t for t in targets if t.startswith(forbidden))
            assert not bad, f"{module} imports {bad}"


def test_app_uses_only_the_public_api():
    import firf

    for path in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("firf"):
                assert node.module == "firf", f"{path.name} imports from {node.module}"
                names = {alias.name for alias in node.names}
                assert names <= set(firf.__all__), f"{path.name}: {names - set(firf.__all__)}"
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("firf.") for a in node.names), path.name


def test_library_modules_stay_readable():
    long = {
        str(p.relative_to(ROOT)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"
