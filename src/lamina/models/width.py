"""Width surgery: fewer FFN neurons, attention heads and hidden channels, as a plain HF model.

Every layer keeps the same counts, so the pruned model's config is a vanilla config of its
architecture (``intermediate_size``, ``num_attention_heads``, ``num_key_value_heads``,
``head_dim``, ``hidden_size``, or the architecture's own names) and
``AutoModel*.from_pretrained`` loads it with no lamina import.

How it works, for every architecture alike: the architecture's adapter carries a
:class:`WidthSpec`: the config fields that hold the widths and a table of *rules*, one per
kind of weight in the state dict (a regular expression over the parameter name, the layer
index captured as ``layer``), saying which dimension of that weight is which width (a
*role*): ``hidden`` (the residual stream), ``ffn`` (a layer's FFN neurons), ``heads`` (a
layer's query heads × head size), ``kv_heads`` (its key/value heads), ``qkv_heads`` (GPT-2's
fused query/key/value). The pruned model is built from the new config by its own class,
and each of its weights is the original sliced by the kept indices of its roles; a weight
no rule names must keep its shape (checked), so a missed weight cannot pass silently.

Heads: where the config has a head-size field (``head_dim``: Llama, Qwen2/3, Mistral) heads go
on their own; grouped-query attention prunes key/value *groups* with their query heads as
units, so every kept query head keeps the key/value head it was trained with and the group
size stays the config's. Where the head size is ``hidden_size / num_attention_heads`` (BERT,
RoBERTa, ELECTRA, DistilBERT, GPT-2) heads and hidden channels are one knob: ``heads × head
size`` must equal the new hidden size, and anything else is refused with the shapes that fit.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lamina.errors import LaminaError
from lamina.registry import lazy_import

if TYPE_CHECKING:
    from torch import nn

torch = lazy_import("torch")  # (the architecture adapters, read by the command line, import WidthSpec)

ROLES = ("hidden", "ffn", "heads", "kv_heads", "qkv_heads")


@dataclass(frozen=True)
class WidthSpec:
    """Where an architecture keeps its widths (config fields) and which weight dimension is which."""

    hidden_field: str = "hidden_size"
    ffn_field: str = "intermediate_size"
    heads_field: str = "num_attention_heads"
    kv_heads_field: str | None = None  # grouped-query attention
    head_dim_field: str | None = None  # a config field for the head size; None: hidden / heads
    ffn_default_factor: int | None = None  # the FFN width when the config's field is None (GPT-2: 4 × hidden)
    rules: tuple[tuple[str, dict[int, str]], ...] = ()
    no_heads: str | None = None  # why heads cannot be pruned here (None: they can)
    no_hidden: str | None = None  # why hidden channels cannot be pruned here
    compiled: tuple = field(default=(), compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "compiled", tuple((re.compile(p), dims) for p, dims in self.rules))

    def roles_of(self, name: str) -> tuple[dict[int, str], int | None] | None:
        """({dim: role}, layer index or None) of the parameter ``name``; None when no rule names it."""
        for pattern, dims in self.compiled:
            m = pattern.search(name)
            if m:
                layer = m.groupdict().get("layer")
                return dims, (int(layer) if layer is not None else None)
        return None

    # the widths of a config
    def hidden(self, config) -> int:
        return int(getattr(config, self.hidden_field))

    def ffn(self, config) -> int:
        value = getattr(config, self.ffn_field, None)
        return int(value) if value is not None else self.ffn_default_factor * self.hidden(config)

    def heads(self, config) -> int:
        return int(getattr(config, self.heads_field))

    def kv_heads(self, config) -> int:
        value = getattr(config, self.kv_heads_field, None) if self.kv_heads_field else None
        return int(value) if value is not None else self.heads(config)

    def head_dim(self, config) -> int:
        value = getattr(config, self.head_dim_field, None) if self.head_dim_field else None
        return int(value) if value is not None else self.hidden(config) // self.heads(config)


@dataclass
class WidthPlan:
    """What stays: FFN neurons and head (or key/value group) units per layer, hidden channels overall
    (None: that width is kept whole). Indices into the original model, sorted."""

    ffn: list[list[int]] | None = None
    heads: list[list[int]] | None = None  # query heads kept per layer
    kv_heads: list[list[int]] | None = None  # key/value heads kept per layer (GQA: the groups)
    hidden: list[int] | None = None

    def shape(self, spec: WidthSpec, config) -> dict:
        return {
            "ffn": len(self.ffn[0]) if self.ffn else spec.ffn(config),
            "heads": len(self.heads[0]) if self.heads else spec.heads(config),
            "kv_heads": (
                len(self.kv_heads[0])
                if self.kv_heads
                else len(self.heads[0])
                if self.heads and not spec.kv_heads_field
                else spec.kv_heads(config)
            ),
            "hidden": len(self.hidden) if self.hidden is not None else spec.hidden(config),
        }


def width_spec(model_or_config) -> WidthSpec:
    from lamina.models.adapters import get_adapter

    adapter = get_adapter(model_or_config)
    if adapter.width is None:
        raise LaminaError(
            f"width pruning is not available for '{adapter.model_type}' yet (depth pruning is); "
            "it is for: " + ", ".join(width_architectures())
        )
    return adapter.width


def model_shape(model_or_config) -> dict:
    """The model's shape for records and reports: ``layers`` and, where the architecture has width rules,
    ``hidden``, ``heads``, ``kv_heads`` and ``ffn`` (an architecture without them: layers alone)."""
    from lamina.models.adapters import get_adapter

    config = getattr(model_or_config, "config", model_or_config)
    adapter = get_adapter(config)
    shape = {"layers": adapter.num_layers(config)}
    spec = adapter.width
    if spec is not None:
        shape.update(
            hidden=spec.hidden(config), heads=spec.heads(config), kv_heads=spec.kv_heads(config), ffn=spec.ffn(config)
        )
    return shape


def model_sizes(model) -> dict:
    """A results record's ``sizes`` of a model in memory: layers, parameters and shape."""
    from lamina.eval.timing import parameter_count

    shape = model_shape(model)
    return {"layers": shape["layers"], "parameters": parameter_count(model), "shape": shape}


def shape_text(shape: dict | None) -> str | None:
    """``layers×hidden×heads×FFN`` (``6×384×12×1536``), or the layers alone."""
    if not shape:
        return None
    if "hidden" not in shape:
        return str(shape.get("layers"))
    return f"{shape['layers']}×{shape['hidden']}×{shape['heads']}×{shape['ffn']}"


def width_architectures() -> list[str]:
    from lamina.models.adapters import ADAPTERS

    return [n for n in ADAPTERS.names() if ADAPTERS.get(n).width is not None]


def check_width_request(config, *, ffn: int | None = None, heads: int | None = None, hidden: int | None = None) -> None:
    """Refuse counts the architecture cannot express, before any work, with the shapes that fit."""
    spec = width_spec(config)
    mt = config.model_type
    if ffn is not None and not 1 <= ffn <= spec.ffn(config):
        raise LaminaError(f"--ffn {ffn}: the model has {spec.ffn(config)} FFN neurons per layer; keep 1 to that many")
    if hidden is not None:
        if spec.no_hidden:
            raise LaminaError(f"--hidden: {spec.no_hidden}")
        if not 1 <= hidden <= spec.hidden(config):
            raise LaminaError(
                f"--hidden {hidden}: the model has {spec.hidden(config)} hidden channels; keep 1 to that many"
            )
    if heads is not None:
        if spec.no_heads:
            raise LaminaError(f"--heads: {spec.no_heads}")
        n, kv = spec.heads(config), spec.kv_heads(config)
        if not 1 <= heads <= n:
            raise LaminaError(f"--heads {heads}: the model has {n} attention heads per layer; keep 1 to that many")
        group = n // kv
        if heads % group:
            raise LaminaError(
                f"--heads {heads}: {mt} groups {group} query heads per key/value head (grouped-query "
                f"attention: {n} heads, {kv} key/value heads); groups go whole, so --heads must be a "
                f"multiple of {group} (e.g. {', '.join(str(group * k) for k in range(kv, 0, -1))})"
            )
    if spec.head_dim_field is None and (heads is not None or hidden is not None):
        hd = spec.head_dim(config)
        h = heads if heads is not None else spec.heads(config)
        d = hidden if hidden is not None else spec.hidden(config)
        if h * hd != d:
            raise LaminaError(
                f"{mt} derives its head size from {spec.hidden_field} / {spec.heads_field} ({hd} now), so heads and "
                f"hidden channels go together: --heads H needs --hidden H × {hd} (e.g. --heads {max(1, d // hd)} "
                f"--hidden {max(1, d // hd) * hd}, or --heads {h} --hidden {h * hd})"
            )


def _indices(role: str, layer: int | None, plan: WidthPlan, spec: WidthSpec, config, size: int) -> torch.Tensor | None:
    """The kept indices along a dimension of ``size`` whose role is ``role`` (None: all)."""
    hd = spec.head_dim(config)
    if role == "hidden":
        return None if plan.hidden is None else torch.tensor(plan.hidden)
    if role == "ffn":
        return None if plan.ffn is None else torch.tensor(plan.ffn[layer])
    if role in ("heads", "kv_heads", "qkv_heads"):
        units = plan.kv_heads if role == "kv_heads" else plan.heads
        if units is None:
            return None
        per_head = [h * hd + j for h in units[layer] for j in range(hd)]
        if role == "qkv_heads":  # [q | k | v], each heads × head size
            block = spec.heads(config) * hd
            per_head = [p * block + i for p in range(3) for i in per_head]
        return torch.tensor(per_head)
    raise LaminaError(f"internal: unknown width role '{role}'")


def new_config(config, plan: WidthPlan, spec: WidthSpec):
    out = copy.deepcopy(config)
    shape = plan.shape(spec, config)
    if plan.ffn is not None:
        setattr(out, spec.ffn_field, shape["ffn"])
    if plan.heads is not None:
        if spec.head_dim_field:  # keep the head size explicit: the default would be hidden / heads
            setattr(out, spec.head_dim_field, spec.head_dim(config))
        setattr(out, spec.heads_field, shape["heads"])
        if spec.kv_heads_field:
            setattr(out, spec.kv_heads_field, shape["kv_heads"])
    if plan.hidden is not None:
        if spec.head_dim_field and plan.heads is None:
            setattr(out, spec.head_dim_field, spec.head_dim(config))
        setattr(out, spec.hidden_field, shape["hidden"])
    return out


def prune_width(model: nn.Module, plan: WidthPlan) -> nn.Module:
    """A new model of ``model``'s class with the widths of ``plan``: every weight the original's,
    sliced to the kept indices; ``model`` is left as it is."""
    spec = width_spec(model)
    config = model.config
    cfg = new_config(config, plan, spec)
    if hasattr(config, "_attn_implementation"):
        cfg._attn_implementation = config._attn_implementation
    dtype = next(model.parameters()).dtype
    pruned = type(model)(cfg)  # on the CPU (its non-persistent buffers, e.g. rotary frequencies, are built here)
    old = model.state_dict()
    new_shapes = {k: v.shape for k, v in pruned.state_dict().items()}
    state = {}
    for name, shape in new_shapes.items():
        if name not in old:
            raise LaminaError(f"internal: the pruned {type(model).__name__} has a weight '{name}' the original lacks")
        tensor = old[name]
        found = spec.roles_of(name)
        if found is not None:
            dims, layer = found
            for dim, role in dims.items():
                idx = _indices(role, layer, plan, spec, config, tensor.shape[dim])
                if idx is not None:
                    tensor = tensor.index_select(dim, idx.to(tensor.device))
        if tuple(tensor.shape) != tuple(shape):
            raise LaminaError(
                f"internal: width pruning left {name} at {tuple(tensor.shape)}, the new config wants "
                f"{tuple(shape)} (no rule of the '{config.model_type}' adapter names this weight)"
            )
        state[name] = tensor.detach().clone()
    pruned.load_state_dict(state, strict=True)
    pruned.to(dtype)
    if hasattr(pruned, "tie_weights"):
        pruned.tie_weights()
    pruned.train(model.training)
    if getattr(model, "generation_config", None) is not None:
        pruned.generation_config = copy.deepcopy(model.generation_config)
    return pruned


def top_units(scores: torch.Tensor, keep: int) -> list[int]:
    """The ``keep`` highest-scoring indices, in their original order (ties to the lower index)."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    return sorted(order[:keep])


def plan_from_scores(
    scores: dict, config, *, ffn: int | None = None, heads: int | None = None, hidden: int | None = None
) -> WidthPlan:
    """The plan that keeps the highest-scoring units: ``scores`` holds ``ffn`` (layers × neurons),
    ``heads`` (layers × query heads) and ``hidden`` (channels), from an importance criterion.
    Under grouped-query attention a key/value group scores the sum of its query heads."""
    spec = width_spec(config)
    check_width_request(config, ffn=ffn, heads=heads, hidden=hidden)
    plan = WidthPlan()
    if ffn is not None and ffn < spec.ffn(config):
        plan.ffn = [top_units(s, ffn) for s in scores["ffn"]]
    if heads is not None and heads < spec.heads(config):
        n, kv = spec.heads(config), spec.kv_heads(config)
        group = n // kv
        if group > 1:
            groups = [s.view(kv, group).sum(-1) for s in scores["heads"]]
            plan.kv_heads = [top_units(g, heads // group) for g in groups]
            plan.heads = [[g * group + j for g in kept for j in range(group)] for kept in plan.kv_heads]
        else:
            plan.heads = [top_units(s, heads) for s in scores["heads"]]
            if spec.kv_heads_field:
                plan.kv_heads = [list(h) for h in plan.heads]
    if hidden is not None and hidden < spec.hidden(config):
        plan.hidden = top_units(scores["hidden"], hidden)
    return plan
