from __future__ import annotations

from typing import TYPE_CHECKING

from lamina.errors import LaminaError
from lamina.losses.base import DistillLoss, Needs, register_loss
from lamina.losses.functional import soft_target_kd, token_kd, token_kd_topk, widen
from lamina.registry import lazy_import

if TYPE_CHECKING:
    import torch
else:
    torch = lazy_import("torch")


@register_loss("kd")
class SoftTargets(DistillLoss):
    """Hinton soft targets at temperature T, scaled by T²; several teachers' logits are averaged.
    On token-level logits: one distribution per real token (masked LM), per predicted target token
    (causal LM, seq2seq: Kim & Rush's Word-KD when mixed with ``ce`` by ``--alpha``)."""

    requires = frozenset({"classes", "tokens"})
    refusal = "'kd' needs class probabilities; for a regression task use ce, hidden_mse, ..."

    def needs(self, layer_map, teacher_layers, student_layers):
        return Needs(teacher_logits=True)

    def positions(self, ctx) -> torch.Tensor:
        """The token positions distilled from token-level logits: (B, T) booleans."""
        return ctx.token_positions if ctx.token_positions is not None else ctx.attention_mask.bool()

    def __call__(self, ctx):
        if ctx.student_logits.shape[-1] == 1:
            raise LaminaError("loss 'kd' needs class probabilities; for a regression task use ce or hidden losses")
        if ctx.student_logits.dim() == 3:
            return self.token_level(ctx)
        teachers = [t.logits for t in ctx.teachers]
        if len(teachers) == 1:
            teacher_logits = teachers[0]
        else:
            total = sum(t.weight for t in ctx.teachers)
            teacher_logits = sum(t.weight * widen(logits) for t, logits in zip(ctx.teachers, teachers)) / total
        return soft_target_kd(ctx.student_logits, teacher_logits, ctx.temperature)

    def token_level(self, ctx) -> torch.Tensor:
        """One distribution per distilled token, computed over chunks of tokens (never a
        tokens × vocabulary log-softmax of the whole batch), from full teacher logits or from the
        top-k cache (the KL over the teacher's top k tokens and one bucket for the rest)."""
        student = ctx.student_logits
        vocab = student.shape[-1]
        keep = self.positions(ctx)
        rows = keep.reshape(-1).nonzero().squeeze(1)
        flat = student.reshape(-1, vocab)  # (a view of the logits: nothing copied)
        topk = [t.topk for t in ctx.teachers if t.topk is not None]
        if topk:
            if len(ctx.teachers) != 1:
                raise LaminaError(
                    "loss 'kd' reads top-k teacher outputs of one teacher only (several teachers' "
                    "logits are averaged, which top-k log-probabilities cannot be)"
                )
            target = topk[0]
            if not torch.equal(target.counts.cpu(), keep.sum(1).cpu()):
                raise LaminaError(
                    f"the top-k teacher cache holds {int(target.counts.sum())} target tokens for these "
                    f"examples, the batch has {int(keep.sum())}: its entry was built for other labels"
                )
            return token_kd_topk(flat, rows, target.ids, target.logprobs, target.log_rest, ctx.temperature)
        for t in ctx.teachers:
            if t.logits.shape[-1] != vocab:
                raise LaminaError(
                    f"loss 'kd': the teacher's token logits are over {t.logits.shape[-1]} tokens, the "
                    f"student's over {vocab}: token-level KD needs one vocabulary"
                )
        return token_kd(
            flat,
            [t.logits.reshape(-1, vocab) for t in ctx.teachers],
            rows,
            ctx.temperature,
            weights=[t.weight for t in ctx.teachers],
        )


@register_loss("kd_masked")
class MaskedSoftTargets(SoftTargets):
    """``kd`` on the masked positions only (labels other than -100), as DistilBERT's
    ``restrict_ce_to_mask``: for masked-LM students, about 15% of the tokens' vocabulary-wide
    KL terms."""

    requires = frozenset({"masked"})
    refusal = "it is for masked-LM distillation (the masked positions): use --task mlm --corpus FILE"

    def positions(self, ctx) -> torch.Tensor:
        if ctx.labels is None or ctx.labels.shape != ctx.student_logits.shape[:2]:
            raise LaminaError("loss 'kd_masked' needs masked-LM labels (use it with --task mlm)")
        return ctx.labels != -100
