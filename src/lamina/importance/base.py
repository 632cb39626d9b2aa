"""The importance registry and what criteria share: which module of a block holds which width."""

from __future__ import annotations

from typing import ClassVar

from lamina.registry import Registry, lazy_import

# the registry imports every criterion: `lamina importance` lists them without loading torch
torch = lazy_import("torch")
nn = lazy_import("torch.nn")

IMPORTANCE = Registry("importance criterion", package="lamina.importance")
register_importance = IMPORTANCE.register


class Importance:
    name: ClassVar[str] = ""
    needs_calibration: ClassVar[bool] = True  # reads calibration text (False: weights only)

    def scores(self, model: nn.Module, batches: list[dict]) -> dict:
        raise NotImplementedError


def get_importance(name: str) -> Importance:
    return IMPORTANCE.get(name)()


def head_of(role: str, index: torch.Tensor, spec, config) -> torch.Tensor:
    """The query head (``heads``, ``qkv_heads``) or key/value head (``kv_heads``) of each index along a
    dimension of that role."""
    hd = spec.head_dim(config)
    if role == "qkv_heads":
        index = index % (spec.heads(config) * hd)
    return index // hd


def empty_scores(spec, config, layers: int) -> dict:
    return {
        "ffn": [torch.zeros(spec.ffn(config), dtype=torch.float64) for _ in range(layers)],
        "heads": [torch.zeros(spec.heads(config), dtype=torch.float64) for _ in range(layers)],
        "hidden": torch.zeros(spec.hidden(config), dtype=torch.float64),
    }


def input_role(module: nn.Module, dims: dict[int, str]) -> str | None:
    """The role of what ``module`` (the owner of a weight with ``dims``) reads: the input dimension of an
    ``nn.Linear`` is its weight's dim 1; GPT-2's ``Conv1D`` stores (in, out), so dim 0."""
    if isinstance(module, nn.Linear):
        return dims.get(1)
    if type(module).__name__ == "Conv1D":
        return dims.get(0)
    return None


def is_norm(module: nn.Module) -> bool:
    return isinstance(module, nn.LayerNorm) or "Norm" in type(module).__name__
