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
        student_logits = ctx.student_logits
        teachers = [t.logits for t in ctx.teachers]
        if student_logits.dim() == 3:  # token-level (masked-LM) logits: one distribution per real token
            real = ctx.attention_mask.bool()
            # blocks of text have no padding: a view then, not a copy of (tokens × vocabulary)
            tokens = (lambda x: x.flatten(0, 1)) if bool(real.all()) else (lambda x: x[real])
            student_logits, teachers = tokens(student_logits), [tokens(t) for t in teachers]
        if len(teachers) == 1:  # (no weighted-average copy of large token-level logits)
            teacher_logits = teachers[0]
        else:
            total = sum(t.weight for t in ctx.teachers)
            teacher_logits = sum(t.weight * logits.float() for t, logits in zip(ctx.teachers, teachers)) / total
        return soft_target_kd(student_logits, teacher_logits, ctx.temperature)
