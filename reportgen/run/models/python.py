"""``kind = "python"``: the user's own function builds the network.

``builder = "my_models.py:build_dexpression"`` names a file (relative to the manifest) and a
function in it; ``args`` are its keyword arguments, plus ``num_classes`` when the function takes
that parameter.  It returns an uncompiled Keras model with one softmax output per class.

This imports (runs) the user's file, in ``validate`` too: the manifest's author is trusted
exactly as ``python my_models.py`` would trust them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen.errors import ModelError
from reportgen.run.models.base import (
    check_outputs,
    listed_classes,
    named_preprocess,
    register_kind,
    relative_to,
    root_cause,
)

if TYPE_CHECKING:  # pragma: no cover
    import keras

    from reportgen.config.models import PythonModel


def builder_path(spec: PythonModel, base_dir: Path) -> tuple[Path, str]:
    """``(absolute file, function name)`` of ``spec.builder``."""
    file, _, function = spec.builder.rpartition(":")
    return relative_to(base_dir, file), function


def _load_function(spec: PythonModel, base_dir: Path) -> Callable[..., Any]:
    path, function = builder_path(spec, base_dir)
    if not path.is_file():
        raise ModelError(f"builder: file not found: {path}")
    # A private module name per file content: two manifests' my_models.py never collide, and
    # an edited file is imported afresh.
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    module_name = f"reportgen_user_builder_{path.stem}_{digest}"
    module = sys.modules.get(module_name)
    if module is None:
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            raise ModelError(f"builder: importing {path} failed: {type(exc).__name__}: "
                             f"{root_cause(exc)}") from exc
        sys.modules[module_name] = module
    fn = getattr(module, function, None)
    if fn is None or not callable(fn):
        defined = sorted(n for n, v in vars(module).items()
                         if inspect.isfunction(v) and v.__module__ == module_name)
        raise ModelError(f"builder: {path} defines no function {function!r} "
                         f"(functions there: {', '.join(defined) or 'none'})")
    return fn


def _arguments(fn: Callable[..., Any], spec: PythonModel, num_classes: int | None) -> dict[str, Any]:
    """``args`` plus ``num_classes`` when ``fn`` takes it; ModelError when ``fn`` cannot be
    called with them (``num_classes=None``: a check, a placeholder count is bound)."""
    if "num_classes" in spec.args:
        raise ModelError("args: num_classes is set by reportgen (the dataset's class count)")
    params = inspect.signature(fn).parameters
    kwargs = dict(spec.args)
    if "num_classes" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        kwargs["num_classes"] = num_classes if num_classes is not None else 2
    try:
        inspect.signature(fn).bind(**kwargs)
    except TypeError as exc:
        raise ModelError(f"args: {spec.builder} cannot be called with {sorted(kwargs)}: {exc}") from None
    return kwargs


def check_python(spec: PythonModel, base_dir: Path) -> list[str]:
    """The file exists, imports, defines the function, and the function takes ``args``."""
    try:
        _arguments(_load_function(spec, base_dir), spec, None)
    except ModelError as exc:
        return [str(exc)]
    return []


def build_python(spec: PythonModel, num_classes: int, base_dir: Path) -> keras.Model:
    import keras

    try:
        fn = _load_function(spec, base_dir)
        kwargs = _arguments(fn, spec, num_classes)
    except ModelError as exc:
        raise ModelError(f"model {spec.name!r}: {exc}") from None
    try:
        model = fn(**kwargs)
    except Exception as exc:
        raise ModelError(f"model {spec.name!r}: builder: {spec.builder} raised "
                         f"{type(exc).__name__}: {root_cause(exc)}") from exc
    if not isinstance(model, keras.Model):
        raise ModelError(f"model {spec.name!r}: builder: {spec.builder} returned "
                         f"{type(model).__name__}, not a keras.Model")
    try:
        check_outputs(model, num_classes, spec.builder, "builder")
    except ModelError as exc:
        raise ModelError(f"model {spec.name!r}: {exc}") from None
    return model


register_kind(
    "python", build_python, check=check_python,
    preprocess=named_preprocess, classes=listed_classes,
    files=lambda spec, base_dir: [builder_path(spec, base_dir)[0]],
)
