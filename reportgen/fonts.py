"""Finding the CJK font used in figures and in the PDF."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from reportgen.errors import RenderError

# WenQuanYi Zen Hei first: TrueType outlines subset ~10× faster in WeasyPrint than the CFF
# outlines of Noto Sans CJK (measured in README "Fonts").
PREFERRED = [
    ("WenQuanYi Zen Hei", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    ("WenQuanYi Micro Hei", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    ("Noto Sans CJK TC", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
]
DEBIAN_PACKAGE = "fonts-wqy-zenhei"


@dataclass(frozen=True)
class CjkFont:
    family: str
    path: Path


@lru_cache(maxsize=1)
def find_cjk_font() -> CjkFont:
    """The first installed CJK font; ``REPORTGEN_CJK_FONT=/path/font.ttf`` overrides."""
    override = os.environ.get("REPORTGEN_CJK_FONT")
    if override:
        path = Path(override)
        if not path.exists():
            raise RenderError(f"REPORTGEN_CJK_FONT points to {path}, which does not exist.")
        return CjkFont(_family_of(path) or path.stem, path)
    for family, path in PREFERRED:
        if Path(path).exists():
            return CjkFont(family, Path(path))
    for family, _ in PREFERRED:
        found = _fc_match(family)
        if found:
            return CjkFont(family, found)
    raise RenderError(
        "No Chinese (CJK) font is installed, so Chinese text would print as boxes. "
        f"Install one with `sudo apt-get install {DEBIAN_PACKAGE}` (or fonts-noto-cjk), "
        "or point REPORTGEN_CJK_FONT at a .ttf/.ttc/.otf file; `make report` installs it "
        "automatically when run as root."
    )


def _fc_match(family: str) -> Path | None:
    if not shutil.which("fc-match"):
        return None
    out = subprocess.run(["fc-match", "-f", "%{family}\n%{file}", family],
                         capture_output=True, text=True, check=False).stdout.splitlines()
    if len(out) == 2 and family.lower() in out[0].lower():
        return Path(out[1])
    return None


def _family_of(path: Path) -> str | None:
    from matplotlib import font_manager

    try:
        return font_manager.FontProperties(fname=str(path)).get_name()
    except Exception:  # noqa: BLE001 - an unreadable font file just has no known family
        return None


def subset_family(font: CjkFont) -> str:
    """The @font-face family name of the per-report subset of ``font``."""
    return f"{font.family} Subset"


def subset_font(font: CjkFont, characters: set[str], cache_dir: Path) -> Path:
    """A TrueType file with only ``characters`` (plus printable ASCII) from ``font``.

    WeasyPrint subsets every face it embeds with fontTools, and doing that on a 30,000-glyph
    CJK collection costs about a second per face (regular, synthetic bold, …). Subsetting
    once here, cached by character set, leaves WeasyPrint a font of a few hundred glyphs.
    """
    import hashlib

    chars = sorted(characters | {chr(c) for c in range(32, 127)})
    stat = font.path.stat()
    key = hashlib.sha256(f"{font.path}:{stat.st_size}:{stat.st_mtime_ns}:{''.join(chars)}".encode())
    target = cache_dir / f"{font.path.stem}-{key.hexdigest()[:16]}.ttf"
    if target.exists():
        return target

    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.drop_tables += ["BDF", "FFTM", "EBDT", "EBLC", "EBSC"]  # bitmap strikes: not for print
    is_collection = font.path.suffix.lower() in {".ttc", ".otc"}
    ttfont = TTFont(str(font.path), fontNumber=0 if is_collection else -1, lazy=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in chars])
    subsetter.subset(ttfont)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    ttfont.save(str(tmp))
    tmp.replace(target)
    return target
