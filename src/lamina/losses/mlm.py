from lamina.losses.base import DistillLoss, register_loss
from lamina.losses.functional import masked_lm


@register_loss("mlm")
class MaskedLM(DistillLoss):
    """Masked-LM cross-entropy of an MLM student (labels -100 where nothing is masked)."""

    requires = frozenset({"masked"})
    refusal = "it is for masked-LM distillation: use --task mlm --corpus FILE"

    def __call__(self, ctx):
        return masked_lm(ctx.student_logits, ctx.labels)
