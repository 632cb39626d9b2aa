from lamina.losses.base import DistillLoss, register_loss
from lamina.losses.functional import cross_entropy, masked_lm


@register_loss("ce")
class HardLabel(DistillLoss):
    """Cross-entropy with the gold labels (MSE for regression tasks)."""

    def __call__(self, ctx):
        if ctx.student_logits.dim() == 3:  # token-level logits: the masked-LM hard labels
            return masked_lm(ctx.student_logits, ctx.labels)
        return cross_entropy(ctx.student_logits, ctx.labels)
