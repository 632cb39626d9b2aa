from lamina.losses.base import DistillLoss, Needs, register_loss
from lamina.losses.functional import patient_kd


@register_loss("pkd")
class Patient(DistillLoss):
    """Patient KD (Sun et al. 2019): normalised first-token states of mapped layers."""

    def needs(self, layer_map, teacher_layers, student_layers):
        return Needs(
            student_hidden=True, teacher_cls={t for _, t in layer_map}, student_states={s for s, _ in layer_map}
        )

    def __call__(self, ctx):
        def one(view):
            student = [ctx.student_state(view, s)[:, 0] for s, _ in view.layer_map]
            return patient_kd(student, [view.cls[t] for _, t in view.layer_map])

        return ctx.weighted(one)
