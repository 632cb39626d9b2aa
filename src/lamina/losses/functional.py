"""Pure distillation loss functions: tensors in, a scalar tensor out. No modules, no state.

Shapes: ``B`` batch, ``T`` tokens, ``H`` hidden width, ``C`` classes, ``A`` heads.
Masks are ``(B, T)`` with 1 for real tokens; averages run over real tokens only.
"""

from __future__ import annotations

from lamina.registry import lazy_import

torch = lazy_import("torch")  # (the loss registry imports the losses, which import these functions)
F = lazy_import("torch.nn.functional")


def widen(x: torch.Tensor) -> torch.Tensor:
    """At least float32 (half-precision logits are widened; float64 stays float64)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Hard-label cross-entropy, or MSE when ``logits`` has one column (regression)."""
    logits = widen(logits)
    if logits.shape[-1] == 1:
        return F.mse_loss(logits.squeeze(-1), labels.to(logits.dtype))
    return F.cross_entropy(logits, labels.long())


def soft_target_kd(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Hinton et al.: KL(p_teacher^T || p_student^T) · T², batch mean.

    The T² keeps the gradient scale of the soft term comparable to the hard term as T changes.
    """
    t = float(temperature)
    log_p_s = F.log_softmax(widen(student_logits) / t, dim=-1)
    log_p_t = F.log_softmax(widen(teacher_logits).to(widen(student_logits).dtype) / t, dim=-1)
    return F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True) * t * t


def softened_probability_mse(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                             temperature: float) -> torch.Tensor:
    """MetaDistil's default soft loss: mean squared error between the temperature-softened
    class probabilities of student and teacher (mean over batch and classes), times T²."""
    t = float(temperature)
    s = widen(student_logits)
    p_s = F.softmax(s / t, dim=-1)
    p_t = F.softmax(widen(teacher_logits).to(s.dtype) / t, dim=-1)
    return F.mse_loss(p_s, p_t) * t * t


def patient_kd(student_cls: list[torch.Tensor], teacher_cls: list[torch.Tensor]) -> torch.Tensor:
    """Sun et al. (Patient KD): squared distance between L2-normalised first-token vectors,
    summed over width, averaged over batch and mapped layer pairs. Inputs: lists of ``(B, H)``."""
    losses = [
        (F.normalize(s.float(), dim=-1) - F.normalize(t.float(), dim=-1)).pow(2).sum(-1).mean()
        for s, t in zip(student_cls, teacher_cls, strict=True)
    ]
    return torch.stack(losses).mean()


def masked_mse(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the real tokens of ``(B, T, H)`` states (mean over H too)."""
    m = mask.to(student.dtype).unsqueeze(-1)
    se = (student.float() - teacher.float()).pow(2) * m
    return se.sum() / (m.sum() * student.shape[-1]).clamp_min(1.0)


def hidden_mse(student_states: list[torch.Tensor], teacher_states: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
    """TinyBERT hidden-state MSE averaged over mapped layer pairs (states already projected)."""
    return torch.stack([masked_mse(s, t, mask) for s, t in zip(student_states, teacher_states, strict=True)]).mean()


def attention_mse(student_attn: list[torch.Tensor], teacher_attn: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
    """MSE between attention probabilities ``(B, A, T, T)``, over real query/key pairs,
    averaged over mapped layer pairs."""
    pair = (mask[:, None, :, None] * mask[:, None, None, :]).float()  # (B, 1, T, T)
    losses = []
    for s, t in zip(student_attn, teacher_attn, strict=True):
        se = (s.float() - t.float()).pow(2) * pair
        losses.append(se.sum() / (pair.sum() * s.shape[1]).clamp_min(1.0))
    return torch.stack(losses).mean()


def cosine_embedding(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """DistilBERT: mean over real tokens of 1 − cos(student, teacher) for ``(B, T, H)`` states."""
    cos = F.cosine_similarity(student.float(), teacher.float(), dim=-1)  # (B, T)
    m = mask.float()
    return ((1.0 - cos) * m).sum() / m.sum().clamp_min(1.0)


def causal_lm(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy: position t's logits predict label t+1 (labels -100 are skipped),
    the loss Hugging Face causal-LM models compute for ``labels=input_ids``."""
    return masked_lm(logits[:, :-1], labels[:, 1:])


def token_nll(logits: torch.Tensor, labels: torch.Tensor, *, shift: bool) -> torch.Tensor:
    """Token-level cross-entropy: shifted for a causal LM (``shift``), aligned otherwise (masked
    LM, or an encoder-decoder whose decoder inputs are the labels shifted right)."""
    return causal_lm(logits, labels) if shift else masked_lm(logits, labels)


def masked_lm(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Masked-LM cross-entropy over positions whose label is not -100."""
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
