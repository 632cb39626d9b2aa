"""The standard method: frozen teachers in eval mode, read without gradients (or from the cache)."""

from __future__ import annotations

from lamina.distillation.methods import register_method
from lamina.distillation.trainer import DistillationTrainer


@register_method("standard")
class Standard(DistillationTrainer):
    """Frozen teachers (eval mode, no gradients); the student learns the weighted sum of the losses."""

    def setup_teachers(self) -> None:
        for t in self.teachers:
            t.model.eval()
            t.model.requires_grad_(False)

    def teacher_forward(self, spec, inputs, **outputs):
        import torch

        with torch.no_grad():
            return spec.model(**inputs, **outputs)
