"""The four method analyses (integrated_gradients, scorecam, guided_gradcam, rise) through the
registry on a gray 48×48 CNN of the manifest and an RGB 224×224 model with a nested backbone.

Checked against independent computations: the maps a figure draws are the maps
``_attribution.attribution`` gives every other analysis (faithfulness scores those); the
randomisation ρ is recomputed; Integrated Gradients' completeness gap is recomputed from the
attributions and hand-made logits (penultimate features × the softmax layer's kernel).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

keras = pytest.importorskip("keras")
layers = keras.layers

from PIL import Image  # noqa: E402

from reportgen import figures  # noqa: E402
from reportgen.analyses import registry  # noqa: E402
from reportgen.analyses._attribution import (  # noqa: E402
    AttributionOptions,
    attribution,
    randomization_correlation,
)
from reportgen.analyses.base import AnalysisContext  # noqa: E402
from reportgen.config.schema import CnnModel, ConvBlock, DigitsDataset  # noqa: E402
from reportgen.run import models  # noqa: E402
from reportgen.run.data import load_dataset  # noqa: E402
from tests.test_analyses_contract import _finite  # noqa: E402

CLASSES = [str(i) for i in range(10)]

# name → (cheap options, the AttributionOptions they stand for)
CASES = {
    "integrated_gradients": ({"examples": 2, "steps": 8, "baseline": "blurred"},
                             AttributionOptions(ig_steps=8, ig_baseline="blurred")),
    "scorecam": ({"examples": 2}, AttributionOptions()),
    "guided_gradcam": ({"examples": 2}, AttributionOptions()),
    "rise": ({"examples": 2, "masks": 60}, AttributionOptions(rise_masks=60)),
}


def _gray_context(tmp: Path) -> AnalysisContext:
    spec = CnnModel(kind="cnn", name="gray48", input_shape=(48, 48, 1),
                    conv_blocks=[ConvBlock(filters=4), ConvBlock(filters=8)], dense=[16])
    keras.utils.set_random_seed(5)
    model = models.build_model(spec, 10, Path("."))
    # Non-zero biases, as after training: with Keras' zero biases the ReLU network is positively
    # homogeneous, f(αx) = α f(x) on the black-baseline path, and completeness holds exactly.
    rng = np.random.default_rng(2)
    for layer in model.layers:
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.normal(0.0, 0.2, layer.bias.shape).astype(np.float32))
    data = load_dataset(DigitsDataset(kind="digits", name="digits", max_samples=120), (48, 48), 1, 0,
                        Path("."))
    return AnalysisContext(experiment="gray48", classes=CLASSES, model=model, data=data,
                           preprocess=models.preprocess_function(spec), history=None,
                           figure_dir=tmp / "gray", seed=0, languages=["zh-TW", "en"])


def _nested_rgb_model():
    """Input 224×224×3 → backbone (strided convs; one LeakyReLU, which Guided Backprop leaves
    as is) → global pooling → softmax: a transfer model's shape, kept tiny."""
    keras.utils.set_random_seed(9)
    b_in = keras.Input((224, 224, 3))
    h = layers.Conv2D(4, 8, strides=8, activation="relu", name="stem")(b_in)
    h = layers.Conv2D(6, 3, strides=2, name="mid")(h)
    h = layers.LeakyReLU(negative_slope=0.1, name="leaky")(h)
    h = layers.Conv2D(8, 3, activation="relu", name="last_conv")(h)
    backbone = keras.Model(b_in, h, name="backbone")
    inputs = keras.Input((224, 224, 3))
    pooled = layers.GlobalAveragePooling2D()(backbone(inputs))
    return keras.Model(inputs, layers.Dense(10, activation="softmax", name="predictions")(pooled))


def _rgb_context(tmp: Path) -> AnalysisContext:
    data = load_dataset(DigitsDataset(kind="digits", name="digits", max_samples=60), (224, 224), 3, 0,
                        Path("."))
    return AnalysisContext(experiment="rgb224", classes=CLASSES, model=_nested_rgb_model(), data=data,
                           preprocess=lambda x: np.asarray(x, np.float32) / 127.5 - 1.0, history=None,
                           figure_dir=tmp / "rgb", seed=3, languages=["zh-TW", "en"])


@pytest.fixture(scope="module")
def gray(tmp_path_factory):
    return _gray_context(tmp_path_factory.mktemp("gray48"))


@pytest.fixture(scope="module")
def rgb(tmp_path_factory):
    return _rgb_context(tmp_path_factory.mktemp("rgb224"))


@pytest.fixture(params=["gray", "rgb"], ids=["gray48", "rgb224-nested"])
def context(request):
    return request.getfixturevalue(request.param)


def _run_capturing_panels(monkeypatch, ctx, name, options):
    """Run ``name`` through the registry and keep the panels its figure drew."""
    drawn = []
    original = figures.example_grid_parts

    def recording(per_example, kinds, path):
        drawn.append(per_example)
        return original(per_example, kinds, path)

    monkeypatch.setattr(figures, "example_grid_parts", recording)
    cls = registry.get(name)
    result = cls().run(ctx, cls.Params.model_validate(options))
    assert len(drawn) == 1
    return result, drawn[0]



@pytest.mark.parametrize("name", sorted(CASES))
def test_figure_shows_the_shared_attribution_maps(name, context, monkeypatch):
    options, attribution_options = CASES[name]
    result, panels = _run_capturing_panels(monkeypatch, context, name, options)

    [figure] = result.figures
    assert figure.path.name == f"{name}.png"
    with Image.open(figure.path) as image:
        assert image.format == "PNG" and min(image.size) > 0
        assert np.asarray(image.convert("L")).std() > 1
    assert _finite(result.metrics)
    assert result.metrics["figure_rows"] and sum(result.metrics["figure_rows"]) > 0

    indices = np.array([e["index"] for e in result.metrics["examples"]])
    targets = context.y_pred[indices]
    assert [e["class"] for e in result.metrics["examples"]] == [CLASSES[c] for c in targets]
    x = context.preprocess(context.images[indices])
    expected = attribution(context, name, x, targets, attribution_options)
    shown = np.stack([row[-1].overlay for row in panels])  # the method's own map: last column
    np.testing.assert_allclose(shown, expected, atol=1e-5)
    assert np.abs(shown).max() > 0

    rho = result.metrics["randomization_rank_correlation"]
    assert -1.0 <= rho <= 1.0
    assert rho == pytest.approx(randomization_correlation(context, name, x, targets, expected,
                                                          attribution_options), abs=1e-4)
    sanity = [n for n in result.notes if n.msgid.startswith("Sanity check (Adebayo")]
    assert len(sanity) == 1 and "{method}" in sanity[0].msgid


def test_without_sanity_check_there_is_no_correlation(context):
    cls = registry.get("rise")
    result = cls().run(context, cls.Params(examples=1, masks=50, sanity_check=False))
    assert "randomization_rank_correlation" not in result.metrics
    assert not any(n.msgid.startswith("Sanity check") for n in result.notes)


def test_guided_gradcam_reports_which_nonlinearities_are_guided(context, monkeypatch):
    result, panels = _run_capturing_panels(monkeypatch, context, "guided_gradcam", {"examples": 2})
    metrics = result.metrics
    gradients = np.stack([row[1].overlay for row in panels])  # the Guided Backprop column
    assert gradients.min() >= 0 and np.allclose(gradients.max(axis=(1, 2)), 1.0)
    if context.experiment == "rgb224":
        assert metrics["layer"] == "backbone/last_conv"
        assert metrics["guided_relus"] == ["backbone/stem", "backbone/last_conv"]
        assert metrics["not_guided"] == ["backbone/leaky"]
        [note] = [n for n in result.notes if n.plural]
        assert note.params == {"count": 2, "layers": "backbone/leaky"}
    else:
        assert metrics["not_guided"] == [] and len(metrics["guided_relus"]) == 3  # 2 convs + dense
        assert not any(n.plural for n in result.notes)


def _logits(model, x):
    """The softmax layer's input times its kernel plus bias: the pre-softmax scores, by hand."""
    features = keras.Model(model.inputs, model.get_layer("predictions").input)([x], training=False)
    kernel, bias = model.get_layer("predictions").get_weights()
    return np.asarray(features, np.float64) @ kernel + bias


def test_integrated_gradients_completeness_gap_is_small_and_recomputable(gray):
    from reportgen.explain import ig_baseline, integrated_gradients

    cls = registry.get("integrated_gradients")
    params = cls.Params(examples=3, steps=128, sanity_check=False)
    result = cls().run(gray, params)
    gap = result.metrics["completeness_gap"]
    assert 0 <= gap < 0.05
    coarse = cls().run(gray, cls.Params(examples=3, steps=4, sanity_check=False))
    assert coarse.metrics["completeness_gap"] > gap  # the check is not vacuous: fewer steps, larger gap
    assert any(n.msgid.startswith("Completeness") for n in result.notes)

    indices = np.array([e["index"] for e in result.metrics["examples"]])
    x, targets = gray.preprocess(gray.images[indices]), gray.y_pred[indices]
    attributions, _ = integrated_gradients(gray.model, x, targets, steps=128,
                                           preprocess=gray.preprocess)
    base = ig_baseline(x, "black", gray.preprocess)
    rows = np.arange(len(x))
    change = _logits(gray.model, x)[rows, targets] - _logits(gray.model, base)[rows, targets]
    by_hand = np.abs(attributions.reshape(len(x), -1).sum(axis=1) - change) / np.abs(change)
    assert gap == pytest.approx(by_hand.mean(), rel=1e-3, abs=1e-5)
