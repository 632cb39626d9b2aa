"""Generation from id prompts: greedy answers to encoded prompts, and the top-k samples that
replay draws from a lone task token.

Kept apart from :mod:`lamina.eval.generation` on purpose: that loop takes *text* sources, which
it tokenizes (and truncates) itself, and decodes greedily or by beam search; here a prompt is
already ids (the task token and separators, the context cut against the answer budget by
:func:`lamina.lifelong_learning.format.encode_rows`), a replay prompt is one task token that no text
round-trips to, and replay samples (top-k), which that loop does not do."""

from __future__ import annotations


def generate(
    model,
    prompts: list[list[int]],
    tokens,
    *,
    max_new_tokens: int,
    batch_size: int,
    sample: bool = False,
    top_k: int = 0,
) -> list[list[int]]:
    """HF ``generate`` on id prompts (left-padded): per prompt the new ids, up to and including the
    first end of sequence when one was generated."""
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    extra = {"do_sample": True, "top_k": top_k, "top_p": 1.0, "temperature": 1.0} if sample else {"do_sample": False}
    try:
        with torch.no_grad():
            for start in range(0, len(prompts), batch_size):
                chunk = prompts[start : start + batch_size]
                width = max(len(p) for p in chunk)
                ids = torch.tensor([[tokens.pad] * (width - len(p)) + p for p in chunk], device=device)
                mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in chunk], device=device)
                gen = model.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    max_new_tokens=max_new_tokens,
                    pad_token_id=tokens.pad,
                    eos_token_id=tokens.eos,
                    **extra,
                )
                for row in gen[:, width:].tolist():
                    out.append(row[: row.index(tokens.eos) + 1] if tokens.eos in row else row)
    finally:
        model.train(was_training)
    return out


def answer_texts(model, encoded: list[dict], tokens, tokenizer, *, max_answer: int, batch_size: int):
    """The greedy answers to the encoded examples' prompts, as text."""
    gen = generate(model, [e["prompt"] for e in encoded], tokens, max_new_tokens=max_answer + 1, batch_size=batch_size)
    return [tokenizer.decode([t for t in g if t != tokens.eos], skip_special_tokens=True).strip() for g in gen]
