"""The package's layers, read from the source: no import cycle between reportgen modules, and no
layer imports one above it (config → plan → run → analyses → … → render).

Every import statement counts, also those inside functions and under ``if TYPE_CHECKING:``: a
function-local import hides a cycle from Python, not from the design. The same check as the
project's ``import_rules.py``, kept here so CI needs nothing outside the repository.

The layers that must stay light (config, render) are also imported for real, each in a fresh
interpreter, to see what ``sys.modules`` ends up holding.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "reportgen"

NEVER = {
    "reportgen.config": ("reportgen.run", "reportgen.analyses", "reportgen.render", "reportgen.explain",
                         "tensorflow", "keras"),
    "reportgen.render": ("reportgen.run", "reportgen.explain", "reportgen.analyses", "tensorflow", "keras"),
    "reportgen.run": ("reportgen.explain", "reportgen.analyses", "reportgen.render"),
    "reportgen.analyses": ("reportgen.render", "reportgen.pipeline", "reportgen.cli"),
    "reportgen.explain": ("reportgen.analyses", "reportgen.render", "reportgen.pipeline", "reportgen.run"),
}
"""Layer → what no module in it may import."""


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if path.name == "__init__.py" else parts)] = path
    return modules


def _targets(name: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Dotted names an import statement may refer to (``from a import b``: ``a`` and ``a.b``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        parts = package.split(".")
        base = ".".join(parts[:len(parts) - node.level + 1])
        target = f"{base}.{node.module}" if node.module else base
    else:
        target = node.module or ""
    return [target] + [f"{target}.{alias.name}" for alias in node.names]


def _graph() -> dict[str, set[str]]:
    """Module → the reportgen modules it imports, plus top-level names of outside packages."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                continue
            for target in _targets(name, path, node):
                while target not in modules and "." in target:  # a name inside a module
                    target = target.rsplit(".", 1)[0]
                if target in modules:
                    if target != name:
                        deps.add(target)
                else:
                    deps.add(target.split(".")[0])
        graph[name] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in graph:
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_the_graph_sees_the_package():
    """A guard for the checks below: they read real modules and real imports."""
    graph = _graph()
    assert {"reportgen.pipeline", "reportgen.outcomes", "reportgen.report_types",
            "reportgen.records.setup", "reportgen.render.view"} <= graph.keys()
    assert "reportgen.outcomes" in graph["reportgen.records.setup"]
    assert "reportgen.report_types" in graph["reportgen.render.view"]
    assert "reportgen.report_types" in graph["reportgen.analyses.base"]


def test_no_import_cycle_between_reportgen_modules():
    assert _cycles(_graph()) == []


@pytest.mark.parametrize("layer", sorted(NEVER))
def test_no_layer_imports_a_layer_above_it(layer):
    banned = NEVER[layer]
    wrong = sorted(f"{module} imports {dep}" for module, deps in _graph().items() if _under(module, layer)
                   for dep in deps if any(_under(dep, b) for b in banned))
    assert wrong == []


def test_outcome_and_text_types_import_nothing_heavy():
    """``outcomes`` and ``report_types`` sit below analyses and render: dataclasses only."""
    graph = _graph()
    allowed = {"reportgen.report_types", "reportgen.plan", "dataclasses", "pathlib", "typing"}
    assert graph["reportgen.report_types"] <= allowed
    assert graph["reportgen.outcomes"] <= allowed


def _registered_analyses() -> set[str]:
    """Analysis modules the registry imports (analyses/registry.py ``_load_all``): not ``base``,
    ``registry`` or a ``_helper`` module."""
    return {name for name in _modules() if name.startswith("reportgen.analyses.")
            and not name.rsplit(".", 1)[1].startswith("_")
            and name not in {"reportgen.analyses.base", "reportgen.analyses.registry"}}


def test_no_analysis_imports_another_analysis():
    """Shared code lives in ``base`` or an ``analyses/_helper`` module, never in an analysis."""
    registered = _registered_analyses()
    assert {"reportgen.analyses.gradcam", "reportgen.analyses.top_k"} <= registered
    assert "reportgen.analyses._examples" not in registered
    graph = _graph()
    wrong = sorted(f"{module} imports {dep}" for module in registered for dep in graph[module] & registered)
    assert wrong == []


RUNTIME = {
    "reportgen.config": NEVER["reportgen.config"],
    "reportgen.render": NEVER["reportgen.render"] + ("reportgen.pipeline",),
}
"""Layer → what importing every one of its modules may not load (directly or through others)."""


@pytest.mark.parametrize("layer", sorted(RUNTIME))
def test_importing_a_light_layer_loads_nothing_heavy(layer):
    modules = sorted(name for name in _modules() if _under(name, layer))
    assert len(modules) > 2, modules  # the package and its modules, found on disk
    code = ("import importlib, json, sys\n"
            f"modules, banned = {modules!r}, {RUNTIME[layer]!r}\n"
            "for name in modules:\n"
            "    importlib.import_module(name)\n"
            "loaded = [m for m in sys.modules if any(m == b or m.startswith(b + '.') for b in banned)]\n"
            "roots = {m if m.startswith('reportgen.') else m.split('.')[0] for m in loaded}\n"
            "print(json.dumps([all(name in sys.modules for name in modules), sorted(roots)]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    imported, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert imported  # the imports really ran
    assert loaded == [], f"importing {layer}.* loaded {loaded}"
