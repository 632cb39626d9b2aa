"""Task objectives (see :mod:`lamina.tasks.objectives.base`): one registered class a file."""

from lamina.tasks.objectives.base import (  # noqa: F401
    CAPABILITIES,
    OBJECTIVES,
    Objective,
    Prepared,
    PrepSettings,
    ScoreSettings,
    block_loss,
    evaluate_splits,
    objective_for,
    register_objective,
    trained_model,
)
