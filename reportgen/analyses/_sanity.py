"""The model-randomisation check of any attribution method, as one metric and one note.

References:
    Adebayo et al. 2018, "Sanity Checks for Saliency Maps", https://arxiv.org/abs/1810.03292
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reportgen.analyses._attribution import AttributionOptions, method_label, randomization_correlation
from reportgen.analyses.base import AnalysisContext, Msg


def add_randomization_check(ctx: AnalysisContext, method: str, x: np.ndarray, targets: np.ndarray,
                            maps: np.ndarray, options: AttributionOptions, metrics: dict[str, Any],
                            notes: list[Msg]) -> None:
    """The mean Spearman ρ between ``maps`` (``method`` on inputs ``x`` for ``targets``) and the
    same method's maps on the shared re-initialised model goes into
    ``metrics["randomization_rank_correlation"]``, its one-line report into ``notes``."""
    rho = randomization_correlation(ctx, method, x, targets, maps, options)
    metrics["randomization_rank_correlation"] = rho
    notes.append(Msg("Sanity check (Adebayo et al., 2018): with all weights re-initialised, "
                     "{method} maps have a mean Spearman rank correlation of {rho} with the "
                     "trained model's maps; a value near 1 would mean the maps do not depend "
                     "on what the model learned.",
                     {"method": Msg(method_label(method)), "rho": f"{rho:.2f}"}))
