"""PNG figures into the PDF without decoding and re-encoding them.

A PDF image with ``/FlateDecode`` and PNG predictors takes exactly the IDAT data of an 8-bit,
non-interlaced, opaque PNG. WeasyPrint (``RasterImage._get_png_data``) nevertheless decodes
every PNG and compresses it again with Pillow, about a second for the default report's
figures; :func:`png_passthrough` hands it the file's own IDAT data instead when the PNG
qualifies (every figure of reportgen.figures does) and leaves any other image to WeasyPrint.
"""

from __future__ import annotations

import struct
from contextlib import contextmanager

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = (0, 2)  # grey, truecolour: no palette, no alpha


def idat_data(png: bytes) -> bytes | None:
    """The concatenated IDAT data of ``png`` if it is 8-bit grey or RGB, non-interlaced and has
    no tRNS (the form a PDF's Flate/PNG-predictor image takes as is), else None."""
    if not png.startswith(_SIGNATURE):
        return None
    pos, chunks = len(_SIGNATURE), []
    while pos + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            _, _, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", data)
            if depth != 8 or color not in _COLOR_TYPES or interlace:
                return None
        elif kind == b"tRNS":
            return None
        elif kind == b"IDAT":
            chunks.append(data)
        elif kind == b"IEND":
            break
        pos += 12 + length
    return b"".join(chunks) or None


@contextmanager
def png_passthrough():
    """Within this block WeasyPrint embeds qualifying PNGs' IDAT data as is (see module doc)."""
    from weasyprint.images import RasterImage

    reencode = RasterImage.__dict__.get("_get_png_data")
    if reencode is None:  # a WeasyPrint without this hook: nothing to skip
        yield
        return

    def get_png_data(pillow_image):
        source = getattr(pillow_image, "fp", None)
        if getattr(pillow_image, "format", None) == "PNG" and hasattr(source, "getvalue"):
            data = idat_data(source.getvalue())
            if data is not None:
                return data
        return reencode.__func__(pillow_image)

    RasterImage._get_png_data = staticmethod(get_png_data)
    try:
        yield
    finally:
        RasterImage._get_png_data = reencode
