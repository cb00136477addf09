"""Analysis methods, one module each, found through :mod:`reportgen.analyses.registry`."""
