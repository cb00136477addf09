"""Manifest schema and loading: a pure function of the TOML text (checks that need files, models or
the analysis registry are in ``reportgen.checks``)."""

from reportgen.config.load import load_manifest
from reportgen.config.schema import Manifest

__all__ = ["Manifest", "load_manifest"]
