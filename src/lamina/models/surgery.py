"""Layer surgery: remove transformer blocks from any supported Hugging Face model."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lamina.errors import LaminaError
from lamina.models.adapters import get_adapter

if TYPE_CHECKING:
    from torch import nn


def validate_keep(keep: Sequence[int], num_layers: int) -> list[int]:
    """Check a list of layer indices to keep; returns it sorted.

    Raises :class:`LaminaError` for an empty list, duplicates or out-of-range indices.
    """
    keep = [int(i) for i in keep]
    if not keep:
        raise LaminaError(f"cannot drop every layer: the model has {num_layers} and at least one must stay")
    bad = [i for i in keep if not 0 <= i < num_layers]
    if bad:
        raise LaminaError(f"layer indices {bad} out of range: the model has layers 0..{num_layers - 1}")
    if len(set(keep)) != len(keep):
        raise LaminaError(f"duplicate layer indices in {keep}")
    return sorted(keep)


def _renumber(block: nn.Module, new_idx: int) -> None:
    """Set every ``layer_idx`` attribute inside a block (KV-cache slot, see transformers #30508)."""
    for module in block.modules():
        if isinstance(getattr(module, "layer_idx", None), int):
            module.layer_idx = new_idx


def drop_layers(model: nn.Module, keep: Sequence[int], *, inplace: bool = False, stack: str = "encoder") -> nn.Module:
    """Return ``model`` with only the blocks in ``keep`` (indices into the original stack).

    ``stack``: an encoder-decoder's ``encoder`` (the main stack, the default) or ``decoder``.

    The config is updated (layer count and per-layer lists such as ``layer_types``) and
    the per-layer ``layer_idx`` attributes are renumbered 0..len(keep)-1, so the KV cache of
    a pruned decoder lines up and ``generate()`` works. Nothing of lamina is left in the
    model: ``save_pretrained`` output loads with vanilla ``AutoModel*.from_pretrained``.
    """
    adapter = get_adapter(model).stack(stack)
    config = model.config
    n = adapter.num_layers(config)
    keep = validate_keep(keep, n)
    if adapter.first_block_required and keep[0] != 0:
        raise LaminaError(
            f"{config.model_type} keeps its relative position bias in block 0 of each stack: "
            f"keep layer 0 of the {stack} (got {keep})"
        )
    if getattr(config, "scale_attn_by_inverse_layer_idx", False) and keep != list(range(len(keep))):
        # GPT-2 scales attention by 1/(layer_idx+1) at construction; a reloaded model would
        # recompute that scale from the new index and no longer match the pruned one.
        raise LaminaError(
            "this GPT-2 config has scale_attn_by_inverse_layer_idx=True, so its layers depend on their "
            "position; only a prefix of layers (keep=0..k-1) can be kept without changing outputs"
        )
    if not inplace:
        model = copy.deepcopy(model)
        config = model.config
    layers = adapter.layers(model)
    if len(layers) != n:
        raise LaminaError(f"config says {n} layers but the model holds {len(layers)}")
    from torch import nn

    kept = nn.ModuleList([layers[i] for i in keep])
    for new_idx, block in enumerate(kept):
        _renumber(block, new_idx)
    adapter.set_layers(model, kept)
    setattr(config, adapter.num_layers_field, len(keep))
    for name in adapter.per_layer_fields:
        values = getattr(config, name, None)
        if isinstance(values, (list, tuple)) and len(values) == n:
            setattr(config, name, [values[i] for i in keep])
    return model
