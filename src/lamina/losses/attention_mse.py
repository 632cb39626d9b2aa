from lamina.losses.base import DistillLoss, Needs, register_loss
from lamina.losses.functional import attention_mse


@register_loss("attention_mse")
class AttentionMSE(DistillLoss):
    """TinyBERT attention-probability MSE over mapped layers (head counts must match)."""

    def needs(self, layer_map, teacher_layers, student_layers):
        return Needs(student_attentions=True, teacher_attentions={t for s, t in layer_map if s > 0 and t > 0})

    def __call__(self, ctx):
        def one(view):
            pairs = [(s, t) for s, t in view.layer_map if s > 0 and t > 0]
            student = [ctx.student_attentions[s - 1] for s, _ in pairs]
            return attention_mse(student, [view.attentions[t] for _, t in pairs], ctx.attention_mask)

        return ctx.weighted(one)
