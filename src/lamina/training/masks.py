"""A mask held fixed through training: one piece shared by ``finetune --mask``,
``distill --mask`` and ``lottery`` (see :mod:`lamina.models.sparsity`)."""

from __future__ import annotations

import torch

from lamina.models.sparsity import (
    MaskCallback,
    apply_masks,
    check_masks,
    load_masks,
    per_matrix_sparsity,
    sparsity_of,
)


@torch.no_grad()
def reinitialise_base(model, seed: int) -> None:
    """Replace the base model's weights by a seeded random initialisation (the head is kept)."""
    from transformers import set_seed

    set_seed(seed)
    fresh = type(model)(model.config)
    prefix = f"{model.base_model_prefix}."
    ours, theirs = model.state_dict(), fresh.state_dict()
    for k, v in ours.items():
        if k.startswith(prefix) and k in theirs:
            v.copy_(theirs[k])


def hold_mask(model, mask_path: str | None, *, init: str = "pretrained", seed: int = 0):
    """Load ``mask_path``, check it fits ``model``, (re-initialise the base model for
    ``init="random"``), zero the pruned weights; return ``(callback or None, record info)``."""
    if not mask_path:
        return None, None
    masks, meta = load_masks(mask_path)
    check_masks(model, masks, source=f"mask {mask_path}")
    if init == "random":
        reinitialise_base(model, seed)
    apply_masks(model, masks)
    info = {
        "path": str(mask_path),
        "init": init,
        "sparsity": sparsity_of(masks),
        "matrices": len(masks),
        "found_on": {k: meta[k] for k in ("task", "model", "mode") if k in meta},
    }
    return MaskCallback(model, masks), info


def mask_summary(model, masks) -> dict:
    """Global and per-matrix sparsity of the masks, as the record and card show them."""
    return {
        "global_sparsity": sparsity_of(masks),
        "per_matrix": per_matrix_sparsity(masks),
        "prunable_weights": sum(m.numel() for m in masks.values()),
    }
