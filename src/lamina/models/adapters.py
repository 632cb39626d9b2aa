"""Architecture adapters: where a model keeps its stack of transformer blocks.

One registry entry per ``config.model_type``. An adapter knows

* ``layers_path``: the dotted path of the ``nn.ModuleList`` of blocks, relative to the
  model's *base* model (``model.base_model``), so the same entry serves ``AutoModel``,
  ``...ForSequenceClassification``, ``...ForMaskedLM`` and ``...ForCausalLM``;
* ``num_layers_field``: the config field that counts the blocks;
* ``per_layer_fields``: config lists with one entry per block (sliced on pruning);
* ``causal``: whether the model reads left to right (decides the token used for
  angular distances, see :mod:`lamina.analysis.layer_stats`);
* ``width``: where the architecture keeps its widths (FFN neurons, heads, hidden channels) and
  which dimension of each weight is which (:class:`lamina.models.width.WidthSpec`); None where
  width pruning is not available;
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
from typing import TYPE_CHECKING

from lamina.errors import LaminaError
from lamina.models.width import WidthSpec
from lamina.registry import Registry

if TYPE_CHECKING:
    from torch import nn


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
    width: WidthSpec | None = None  # width pruning (lamina.models.width); None: not available

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
        return ArchitectureAdapter(
            self.model_type,
            self.decoder_layers_path,
            self.decoder_num_layers_field,
            per_layer_fields=(),
            causal=True,
            first_block_required=self.first_block_required,
        )

    def base(self, model: nn.Module) -> nn.Module:
        """The base model (``model.bert``, ``model.model``, ...), or the model itself."""
        return getattr(model, "base_model", model)

    def layers(self, model: nn.Module) -> nn.ModuleList:
        from torch import nn

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
        raise LaminaError(f"unsupported architecture '{model_type}'; supported: {', '.join(supported_architectures())}")
    return ADAPTERS.get(model_type)


# Width rules (lamina.models.width): which dimension of each weight is the hidden stream, a layer's FFN
# neurons or its heads. BERT-style encoders name their weights alike.
_E = r"encoder\.layer\.(?P<layer>\d+)\."
_HIDDEN_HEADS = (  # heads and pooler/classifier/MLM-head weights that read or write the hidden stream
    (r"pooler\.dense\.weight$", {0: "hidden", 1: "hidden"}),
    (r"pooler\.dense\.bias$", {0: "hidden"}),
    (r"^classifier\.weight$", {1: "hidden"}),
    (r"classifier\.dense\.weight$", {0: "hidden", 1: "hidden"}),
    (r"classifier\.dense\.bias$", {0: "hidden"}),
    (r"classifier\.out_proj\.weight$", {1: "hidden"}),
    (r"predictions\.transform\.dense\.weight$", {0: "hidden", 1: "hidden"}),
    (r"predictions\.transform\.(dense\.bias|LayerNorm\.(weight|bias))$", {0: "hidden"}),
    (r"predictions\.decoder\.weight$", {1: "hidden"}),
    (r"lm_head\.dense\.weight$", {0: "hidden", 1: "hidden"}),
    (r"lm_head\.(dense\.bias|layer_norm\.(weight|bias))$", {0: "hidden"}),
    (r"lm_head\.decoder\.weight$", {1: "hidden"}),
)
_FFN = (
    (_E + r"intermediate\.dense\.weight$", {0: "ffn", 1: "hidden"}),
    (_E + r"intermediate\.dense\.bias$", {0: "ffn"}),
    (_E + r"output\.dense\.weight$", {0: "hidden", 1: "ffn"}),
)
BERT_WIDTH = WidthSpec(
    rules=(
        (r"embeddings\.(word|position|token_type)_embeddings\.weight$", {1: "hidden"}),
        (r"embeddings\.LayerNorm\.(weight|bias)$", {0: "hidden"}),
        (_E + r"attention\.self\.(query|key|value)\.weight$", {0: "heads", 1: "hidden"}),
        (_E + r"attention\.self\.(query|key|value)\.bias$", {0: "heads"}),
        (_E + r"attention\.output\.dense\.weight$", {0: "hidden", 1: "heads"}),
        (_E + r"(attention\.output|output)\.(dense\.bias|LayerNorm\.(weight|bias))$", {0: "hidden"}),
        *_FFN,
        *_HIDDEN_HEADS,
    )
)
_COUPLED = (
    "its embeddings are {what} wide and projected to the hidden size; width pruning keeps the hidden "
    "size and the heads of {mt} (the head size is hidden / heads), and prunes --ffn"
)
ELECTRA_WIDTH = WidthSpec(
    rules=_FFN,
    no_heads=_COUPLED.format(what="embedding_size", mt="ELECTRA"),
    no_hidden=_COUPLED.format(what="embedding_size", mt="ELECTRA"),
)
_MPNET_HEADS = (
    "MPNet shares one relative-position bias over heads across all layers, so its heads (and, "
    "as its head size is hidden / heads, its hidden channels) stay; --ffn prunes it"
)
MPNET_WIDTH = WidthSpec(rules=_FFN, no_heads=_MPNET_HEADS, no_hidden=_MPNET_HEADS)
_T = r"transformer\.layer\.(?P<layer>\d+)\."
DISTILBERT_WIDTH = WidthSpec(
    hidden_field="dim",
    ffn_field="hidden_dim",
    heads_field="n_heads",
    rules=(
        (r"embeddings\.(word|position)_embeddings\.weight$", {1: "hidden"}),
        (r"embeddings\.LayerNorm\.(weight|bias)$", {0: "hidden"}),
        (_T + r"attention\.(q_lin|k_lin|v_lin)\.weight$", {0: "heads", 1: "hidden"}),
        (_T + r"attention\.(q_lin|k_lin|v_lin)\.bias$", {0: "heads"}),
        (_T + r"attention\.out_lin\.weight$", {0: "hidden", 1: "heads"}),
        (
            _T + r"(attention\.out_lin\.bias|sa_layer_norm\.(weight|bias)|output_layer_norm\.(weight|bias))$",
            {0: "hidden"},
        ),
        (_T + r"ffn\.lin1\.weight$", {0: "ffn", 1: "hidden"}),
        (_T + r"ffn\.lin1\.bias$", {0: "ffn"}),
        (_T + r"ffn\.lin2\.weight$", {0: "hidden", 1: "ffn"}),
        (_T + r"ffn\.lin2\.bias$", {0: "hidden"}),
        (r"pre_classifier\.weight$", {0: "hidden", 1: "hidden"}),
        (r"pre_classifier\.bias$", {0: "hidden"}),
        (r"^classifier\.weight$", {1: "hidden"}),
        (r"vocab_transform\.weight$", {0: "hidden", 1: "hidden"}),
        (r"(vocab_transform\.bias|vocab_layer_norm\.(weight|bias))$", {0: "hidden"}),
        (r"vocab_projector\.weight$", {1: "hidden"}),
    ),
)

# Encoders: BERT-style `encoder.layer`.
register_adapter(ArchitectureAdapter("bert", "encoder.layer", width=BERT_WIDTH))
register_adapter(
    ArchitectureAdapter("roberta", "encoder.layer", extra_model_types=("xlm-roberta", "camembert"), width=BERT_WIDTH)
)
register_adapter(ArchitectureAdapter("electra", "encoder.layer", width=ELECTRA_WIDTH))
register_adapter(ArchitectureAdapter("mpnet", "encoder.layer", width=MPNET_WIDTH))
register_adapter(
    ArchitectureAdapter("distilbert", "transformer.layer", num_layers_field="n_layers", width=DISTILBERT_WIDTH)
)
# Decoders.
_H = r"(?:^|\.)h\.(?P<layer>\d+)\."
GPT2_WIDTH = WidthSpec(
    hidden_field="n_embd",
    ffn_field="n_inner",
    heads_field="n_head",
    ffn_default_factor=4,
    rules=(
        (r"(?:^|\.)(wte|wpe)\.weight$", {1: "hidden"}),
        (_H + r"ln_(1|2)\.(weight|bias)$", {0: "hidden"}),
        (_H + r"attn\.c_attn\.weight$", {0: "hidden", 1: "qkv_heads"}),  # Conv1D: (in, out)
        (_H + r"attn\.c_attn\.bias$", {0: "qkv_heads"}),
        (_H + r"attn\.c_proj\.weight$", {0: "heads", 1: "hidden"}),
        (_H + r"attn\.c_proj\.bias$", {0: "hidden"}),
        (_H + r"mlp\.c_fc\.weight$", {0: "hidden", 1: "ffn"}),
        (_H + r"mlp\.c_fc\.bias$", {0: "ffn"}),
        (_H + r"mlp\.c_proj\.weight$", {0: "ffn", 1: "hidden"}),
        (_H + r"mlp\.c_proj\.bias$", {0: "hidden"}),
        (r"(?:^|\.)ln_f\.(weight|bias)$", {0: "hidden"}),
        (r"^(lm_head|score)\.weight$", {1: "hidden"}),
    ),
)
_L = r"(?:^|\.)layers\.(?P<layer>\d+)\."
LLAMA_WIDTH = WidthSpec(
    kv_heads_field="num_key_value_heads",
    head_dim_field="head_dim",
    rules=(
        (r"embed_tokens\.weight$", {1: "hidden"}),
        (_L + r"self_attn\.q_proj\.weight$", {0: "heads", 1: "hidden"}),
        (_L + r"self_attn\.q_proj\.bias$", {0: "heads"}),
        (_L + r"self_attn\.(k_proj|v_proj)\.weight$", {0: "kv_heads", 1: "hidden"}),
        (_L + r"self_attn\.(k_proj|v_proj)\.bias$", {0: "kv_heads"}),
        (_L + r"self_attn\.o_proj\.weight$", {0: "hidden", 1: "heads"}),
        (_L + r"self_attn\.o_proj\.bias$", {0: "hidden"}),
        (_L + r"mlp\.(gate_proj|up_proj)\.weight$", {0: "ffn", 1: "hidden"}),
        (_L + r"mlp\.down_proj\.weight$", {0: "hidden", 1: "ffn"}),
        (_L + r"(input_layernorm|post_attention_layernorm)\.weight$", {0: "hidden"}),
        (r"(?:^|\.)norm\.weight$", {0: "hidden"}),
        (r"^(lm_head|score)\.weight$", {1: "hidden"}),
    ),
)
register_adapter(ArchitectureAdapter("gpt2", "h", num_layers_field="n_layer", causal=True, width=GPT2_WIDTH))
register_adapter(
    ArchitectureAdapter(
        "llama", "layers", causal=True, extra_model_types=("qwen2", "qwen3", "mistral"), width=LLAMA_WIDTH
    )
)
# lamina's own multilayer perceptron (lamina.models.mlp, Hinton et al.'s MNIST nets): blocks in mlp.layers
register_adapter(ArchitectureAdapter("lamina-mlp", "layers"))
# XLNet (permutation LM; seed 003 prunes it alongside BERT): `transformer.layer`.
register_adapter(ArchitectureAdapter("xlnet", "layer", num_layers_field="n_layer"))
# Encoder-decoders: the encoder's stack is the main one, the decoder's is pruned separately.
register_adapter(
    ArchitectureAdapter(
        "bart",
        "encoder.layers",
        num_layers_field="encoder_layers",
        per_layer_fields=(),
        decoder_layers_path="decoder.layers",
        decoder_num_layers_field="decoder_layers",
        extra_model_types=("marian", "mbart"),
    )
)
register_adapter(
    ArchitectureAdapter(
        "t5",
        "encoder.block",
        num_layers_field="num_layers",
        per_layer_fields=(),
        decoder_layers_path="decoder.block",
        decoder_num_layers_field="num_decoder_layers",
        first_block_required=True,
    )
)
