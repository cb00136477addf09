"""The zh-TW view of a bilingual report, and the English words left in it.

The screen HTML holds every text once per language (``<span lang="en">`` beside
``<span lang="zh-Hant-TW">``); a reader who picks 中文 sees the page without the English spans.
Any English word still visible there reached the report without going through the catalogs.
Names (experiments, datasets, models, classes: the user's own identifiers), code, error
messages and file names are not text to translate, nor are the technical names below.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

TECHNICAL = {
    "reportgen", "TensorFlow", "Keras", "Python", "CPU", "GPU", "Linux", "MTCNN", "Grad", "CAM",
    "LIME", "SmoothGrad", "ImageNet", "FER", "FERPlus", "RAF", "JAFFE", "PNG", "JPEG", "ReLU",
    "softmax", "Adam", "SGD", "RMSprop", "Spearman", "MirroredStrategy", "Flatten", "MobileNet",
    "MobileNetV2", "ResNet", "VGG", "adam", "sgd", "rmsprop", "lr", "LFW", "scikit", "learn",
    "image", "skimage", "sklearn", "digits", "feat", "fer", "hdf", "keras", "Adebayo", "Holm",
    "McNemar", "Wilson", "Wilcoxon", "Integrated", "Gradients", "Score", "Guided", "Backprop",
    "RISE", "logit", "jpg", "NumPy", "WeasyPrint",
}
"""Proper names and identifiers written the same in Chinese technical text."""

_TOKEN = re.compile(r"[A-Za-z0-9_]+")
"""A word, or an identifier such as a layer name (``block2_conv1``: digits or ``_`` make it one)."""


def zh_view_text(html: str) -> str:
    """The visible text of the page in zh-TW mode, less code, errors, file lists and the user's
    own text."""
    soup = BeautifulSoup(html, "html.parser")
    # The header fields, question prompts, answers and collaborators are the user's own text,
    # in their language (a course's Chinese prompt may well say "saliency map").
    # The environment table's values are machine identifiers (CPU model, lock file path).
    for tag in soup.select('[lang="en"], style, script, code, pre, .failure, details.skipped, '
                           '.lang-toggle, title, .header-fields td, .prompt, .toc-prompt, .answer, '
                           '.collaborators, table.environment td'):
        tag.decompose()
    return soup.get_text(" ")


def english_words(html: str, names: set[str]) -> dict[str, str]:
    """English words of the zh-TW view that are neither names nor technical terms, each with a
    little of its context."""
    allowed = set(TECHNICAL)
    for name in names:
        allowed.update(re.split(r"[^A-Za-z]+", str(name)))
    text = re.sub(r"\s+", " ", zh_view_text(html))
    found: dict[str, str] = {}
    for match in _TOKEN.finditer(text):
        word = match.group()
        if len(word) < 3 or not word.isalpha():
            continue
        if word not in allowed and word.lower() not in allowed:
            found.setdefault(word, text[max(0, match.start() - 40):match.end() + 40])
    return found


def report_names(metrics: dict) -> set[str]:
    """Every user identifier a metrics.json names: experiments, datasets, models and their kinds,
    classes, and the names a dataset description quotes (files, sample images)."""
    names: set[str] = set()
    for name, entry in metrics["experiments"].items():
        names.update([name, entry.get("dataset", ""), entry.get("model", "")])
        names.add((entry.get("model_info") or {}).get("kind", ""))
        names.update(_quoted((entry.get("data") or {}).get("description")))
        names.update(stage.get("name", "") for stage in entry.get("stages") or [])
        names.update(entry.get("classes") or [])
        names.update(((entry.get("init_from") or {}).get("parent_classes")) or [])
        names.update((entry.get("class_match") or {}).get("data_classes") or [])
        names.update(((entry.get("grid") or {}).get("labels") or {}).keys())
        names.update(str(v) for v in ((entry.get("grid") or {}).get("labels") or {}).values())
    return names


def _quoted(text: object) -> set[str]:
    """The plain-string parameters of a Msg in JSON form, nested ones included."""
    if not isinstance(text, dict):
        return set()
    out: set[str] = set()
    for value in (text.get("params") or {}).values():
        out.update([value] if isinstance(value, str) else _quoted(value))
    return out

