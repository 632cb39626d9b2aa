"""A plain multilayer perceptron as a Hugging Face model (Hinton et al. 2015's MNIST nets).

``MLPConfig`` (model_type ``lamina-mlp``) and ``MLPForImageClassification`` are a
``PretrainedConfig``/``PreTrainedModel`` pair: ``save_pretrained`` writes ``config.json`` and
``model.safetensors``, and once :mod:`lamina.models.mlp` is imported (lamina does so when it
loads one) ``AutoConfig``/``AutoModelForImageClassification`` load the folder. The hidden
layers are a ``ModuleList`` of blocks (Linear → ReLU → dropout), so lamina's adapters, layer
counts and sparsity masks apply to it like to a transformer. It reads ``pixel_values``
(flattened, scaled to [0, 1]) and returns logits (and the loss given ``labels``).

A new MLP is named by a spec: ``mlp:1200,1200`` (hidden sizes), with options after a second
colon: ``mlp:1200,1200:dropout=0.5,input_dropout=0.2``.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForImageClassification, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from lamina.errors import LaminaError

MODEL_TYPE = "lamina-mlp"


class MLPConfig(PretrainedConfig):
    model_type = MODEL_TYPE

    def __init__(
        self,
        input_size: int = 784,
        hidden_sizes=(1200, 1200),
        num_labels: int = 10,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        **kwargs,
    ):
        self.input_size = int(input_size)
        self.hidden_sizes = [int(h) for h in hidden_sizes]
        self.dropout = float(dropout)
        self.input_dropout = float(input_dropout)
        super().__init__(num_labels=num_labels, **kwargs)

    @property
    def num_hidden_layers(self) -> int:
        return len(self.hidden_sizes)

    @property
    def hidden_size(self) -> int:  # the width the classifier reads (what distillation projections see)
        return self.hidden_sizes[-1] if self.hidden_sizes else self.input_size


class MLPBlock(nn.Module):
    def __init__(self, n_in: int, n_out: int, dropout: float):
        super().__init__()
        self.dense = nn.Linear(n_in, n_out)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(torch.relu(self.dense(x)))


class MLPModel(nn.Module):
    def __init__(self, config: MLPConfig):
        super().__init__()
        sizes = [config.input_size, *config.hidden_sizes]
        self.input_dropout = nn.Dropout(config.input_dropout)
        self.layers = nn.ModuleList(MLPBlock(a, b, config.dropout) for a, b in zip(sizes, sizes[1:]))

    def forward(self, x, output_hidden_states: bool = False):
        states = [x]
        x = self.input_dropout(x)
        for block in self.layers:
            x = block(x)
            states.append(x)
        return x, tuple(states) if output_hidden_states else None


class MLPForImageClassification(PreTrainedModel):
    config_class = MLPConfig
    base_model_prefix = "mlp"
    main_input_name = "pixel_values"

    def __init__(self, config: MLPConfig):
        super().__init__(config)
        self.mlp = MLPModel(config)
        self.classifier = nn.Linear(
            config.hidden_sizes[-1] if config.hidden_sizes else config.input_size, config.num_labels
        )
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.kaiming_uniform_(module.weight, a=5**0.5)  # torch's own Linear default
            bound = 1 / module.in_features**0.5
            nn.init.uniform_(module.bias, -bound, bound)

    def forward(
        self,
        pixel_values=None,
        labels=None,
        output_hidden_states=None,
        output_attentions=None,
        return_dict=None,
        **kwargs,
    ):
        hidden, states = self.mlp(pixel_values.flatten(1).float(), output_hidden_states=bool(output_hidden_states))
        logits = self.classifier(hidden)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=states)


AutoConfig.register(MODEL_TYPE, MLPConfig, exist_ok=True)
AutoModelForImageClassification.register(MLPConfig, MLPForImageClassification, exist_ok=True)


def parse_mlp_spec(spec: str) -> dict:
    """``mlp:1200,1200[:dropout=0.5,input_dropout=0.2]`` → MLPConfig keyword arguments."""
    parts = spec.split(":")
    if parts[0] != "mlp" or len(parts) not in (2, 3):
        raise LaminaError(f"'{spec}' is not an MLP spec (mlp:H1,H2[:dropout=P,input_dropout=P])")
    try:
        out = {"hidden_sizes": [int(h) for h in parts[1].split(",") if h.strip()]}
        for item in parts[2].split(",") if len(parts) == 3 and parts[2] else []:
            key, _, value = item.partition("=")
            if key.strip() not in ("dropout", "input_dropout"):
                raise LaminaError(f"MLP spec '{spec}': unknown option '{key}' (dropout, input_dropout)")
            out[key.strip()] = float(value)
    except ValueError:
        raise LaminaError(f"MLP spec '{spec}': hidden sizes are integers and options numbers") from None
    if any(h < 1 for h in out["hidden_sizes"]):
        raise LaminaError(f"MLP spec '{spec}': hidden sizes must be positive")
    return out


def is_mlp_spec(spec: str) -> bool:
    return isinstance(spec, str) and spec.startswith("mlp:")


def new_mlp(spec: str, *, input_size: int, num_labels: int, id2label: dict | None = None) -> MLPForImageClassification:
    config = MLPConfig(input_size=input_size, num_labels=num_labels, **parse_mlp_spec(spec))
    if id2label:
        config.id2label = dict(id2label)
        config.label2id = {v: k for k, v in id2label.items()}
    return MLPForImageClassification(config)
