"""The contract every registered analysis keeps: runs on a gray and an RGB model, writes real
PNG figures, returns JSON-serialisable finite metrics and translatable text.

To add an analysis, add a row to CASES; test_every_analysis_has_a_case fails until you do.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from reportgen.analyses import registry
from reportgen.analyses.base import AnalysisContext, AnalysisResult, Msg, NoParams, Params
from reportgen.config.schema import CnnModel, ConvBlock, DigitsDataset
from reportgen.i18n import catalog, plural_catalog
from reportgen.run import models
from reportgen.run.data import load_dataset

# name → manifest options that keep the case fast (same validation as a manifest entry)
CASES: dict[str, dict] = {
    "accuracy": {},
    "classification_report": {},
    "confusion_matrix": {},
    "training_curves": {},
    "saliency": {"examples": 3, "smoothgrad_samples": 4},
    "gradcam": {"examples": 3},
    "misclassified": {"pairs": 2, "per_pair": 2},
    "top_k": {"k": 2, "max_images": 3},
    "occlusion": {"examples": 2, "patch": 4},
    "filters": {"filters": 4, "steps": 5},
    "lime": {"examples": 1, "num_samples": 60, "max_classes": 3},
    "face_panel": {},
    "faithfulness": {"images": 3, "steps": 4, "methods": ["gradcam", "saliency", "rise"], "rise_masks": 50},
    "face_regions": {"max_images": 3, "methods": ["gradcam", "saliency"]},
    "integrated_gradients": {"examples": 2, "steps": 8},
    "scorecam": {"examples": 2},
    "guided_gradcam": {"examples": 2},
    "rise": {"examples": 2, "masks": 50},
}


def test_every_analysis_has_a_case():
    missing = sorted(set(registry.available()) - set(CASES))
    assert not missing, f"add contract cases for: {missing}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_params_are_strict_and_frozen(name):
    params_cls = registry.get(name).Params
    assert issubclass(params_cls, Params), f"{params_cls.__name__} must derive from base.Params"
    with pytest.raises(ValidationError, match="no_such_option"):
        params_cls.model_validate({**CASES[name], "no_such_option": 1})
    params = params_cls.model_validate(CASES[name])
    with pytest.raises(ValidationError, match="frozen"):
        params.anything = 1
    assert issubclass(NoParams, Params) and not NoParams.model_fields


def _context(channels: int, tmp_path: Path) -> AnalysisContext:
    spec = CnnModel(kind="cnn", name=f"cnn{channels}", input_shape=(16, 16, channels),
                    conv_blocks=[ConvBlock(filters=4), ConvBlock(filters=6)], dense=[8])
    data = load_dataset(DigitsDataset(kind="digits", name="digits", max_samples=150), (16, 16),
                        channels, 0, Path("."))
    model = models.build_model(spec, 10, Path("."))  # untrained: the contract is about shapes
    history = {"loss": [2.0, 1.5], "val_loss": [2.1, 1.7], "accuracy": [0.2, 0.4],
               "val_accuracy": [0.2, 0.35]}
    return AnalysisContext(experiment=f"contract{channels}", classes=[str(i) for i in range(10)],
                           model=model, data=data, preprocess=models.preprocess_function(spec),
                           history=history, figure_dir=tmp_path / f"figures{channels}", seed=0,
                           languages=["zh-TW", "en"])


@pytest.fixture(scope="module", params=[1, 3], ids=["gray", "rgb"])
def context(request, tmp_path_factory):
    return _context(request.param, tmp_path_factory.mktemp(f"contract{request.param}"))


def test_gradcam_and_top_k_share_one_randomised_model(context):
    """Both run the model-randomisation check (analyses/_sanity.py) on the same target layer:
    the re-initialised copy is built once per experiment, and each records its correlation."""
    rhos = []
    for name in ("gradcam", "top_k"):
        cls = registry.get(name)
        result = cls().run(context, cls.Params.model_validate(CASES[name]))
        rhos.append(result.metrics["randomization_rank_correlation"])
        assert any(note.msgid.startswith("Sanity check (Adebayo") for note in result.notes)
    assert all(-1.0 <= rho <= 1.0 for rho in rhos), rhos
    assert len([key for key in context._shared if key.startswith("random_probe:")]) == 1
    off = registry.get("gradcam")().run(context, registry.get("gradcam").Params(examples=2,
                                                                                 sanity_check=False))
    assert "randomization_rank_correlation" not in off.metrics


def _finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _msgs(result: AnalysisResult) -> list[Msg]:
    msgs = [f.caption for f in result.figures] + list(result.notes)
    for table in result.tables:
        msgs += table.columns + [c for row in table.rows for c in row if isinstance(c, Msg)]
    return msgs


@pytest.mark.parametrize("name", sorted(CASES))
def test_analysis_contract(name, context):
    cls = registry.get(name)
    result = cls().run(context, cls.Params.model_validate(CASES[name]))
    assert isinstance(result, AnalysisResult)
    json.dumps(result.metrics)
    assert _finite(result.metrics), result.metrics
    assert result.figures or result.notes or result.tables
    for figure in result.figures:
        with Image.open(figure.path) as image:
            assert image.format == "PNG" and min(image.size) > 50
            pixels = np.asarray(image.convert("L"))
            assert pixels.std() > 1, f"{figure.path.name} is blank"
    for msg in _msgs(result):
        translated = plural_catalog("zh-TW") if msg.plural else catalog("zh-TW")
        assert msg.msgid in translated, f"untranslated: {msg.msgid!r}"
        msg.msgid.format(**msg.params)  # every placeholder has a value
