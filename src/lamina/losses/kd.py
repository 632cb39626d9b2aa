from lamina.errors import LaminaError
from lamina.losses.base import DistillLoss, Needs, register_loss
from lamina.losses.functional import soft_target_kd


@register_loss("kd")
class SoftTargets(DistillLoss):
    """Hinton soft targets at temperature T, scaled by T²; several teachers' logits are averaged."""

    def needs(self, layer_map, teacher_layers, student_layers):
        return Needs(teacher_logits=True)

    def __call__(self, ctx):
        if ctx.student_logits.shape[-1] == 1:
            raise LaminaError("loss 'kd' needs class probabilities; for a regression task use ce or hidden losses")
        total = sum(t.weight for t in ctx.teachers)
        teacher_logits = sum(t.weight * t.logits.float() for t in ctx.teachers) / total
        student_logits = ctx.student_logits
        if student_logits.dim() == 3:  # token-level (masked-LM) logits: one distribution per real token
            real = ctx.attention_mask.bool()
            student_logits, teacher_logits = student_logits[real], teacher_logits[real]
        return soft_target_kd(student_logits, teacher_logits, ctx.temperature)
