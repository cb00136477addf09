"""Model randomisation for the sanity check of Adebayo et al. 2018.

References:
    Adebayo et al. 2018, "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from reportgen.errors import AnalysisError

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = ["randomized_copy"]


def _seed_initializers(config: Any, seeds: itertools.count) -> None:
    """Give every initializer in a (nested) layer config its own fixed seed, in place."""
    import keras

    if isinstance(config, dict):
        for key, value in list(config.items()):
            if key.endswith("_initializer") and value is not None:
                if isinstance(value, str):
                    value = keras.initializers.serialize(keras.initializers.get(value))
                # Only random initializers take a seed (Zeros() takes no arguments).
                if isinstance(value, dict) and "seed" in (value.get("config") or {}):
                    value["config"]["seed"] = next(seeds)
                    config[key] = value
            else:
                _seed_initializers(value, seeds)
    elif isinstance(config, list):
        for value in config:
            _seed_initializers(value, seeds)


def randomized_copy(model: keras.Model, seed: int) -> keras.Model:
    """The same architecture with freshly initialised weights (nested models included).

    Used for the model-randomisation sanity check of Adebayo et al. 2018 ("Sanity Checks for
    Saliency Maps", https://arxiv.org/abs/1810.03292): an explanation that looks the same for
    the trained and the re-initialised network does not depend on what the network learned.
    Each initializer gets its own seed derived from ``seed``, so the copy is reproducible
    without touching the global random state.  BatchNormalization statistics return to 0/1.

    Raises:
        AnalysisError: The model cannot be cloned (subclassed model without a config).
    """
    import keras

    seeds = itertools.count(int(seed) * 100_003 + 1)

    def clone(layer):
        config = layer.get_config()
        _seed_initializers(config, seeds)
        return layer.__class__.from_config(config)

    try:
        copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
    except Exception as exc:
        raise AnalysisError(f"cannot re-initialise model {model.name!r} for the randomisation "
                            f"check: {type(exc).__name__}: {exc}") from exc
    return copy
