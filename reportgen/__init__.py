"""reportgen: one TOML manifest of image-classification experiments → a bilingual study report."""

__version__ = "0.1.0"
