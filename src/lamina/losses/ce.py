from lamina.losses.base import DistillLoss, register_loss
from lamina.losses.functional import cross_entropy


@register_loss("ce")
class HardLabel(DistillLoss):
    """Cross-entropy with the gold labels (MSE for regression tasks)."""

    uses_teacher = False

    def __call__(self, ctx):
        return cross_entropy(ctx.student_logits, ctx.labels)
