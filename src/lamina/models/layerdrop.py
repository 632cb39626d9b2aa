"""LayerDrop (Fan et al. 2019, "Reducing Transformer Depth on Demand with Structured Dropout").

While the model trains, each block of its layer stack is skipped with probability ``p``
(its input passes through unchanged); at evaluation every block runs. A model trained
this way can later lose layers (e.g. every other one) with little damage, without retraining.

How it works, for any architecture the adapters know:

* one draw per forward pass of the whole model, made in a forward pre-hook from a
  dedicated ``torch.Generator`` seeded once: every DDP rank makes the same draws in the same
  order, so all ranks skip the same blocks and gradients stay consistent; a gradient
  checkpointing recomputation reads the same draw instead of making a new one;
* each block's ``forward`` is wrapped on the instance (not the class, and not in the
  module tree), so ``state_dict`` and ``save_pretrained`` are exactly the plain model's:
  the saved folder has no trace of lamina;
* a skipped block returns what the block returns, with its input as the hidden state
  (a tensor, or a tuple whose other items are ``None``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lamina.errors import LaminaError
from lamina.models.adapters import get_adapter


def parse_rates(value, num_layers: int | None = None) -> list[float] | float:
    """``0.2`` or ``"0.2"`` → 0.2; ``"0.1,0.2,0.3"`` or a list → one rate per layer."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        try:
            rates = [float(p) for p in parts]
        except ValueError:
            raise LaminaError(
                f"--layerdrop takes a probability or one per layer (e.g. 0.1 or 0.1,0.2), not '{value}'"
            ) from None
        value = rates[0] if len(rates) == 1 else rates
    rates = list(value) if isinstance(value, Sequence) else [float(value)]
    for r in rates:
        if not 0.0 <= float(r) < 1.0:
            raise LaminaError(f"LayerDrop rate {r} is outside [0, 1)")
    if num_layers is not None and len(rates) > 1 and len(rates) != num_layers:
        raise LaminaError(f"{len(rates)} LayerDrop rates for a model with {num_layers} layers")
    return rates if len(rates) > 1 else float(rates[0])


def is_active(value) -> bool:
    if value is None:
        return False
    if isinstance(value, Sequence) and not isinstance(value, str):
        return any(float(v) > 0 for v in value)
    return float(value) > 0


class LayerDrop:
    """LayerDrop on ``model``'s block stack; :meth:`remove` restores the plain model."""

    def __init__(self, model: nn.Module, rates, *, seed: int = 0):
        adapter = get_adapter(model)
        self.blocks = adapter.layers(model)
        n = len(self.blocks)
        rates = parse_rates(rates, n)
        self.rates = torch.tensor(rates if isinstance(rates, list) else [rates] * n, dtype=torch.float32)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.skip: list[bool] = [False] * n
        self.calls = [0] * n  # blocks actually run, per layer (tests and logs)
        self.skipped = [0] * n
        self._formats: dict[int, int | None] = {}  # layer -> None (tensor) or tuple length
        self._originals = []
        for i, block in enumerate(self.blocks):
            self._originals.append(block.__dict__.get("forward"))
            block.forward = self._wrap(i, block.forward)
        self._hook = model.register_forward_pre_hook(self._draw)

    def _draw(self, module, args):
        if module.training:
            self.skip = (torch.rand(len(self.rates), generator=self.generator) < self.rates).tolist()
        else:
            self.skip = [False] * len(self.rates)

    def _wrap(self, i: int, forward):
        def layerdrop_forward(*args, **kwargs):
            if not (self.skip[i] and i in self._formats):
                out = forward(*args, **kwargs)
                self._formats[i] = len(out) if isinstance(out, tuple) else None
                if not self.skip[i]:
                    self.calls[i] += 1
                    return out
            # skipped: the block's input, in the shape of what the block returns (the very first
            # call of a block runs it once to learn that shape, then discards the result)
            self.skipped[i] += 1
            hidden = args[0] if args else kwargs["hidden_states"]
            size = self._formats[i]
            return hidden if size is None else (hidden,) + (None,) * (size - 1)

        return layerdrop_forward

    def remove(self) -> None:
        self._hook.remove()
        for block, original in zip(self.blocks, self._originals):
            if original is None:
                del block.forward
            else:
                block.forward = original


def apply_layerdrop(model: nn.Module, rates, *, seed: int = 0) -> LayerDrop | None:
    """Start LayerDrop on ``model`` (None when every rate is 0)."""
    if not is_active(rates):
        return None
    return LayerDrop(model, rates, seed=seed)


def describe(rates) -> str:
    if isinstance(rates, Sequence) and not isinstance(rates, str):
        return "per-layer " + ", ".join(f"{float(r):g}" for r in rates)
    return f"p={float(rates):g}"
