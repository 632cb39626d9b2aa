from lamina.losses.base import DistillLoss, Needs, register_loss
from lamina.losses.functional import hidden_mse


@register_loss("hidden_mse")
class HiddenMSE(DistillLoss):
    """TinyBERT hidden-state MSE over mapped layers, through a learned projection when widths differ."""

    def needs(self, layer_map, teacher_layers, student_layers):
        return Needs(
            student_hidden=True, teacher_tokens={t for _, t in layer_map}, student_states={s for s, _ in layer_map}
        )

    def __call__(self, ctx):
        def one(view):
            student = [ctx.student_state(view, s) for s, _ in view.layer_map]
            return hidden_mse(student, [view.tokens[t] for _, t in view.layer_map], ctx.attention_mask)

        return ctx.weighted(one)
