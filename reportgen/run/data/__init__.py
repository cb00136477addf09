"""Dataset loading: a manifest dataset spec → uint8 image arrays split into train/val/test.

One module per dataset ``kind`` (each registers its loader, class lister and check in
``base``'s registries); ``load.py`` holds the shared pipeline (subsample, decode, split),
``decode.py`` the image decoding and resizing, ``folders.py`` how image files are found.
"""

from reportgen.run.data import digits, fer2013_csv, image_folder, images, npz  # noqa: F401 - register kinds
from reportgen.run.data.base import (
    CHECKERS, CLASS_LISTERS, LOADERS, ImageSet, LoadedData, RawData, RawPart, SourceImage,
    register_check, register_classes, register_loader, resolve_path,
)
from reportgen.run.data.decode import convert_images, decode_files, decode_image
from reportgen.run.data.folders import IMAGE_EXTENSIONS
from reportgen.run.data.load import available_memory_bytes, check_dataset, dataset_classes, load_dataset

__all__ = [
    "CHECKERS", "CLASS_LISTERS", "IMAGE_EXTENSIONS", "LOADERS", "ImageSet", "LoadedData", "RawData",
    "RawPart", "SourceImage", "available_memory_bytes", "check_dataset", "convert_images",
    "dataset_classes", "decode_files", "decode_image", "load_dataset", "register_check",
    "register_classes", "register_loader", "resolve_path",
]
