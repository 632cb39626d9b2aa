"""Distillation losses: pure functions (functional.py) and the registry (base.py).

Every module of this package is imported by the registry when a loss is first looked up."""

from lamina.losses.base import (
    LOSSES,
    DistillLoss,
    LossContext,
    Needs,
    TeacherView,
    TopKTargets,
    available_losses,
    get_loss,
    parse_loss_spec,
    register_loss,
)

__all__ = [
    "LOSSES",
    "DistillLoss",
    "LossContext",
    "Needs",
    "TeacherView",
    "TopKTargets",
    "available_losses",
    "get_loss",
    "parse_loss_spec",
    "register_loss",
]
