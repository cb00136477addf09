"""Dataset loading: a manifest dataset spec → uint8 image arrays split into train/val/test.

One module per dataset ``kind`` (each registers its loader, class lister and check in
``base``'s registries); ``load.py`` holds the shared pipeline (subsample, split, decode),
``split.py`` the seeded choices on labels, ``parts.py`` the decoding of a split (crops,
channels, resize), ``decode.py`` the image decoding and resizing, ``folders.py`` /
``select.py`` how image files are found, picked and labelled, ``memo.py`` the in-process
cache that makes one decode per dataset per build.
"""

from reportgen.run.data import (  # noqa: F401 - register kinds
    digits,
    fer2013_csv,
    fer2013_folder,
    ferplus,
    image_folder,
    images,
    jaffe,
    npz,
    rafdb,
)
from reportgen.run.data.base import (
    CHECKERS,
    CLASS_LISTERS,
    LOADERS,
    ImageSet,
    LoadedData,
    RawData,
    RawPart,
    SourceImage,
    register_check,
    register_classes,
    register_loader,
    register_splits,
    resolve_path,
)
from reportgen.run.data.decode import RESIZE_FILTERS, convert_images, decode_files, decode_image, resize_image
from reportgen.run.data.folders import IMAGE_EXTENSIONS
from reportgen.run.data.load import (
    available_memory_bytes,
    check_dataset,
    dataset_classes,
    dataset_splits,
    load_dataset,
)
from reportgen.run.data.memo import clear as clear_memo
from reportgen.run.data.memo import data_paths

__all__ = [
    "CHECKERS", "CLASS_LISTERS", "IMAGE_EXTENSIONS", "LOADERS", "RESIZE_FILTERS", "ImageSet",
    "LoadedData", "RawData", "RawPart", "SourceImage", "available_memory_bytes", "check_dataset",
    "clear_memo", "convert_images", "data_paths", "dataset_classes", "dataset_splits", "decode_files",
    "decode_image", "load_dataset", "register_check", "register_classes", "register_loader",
    "register_splits", "resize_image", "resolve_path",
]
