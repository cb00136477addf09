"""Data that gives silent nonsense is refused or flagged, and outputs never become inputs:
one-class datasets, classes a split leaves out, and an output folder inside (or over) a dataset.

Real small image folders (PNG files written with Pillow); ``validate`` runs without TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reportgen.checks import check_manifest, experiment_fields
from reportgen.config import load_manifest
from reportgen.data_checks import one_class_problems
from reportgen.errors import ConfigError
from reportgen.run.data import load_dataset
from reportgen.run.data.coverage import shortage_msgs
from reportgen.run.data.load import split_labels
from reportgen.run.data.split import per_class_take, split_indices, stratified_pick
from tests.conftest import run_reportgen

HEADER = """\
[report]
title = { "zh-TW" = "測試", en = "Test" }
author = "測試者"
seed = 7
"""

CNN = """
[[models]]
name = "cnn"
kind = "cnn"
input_shape = [8, 8, 1]
"""


def _folders(root: Path, counts: dict[str, int], flat: bool = False) -> Path:
    """Class sub-folders (or one flat folder of ``<class>_<i>.png``) of 8×8 gray PNGs."""
    rng = np.random.default_rng(0)
    for name, count in counts.items():
        folder = root if flat else root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(folder / f"{name}_{i}.png")
    return root


def _manifest(tmp_path: Path, dataset: str, experiment: str = 'train = { epochs = 1 }',
              extra: str = "") -> Path:
    path = tmp_path / "experiments.toml"
    path.write_text(HEADER + extra + f"""
[[datasets]]
name = "faces"
kind = "image_folder"
{dataset}
{CNN}
[[experiments]]
name = "e1"
dataset = "faces"
model = "cnn"
{experiment}
""", encoding="utf-8")
    return path


def _problems(path: Path, out: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        check_manifest(load_manifest(path), path.parent, out)
    return info.value.problems


# ----------------------------------------------------------------------------- one class

ONE_CLASS = [
    pytest.param({"cat": 6}, 'path = "data"', id="one-class-folder"),
    pytest.param({"a": 3, "b": 3}, 'path = "data"\nlabels = { pattern = "^(\\\\w)_", map = { a = "cat", '
                 'b = "cat" } }', id="labels-map-to-one-class"),
    pytest.param({"cat": 3, "dog": 3}, 'path = "data"\ninclude = ["cat_*"]\n'
                 'labels = { pattern = "^([a-z]+)_" }', id="include-leaves-one-class"),
]


@pytest.mark.parametrize(("counts", "dataset"), ONE_CLASS)
def test_training_on_one_class_is_an_error_naming_the_dataset_and_its_class(tmp_path, counts, dataset):
    _folders(tmp_path / "data", counts, flat="labels" in dataset)
    path = _manifest(tmp_path, dataset)
    assert _problems(path) == [
        "datasets[0] (faces): a single class, 'cat', yet experiments[0] (e1) trains on it: a "
        "classifier of one class measures nothing (its accuracy is 1.0 by construction); give the "
        "dataset at least two classes"]


def test_validate_exits_2_on_one_class_data(tmp_path):
    _folders(tmp_path / "data", {"cat": 6})
    done = run_reportgen("validate", _manifest(tmp_path, 'path = "data"'))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "  - datasets[0] (faces): a single class, 'cat', yet experiments[0] (e1)" in done.stderr


def test_a_model_naming_its_outputs_may_score_one_class_data_with_a_note(tmp_path):
    """Evaluated as loaded, a model that names its outputs turns one-class data into a recall
    (the share of its images given that class): allowed, with a note. A model naming no output
    (scored on the dataset's classes, one) measures nothing: an error."""
    _folders(tmp_path / "data", {"happy": 4})
    extra = """
[[models]]
name = "named"
kind = "file"
path = "model.keras"
classes = ["angry", "happy", "sad"]

[[models]]
name = "unnamed"
kind = "file"
path = "model.keras"
"""
    path = tmp_path / "experiments.toml"
    path.write_text(HEADER + extra + """
[[datasets]]
name = "faces"
kind = "image_folder"
test_dir = "data"

[[experiments]]
name = "named_on_happy"
dataset = "faces"
model = "named"

[[experiments]]
name = "unnamed_on_happy"
dataset = "faces"
model = "unnamed"
""", encoding="utf-8")
    manifest = load_manifest(path)
    problems, notes = one_class_problems(manifest, path.parent, experiment_fields(manifest))
    assert notes == ["experiments[0] (named_on_happy): dataset 'faces' holds only class 'happy': its "
                     "accuracy is the share of these images model 'named' gives 'happy' (its other 2 "
                     "outputs count as errors)"]
    assert problems == ["experiments[1] (unnamed_on_happy): dataset 'faces' has a single class, "
                        "'happy', and model 'unnamed' names no other output, so the score measures "
                        "nothing; give the dataset at least two classes, or name the model's outputs "
                        "(models[].classes)"]


# ----------------------------------------------------------------------------- split coverage

def test_a_rare_class_stays_in_training_and_validate_warns_with_its_counts(tmp_path):
    """Before: one single-image class made the whole split random (probe: test held 3 cats, no
    dog, no owl; the owl was never trained on). Now every class keeps its training image, the
    others stay stratified, and the class missing from validation and test is named."""
    _folders(tmp_path / "data", {"cat": 8, "dog": 8, "owl": 1})
    path = _manifest(tmp_path, 'path = "data"')
    manifest = load_manifest(path)
    classes, labels = split_labels(manifest.datasets[0], path.parent, manifest.report.seed)
    per_class = {s: np.bincount(y, minlength=3).tolist() for s, y in labels.items()}
    assert per_class == {"train": [5, 5, 1], "val": [1, 2, 0], "test": [2, 1, 0]}
    warning = ("warning: dataset 'faces': class 'owl' has no validation and no test image (1 train "
               "/ 0 validation / 0 test): validation accuracy and early stopping do not see it and "
               "the test accuracy does not measure it")
    assert check_manifest(manifest, path.parent) == [warning]
    done = run_reportgen("validate", path)
    assert done.returncode == 0 and warning in done.stdout.splitlines()


def test_a_class_without_training_images_is_an_error_with_counts_per_split(tmp_path):
    _folders(tmp_path / "data", {"cat": 6, "dog": 6})
    path = _manifest(tmp_path, 'path = "data"\nmax_samples = 3')
    manifest = load_manifest(path)
    _, labels = split_labels(manifest.datasets[0], path.parent, manifest.report.seed)
    untrained = [c for c, i in (("cat", 0), ("dog", 1)) if not (labels["train"] == i).any()]
    assert len(untrained) == 1
    name = untrained[0]
    problems = _problems(path)
    assert len(problems) == 1, problems
    counts = " / ".join(f"{int((labels[s] == ('cat', 'dog').index(name)).sum())} {w}"
                        for s, w in (("train", "train"), ("val", "validation"), ("test", "test")))
    assert problems[0] == (
        f"datasets[0] (faces): 1 class has no training image ({name!r}: {counts}), so the model "
        "never learns it; add images (or raise max_samples), or remove the class (split with "
        "report.seed 7; trained on by experiments[0] (e1))")
    assert counts.startswith("0 train")
    # The split validate computes is the one a build loads (no TensorFlow needed to see it).
    loaded = load_dataset(manifest.datasets[0], (8, 8), 1, manifest.report.seed, path.parent)
    assert all(np.array_equal(getattr(loaded, s).y, labels[s]) for s in ("train", "val", "test"))
    # Evaluated as loaded, only the test split matters: no error about training.
    evaluated = _manifest(tmp_path, 'path = "data"\nmax_samples = 3', experiment="")
    assert not any("training image" in p for p in _problems_or_none(evaluated))


def _problems_or_none(path: Path) -> list[str]:
    try:
        check_manifest(load_manifest(path), path.parent)
    except ConfigError as exc:
        return exc.problems
    return []


def test_split_fallback_keeps_every_class_on_the_training_side():
    y = np.array([0] * 8 + [1] * 8 + [2])
    rest, taken = split_indices(None, np.arange(len(y)), y, 0.15, seed=7)
    assert sorted(set(y[rest])) == [0, 1, 2] and sorted(set(y[taken])) == [0, 1]
    assert len(taken) == 3 and sorted(np.concatenate([rest, taken]).tolist()) == list(range(17))
    # k below the class count: one of each while they last, larger classes first.
    assert sorted(y[per_class_take(y, 2, 0, keep_one=False)].tolist()) == [0, 1]
    assert sorted(set(y[stratified_pick(y, 3, 0)].tolist())) == [0, 1, 2]
    # Nothing can be taken without emptying a class: nothing is taken.
    assert per_class_take(np.array([0, 1, 2]), 1, 0, keep_one=True).size == 0


def test_the_accuracy_notes_of_a_trained_experiment_name_the_class_left_out(tmp_path):
    from reportgen.analyses import registry
    from reportgen.analyses.base import AnalysisContext, NoParams
    from reportgen.i18n import translate_msg
    from reportgen.run.evaluate import evaluate

    _folders(tmp_path / "data", {"cat": 8, "dog": 8, "owl": 1})
    manifest = load_manifest(_manifest(tmp_path, 'path = "data"'))
    data = load_dataset(manifest.datasets[0], (8, 8), 1, manifest.report.seed, tmp_path)
    notes = {}
    for trained in (True, False):
        train = manifest.experiments[0].train if trained else None
        ctx = AnalysisContext(experiment="e1", classes=data.classes, model=None, data=data,
                              preprocess=None, history=None, figure_dir=tmp_path, seed=7,
                              languages=["zh-TW", "en"], train=train)
        ctx.__dict__["evaluation"] = evaluate(data.test.y, data.test.y, data.classes)  # no model needed
        result = registry.get("accuracy")().run(ctx, NoParams())
        notes[trained] = [translate_msg(m, "en") for m in result.notes]
    assert notes[True][1:] == ["Warning: class owl has no test image (1 train / 0 validation / 0 test), "
                               "so the test accuracy does not measure it."]
    assert notes[False] == notes[True][:1]  # evaluated as loaded: validate's note says it


def test_the_report_names_a_class_without_test_images():
    labels = {"train": np.array([0, 0, 1, 2]), "val": np.array([0, 1]), "test": np.array([0, 1])}
    msgs = shortage_msgs(["cat", "dog", "owl"], labels)
    assert [(m.msgid.split(" (")[0], m.params) for m in msgs] == [
        ("Warning: class {name} has no test image", {"name": "owl", "train": 1, "val": 0, "test": 0})]
    labels["test"] = np.array([0, 1, 2])
    msgs = shortage_msgs(["cat", "dog", "owl"], labels)
    assert [(m.msgid.split(" (")[0], m.params) for m in msgs] == [
        ("Warning: class {name} has no validation image", {"name": "owl", "train": 1, "val": 0, "test": 1})]


# ----------------------------------------------------------------------------- output location

def test_output_dir_inside_a_dataset_folder_is_refused_by_validate(tmp_path):
    _folders(tmp_path / "data", {"cat": 6, "dog": 6})
    path = _manifest(tmp_path, 'path = "data"', extra='output_dir = "data/out"\n')
    done = run_reportgen("validate", path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (f"  - report.output_dir: the output folder {tmp_path / 'data' / 'out'} is inside "
            f"datasets[0].path {tmp_path / 'data'} (dataset 'faces'): the next build would read the "
            "report's figures as images of that dataset") in done.stderr


@pytest.mark.parametrize(("out", "expected"), [
    ("data/cat", ["--out: the output folder {tmp}/data/cat is inside datasets[0].path {tmp}/data "
                  "(dataset 'faces')"]),
    ("data", ["--out: the output folder {tmp}/data is datasets[0].path {tmp}/data (dataset 'faces') "
              "itself"]),
    (".", ["--out: datasets[0].path {tmp}/data (dataset 'faces') is inside the output folder {tmp}:",
           "--out: datasets[0].labels.file {tmp}/labels.txt (dataset 'faces') is inside the output "
           "folder {tmp}:"]),
    ("labels.txt", ["--out: the output folder {tmp}/labels.txt is datasets[0].labels.file "
                    "{tmp}/labels.txt (dataset 'faces') itself"]),
])
def test_out_over_inside_or_around_a_dataset_is_refused(tmp_path, out, expected):
    _folders(tmp_path / "data", {"cat": 10, "dog": 10}, flat=True)
    (tmp_path / "labels.txt").write_text("".join(f"{c}_{i}.png {c}\n" for c in ("cat", "dog")
                                                 for i in range(10)), encoding="utf-8")
    path = _manifest(tmp_path, 'path = "data"\nlabels = { file = "labels.txt" }')
    assert check_manifest(load_manifest(path), path.parent) == []  # output_dir "out" is fine
    problems = _problems(path, tmp_path / out)
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected):
        assert problem.startswith(start.format(tmp=tmp_path)), problem


def test_out_through_a_symlink_into_the_data_is_refused(tmp_path):
    _folders(tmp_path / "data", {"cat": 3, "dog": 3})
    (tmp_path / "link").symlink_to(tmp_path / "data")
    path = _manifest(tmp_path, 'path = "data"')
    problems = _problems(path, tmp_path / "link" / "out")
    assert problems == [
        f"--out: the output folder {tmp_path}/link/out is inside datasets[0].path {tmp_path}/data "
        "(dataset 'faces'): the next build would read the report's figures as images of that "
        "dataset; choose an output folder outside every dataset folder"]


def test_build_out_inside_an_images_dataset_exits_2_before_any_work(tmp_path):
    """The probe: a second build read its own figure as an input image. Now the first is refused."""
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photos / "one.png")
    path = tmp_path / "experiments.toml"
    path.write_text(HEADER + """
[[datasets]]
name = "photos"
kind = "images"
path = "photos"

[[models]]
name = "named"
kind = "file"
path = "model.keras"
classes = ["a", "b"]

[[experiments]]
name = "look"
dataset = "photos"
model = "named"
""", encoding="utf-8")
    done = run_reportgen("build", path, "--out", photos / "report", "-q")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (f"--out: the output folder {photos / 'report'} is inside datasets[0].path {photos} "
            "(dataset 'photos')") in done.stderr
    assert not (photos / "report").exists()


# ----------------------------------------------------------------------------- check notes
def test_split_counts_are_remembered_until_the_folder_changes(tmp_path, monkeypatch):
    """A build keeps each dataset's class counts per split (reportgen.check_memo): the next
    check lists no labels; an added image makes it count again, with the same warnings as a
    check without notes."""
    import reportgen.run.data.load as load_module
    from reportgen.check_memo import CheckMemo

    _folders(tmp_path / "faces", {"a": 6, "b": 6, "c": 1})
    path = _manifest(tmp_path, 'path = "faces"')
    calls = []
    real = load_module.split_labels
    monkeypatch.setattr(load_module, "split_labels", lambda *a: calls.append(1) or real(*a))

    def check() -> list[str]:
        memo = CheckMemo(tmp_path / "notes", remember=True)
        notes = check_manifest(load_manifest(path), path.parent, memo=memo)
        memo.flush()
        return notes

    first = check()
    assert len(calls) == 1 and any("'c'" in note for note in first)
    assert check() == first and len(calls) == 1  # remembered: no listing
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "faces" / "c" / "c_new.png")
    after = check()
    assert len(calls) == 2
    assert after == check_manifest(load_manifest(path), path.parent)  # as computed afresh
