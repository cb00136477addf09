"""Re-extract msgids (Msg/label in Python, bi in templates) and merge them into the catalogs.

Run after adding or changing user-visible text:  python scripts/update_catalogs.py
New msgids arrive untranslated in zh_TW; tests/test_i18n.py fails until they are translated.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "templates" / "locales"
POT = LOCALES / "messages.pot"


def main() -> None:
    pybabel = [sys.executable, "-m", "babel.messages.frontend"]
    subprocess.run([*pybabel, "extract", "-F", str(ROOT / "babel.cfg"), "-k", "Msg", "-k", "label",
                    "-k", "bi", "--no-location", "--sort-output", "--omit-header",
                    "-o", str(POT), str(ROOT)], check=True, cwd=ROOT)
    for locale in ("zh_TW", "en"):
        po = LOCALES / locale / "LC_MESSAGES" / "messages.po"
        action = "update" if po.exists() else "init"
        subprocess.run([*pybabel, action, "-i", str(POT), "-d", str(LOCALES), "-l", locale,
                        "--no-wrap",
                        *(["--ignore-obsolete", "--no-fuzzy-matching"] if action == "update" else [])],
                       check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
