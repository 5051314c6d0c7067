"""SMART's settings: the run's (``--smart_*`` flags) and, with a task's YAML overrides, each task's.

Pure data, so task definitions check their ``smart`` section with the same
rules as the run's flags without importing the training code
(``mtdnn_tf.training.smart`` applies them).
"""

import dataclasses
import math

from mtdnn_tf.errors import check_settings
from mtdnn_tf.settings.fields import setting


@dataclasses.dataclass(frozen=True)
class SmartConfig:
    """SMART settings of a run (defaults: the official MT-DNN's); off unless ``enabled``."""

    enabled: bool = setting(
        False, "SMART adversarial regularisation (Jiang et al. 2020) of every task, unless its YAML says "
               "otherwise (smart: {enabled: false}); see docs/training.md.", flag="smart")
    alpha: float = setting(1.0, "SMART: weight of the regulariser.")
    steps: int = setting(1, "SMART: projected ascent steps K.")
    step_size: float = setting(1e-5, "SMART: ascent step size.")
    noise_var: float = setting(1e-5, "SMART: scale of the initial Gaussian noise on the embeddings.")
    epsilon: float = setting(1e-6, "SMART: epsilon of the infinity-norm projection.")

    def __post_init__(self):
        finite = lambda v: math.isfinite(v)  # noqa: E731
        check_settings(self, [
            ("alpha", lambda v: finite(v) and v >= 0, "0 or positive"),
            ("steps", lambda v: v >= 0, "0 or positive"),
            ("step_size", lambda v: finite(v) and v >= 0, "0 or positive"),
            ("noise_var", lambda v: finite(v) and v >= 0, "0 or positive"),
            ("epsilon", lambda v: finite(v) and v > 0, "positive"),
        ])

    def for_task(self, overrides):
        """These settings with a task's YAML ``smart`` section (its non-empty fields) applied."""
        changed = {f.name: getattr(overrides, f.name) for f in dataclasses.fields(overrides)
                   if getattr(overrides, f.name) is not None}
        return dataclasses.replace(self, **changed) if changed else self
