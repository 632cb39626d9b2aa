"""Architecture adapters: where a model keeps its stack of transformer blocks.

One registry entry per ``config.model_type``. An adapter knows

* ``layers_path``: the dotted path of the ``nn.ModuleList`` of blocks, relative to the
  model's *base* model (``model.base_model``), so the same entry serves ``AutoModel``,
  ``...ForSequenceClassification``, ``...ForMaskedLM`` and ``...ForCausalLM``;
* ``num_layers_field``: the config field that counts the blocks;
* ``per_layer_fields``: config lists with one entry per block (sliced on pruning);
* ``causal``: whether the model reads left to right (decides the token used for
  angular distances, see :mod:`lamina.analysis.layer_stats`);
* for encoder-decoders (BART, Marian, T5), ``decoder_layers_path`` and
  ``decoder_num_layers_field``: the decoder's stack, counted, selected and pruned on its own
  (:meth:`ArchitectureAdapter.stack`); the main stack (``layers_path``) is the encoder's.

The adapters are the registry :data:`ADAPTERS` (a :class:`lamina.registry.Registry` keyed by
model_type; ``extra_model_types`` are keys of the same adapter). Adding an architecture is one
:func:`register_adapter` call (here, or in a module of its own imported before the model is
loaded); a model_type registered twice is refused, and ``ADAPTERS.remove(model_type)`` forgets one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from lamina.errors import LaminaError
from lamina.registry import Registry


@dataclass(frozen=True)
class ArchitectureAdapter:
    model_type: str
    layers_path: str
    num_layers_field: str = "num_hidden_layers"
    per_layer_fields: tuple[str, ...] = ("layer_types",)
    causal: bool = False
    extra_model_types: tuple[str, ...] = field(default=())
    decoder_layers_path: str | None = None  # encoder-decoders: the decoder's blocks
    decoder_num_layers_field: str | None = None
    first_block_required: bool = False  # block 0 holds shared weights (T5's relative position bias)

    @property
    def is_encoder_decoder(self) -> bool:
        return self.decoder_layers_path is not None

    def stack(self, which: str = "encoder") -> ArchitectureAdapter:
        """The adapter of one stack: ``encoder`` (the main one; the only one of encoder-only and
        decoder-only models) or ``decoder`` (an encoder-decoder's decoder, which reads left to right)."""
        if which == "encoder":
            return self
        if which != "decoder":
            raise LaminaError(f"stack must be encoder or decoder, not '{which}'")
        if not self.is_encoder_decoder:
            raise LaminaError(f"'{self.model_type}' has one stack of layers, no separate decoder")
        return ArchitectureAdapter(self.model_type, self.decoder_layers_path, self.decoder_num_layers_field,
                                   per_layer_fields=(), causal=True, first_block_required=self.first_block_required)

    def base(self, model: nn.Module) -> nn.Module:
        """The base model (``model.bert``, ``model.model``, ...), or the model itself."""
        return getattr(model, "base_model", model)

    def layers(self, model: nn.Module) -> nn.ModuleList:
        obj = self.base(model)
        for part in self.layers_path.split("."):
            if not hasattr(obj, part):
                raise LaminaError(
                    f"{type(model).__name__}: expected the transformer blocks at "
                    f"'{self.layers_path}' for model_type '{self.model_type}', found no '{part}'"
                )
            obj = getattr(obj, part)
        if not isinstance(obj, nn.ModuleList):
            raise LaminaError(f"{type(model).__name__}.{self.layers_path} is not a ModuleList")
        return obj

    def set_layers(self, model: nn.Module, layers: nn.ModuleList) -> None:
        parent_path, _, name = self.layers_path.rpartition(".")
        parent = self.base(model)
        for part in filter(None, parent_path.split(".")):
            parent = getattr(parent, part)
        setattr(parent, name, layers)

    def num_layers(self, config) -> int:
        return int(getattr(config, self.num_layers_field))


ADAPTERS = Registry("architecture")  # model_type → ArchitectureAdapter


def register_adapter(adapter: ArchitectureAdapter) -> ArchitectureAdapter:
    """Register ``adapter`` under its model_type and each of its ``extra_model_types``; a
    model_type that already has an adapter is refused (ValueError), none of them is added."""
    names = (adapter.model_type, *adapter.extra_model_types)
    taken = [n for n in names if n in ADAPTERS]
    if taken:
        raise ValueError(f"architecture '{taken[0]}' is registered twice")
    for model_type in names:
        ADAPTERS.add(model_type, adapter)
    return adapter


def supported_architectures() -> list[str]:
    return ADAPTERS.names()


def get_adapter(model_or_config) -> ArchitectureAdapter:
    config = getattr(model_or_config, "config", model_or_config)
    model_type = getattr(config, "model_type", None)
    if model_type not in ADAPTERS:
        raise LaminaError(
            f"unsupported architecture '{model_type}'; supported: {', '.join(supported_architectures())}"
        )
    return ADAPTERS.get(model_type)


# Encoders: BERT-style `encoder.layer`.
register_adapter(ArchitectureAdapter("bert", "encoder.layer"))
register_adapter(ArchitectureAdapter("roberta", "encoder.layer", extra_model_types=("xlm-roberta", "camembert")))
register_adapter(ArchitectureAdapter("electra", "encoder.layer"))
register_adapter(ArchitectureAdapter("mpnet", "encoder.layer"))
register_adapter(ArchitectureAdapter("distilbert", "transformer.layer", num_layers_field="n_layers"))
# Decoders.
register_adapter(ArchitectureAdapter("gpt2", "h", num_layers_field="n_layer", causal=True))
register_adapter(
    ArchitectureAdapter(
        "llama", "layers", causal=True, extra_model_types=("qwen2", "qwen3", "mistral")
    )
)
# lamina's own multilayer perceptron (lamina.models.mlp, Hinton et al.'s MNIST nets): blocks in mlp.layers
register_adapter(ArchitectureAdapter("lamina-mlp", "layers"))
# XLNet (permutation LM; seed 003 prunes it alongside BERT): `transformer.layer`.
register_adapter(ArchitectureAdapter("xlnet", "layer", num_layers_field="n_layer"))
# Encoder-decoders: the encoder's stack is the main one, the decoder's is pruned separately.
register_adapter(ArchitectureAdapter("bart", "encoder.layers", num_layers_field="encoder_layers", per_layer_fields=(),
                                     decoder_layers_path="decoder.layers", decoder_num_layers_field="decoder_layers",
                                     extra_model_types=("marian", "mbart")))
register_adapter(ArchitectureAdapter("t5", "encoder.block", num_layers_field="num_layers", per_layer_fields=(),
                                     decoder_layers_path="decoder.block", decoder_num_layers_field="num_decoder_layers",
                                     first_block_required=True))
