"""report.html in a real headless Chromium (Playwright driving the system browser): it loads
offline without errors, every figure decodes, the table of contents links resolve, and the
language toggle hides one language. Skipped only when no Chromium is installed
(``scripts/install-system-deps.sh`` installs Debian's ``chromium``)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import TINY_STUDENT, run_reportgen, tiny_digits_cnn

pytestmark = pytest.mark.slow

# The working digits experiment of tests/test_build_e2e.py, HTML only (no PDF: faster).
TINY = """\
[report]
title = { "zh-TW" = "瀏覽器測試報告", en = "Browser test report" }
""" + TINY_STUDENT + """\
formats = ["html"]
seed = 3
""" + tiny_digits_cnn() + """
[[experiments]]
name = "digits_small"
dataset = "digits"
model = "cnn"
train = { epochs = 2, batch_size = 32 }
"""

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CJK = re.compile(r"[\u4e00-\u9fff]")
# (zh, en) pairs that must follow the toggle; the header values (name, ID) are not translated.
PAIRS = [("混淆矩陣", "Confusion matrix"), ("訓練曲線", "Training curves"), ("目錄", "Contents"),
         ("學號", "Student ID")]


def _chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    manifest = root / "experiments.toml"
    manifest.write_text(TINY, encoding="utf-8")
    done = run_reportgen("build", manifest)
    assert done.returncode == 0, done.stderr
    assert not (root / "out" / "report.pdf").exists()  # formats = ["html"]
    return root / "out" / "report.html"


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    if executable is None:
        pytest.skip(f"no Chromium on PATH (looked for {', '.join(CHROMIUM_NAMES)}); "
                    "install it with scripts/install-system-deps.sh (Debian package chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, report):
    """The report opened in a fresh context, with every request and error recorded."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    log = {"console": [], "page_errors": [], "failed": [], "urls": []}
    page.on("console", lambda m: log["console"].append(f"{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: log["page_errors"].append(str(e)))
    page.on("requestfailed", lambda r: log["failed"].append(f"{r.url[:80]}: {r.failure}"))
    page.on("request", lambda r: log["urls"].append(r.url))
    page.goto(report.as_uri(), wait_until="load")
    page.log = log
    yield page
    context.close()


def _assert_clean(page) -> None:
    log = page.log
    assert not log["console"], log["console"]
    assert not log["page_errors"], log["page_errors"]
    assert not log["failed"], log["failed"]
    remote = [u[:80] for u in log["urls"] if not u.startswith(("data:", "file:"))]
    assert not remote, remote


def _visible_text(page) -> str:
    return page.evaluate("document.body.innerText")


def _languages_shown(page) -> dict[str, int]:
    """Counts of visible and hidden language spans; a span is 'paired' when the other
    language's span follows or precedes it (a text equal in both languages is one span)."""
    return page.evaluate("""() => {
      const shown = el => getComputedStyle(el).display !== 'none' && el.getClientRects().length > 0;
      const out = {zh_paired_shown: 0, zh_paired_hidden: 0, en_shown: 0, en_hidden: 0,
                   lone_hidden: 0, total: 0};
      for (const el of document.querySelectorAll('.l')) {
        if (el.closest('[hidden]')) continue;
        out.total++;
        if (el.classList.contains('l-en')) { shown(el) ? out.en_shown++ : out.en_hidden++; continue; }
        const next = el.nextElementSibling;
        if (next && next.classList.contains('l-en')) shown(el) ? out.zh_paired_shown++ : \
out.zh_paired_hidden++;
        else if (!shown(el)) out.lone_hidden++;
      }
      return out;
    }""")


def _pressed(page) -> dict[str, str]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.lang-toggle button')]
        .map(b => [b.textContent.trim(), b.getAttribute('aria-pressed')]))""")


def test_loads_offline_without_errors_and_every_image_decodes(page):
    _assert_clean(page)
    images = page.eval_on_selector_all(
        "img", "els => els.map(e => ({src: e.src.slice(0, 22), complete: e.complete, "
               "width: e.naturalWidth, alt: e.getAttribute('alt')}))")
    assert len(images) == 2, images  # confusion matrix + training curves
    for image in images:
        assert image["src"].startswith("data:image/png"), image
        assert image["complete"] and image["width"] > 0, image
        assert image["alt"] and image["alt"].strip(), image
    assert page.get_attribute("html", "lang") in ("zh-Hant-TW", "en")


def test_toc_links_every_section_to_an_existing_id(page):
    targets = page.eval_on_selector_all("nav.toc a", "els => els.map(a => a.getAttribute('href'))")
    assert targets and all(t.startswith("#") for t in targets), targets
    ids = [t[1:] for t in targets]
    missing = page.evaluate("ids => ids.filter(id => !document.getElementById(id))", ids)
    assert not missing, missing
    sections = page.eval_on_selector_all("section[id]", "els => els.map(e => e.id)")
    assert {"digits_small", "summary"} <= set(sections)
    assert set(sections) <= set(ids), set(sections) - set(ids)
    # Following a link scrolls its section into view.
    page.click(f'nav.toc a[href="#{ids[-1]}"]')
    assert page.evaluate("location.hash") == f"#{ids[-1]}"
    assert page.evaluate(f"document.getElementById('{ids[-1]}').getBoundingClientRect().top") < 900


def test_language_toggle(page, tmp_path):
    toggle = page.locator(".lang-toggle")
    assert toggle.is_visible()
    buttons = page.eval_on_selector_all(".lang-toggle [data-mode]", "els => els.map(e => e.tagName)")
    assert buttons == ["BUTTON"] * 3
    assert _pressed(page) == {"中文＋English": "true", "中文": "false", "English": "false"}
    both = _languages_shown(page)
    assert both["zh_paired_shown"] > 20 and both["en_shown"] > 20
    assert both["zh_paired_hidden"] == both["en_hidden"] == both["lone_hidden"] == 0
    text = _visible_text(page)
    for zh, en in PAIRS:
        assert zh in text and en in text
    full = tmp_path / "report-both.png"
    page.screenshot(path=str(full), full_page=True)

    page.get_by_role("button", name="English", exact=True).click()
    assert "lang-en" in page.get_attribute("html", "class")
    assert page.get_attribute("html", "lang") == "en"
    assert _pressed(page) == {"中文＋English": "false", "中文": "false", "English": "true"}
    shown = _languages_shown(page)
    assert shown["zh_paired_shown"] == 0 and shown["zh_paired_hidden"] == both["zh_paired_shown"]
    assert shown["en_hidden"] == 0 and shown["en_shown"] == both["en_shown"]
    assert shown["lone_hidden"] == 0  # a text equal in both languages stays
    text = _visible_text(page)
    for zh, en in PAIRS:
        assert en in text and zh not in text
    assert " / Confusion matrix" not in text and not text.lstrip().startswith("/")
    english = tmp_path / "report-en.png"
    page.screenshot(path=str(english), full_page=True)

    page.get_by_role("button", name="中文", exact=True).click()
    shown = _languages_shown(page)
    assert shown["en_shown"] == 0 and shown["zh_paired_hidden"] == 0
    text = _visible_text(page)
    for zh, en in PAIRS:
        assert zh in text and en not in text

    # The choice persists across reloads (localStorage), and "both" restores both.
    page.reload(wait_until="load")
    assert "lang-zh-tw" in page.get_attribute("html", "class")
    assert _pressed(page)["中文"] == "true"
    page.get_by_role("button", name="中文＋English", exact=True).click()
    assert _languages_shown(page)["en_hidden"] == 0
    _assert_clean(page)

    for png in (full, english):
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, (png, len(data))
    print(f"screenshots: {full} {english}")


def test_print_media_hides_the_toggle_and_shows_both_languages(page):
    page.get_by_role("button", name="中文＋English", exact=True).click()
    page.emulate_media(media="print")
    assert not page.locator(".lang-toggle").is_visible()
    nav = page.evaluate("""() => { const s = getComputedStyle(document.querySelector('nav.toc'));
        return [s.borderTopStyle, s.backgroundColor]; }""")
    assert nav == ["none", "rgba(0, 0, 0, 0)"], nav
    breaks = page.eval_on_selector_all("figure, table:not(.setup)",
                                       "els => els.map(e => getComputedStyle(e).breakInside)")
    assert breaks and set(breaks) == {"avoid"}, breaks
    # A setup table may break, between rows only (a transfer chain's is long).
    computed = "els => els.map(e => getComputedStyle(e).breakInside)"
    tables, rows = (page.eval_on_selector_all(selector, computed)
                    for selector in ("table.setup", "table.setup tr"))
    assert tables and set(tables) == {"auto"} and set(rows) == {"avoid"}, (tables, rows)
    text = _visible_text(page)
    for zh, en in PAIRS:
        assert zh in text and en in text
    assert CJK.search(text)
