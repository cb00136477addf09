"""Re-extract msgids (Msg/label/joined in Python, bi/joined in templates) and merge them into the catalogs.

Run after adding or changing user-visible text:  python scripts/update_catalogs.py
New msgids arrive untranslated in zh_TW; tests/test_i18n.py fails until they are translated.
The keywords are reportgen.i18n.EXTRACTION_KEYWORDS: ``plural_msg("{count} face", "{count} faces", {...})``
becomes a plural entry (msgid_plural), any other Msg a plain one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reportgen.i18n import EXTRACTION_KEYWORDS  # noqa: E402

LOCALES = ROOT / "templates" / "locales"
POT = LOCALES / "messages.pot"
PYBABEL = [sys.executable, "-m", "babel.messages.frontend"]


def extract(pot: Path, root: Path = ROOT) -> None:
    """Every msgid under ``root`` (as babel.cfg maps its files) into the template ``pot``."""
    keywords = [arg for spec in EXTRACTION_KEYWORDS for arg in ("-k", spec)]
    subprocess.run([*PYBABEL, "extract", "-F", str(ROOT / "babel.cfg"), *keywords,
                    "--no-location", "--sort-output", "--omit-header",
                    "-o", str(pot), str(root)], check=True, cwd=root)


def main() -> None:
    extract(POT)
    for locale in ("zh_TW", "en"):
        po = LOCALES / locale / "LC_MESSAGES" / "messages.po"
        action = "update" if po.exists() else "init"
        subprocess.run([*PYBABEL, action, "-i", str(POT), "-d", str(LOCALES), "-l", locale,
                        "--no-wrap",
                        *(["--ignore-obsolete", "--no-fuzzy-matching"] if action == "update" else [])],
                       check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
