from __future__ import annotations

from typing import TYPE_CHECKING

from lamina.errors import LaminaError
from lamina.losses.base import DistillLoss, Needs, register_loss
from lamina.losses.functional import soft_target_kd, widen

if TYPE_CHECKING:
    import torch


@register_loss("kd")
class SoftTargets(DistillLoss):
    """Hinton soft targets at temperature T, scaled by T²; several teachers' logits are averaged.
    On token-level logits: one distribution per real token (masked LM), per predicted target token
    (causal LM, seq2seq: Kim & Rush's Word-KD when mixed with ``ce`` by ``--alpha``)."""

    requires = frozenset({"classes", "tokens"})
    refusal = "'kd' needs class probabilities; for a regression task use ce, hidden_mse, ..."

    def needs(self, layer_map, teacher_layers, student_layers):
        return Needs(teacher_logits=True)

    def positions(self, ctx) -> torch.Tensor:
        """The token positions distilled from token-level logits: (B, T) booleans."""
        return ctx.token_positions if ctx.token_positions is not None else ctx.attention_mask.bool()

    def __call__(self, ctx):
        if ctx.student_logits.shape[-1] == 1:
            raise LaminaError("loss 'kd' needs class probabilities; for a regression task use ce or hidden losses")
        student_logits = ctx.student_logits
        teachers = [t.logits for t in ctx.teachers]
        if student_logits.dim() == 3:
            keep = self.positions(ctx)
            # blocks of text have no padding: a view then, not a copy of (tokens × vocabulary)
            tokens = (lambda x: x.flatten(0, 1)) if bool(keep.all()) else (lambda x: x[keep])
            student_logits, teachers = tokens(student_logits), [tokens(t) for t in teachers]
            if student_logits.shape[0] == 0:  # nothing to distill in this batch
                return ctx.student_logits.sum() * 0.0
        if len(teachers) == 1:  # (no weighted-average copy of large token-level logits)
            teacher_logits = teachers[0]
        else:
            total = sum(t.weight for t in ctx.teachers)
            teacher_logits = sum(t.weight * widen(logits) for t, logits in zip(ctx.teachers, teachers)) / total
        return soft_target_kd(student_logits, teacher_logits, ctx.temperature)


@register_loss("kd_masked")
class MaskedSoftTargets(SoftTargets):
    """``kd`` on the masked positions only (labels other than -100), as DistilBERT's
    ``restrict_ce_to_mask``: for masked-LM students, about 15% of the tokens' vocabulary-wide
    KL terms."""

    requires = frozenset({"masked"})
    refusal = "it is for masked-LM distillation (the masked positions): use --task mlm --corpus FILE"

    def positions(self, ctx) -> torch.Tensor:
        if ctx.labels is None or ctx.labels.shape != ctx.student_logits.shape[:2]:
            raise LaminaError("loss 'kd_masked' needs masked-LM labels (use it with --task mlm)")
        return ctx.labels != -100
