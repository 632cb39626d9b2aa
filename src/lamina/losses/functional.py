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


def softened_probability_mse(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float
) -> torch.Tensor:
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


def hidden_mse(
    student_states: list[torch.Tensor], teacher_states: list[torch.Tensor], mask: torch.Tensor
) -> torch.Tensor:
    """TinyBERT hidden-state MSE averaged over mapped layer pairs (states already projected)."""
    return torch.stack([masked_mse(s, t, mask) for s, t in zip(student_states, teacher_states, strict=True)]).mean()


def attention_mse(
    student_attn: list[torch.Tensor], teacher_attn: list[torch.Tensor], mask: torch.Tensor
) -> torch.Tensor:
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


# ---------------------------------------------------------------- token-level KD, chunked

#: rows × vocabulary of one chunk of token-level KD: bounds its float32 temporaries (16 MiB each)
KD_CHUNK_ELEMENTS = 1 << 22


def _kl_terms(log_q: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    """Elementwise q·(log q − log p) with 0 where q = 0 (log q = −inf: a masked token, an empty rest)."""
    safe = torch.where(torch.isfinite(log_q), log_q, torch.zeros_like(log_q))
    return log_q.exp() * (safe - log_p)


def _full_rows(teachers: list, weights: list[float], temperature: float):
    """Per-row KL against full teacher logits ``(N, V)`` (several: their weighted average, as ``kd``)."""
    total = sum(weights)

    def rows_fn(student, rows, start, end):
        if len(teachers) == 1:
            teacher = widen(teachers[0][rows]).to(student.dtype)
        else:
            teacher = sum(w * widen(t[rows]).to(student.dtype) for w, t in zip(weights, teachers)) / total
        log_p = F.log_softmax(student / temperature, dim=-1)
        log_q = F.log_softmax(teacher / temperature, dim=-1)
        return _kl_terms(log_q, log_p).sum(-1)

    return rows_fn


def _topk_rows(ids: torch.Tensor, log_q: torch.Tensor, log_rest: torch.Tensor, temperature: float):
    """Per-row KL over the teacher's top-k tokens plus one bucket for the rest of the vocabulary:
    sum_i q_i (log q_i − log p_i) + q_rest (log q_rest − log p_rest), p_rest the student's mass
    outside the k ids. Exactly the full KL when the k ids cover the vocabulary (q_rest = 0)."""

    def rows_fn(student, rows, start, end):
        log_p = F.log_softmax(student / temperature, dim=-1)
        idx, lq, lq_rest = ids[start:end].long(), log_q[start:end].to(log_p.dtype), log_rest[start:end].to(log_p.dtype)
        has_rest = torch.isfinite(lq_rest)
        # the student's log mass outside the k ids (a row without a rest reads a harmless finite 0-fill)
        outside = log_p.scatter(-1, idx, float("-inf")).masked_fill(~has_rest[:, None], 0.0)
        return _kl_terms(lq, log_p.gather(-1, idx)).sum(-1) + _kl_terms(lq_rest, outside.logsumexp(-1))

    return rows_fn


_CHUNKED = None


def _chunked_function():
    """The autograd Function of :func:`_chunked_kl` (made on first use: torch is imported lazily)."""
    global _CHUNKED
    if _CHUNKED is None:
        from torch.autograd.function import once_differentiable

        class ChunkedKL(torch.autograd.Function):
            """Forward: the loss chunk by chunk, without a graph. Backward: each chunk recomputed
            with autograd and its gradient written into the rows it came from. Only the student
            logits (an input, alive anyway) are kept between the two."""

            @staticmethod
            def forward(ctx, student, rows, rows_fn, scale, chunk):
                ctx.save_for_backward(student, rows)
                ctx.rows_fn, ctx.scale, ctx.chunk = rows_fn, scale, chunk
                total = torch.zeros((), dtype=torch.float64, device=student.device)
                for start in range(0, rows.numel(), chunk):
                    r = rows[start : start + chunk]
                    total += rows_fn(widen(student[r]), r, start, start + r.numel()).sum().double()
                return (total * scale).to(widen(student).dtype)

            @staticmethod
            @once_differentiable
            def backward(ctx, grad):
                student, rows = ctx.saved_tensors
                out = torch.zeros_like(student)
                for start in range(0, rows.numel(), ctx.chunk):
                    r = rows[start : start + ctx.chunk]
                    with torch.enable_grad():
                        s = widen(student[r]).detach().requires_grad_(True)
                        (g,) = torch.autograd.grad(ctx.rows_fn(s, r, start, start + r.numel()).sum() * ctx.scale, s)
                    out.index_copy_(0, r, (g * grad).to(out.dtype))
                return out, None, None, None, None

        _CHUNKED = ChunkedKL
    return _CHUNKED


def _chunked_kl(
    student: torch.Tensor,
    rows: torch.Tensor,
    rows_fn,
    temperature: float,
    chunk_rows: int | None,
    *,
    teacher_grad: bool,
) -> torch.Tensor:
    n = rows.numel()
    if n == 0:  # nothing to distill in this batch
        return student.sum() * 0.0
    scale = float(temperature) ** 2 / n
    if teacher_grad and torch.is_grad_enabled():  # a trained teacher (gradients to it): one autograd graph
        return rows_fn(widen(student[rows]), rows, 0, n).sum() * scale
    chunk = chunk_rows or max(1, KD_CHUNK_ELEMENTS // student.shape[-1])
    return _chunked_function().apply(student, rows, rows_fn, scale, chunk)


def token_kd(
    student_logits: torch.Tensor,
    teacher_logits: list[torch.Tensor],
    rows: torch.Tensor,
    temperature: float,
    *,
    weights: list[float] | None = None,
    chunk_rows: int | None = None,
) -> torch.Tensor:
    """:func:`soft_target_kd` over the token rows ``rows`` of ``(N, V)`` logits, computed over chunks
    of rows: no ``(rows × V)`` log-softmax of student and teacher is ever held whole, in the forward
    or the backward pass (the gradient is one ``(N, V)`` tensor, the size of the logits). Same value
    and gradients as ``soft_target_kd(student[rows], teacher[rows], T)``; several teachers' logits
    are averaged by ``weights`` (default equal), as ``kd`` does."""
    weights = weights or [1.0] * len(teacher_logits)
    rows_fn = _full_rows(teacher_logits, weights, float(temperature))
    return _chunked_kl(
        student_logits,
        rows,
        rows_fn,
        temperature,
        chunk_rows,
        teacher_grad=any(t.requires_grad for t in teacher_logits),
    )


def topk_targets(teacher_logits: torch.Tensor, k: int, temperature: float):
    """The teacher's top-``k`` token ids, their log-probabilities at ``temperature`` and the log of
    the probability mass of every other token (−inf when ``k`` is the vocabulary), per row of
    ``(n, V)`` logits: what the top-k cache stores, and all :func:`token_kd_topk` needs."""
    log_q = F.log_softmax(widen(teacher_logits) / float(temperature), dim=-1)
    values, ids = log_q.topk(k, dim=-1)
    rest = log_q.scatter(-1, ids, float("-inf")).logsumexp(-1)
    return ids, values, rest


def token_kd_topk(
    student_logits: torch.Tensor,
    rows: torch.Tensor,
    ids: torch.Tensor,
    log_q: torch.Tensor,
    log_rest: torch.Tensor,
    temperature: float,
    *,
    chunk_rows: int | None = None,
) -> torch.Tensor:
    """KL(teacher ‖ student)·T², mean over the token rows ``rows`` of ``(N, V)`` student logits, the
    teacher given by its top-k (``ids``, ``log_q``: ``(n, k)``, row ``i`` for ``rows[i]``) and the log
    of its remaining mass ``log_rest`` ``(n,)``: KL over the k tokens plus one "rest" bucket (the
    student's mass outside the k ids). Equal to :func:`token_kd` when k is the vocabulary size;
    computed over chunks of rows like it."""
    rows_fn = _topk_rows(ids, log_q, log_rest, float(temperature))
    return _chunked_kl(student_logits, rows, rows_fn, temperature, chunk_rows, teacher_grad=log_q.requires_grad)
