"""Manifest schema and loading."""

from reportgen.config.load import check_files, load_manifest
from reportgen.config.schema import Manifest

__all__ = ["Manifest", "check_files", "load_manifest"]
