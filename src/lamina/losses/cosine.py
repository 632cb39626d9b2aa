from lamina.losses.base import DistillLoss, Needs, register_loss
from lamina.losses.functional import cosine_embedding


@register_loss("cosine")
class Cosine(DistillLoss):
    """DistilBERT's cosine loss between the last hidden states of student and teacher."""

    def needs(self, layer_map, teacher_layers, student_layers):
        return Needs(student_hidden=True, teacher_tokens={teacher_layers}, student_states={student_layers})

    def __call__(self, ctx):
        def one(view):
            student = ctx.student_state(view, ctx.student_num_layers)
            return cosine_embedding(student, view.tokens[view.num_layers], ctx.attention_mask)

        return ctx.weighted(one)
