"""Unstructured weight sparsity: which matrices are pruned, magnitude and random masks, masks
held fixed while training, masks on disk (safetensors), and a safe save of a sparse model.

What is prunable (Chen et al. 2020, as the BERT-Tickets code ``pruning_model``): the weight
of every ``nn.Linear`` inside the block stack (for BERT: Q, K, V, the attention output and
both feed-forward matrices of every layer) plus the pooler's dense weight. Embeddings,
biases, LayerNorms and the task head are never pruned.

Masks are plain boolean tensors keyed by the parameter's name *relative to the base model*
(``encoder.layer.0.attention.self.query.weight``), so a mask found on a masked-LM or a
classifier of one task applies to a classifier of another (transfer). A mask is held fixed
by zeroing the pruned entries once and again after every optimizer step
(:class:`MaskCallback`, one Trainer callback shared by ``finetune``, ``distill`` and
``lottery``): no pruning hooks or reparametrisation stay on the model, so the Trainer's
checkpoints and ``save_pretrained`` write plain weights. A model that carries
``torch.nn.utils.prune`` hooks (``weight_orig``/``weight_mask``) must have them removed
before ``save_pretrained``, or ``from_pretrained`` silently re-initialises the weights at
random: :func:`save_sparse` does that.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from transformers import TrainerCallback

from lamina.errors import LaminaError
from lamina.models.adapters import get_adapter

MASK_FORMAT = "lamina-mask-1"


def _base(model: nn.Module) -> nn.Module:
    return getattr(model, "base_model", model)


def prunable_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """``{name relative to the base model: weight}`` of the matrices that are pruned."""
    from transformers.pytorch_utils import Conv1D  # GPT-2's transposed Linear

    matrices = (nn.Linear, Conv1D)
    base = _base(model)
    blocks = get_adapter(model).layers(model)
    block_ids = {id(m) for b in blocks for m in b.modules() if isinstance(m, matrices)}
    out = {}
    for name, module in base.named_modules():
        if not isinstance(module, matrices):
            continue
        in_pooler = name.split(".")[0] == "pooler"
        if id(module) in block_ids or in_pooler:
            weight = getattr(module, "weight_orig", None)
            out[f"{name}.weight"] = weight if weight is not None else module.weight
    if not out:
        raise LaminaError(f"{type(model).__name__} has no prunable weight matrices")
    return out


def sparsity_of(masks: dict[str, torch.Tensor]) -> float:
    total = sum(m.numel() for m in masks.values())
    return 1.0 - sum(int(m.sum()) for m in masks.values()) / total


def per_matrix_sparsity(masks: dict[str, torch.Tensor]) -> dict[str, float]:
    return {k: 1.0 - float(m.float().mean()) for k, m in masks.items()}


def dense_masks(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: torch.ones_like(p, dtype=torch.bool) for k, p in prunable_parameters(model).items()}


def _check_sparsity(sparsity: float) -> None:
    if not 0.0 <= sparsity < 1.0:
        raise LaminaError(f"sparsity {sparsity} is outside [0, 1)")


def magnitude_masks(
    model: nn.Module, sparsity: float, *, previous: dict[str, torch.Tensor] | None = None, per_layer: bool = False
) -> dict[str, torch.Tensor]:
    """Masks that keep the largest-magnitude weights so that ``sparsity`` of the prunable
    weights are pruned (exactly ``round(sparsity × count)`` of them; per matrix with
    ``per_layer``, else one global threshold). Weights pruned in ``previous`` stay pruned."""
    _check_sparsity(sparsity)
    params = prunable_parameters(model)
    previous = previous or {k: torch.ones_like(p, dtype=torch.bool) for k, p in params.items()}
    scores = {}
    for k, p in params.items():
        s = p.detach().abs().float().flatten().clone()
        s[~previous[k].flatten()] = -1.0  # already pruned: first to go
        scores[k] = s
    if per_layer:
        return {k: _keep_largest(s, round(sparsity * s.numel())).view_as(params[k]) for k, s in scores.items()}
    flat = torch.cat(list(scores.values()))
    keep = _keep_largest(flat, round(sparsity * flat.numel()))
    out, start = {}, 0
    for k, p in params.items():
        out[k] = keep[start : start + p.numel()].view_as(p)
        start += p.numel()
    return out


def _keep_largest(scores: torch.Tensor, n_pruned: int) -> torch.Tensor:
    """A boolean keep-vector pruning exactly the ``n_pruned`` lowest scores (ties by position)."""
    keep = torch.ones_like(scores, dtype=torch.bool)
    if n_pruned > 0:
        order = torch.argsort(scores, stable=True)
        keep[order[:n_pruned]] = False
    return keep


def random_masks(
    model: nn.Module, sparsity: float, *, seed: int = 0, per_layer: bool = True
) -> dict[str, torch.Tensor]:
    """Random pruning at ``sparsity``: each matrix loses that share of its weights, chosen
    uniformly (``per_layer=False``: one uniform draw over all prunable weights)."""
    _check_sparsity(sparsity)
    params = prunable_parameters(model)
    g = torch.Generator().manual_seed(int(seed))
    if per_layer:
        return {
            k: _keep_largest(torch.rand(p.numel(), generator=g), round(sparsity * p.numel())).view_as(p)
            for k, p in params.items()
        }
    sizes = [p.numel() for p in params.values()]
    keep = _keep_largest(torch.rand(sum(sizes), generator=g), round(sparsity * sum(sizes)))
    return dict(zip(params, (t.view_as(p) for t, p in zip(torch.split(keep, sizes), params.values()))))


def check_masks(model: nn.Module, masks: dict[str, torch.Tensor], source: str = "mask") -> None:
    """Refuse masks that do not fit ``model``: a missing matrix or another shape."""
    params = prunable_parameters(model)
    missing = [k for k in masks if k not in params]
    if missing:
        raise LaminaError(
            f"{source} does not fit this model ({type(model).__name__}): it names '{missing[0]}', which is not one "
            f"of its {len(params)} prunable matrices (a mask from another architecture?)"
        )
    for k, m in masks.items():
        if tuple(m.shape) != tuple(params[k].shape):
            raise LaminaError(
                f"{source} does not fit this model: '{k}' is {tuple(m.shape)} in the mask, "
                f"{tuple(params[k].shape)} in the model"
            )


@torch.no_grad()
def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Zero the pruned weights in place."""
    params = prunable_parameters(model)
    for k, m in masks.items():
        p = params[k]
        p.mul_(m.to(device=p.device, dtype=p.dtype))


class MaskCallback(TrainerCallback):
    """Holds masks fixed through HF Trainer training: the pruned weights are zeroed when
    training starts and again after every optimizer step (so AdamW's moments and weight decay
    never revive them), and once more at the end (after the best checkpoint is loaded).
    The parameters are bound once, so it works on a model wrapped for distillation too."""

    def __init__(self, model: nn.Module, masks: dict[str, torch.Tensor]):
        check_masks(model, masks)
        params = prunable_parameters(model)
        self.pairs = [(params[k], m) for k, m in masks.items()]

    @torch.no_grad()
    def reapply(self) -> None:
        for p, m in self.pairs:
            if m.device != p.device:
                m = m.to(p.device)
            p.mul_(m.to(p.dtype))

    def on_train_begin(self, args, state, control, **kwargs):
        self.reapply()

    def on_step_end(self, args, state, control, **kwargs):
        self.reapply()

    def on_train_end(self, args, state, control, **kwargs):
        self.reapply()


# ---------------------------------------------------------------- on disk


def save_masks(path: str | Path, masks: dict[str, torch.Tensor], **metadata) -> Path:
    """Masks as a safetensors file (bool tensors), with ``metadata`` (sparsity, round, ...) as text."""
    from safetensors.torch import save_file

    meta = {"format": MASK_FORMAT, "sparsity": f"{sparsity_of(masks):.6f}", **{k: str(v) for k, v in metadata.items()}}
    save_file({k: m.contiguous().to(torch.bool) for k, m in masks.items()}, str(path), metadata=meta)
    return Path(path)


def load_masks(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(masks, metadata)`` from a safetensors mask file; one clear error for anything else."""
    from safetensors import safe_open

    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "mask.safetensors"
    if not path.is_file():
        raise LaminaError(f"mask not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            masks = {k: f.get_tensor(k).to(torch.bool) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types
        raise LaminaError(f"{path} is not a readable safetensors mask ({type(exc).__name__})") from None
    if meta.get("format") != MASK_FORMAT or not masks:
        raise LaminaError(f"{path} is not a lamina mask (no '{MASK_FORMAT}' format in its metadata)")
    return masks, meta


def remove_pruning_hooks(model: nn.Module) -> int:
    """Make any ``torch.nn.utils.prune`` reparametrisation permanent (``weight = orig × mask``
    as a plain parameter); returns how many were removed."""
    from torch.nn.utils import prune

    n = 0
    for module in model.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(module, hook._tensor_name)
                n += 1
    return n


def save_sparse(model, folder: str | Path) -> None:
    """``save_pretrained`` with pruning hooks removed first (else the weights are written as
    ``*_orig``/``*_mask`` and a vanilla reload re-initialises them at random)."""
    remove_pruning_hooks(model)
    keys = [k for k in model.state_dict() if k.endswith(("_orig", "_mask"))]
    if keys:
        raise LaminaError(f"refusing to save a reparametrised model ({keys[0]}): remove its pruning hooks first")
    model.save_pretrained(str(folder))


def schedule(target: float, rate: float, kind: str) -> list[float]:
    """The sparsity after each pruning round up to ``target``: ``linear`` removes ``rate`` of the
    original weights per round (r × rate, Chen et al.), ``geometric`` ``rate`` of the remaining
    ones (1 − (1 − rate)^r, Frankle & Carbin); the last round stops at ``target``."""
    if not 0 < target < 1:
        raise LaminaError(f"--target-sparsity must be between 0 and 1 (exclusive), not {target}")
    if not 0 < rate < 1:
        raise LaminaError(f"--prune-rate must be between 0 and 1 (exclusive), not {rate}")
    out, r = [], 1
    while True:
        s = r * rate if kind == "linear" else 1 - (1 - rate) ** r
        if s >= target - 1e-9 or (kind == "linear" and math.isclose(s, target)):
            out.append(target)
            return out
        out.append(s)
        r += 1
