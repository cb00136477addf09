"""Training studies: grids, transfer chains, staged unfreezing, class weights, chain-aware cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reportgen.config import load_manifest
from reportgen.config.schema import CnnModel, ConvBlock, DigitsDataset, StageSpec, TrainSpec
from reportgen.errors import ConfigError
from reportgen.run import models
from reportgen.run.data import load_dataset
from tests.conftest import run_cli

HEAD = """\
[report]
title = { "zh-TW" = "測試", en = "Test" }
seed = 5

[[datasets]]
name = "low"
kind = "digits"
digits = [0, 1, 2, 3, 4, 5]
max_samples = 300

[[datasets]]
name = "high"
kind = "digits"
digits = [9, 8, 3, 4, 5]
max_samples = 300

[[models]]
name = "cnn"
kind = "cnn"
input_shape = [16, 16, 1]
conv_blocks = [{ filters = 6 }, { filters = 8 }]
dense = [16]
"""


# ------------------------------------------------------------------------------------ grid
def test_grid_expands_into_named_variants(write_manifest):
    manifest = load_manifest(write_manifest(HEAD + """
[[experiments]]
name = "abl"
dataset = "low"
model = "cnn"
train = { epochs = 2, learning_rate = 0.01 }
[experiments.grid]
augmentation = { plain = "none", aug = { rotation = 0.05, horizontal_flip = true } }
normalization = [false, true]
learning_rate = [0.001, 0.0003]
"""))
    names = [e.name for e in manifest.experiments]
    assert len(names) == 8 and len(set(names)) == 8
    assert names[0] == "abl-plain-normalization_off-learning_rate_0.001"
    assert names[-1] == "abl-aug-normalization_on-learning_rate_0.0003"
    last = manifest.experiments[-1]
    assert last.grid_of == "abl" and last.grid_labels == {
        "augmentation": "aug", "normalization": "normalization_on", "learning_rate": "learning_rate_0.0003"}
    assert last.train.augmentation.rotation == 0.05 and last.train.augmentation.horizontal_flip
    assert last.train.normalization and last.train.learning_rate == 0.0003 and last.train.epochs == 2
    assert manifest.experiments[0].train.augmentation is None


@pytest.mark.parametrize("grid, fragment", [
    ('epochz = [1, 2]', "experiments[0].grid.epochz: not a training option"),
    ('epochs = [3]', "experiments[0].grid.epochs: a grid axis needs at least 2 values"),
    ('epochs = 3', "experiments[0].grid.epochs: expected a list of values"),
    ('learning_rate = [0.1, -1.0]',
     "experiments[0] (grid variant 'abl-learning_rate__1.0').train.learning_rate"),
])
def test_grid_errors_name_the_field(write_manifest, grid, fragment):
    path = write_manifest(HEAD + f"""
[[experiments]]
name = "abl"
dataset = "low"
model = "cnn"
train = {{ epochs = 2 }}
[experiments.grid]
{grid}
""")
    with pytest.raises(ConfigError) as info:
        load_manifest(path)
    assert fragment in str(info.value)


# ------------------------------------------------------------------------------ chain rules
def _experiments(*entries: str) -> str:
    """``[[experiments]]`` blocks from ``key = value, key = value`` lines."""
    return "".join("\n[[experiments]]\n" + entry.replace(", ", "\n") + "\n" for entry in entries)


@pytest.mark.parametrize("experiments, fragment", [
    (['name = "a", dataset = "low", model = "cnn", train = { epochs = 1 }, init_from = "zz"'],
     "experiments[0].init_from: unknown experiment 'zz'"),
    (['name = "a", dataset = "low", model = "cnn", train = { epochs = 1 }, init_from = "b"',
      'name = "b", dataset = "low", model = "cnn", train = { epochs = 1 }, init_from = "a"'],
     "cycle: a → b → a"),
    (['name = "a", dataset = "low", model = "cnn", train = { epochs = 1 }',
      'name = "b", dataset = "low", model = "cnn2", train = { epochs = 1 }, init_from = "a"'],
     "experiments[1].model: a transfer chain keeps its architecture"),
    (['name = "a", dataset = "low", model = "cnn", train = { epochs = 1 }',
      'name = "b", dataset = "low", model = "cnn", init_from = "a"'],
     "experiments[1].train: required with init_from"),
])
def test_chain_errors(write_manifest, experiments, fragment):
    extra = '\n[[models]]\nname = "cnn2"\nkind = "cnn"\ninput_shape = [16, 16, 1]\n'
    path = write_manifest(HEAD + extra + _experiments(*experiments))
    with pytest.raises(ConfigError) as info:
        load_manifest(path)
    assert fragment in str(info.value)


def test_plan_puts_parents_first_and_only_keeps_ancestors(write_manifest, tmp_path):
    from reportgen.plan import make_plan

    manifest = load_manifest(write_manifest(HEAD + _experiments(
        'name = "child", dataset = "high", model = "cnn", train = { epochs = 1 }, init_from = "parent"',
        'name = "other", dataset = "low", model = "cnn", train = { epochs = 1 }',
        'name = "parent", dataset = "low", model = "cnn", train = { epochs = 1 }')))
    plans = make_plan(manifest, tmp_path)
    assert [p.name for p in plans] == ["other", "parent", "child"]
    assert plans[2].parents == ("parent",) and plans[2].parent_key == plans[1].cache_key
    assert [p.name for p in make_plan(manifest, tmp_path, only=["child"])] == ["parent", "child"]


# ------------------------------------------------------------------------ models and stages
def _cnn():
    spec = CnnModel(kind="cnn", name="cnn", input_shape=(16, 16, 1),
                    conv_blocks=[ConvBlock(filters=6), ConvBlock(filters=8, batch_norm=True)], dense=[16])
    return spec, models.build_model(spec, 6, Path("."))


def test_rehead_keeps_the_backbone_and_maps_shared_classes():
    from reportgen.run.transfer import backbone_and_head, rehead

    _, parent = _cnn()
    old = ["0", "1", "2", "3", "4", "5"]
    new = ["9", "8", "3", "4", "5"]
    child = rehead(parent, old, new, seed=0)
    assert child.outputs[0].shape[-1] == len(new)
    for a, b in zip(backbone_and_head(parent)[0], backbone_and_head(child)[0]):
        for wa, wb in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(wa, wb)
    old_kernel, old_bias = parent.layers[-1].get_weights()
    kernel, bias = child.layers[-1].get_weights()
    for j, name in enumerate(new):
        if name in old:
            np.testing.assert_array_equal(kernel[:, j], old_kernel[:, old.index(name)])
            assert bias[j] == old_bias[old.index(name)]
        else:
            assert not np.allclose(kernel[:, j], 0)
    assert rehead(parent, old, old, seed=0) is parent


def _digits():
    return load_dataset(DigitsDataset(kind="digits", name="d", digits=[0, 1, 2, 3, 4, 5], max_samples=200),
                        (16, 16), 1, 0, Path("."))


def test_head_only_stage_freezes_the_backbone_and_its_batchnorm():
    from reportgen.run import train
    from reportgen.run.transfer import backbone_and_head, set_trainable

    spec, model = _cnn()
    backbone, head = backbone_and_head(model)
    before = [w.copy() for layer in backbone for w in layer.get_weights()]
    head_before = [w.copy() for layer in head for w in layer.get_weights()]
    stages = [StageSpec(trainable="head", epochs=1)]
    history, records = train.train(model, _digits(), TrainSpec(batch_size=32, stages=stages,
                                                               early_stopping_patience=0),
                                   models.preprocess_function(spec), None, 0, lambda m: None)
    after = [w for layer in backbone for w in layer.get_weights()]
    for a, b in zip(before, after):  # BatchNorm moving statistics included
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in
               zip(head_before, [w for layer in head for w in layer.get_weights()]))
    assert records[0]["trainable"] == "head" and history["stage"] == [0.0]
    assert all(not layer.trainable for layer in backbone) and all(layer.trainable for layer in head)
    counts = set_trainable(model, 2)  # the last two weighted backbone layers: block2 conv + bn
    assert [layer.name for layer in backbone if layer.trainable] == ["block2_conv1", "block2_bn1"]
    assert counts["trainable_params"] > records[0]["trainable_params"]
    set_trainable(model, "all")
    assert all(layer.trainable for layer in backbone)


def test_nested_application_backbone_unfreezes_from_its_end():
    import keras

    from reportgen.run.transfer import backbone_and_head, set_trainable

    base = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3))
    model = keras.Sequential([keras.Input((32, 32, 3)), base, keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, activation="softmax")])
    assert backbone_and_head(model)[0] == [base]
    set_trainable(model, 3)
    weighted = [layer for layer in base.layers if layer.weights]
    assert all(layer.trainable for layer in weighted[-3:]) and not any(x.trainable for x in weighted[:-3])


def test_class_weights_are_balanced():
    from reportgen.run.train import class_weights

    y = np.array([0] * 6 + [1] * 3 + [2] * 1)
    weights = class_weights(y, 4)
    assert weights[0] == pytest.approx(10 / (3 * 6)) and weights[2] == pytest.approx(10 / 3)
    assert weights[3] == 0.0
    assert sum(weights[c] * n for c, n in enumerate([6, 3, 1, 0])) == pytest.approx(len(y))


def test_class_weights_match_sklearn_balanced():
    from sklearn.utils.class_weight import compute_class_weight

    from reportgen.run.train import class_weights

    y = np.array([0] * 6 + [1] * 3 + [3] * 2)
    weights = class_weights(y, 5)
    expected = compute_class_weight("balanced", classes=np.array([0, 1, 3]), y=y)
    assert [weights[c] for c in (0, 1, 3)] == pytest.approx(list(expected))
    assert weights[2] == weights[4] == 0.0


# --------------------------------------------------------------------- the chain end to end
CHAIN = HEAD + """
[[experiments]]
name = "parent"
dataset = "low"
model = "cnn"
analyses = ["accuracy", "training_curves"]
train = { epochs = PARENT_EPOCHS, early_stopping_patience = 0 }

[[experiments]]
name = "child"
dataset = "high"
model = "cnn"
init_from = "parent"
analyses = ["accuracy", "training_curves"]
[experiments.train]
early_stopping_patience = 0
stages = [{ trainable = "head", epochs = 1 }, { trainable = "all", epochs = 1, learning_rate = 0.0003 }]

[[experiments]]
name = "other"
dataset = "low"
model = "cnn"
analyses = ["accuracy"]
train = { epochs = 1 }
"""


def _build(path: Path) -> dict:
    done = run_cli("build", path, "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((path.parent / "out" / "metrics.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_chain_builds_and_changing_the_parent_retrains_only_its_descendants(tmp_path):
    path = tmp_path / "experiments.toml"
    path.write_text(CHAIN.replace("PARENT_EPOCHS", "1"), encoding="utf-8")
    first = _build(path)["experiments"]
    child = first["child"]
    assert child["classes"] == ["9", "8", "3", "4", "5"]
    assert child["init_from"] == {"parent": "parent", "parent_classes": ["0", "1", "2", "3", "4", "5"],
                                  "shared_classes": ["3", "4", "5"], "kept_classes": ["3", "4", "5"],
                                  "head_replaced": True}
    assert [s["trainable"] for s in child["stages"]] == ["head", "all"]
    assert child["history"]["stage"] == [0.0, 1.0]
    assert child["analyses"]["training_curves"]["metrics"]["stage_starts"] == [2]

    path.write_text(CHAIN.replace("PARENT_EPOCHS", "2"), encoding="utf-8")
    second = _build(path)
    hits = {name: e["cache"]["hit"] for name, e in second["experiments"].items()}
    assert hits == {"parent": False, "child": False, "other": True}
    chain = second["comparison"]["chain-parent-child"]["steps"]
    assert [s["experiment"] for s in chain] == ["parent", "child"]
    # the child is tested on another dataset's images: no change against its parent is computed
    assert chain[1]["comparable"] is False and chain[1]["delta_points"] is None
    accuracies = [second["experiments"][n]["accuracy"] for n in ("parent", "child")]
    assert [s["accuracy"] for s in chain] == accuracies


# ------------------------------------------------------------------------ example manifests
@pytest.mark.parametrize("name, variants",
                         [("fer_transfer_chain.toml", 12), ("augmentation_ablation.toml", 4)])
def test_example_manifests_validate_and_name_what_is_missing(name, variants):
    path = Path(__file__).resolve().parent.parent / "examples" / name
    manifest = load_manifest(path)  # schema, grid, chains: all valid
    assert len(manifest.experiments) == variants
    done = run_cli("validate", path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "data/fer2013.csv" in done.stderr and "file not found" in done.stderr
    if "chain" in name:
        assert "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5" in done.stderr
        assert "data/CK+" in done.stderr


@pytest.mark.parametrize("question, fragment", [
    ('answers = ["nope"]', "report.questions[0].answers[0]: unknown experiment 'nope'"),
    ('answers = ["e.gradcam"]', "report.questions[0].answers[0]: experiment 'e' has no analysis 'gradcam'"),
    ('answer = "x"\nanswer_file = "a.md"', "report.questions[0]: give answer or answer_file, not both"),
])
def test_question_references_are_checked(write_manifest, question, fragment):
    text = HEAD.replace("seed = 5\n", f'seed = 5\n\n[[report.questions]]\nnumber = 1\n'
                        f'prompt = {{ "zh-TW" = "問", en = "Q" }}\n{question}\n')
    path = write_manifest(text + _experiments('name = "e", dataset = "low", model = "cnn", '
                                              'train = { epochs = 1 }'))
    with pytest.raises(ConfigError) as info:
        load_manifest(path)
    assert fragment in str(info.value)


def test_chain_helpers_order_cycles_and_paths():
    from reportgen.config.chains import chains, cycles, lineage, parents_first

    parent_of = {"child": "parent", "grandchild": "child", "other": None, "parent": None}
    names = ["grandchild", "child", "other", "parent"]
    assert parents_first(names, parent_of) == ["other", "parent", "child", "grandchild"]
    assert lineage("grandchild", parent_of) == ["grandchild", "child", "parent"]
    assert chains(names, parent_of) == [["parent", "child", "grandchild"]]
    assert cycles(names, parent_of) == {}
    looped = {"a": "b", "b": "a", "c": "a"}
    assert cycles(["a", "b", "c"], looped) == {"a": ["a", "b", "a"], "b": ["b", "a", "b"],
                                               "c": ["c", "a", "b", "a"]}
