"""Analyses are found by name: each module registers its class with ``@register``."""

from __future__ import annotations

import importlib
import pkgutil

from pydantic import ValidationError

from reportgen.analyses.base import Analysis
from reportgen.config.schema import AnalysisSpec

_REGISTRY: dict[str, type[Analysis]] = {}
_LOADED = False


def register(cls: type[Analysis]) -> type[Analysis]:
    if cls.name in _REGISTRY:
        raise RuntimeError(f"analysis {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    """Import every module of this package once, so their ``@register`` lines run (also when one
    analysis module was imported directly before)."""
    global _LOADED
    if _LOADED:
        return
    import reportgen.analyses as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in {"base", "registry"} and not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")
    _LOADED = True


def available() -> dict[str, type[Analysis]]:
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def get(name: str) -> type[Analysis]:
    return available()[name]


def analysis_problems(spec: AnalysisSpec, labelled: bool = True) -> list[str]:
    """Problems with one manifest analysis entry, each starting with its field suffix."""
    names = available()
    if spec.method not in names:
        return [f".method: unknown analysis {spec.method!r}; expected one of {list(names)}"]
    if not labelled and names[spec.method].needs_labels:
        usable = [n for n, cls in names.items() if not cls.needs_labels]
        return [f".method: {spec.method!r} compares predictions with labels, but this dataset has "
                f"none (kind = \"images\"); analyses that need no labels: {usable}"]
    try:
        names[spec.method].Params.model_validate(spec.params)
    except ValidationError as exc:
        return [f".{'.'.join(str(p) for p in e['loc'])}: {e['msg']}; got {e.get('input')!r}"
                for e in exc.errors()]
    return []
