"""Catalogs: every user-visible msgid is translated, placeholders survive translation."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from reportgen.i18n import catalog, joined, translate

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"Msg": None, "label": None, "bi": None}


def _extracted_msgids() -> set[str]:
    found: set[str] = set()
    for sub, method_map in (("reportgen", [("**.py", "python")]),
                            ("templates", [("**.html", "jinja2")])):
        for _, _, message, _, _ in extract_from_dir(str(ROOT / sub), method_map, keywords=KEYWORDS):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_extraction_finds_the_report_texts():
    msgids = _extracted_msgids()
    for expected in ("Confusion matrix", "Student ID", "Per-class precision, recall and F1", "Epoch"):
        assert expected in msgids


def test_every_msgid_has_a_traditional_chinese_translation():
    missing = sorted(_extracted_msgids() - set(catalog("zh-TW")))
    assert not missing, f"untranslated in zh_TW (run scripts/update_catalogs.py): {missing}"


@pytest.mark.parametrize("msgid", sorted(catalog("zh-TW")))
def test_placeholders_match(msgid):
    names = lambda s: sorted(re.findall(r"\{(\w+)\}", s))  # noqa: E731
    assert names(msgid) == names(catalog("zh-TW")[msgid])


def test_translate_and_join():
    assert translate("Confusion matrix", "zh-TW") == "混淆矩陣"
    assert translate("Confusion matrix", "en") == "Confusion matrix"
    assert translate("Epochs run", "zh-TW") != "Epochs run"
    assert joined("Predicted class", ["zh-TW", "en"]) == "預測類別 / Predicted class"
    assert joined("Predicted class", ["en"]) == "Predicted class"


def test_chinese_figure_labels_have_glyphs(tmp_path):
    """matplotlib warns 'Glyph … missing from font(s)' when Chinese falls back to boxes."""
    import numpy as np

    from reportgen import figures

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = figures.confusion_matrices(
            np.array([[5, 1], [2, 7]]), ["快樂 happy", "驚訝 surprise"], tmp_path / "cm.png",
            titles=(joined("Counts", ["zh-TW", "en"]),
                    joined("Row-normalised (recall per class)", ["zh-TW"])),
            xlabel=joined("Predicted class", ["zh-TW", "en"]), ylabel=joined("True class", ["zh-TW"]))
    glyph_warnings = [str(w.message) for w in caught if "Glyph" in str(w.message)]
    assert not glyph_warnings, glyph_warnings
    assert path.stat().st_size > 5000
