from lamina.losses.base import DistillLoss, Needs, register_loss
from lamina.losses.functional import softened_probability_mse, widen


@register_loss("prob_mse")
class ProbabilityMSE(DistillLoss):
    """MSE between softened class probabilities × T² (MetaDistil's soft loss); several teachers' logits averaged."""

    requires = frozenset({"classes"})
    refusal = "'prob_mse' compares class probabilities; for a regression task use ce, hidden_mse, ..."

    def needs(self, layer_map, teacher_layers, student_layers):
        return Needs(teacher_logits=True)

    def __call__(self, ctx):
        total = sum(t.weight for t in ctx.teachers)
        teacher_logits = sum(t.weight * widen(t.logits) for t in ctx.teachers) / total
        return softened_probability_mse(ctx.student_logits, teacher_logits, ctx.temperature)
