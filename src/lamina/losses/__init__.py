"""Distillation losses: pure functions (functional.py) and the registry (base.py)."""

from lamina.losses import attention_mse, ce, cosine, hidden_mse, kd, mlm, pkd  # noqa: F401  (registration)
from lamina.losses.base import (
    DistillLoss,
    LossContext,
    Needs,
    TeacherView,
    available_losses,
    get_loss,
    parse_loss_spec,
    register_loss,
)

__all__ = [
    "DistillLoss",
    "LossContext",
    "Needs",
    "TeacherView",
    "available_losses",
    "get_loss",
    "parse_loss_spec",
    "register_loss",
]
