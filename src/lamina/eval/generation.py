"""Text generation through HF ``generate`` for seq2seq scoring and sequence-level KD.

One function serves encoder-decoders (the source is the encoder's input) and decoder-only
models (the source is a prompt, left-padded; the generated continuation is what is kept).
Greedy (``num_beams=1``) or beam search; ``num_return_sequences`` > 1 gives the n-best list
in the beam's order (best first).
"""

from __future__ import annotations

import torch


@torch.no_grad()
def generate_ids(
    model,
    tokenizer,
    sources: list[str],
    *,
    num_beams: int = 1,
    num_return_sequences: int = 1,
    max_new_tokens: int = 64,
    max_length: int = 128,
    batch_size: int = 32,
) -> list[list[list[int]]]:
    """Per source, ``num_return_sequences`` generated token-id lists (prompt and padding removed,
    the end-of-sequence token kept when generated)."""
    decoder_only = not getattr(model.config, "is_encoder_decoder", False)
    was_training, side = model.training, tokenizer.padding_side
    model.eval()
    tokenizer.padding_side = "left" if decoder_only else "right"
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id
    out: list[list[list[int]]] = []
    try:
        for start in range(0, len(sources), batch_size):
            batch = tokenizer(
                sources[start : start + batch_size],
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            ).to(device)
            batch.pop("token_type_ids", None)
            gen = model.generate(
                **batch,
                num_beams=num_beams,
                num_return_sequences=num_return_sequences,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                early_stopping=num_beams > 1,
                pad_token_id=pad,
                eos_token_id=tokenizer.eos_token_id,
            )
            if decoder_only:
                gen = gen[:, batch["input_ids"].shape[1] :]
            rows = [_trim(row.tolist(), pad, tokenizer.eos_token_id, decoder_only) for row in gen]
            out += [rows[i : i + num_return_sequences] for i in range(0, len(rows), num_return_sequences)]
    finally:
        model.train(was_training)
        tokenizer.padding_side = side
    return out


def _trim(ids: list[int], pad: int | None, eos: int | None, decoder_only: bool) -> list[int]:
    """Drop the decoder start token (encoder-decoders), and everything after the first end of sequence."""
    if not decoder_only and ids:
        ids = ids[1:]
    if eos is not None and eos in ids:
        ids = ids[: ids.index(eos) + 1]
    return [t for t in ids if t != pad or t == eos]


def generate_texts(model, tokenizer, sources: list[str], **kwargs) -> list[list[str]]:
    """Like :func:`generate_ids`, decoded to text (special tokens skipped)."""
    ids = generate_ids(model, tokenizer, sources, **kwargs)
    return [[tokenizer.decode(h, skip_special_tokens=True).strip() for h in hyps] for hyps in ids]


def generation_scores(
    model,
    tokenizer,
    sources: list[str],
    references: list[str],
    *,
    num_beams: int = 1,
    max_new_tokens: int = 64,
    max_length: int = 128,
    batch_size: int = 32,
) -> dict:
    """Corpus BLEU and chrF of greedy decoding, and of beam search when ``num_beams`` > 1."""
    from lamina.eval.metrics import corpus_bleu, corpus_chrf

    metrics = {}
    for beams in sorted({1, num_beams}):
        hyps = [
            h[0]
            for h in generate_texts(
                model,
                tokenizer,
                sources,
                num_beams=beams,
                max_new_tokens=max_new_tokens,
                max_length=max_length,
                batch_size=batch_size,
            )
        ]
        suffix = "" if beams == 1 else f"_beam{beams}"
        metrics["bleu" + suffix] = corpus_bleu(hyps, references)
        metrics["chrf" + suffix] = corpus_chrf(hyps, references)
    return metrics
