"""How much each transformer block changes its input, measured on calibration data.

Forward hooks record the hidden states entering block 0 and leaving every block, so
``states[0]`` is the input of block 0 and ``states[l + 1]`` the output of block ``l``
(exactly what the block saw and produced: no final norm, no embedding tricks). For every
pair of states ``(i, j)`` we accumulate the mean cosine similarity and the mean angular
distance ``arccos(cos) / pi`` over tokens.

* contribution (Sajjad et al., "Poor Man's BERT"): cosine between a block's input and
  output, ``cosine[l, l + 1]``; a high value means the block changes little.
* angular distance (Gromov et al. 2024): ``angular[l, l + n]`` for a block of ``n``
  layers starting at ``l``. As in the paper, decoders are measured at the last real
  token; encoders (which read both ways) at every non-padding token.

``token`` chooses explicitly: ``last`` or ``all`` (ShortGPT's Block Influence averages every
token of a decoder; the ``contribution`` and ``angular`` strategies take it as an option).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lamina.errors import LaminaError
from lamina.models.adapters import get_adapter


@dataclass
class LayerStats:
    cosine: np.ndarray  # (L + 1, L + 1), symmetric, 1 on the diagonal
    angular: np.ndarray  # (L + 1, L + 1), arccos(cos)/pi averaged over tokens
    num_tokens: int
    token: str  # "all" or "last"

    @property
    def num_layers(self) -> int:
        return self.cosine.shape[0] - 1

    def contribution(self) -> np.ndarray:
        """Cosine similarity between each block's input and output (one value per block)."""
        idx = np.arange(self.num_layers)
        return self.cosine[idx, idx + 1]

    def block_angular(self, n: int) -> np.ndarray:
        """Angular distance across every contiguous block of ``n`` layers, indexed by its start."""
        if not 1 <= n <= self.num_layers:
            raise LaminaError(f"block size {n} out of range 1..{self.num_layers}")
        idx = np.arange(self.num_layers - n + 1)
        return self.angular[idx, idx + n]


def _first_tensor(value):
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    raise LaminaError(f"cannot read hidden states from a block output of type {type(value).__name__}")


def _token_mask(attention_mask: torch.Tensor, token: str) -> torch.Tensor:
    mask = attention_mask.bool()
    if token == "all":
        return mask
    # last real token of each row, whether the batch is padded on the left or the right
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    last = torch.where(mask, positions, torch.full_like(positions, -1)).argmax(dim=1)
    out = torch.zeros_like(mask)
    out[torch.arange(mask.shape[0]), last] = True
    return out


@torch.no_grad()
def compute_layer_stats(
    model: nn.Module,
    batches: Iterable[Mapping[str, torch.Tensor]],
    *,
    token: str | None = None,
) -> LayerStats:
    """Run ``batches`` (tokenizer outputs with ``input_ids`` and ``attention_mask``) through
    the model and return the pairwise similarity of the states between its blocks."""
    adapter = get_adapter(model)
    token = token or ("last" if adapter.causal else "all")
    if token not in ("all", "last"):
        raise LaminaError(f"token must be 'all' or 'last', not '{token}'")
    layers = adapter.layers(model)
    n_states = len(layers) + 1
    states: list[torch.Tensor | None] = [None] * n_states

    def pre_hook(_module, args, kwargs):
        states[0] = _first_tensor(args[0] if args else kwargs.get("hidden_states"))

    def make_post_hook(i):
        def hook(_module, _args, output):
            states[i + 1] = _first_tensor(output)

        return hook

    handles = [layers[0].register_forward_pre_hook(pre_hook, with_kwargs=True)]
    handles += [layer.register_forward_hook(make_post_hook(i)) for i, layer in enumerate(layers)]
    cos_sum = torch.zeros(n_states, n_states, dtype=torch.float64)
    ang_sum = torch.zeros(n_states, n_states, dtype=torch.float64)
    total = 0
    was_training = model.training
    model.eval()
    base = model.get_encoder() if adapter.is_encoder_decoder else adapter.base(model)  # the encoder's stack
    try:
        for batch in batches:
            if "attention_mask" not in batch:
                batch = {**batch, "attention_mask": torch.ones_like(batch["input_ids"])}
            base(**batch)
            mask = _token_mask(batch["attention_mask"], token)
            picked = [nn.functional.normalize(s[mask].double(), dim=-1) for s in states]
            total += int(mask.sum())
            for i in range(n_states):
                for j in range(i + 1, n_states):
                    cos = (picked[i] * picked[j]).sum(-1).clamp(-1.0, 1.0)
                    cos_sum[i, j] += cos.sum()
                    ang_sum[i, j] += torch.arccos(cos).sum() / torch.pi
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    if total == 0:
        raise LaminaError("the calibration data is empty: no tokens to measure layers on")
    cos = (cos_sum + cos_sum.T) / total
    cos.fill_diagonal_(1.0)
    ang = (ang_sum + ang_sum.T) / total
    return LayerStats(cosine=cos.numpy(), angular=ang.numpy(), num_tokens=total, token=token)


def layer_parameters(model: nn.Module) -> list[int]:
    return [sum(p.numel() for p in layer.parameters()) for layer in get_adapter(model).layers(model)]


def layer_table(model: nn.Module, stats: LayerStats | None = None) -> dict:
    """Rows per block (parameters, contribution, single-layer angular distance) plus totals."""
    params = layer_parameters(model)
    rows = []
    for i, p in enumerate(params):
        row = {"layer": i, "parameters": p}
        if stats is not None:
            row["contribution_cosine"] = float(stats.contribution()[i])
            row["angular_distance"] = float(stats.block_angular(1)[i])
        rows.append(row)
    total = sum(p.numel() for p in model.parameters())
    out = {
        "rows": rows,
        "totals": {
            "layers": len(params),
            "parameters": total,
            "layer_parameters": sum(params),
            "other_parameters": total - sum(params),
        },
    }
    if stats is not None:
        out["calibration_tokens"] = stats.num_tokens
        out["token"] = stats.token
        # the most redundant contiguous block of each size (Gromov et al.)
        out["best_blocks"] = [
            {"size": n, "start": int(np.argmin(d)), "angular_distance": float(np.min(d))}
            for n in range(1, len(params))
            for d in [stats.block_angular(n)]
        ]
    return out


def stats_from_texts(
    model,
    tokenizer,
    texts: list[tuple[str, ...]],
    *,
    max_length: int = 128,
    batch_size: int = 16,
    token: str | None = None,
) -> LayerStats:
    """Layer statistics of ``model`` over calibration texts (one or two fields each), tokenized
    in padded batches; ``max_length`` is capped at the model's positions; ``token`` as in
    :func:`compute_layer_stats` (None: the model's default)."""
    from lamina.data.calibration import tokenize_batches
    from lamina.data.encode import max_positions

    max_length = min(max_length, max_positions(model.config))
    return compute_layer_stats(
        model, tokenize_batches(tokenizer, texts, max_length=max_length, batch_size=batch_size), token=token
    )
