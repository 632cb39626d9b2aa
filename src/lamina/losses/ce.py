from lamina.losses.base import DistillLoss, register_loss
from lamina.losses.functional import cross_entropy, token_nll


@register_loss("ce")
class HardLabel(DistillLoss):
    """Cross-entropy with the gold labels (MSE for regression tasks); on token-level logits the
    NLL of the gold tokens (masked positions, or next tokens of a causal LM)."""

    def __call__(self, ctx):
        if ctx.student_logits.dim() == 3:  # token-level logits: the gold tokens
            return token_nll(ctx.student_logits, ctx.labels, shift=ctx.shift_labels)
        return cross_entropy(ctx.student_logits, ctx.labels)
