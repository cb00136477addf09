"""Progress: plain timestamped lines off a terminal, a rich bar on one, nothing when quiet; the
prediction pass and training epochs report through the build's Progress."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from reportgen import progress as progress_mod
from reportgen.progress import Progress, task, track

LINE = re.compile(r"^\s*\d+\.\d+s (?P<text>.*)$")


def _console(terminal: bool) -> tuple[Console, StringIO]:
    buffer = StringIO()
    return Console(file=buffer, force_terminal=terminal, width=160, highlight=False), buffer


def _lines(buffer: StringIO) -> list[str]:
    """The messages of the timestamped lines (every line must carry its elapsed seconds)."""
    out = []
    for raw in buffer.getvalue().splitlines():
        match = LINE.match(raw)
        assert match, f"line without a timestamp: {raw!r}"
        out.append(match["text"])
    return out


def test_not_a_terminal_gives_timestamped_lines_with_counts_and_rate():
    console, buffer = _console(terminal=False)
    # interval=0: a line per step instead of one per 5 s, so nothing depends on the clock.
    with Progress(console=console, interval=0) as progress:
        progress.experiment(1, 2, "fer")
        seen = list(track([f"f{i}.png" for i in range(4)], "decoding fer_test", unit="files"))
        with task("predicting", total=10, unit="images") as t:
            t.advance(6, note="batch 1")
            t.advance(4)
    assert seen == ["f0.png", "f1.png", "f2.png", "f3.png"]  # items pass through unchanged
    lines = _lines(buffer)
    assert lines[0] == "[1/2] fer · start"
    steps = [line for line in lines if "decoding fer_test: " in line and "/4 files" in line]
    assert [re.search(r"(\d)/4 files", s)[1] for s in steps] == ["1", "2", "3", "4"]
    assert all(re.search(r"/4 files, [\d,.]+ files/s$", s) for s in steps)
    assert re.search(r"fer · decoding fer_test: 4 files in [\d.]+ s \([\d,.]+ files/s\)$", lines[5])
    assert re.search(r"predicting: 6/10 images, [\d,.]+ images/s, batch 1$", lines[6])
    assert re.search(r"predicting: 10/10 images, [\d,.]+ images/s, batch 1$", lines[7])
    assert "predicting: 10 images in" in lines[8] and len(lines) == 9
    assert progress_mod.current() is None  # the context manager unset it


def test_lines_are_throttled_per_task():
    console, buffer = _console(terminal=False)
    with Progress(console=console, interval=3600):
        list(track(range(1000), "decoding", unit="files"))
    assert buffer.getvalue() == ""  # short tasks leave no trace


def test_quiet_prints_nothing():
    console, buffer = _console(terminal=True)
    with Progress(quiet=True, console=console, interval=0) as progress:
        progress.experiment(1, 1, "x")
        progress.say("hello")
        assert list(track(range(5), "decoding", unit="files")) == [0, 1, 2, 3, 4]
        with task("predicting", total=3) as t:
            t.advance(3)
    assert buffer.getvalue() == ""


def test_terminal_renders_a_rich_bar():
    console, buffer = _console(terminal=True)
    with Progress(console=console, interval=0):
        for _ in track(range(7), "decoding fer_test", unit="files"):
            pass
    text = buffer.getvalue()
    assert "━" in text and "decoding fer_test" in text and "7/7" in text and "files/s" in text
    assert "\x1b[" in text  # drawn with terminal control codes, not printed as lines


def test_outside_a_build_track_only_yields():
    progress_mod.set_current(None)
    assert list(track(iter("abc"), "x")) == ["a", "b", "c"]
    with task("x", total=2) as t:
        t.advance(2)  # silently


@pytest.fixture(scope="module")
def digits_context(tmp_path_factory):
    from reportgen.analyses.base import AnalysisContext
    from reportgen.config.schema import CnnModel, ConvBlock, DigitsDataset
    from reportgen.run import models
    from reportgen.run.data import load_dataset

    spec = CnnModel(kind="cnn", name="cnn", input_shape=(12, 12, 1), conv_blocks=[ConvBlock(filters=4)],
                    dense=[8])
    data = load_dataset(DigitsDataset(kind="digits", name="digits", max_samples=200), (12, 12), 1, 0,
                        Path("."))
    model = models.build_model(spec, 10, Path("."))

    def make(batch_size: int) -> AnalysisContext:
        return AnalysisContext(experiment="digits", classes=[str(i) for i in range(10)], model=model,
                               data=data, preprocess=models.preprocess_function(spec), history=None,
                               figure_dir=tmp_path_factory.mktemp("fig"), seed=0, languages=["en"],
                               batch_size=batch_size)

    return make


def test_prediction_reports_batches_and_equals_one_pass(digits_context):
    console, buffer = _console(terminal=False)
    small = digits_context(batch_size=4)  # 16 images per step: several steps
    with Progress(console=console, interval=0):
        chunked = small.test_probabilities
    whole = small.model.predict(small.preprocess(small.data.test.x), verbose=0)
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-6)
    n = len(small.data.test.y)
    assert n > 16
    lines = _lines(buffer)
    counts = [int(re.search(r"predicting digits: (\d+)/(\d+) images", s)[1]) for s in lines[:-1]]
    assert counts == [min(k, n) for k in range(16, n + 16, 16)]
    assert f"predicting digits: {n} images in" in lines[-1]


def test_epochs_report_batches_and_running_loss():
    from reportgen.config.schema import CnnModel, ConvBlock, DigitsDataset, TrainSpec
    from reportgen.run import models, train
    from reportgen.run.data import load_dataset

    spec = CnnModel(kind="cnn", name="cnn", input_shape=(12, 12, 1), conv_blocks=[ConvBlock(filters=4)],
                    dense=[8])
    data = load_dataset(DigitsDataset(kind="digits", name="digits", max_samples=200), (12, 12), 1, 0,
                        Path("."))
    train.seed_everything(0)
    model = models.build_model(spec, 10, Path("."))
    console, buffer = _console(terminal=False)
    with Progress(console=console, interval=0) as progress:
        history, _ = train.train(model, data, TrainSpec(epochs=2, batch_size=32),
                                 models.preprocess_function(spec), None, 0, progress.stage("training"))
    lines = _lines(buffer)
    steps = -(-len(data.train.y) // 32)
    val_steps = -(-len(data.val.y) // 32)
    for epoch in (1, 2):
        batch_lines = [s for s in lines if s.startswith(f"training · epoch {epoch}/2: ") and "batches" in s]
        done = [int(re.search(r": (\d+)/", s)[1]) for s in batch_lines]
        # Keras may run batch callbacks on its callback thread: a stale one is dropped
        assert done == sorted(set(done)) and done[-1] == steps and len(done) >= steps // 2
        shape = rf"/{steps} batches, [\d,.]+ batches/s, loss \d\.\d{{4}}$"
        assert all(re.search(shape, s) for s in batch_lines)
        val = [s for s in lines if s.startswith(f"training · epoch {epoch}/2 · validation: ")]
        assert val and val[-1].startswith(
            f"training · epoch {epoch}/2 · validation: {val_steps}/{val_steps}")
        summary = [s for s in lines if re.match(rf"training · epoch {epoch}/2: loss [\d.]+, acc", s)]
        assert len(summary) == 1
    # the running loss shown after the last batch is the epoch's training loss Keras reports
    last = [s for s in lines if s.startswith(f"training · epoch 2/2: {steps}/{steps} batches")][0]
    assert last.endswith(f"loss {history['loss'][-1]:.4f}")
