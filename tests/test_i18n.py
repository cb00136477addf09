"""Catalogs: every user-visible msgid is translated, placeholders survive translation, plural
forms follow each language's rule, and extraction finds every msgid."""

from __future__ import annotations

import ast
import importlib.util
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_keywords
from babel.messages.pofile import read_po

from reportgen.i18n import (
    EXTRACTION_KEYWORDS,
    catalog,
    joined,
    plural_catalog,
    plural_msg,
    translate,
    translate_msg,
)
from reportgen.report_types import Msg, jsonable

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = parse_keywords(EXTRACTION_KEYWORDS)


def _extracted(sub: str = "") -> list[str | tuple[str, str]]:
    """What Babel extracts (as scripts/update_catalogs.py does): a str per msgid, a (singular,
    plural) tuple per plural text."""
    found = []
    for folder, method_map in (("reportgen", [("**.py", "python")]),
                               ("templates", [("**.html", "jinja2")])):
        if sub and not sub.startswith(folder):
            continue
        for _, _, message, _, _ in extract_from_dir(str(ROOT / (sub or folder)), method_map,
                                                     keywords=KEYWORDS):
            found.append(message)
    return found


def _extracted_msgids() -> set[str]:
    return {m if isinstance(m, str) else m[0] for m in _extracted()}


def _placeholders(text: str) -> list[str]:
    """``{name}`` and ``{name:,}`` alike (a translation must keep the format spec too)."""
    return sorted(re.findall(r"\{(\w+(?:[:!][^{}]*)?)\}", text))


def test_extraction_finds_the_report_texts():
    msgids = _extracted_msgids()
    for expected in ("Confusion matrix", "Student ID", "Per-class precision, recall and F1", "Epoch"):
        assert expected in msgids


def test_every_msgid_has_a_traditional_chinese_translation():
    missing = sorted(_extracted_msgids() - set(catalog("zh-TW")) - set(plural_catalog("zh-TW")))
    assert not missing, f"untranslated in zh_TW (run scripts/update_catalogs.py): {missing}"


def test_plural_texts_are_plural_entries_of_the_catalogs():
    """A plural text the catalogs hold as a plain entry would never find its translation."""
    plurals = {m[0] for m in _extracted() if isinstance(m, tuple)}
    assert plurals, "no plural_msg found by the extraction"
    assert not plurals & set(catalog("zh-TW"))
    assert plurals <= set(plural_catalog("zh-TW"))


@pytest.mark.parametrize("msgid", sorted(catalog("zh-TW")))
def test_placeholders_match(msgid):
    assert _placeholders(msgid) == _placeholders(catalog("zh-TW")[msgid])


@pytest.mark.parametrize("msgid", sorted(plural_catalog("zh-TW")))
def test_plural_placeholders_match(msgid):
    for form in plural_catalog("zh-TW")[msgid]:
        assert _placeholders(form) == _placeholders(msgid)


def test_plural_form_follows_the_language():
    singular, plural = "{count:,} image", "{count:,} images"
    assert translate(singular, "en", {"count": 1}, plural) == "1 image"
    assert translate(singular, "en", {"count": 2}, plural) == "2 images"
    assert translate(singular, "en", {"count": 0}, plural) == "0 images"
    assert translate(singular, "en", {"count": 12345}, plural) == "12,345 images"
    # Chinese has one form (nplurals=1 in the catalog header): no 's' to fake
    assert [translate(singular, "zh-TW", {"count": n}, plural) for n in (0, 1, 2, 5)] == \
        ["0 張影像", "1 張影像", "2 張影像", "5 張影像"]
    face = plural_msg("Photo {name}: {count} face detected by MTCNN (box and five landmarks), numbered "
                      "in reading order (the crops in the other figures are titled with the same "
                      "numbers) and labelled with the model's most probable class for its crop.",
                      "Photo {name}: {count} faces detected by MTCNN (box and five landmarks), "
                      "numbered in reading order (the crops in the other figures are titled with the "
                      "same numbers) and labelled with the model's most probable class for its crop.",
                      {"name": "a.jpg", "count": 1})
    assert translate_msg(face, "en").startswith("Photo a.jpg: 1 face detected")
    assert translate_msg(Msg(face.msgid, {**face.params, "count": 3}, face.plural), "en") \
        .startswith("Photo a.jpg: 3 faces detected")
    assert translate_msg(face, "zh-TW").startswith("照片 a.jpg：MTCNN 偵測到 1 張人臉")
    # a plural text no catalog has yet: English's rule on the msgid pair
    assert translate("{count} zebra", "zh-TW", {"count": 1}, "{count} zebras") == "1 zebra"
    assert translate("{count} zebra", "en", {"count": 4}, "{count} zebras") == "4 zebras"
    assert joined(singular, ["zh-TW", "en"], {"count": 1}, plural=plural) == "1 張影像 / 1 image"
    with pytest.raises(ValueError, match="count"):
        translate(singular, "en", {"n": 1}, plural)


def test_msg_parameters_are_translated_in_the_same_language():
    nested = Msg("{description} ({notes})", {
        "description": Msg("{height}×{width} gray", {"height": 8, "width": 8}),
        "notes": Msg("{first}; {second}", {
            "first": plural_msg("{count:,} unreadable file skipped", "{count:,} unreadable files skipped",
                                {"count": 2}),
            "second": Msg("test split only")})})
    assert translate_msg(nested, "en") == "8×8 gray (2 unreadable files skipped; test split only)"
    assert translate_msg(nested, "zh-TW") == "8×8 灰階（略過 2 個無法讀取的檔案；僅載入測試集）"
    # the JSON form records hold ({"msgid", "params", "plural"}) renders the same, nested too
    assert translate_msg(jsonable(nested), "zh-TW") == translate_msg(nested, "zh-TW")
    assert translate("{first}; {second}", "zh-TW", jsonable(nested.params["notes"].params)) == \
        "略過 2 個無法讀取的檔案；僅載入測試集"


def _update_catalogs_module():
    spec = importlib.util.spec_from_file_location("update_catalogs", ROOT / "scripts" / "update_catalogs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_extraction_script_finds_joined_and_plural_texts(tmp_path):
    (tmp_path / "reportgen").mkdir()
    (tmp_path / "reportgen" / "demo.py").write_text(
        "from reportgen.i18n import joined, plural_msg\n"
        "from reportgen.report_types import Msg\n"
        "def demo(n, ctx, languages):\n"
        "    a = joined('Zebra axis', languages)\n"
        "    b = plural_msg('{count} zebra', '{count} zebras', {'count': n, 'herd': 'h'})\n"
        "    c = Msg('{a} and {b}', {'a': 1, 'b': Msg('Gnu')})\n"
        "    return ctx.label('Okapi label'), a, b, c\n", encoding="utf-8")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(
        "<h2 data-x=\"{{ joined('Template joined') }}\">{{ bi('Template bi') }}</h2>\n", encoding="utf-8")
    pot = tmp_path / "messages.pot"
    _update_catalogs_module().extract(pot, tmp_path)
    entries = {m.id: m for m in read_po(pot.open("rb")) if m.id}
    assert ("{count} zebra", "{count} zebras") in entries
    assert entries[("{count} zebra", "{count} zebras")].pluralizable
    for msgid in ("Zebra axis", "Okapi label", "Gnu", "Template joined", "Template bi"):
        assert msgid in entries, msgid
    # a dict literal in the parameters does not turn a Msg into a plural
    assert "{a} and {b}" in entries and not entries["{a} and {b}"].pluralizable


_TRANSLATING_CALLS = {"Msg", "plural_msg", "label", "joined", "bi"}


def _literal_calls() -> list[tuple[str, ast.Call, str]]:
    calls = []
    for path in sorted((ROOT / "reportgen").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in _TRANSLATING_CALLS and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                calls.append((name, node, f"{path.relative_to(ROOT)}:{node.lineno}"))
    return calls


def test_extraction_misses_no_literal_msgid_in_the_source():
    """Babel's Python extractor reads tokens, not syntax: a Msg nested inside brackets of another
    Msg's arguments is skipped. Every literal first argument must reach the catalogs."""
    extracted = _extracted_msgids()
    calls = _literal_calls()
    assert len(calls) > 100
    missed = [(where, node.args[0].value) for _, node, where in calls if node.args[0].value not in extracted]
    assert not missed, missed


def test_plurals_go_through_plural_msg():
    """``Msg(singular, params, plural)`` would be extracted without its plural form."""
    direct = [where for name, node, where in _literal_calls()
              if name == "Msg" and (len(node.args) > 2 or any(k.arg == "plural" for k in node.keywords))]
    assert not direct, f"use plural_msg: {direct}"


_NAMES = {"FER2013", "CSV", "FERPlus", "NF", "JAFFE", "RAF-DB", "basic", "NumPy", "scikit-learn",
          "scikit-image", "MTCNN", "RGB", "RGBA", "max_samples", "val_usage", "split.val", "train/"}


def _ascii_words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z][A-Za-z0-9_./-]*[A-Za-z0-9_/]|[A-Za-z]", text)) - _NAMES


def _string_params(msg: Msg) -> list[str]:
    out = []
    for value in msg.params.values():
        out += _string_params(value) if isinstance(value, Msg) else [value] if isinstance(value, str) else []
    return out


def _chinese_only(msg: Msg) -> str:
    """The zh-TW text of ``msg`` without its names (string parameters: paths, file names …)."""
    text = translate_msg(msg, "zh-TW")
    for value in sorted(_string_params(msg), key=len, reverse=True):
        text = text.replace(value, " ")
    return text


def test_dataset_description_sentences_are_translated_to_chinese():
    """Every sentence a dataset kind builds its description from (reportgen/run/data/*.py) reads
    as Chinese in zh-TW: no English word is left but names (datasets, tools, manifest keys)."""
    sentences = _extracted("reportgen/run/data")
    assert len(sentences) >= 30
    for message in sentences:
        forms = plural_catalog("zh-TW")[message[0]] if isinstance(message, tuple) else \
            (catalog("zh-TW")[message],)
        for form in forms:
            assert not _ascii_words(re.sub(r"\{[^{}]*\}", " ", form)), (message, form)


def test_loaded_descriptions_render_in_chinese(tmp_path):
    from PIL import Image

    from reportgen.config.datasets import DigitsDataset, ImageFolderDataset, ImagesDataset, NpzDataset
    from reportgen.run.data import load_dataset

    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (30, 6, 6), dtype=np.uint8), np.arange(30) % 3
    np.savez(tmp_path / "toy.npz", x_train=x[:20], y_train=y[:20], x_test=x[20:], y_test=y[20:])
    for k, (img, label) in enumerate(zip(x, y)):
        (tmp_path / "folder" / f"c{label}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(tmp_path / "folder" / f"c{label}" / f"{k}.png")
    (tmp_path / "folder" / "c0" / "broken.png").write_bytes(b"not a png")
    specs = [DigitsDataset(kind="digits", name="d", digits=[0, 1], max_samples=100),
             NpzDataset(kind="npz", name="n", path=Path("toy.npz")),
             ImageFolderDataset(kind="image_folder", name="f", path=Path("folder")),
             ImagesDataset(kind="images", name="i", samples=["camera"])]
    english = {}
    for spec in specs:
        description = load_dataset(spec, (6, 6), 1, 0, tmp_path).description
        zh, english[spec.kind] = _chinese_only(description), translate_msg(description, "en")
        assert not _ascii_words(zh), (spec.kind, translate_msg(description, "zh-TW"))
        assert re.search(r"[\u4e00-\u9fff]", zh), zh
    assert english["digits"].startswith("scikit-learn digits (digits 0, 1): ")
    assert english["digits"].endswith("8×8 gray (max_samples: 100 used)")
    assert english["npz"] == "NumPy archive toy.npz: 30 images, 6×6 gray"
    assert english["image_folder"].endswith("(1 unreadable file skipped)")  # singular
    assert english["images"] == "unlabelled images, scikit-image sample camera: 1 image"


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
