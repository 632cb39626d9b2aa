"""Token noise (the MetaDistil course project's noise, source document 004): replace input
tokens with random vocabulary tokens."""

from __future__ import annotations

import torch


def replace_tokens(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    p: float,
    *,
    vocab_size: int,
    special_ids: list[int],
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A copy of ``input_ids`` where each real, non-special token is replaced with
    probability ``p`` by a token drawn uniformly from the non-special vocabulary."""
    if p <= 0:
        return input_ids
    special = torch.tensor(sorted(set(special_ids)), dtype=input_ids.dtype, device=input_ids.device)
    eligible = attention_mask.bool() & ~torch.isin(input_ids, special)
    draw = torch.rand(input_ids.shape, generator=generator, device="cpu").to(input_ids.device)
    replace = eligible & (draw < p)
    allowed = torch.ones(vocab_size, dtype=torch.bool)
    allowed[special[special < vocab_size].cpu()] = False
    pool = allowed.nonzero().squeeze(-1).to(input_ids.device)
    picks = pool[torch.randint(len(pool), input_ids.shape, generator=generator, device="cpu").to(input_ids.device)]
    return torch.where(replace, picks, input_ids)
