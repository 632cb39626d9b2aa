"""Load a model from a local folder, a bundled alias or a Hugging Face hub id."""

from __future__ import annotations

from pathlib import Path

import transformers
from transformers import AutoConfig, AutoModel, AutoTokenizer

from lamina.errors import LaminaError
from lamina.models.adapters import get_adapter
from lamina.models.bundled import BUNDLED, bundled_path


def resolve_model(spec: str) -> str:
    """A local folder path, or a hub id (returned unchanged)."""
    if spec in BUNDLED:
        return str(bundled_path(spec))
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise LaminaError(f"{path} has no config.json: not a Hugging Face model folder")
        return str(path)
    if path.exists():
        raise LaminaError(f"{path} is a file, not a model folder")
    looks_local = spec.startswith((".", "/", "~")) or spec.count("/") > 1 or "\\" in spec
    if looks_local:
        raise LaminaError(f"model not found: {spec} (no such folder)")
    return spec  # a hub id such as "bert-base-uncased" or "org/name"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _model_class(config):
    for name in getattr(config, "architectures", None) or []:
        cls = getattr(transformers, name, None)
        if cls is not None:
            return cls
    return AutoModel


def load_config(spec: str):
    source = resolve_model(spec)
    try:
        return AutoConfig.from_pretrained(source), source
    except (OSError, ValueError) as exc:
        raise LaminaError(
            f"could not load model '{spec}': not a local folder, not a bundled alias "
            f"({', '.join(BUNDLED)}), and the hub said: {_first_line(exc)}"
        ) from None


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")


def _may_have_tokenizer(source: str) -> bool:
    """A local folder without tokenizer files has none (transformers would build an empty one)."""
    path = Path(source)
    return not path.is_dir() or any((path / name).is_file() for name in TOKENIZER_FILES)


def _head_missing(model, loading_info) -> bool:
    """Whether weights outside the base model (the head) were missing from the checkpoint."""
    prefix = f"{model.base_model_prefix}."
    return any(not k.startswith(prefix) for k in loading_info.get("missing_keys", []))


def _without_untrained_head(model, loading_info):
    """A checkpoint whose config names a head class it has no weights for (all-mpnet-base-v2
    says MPNetForMaskedLM but ships only the encoder) would get a random head: keep the base."""
    base = getattr(model, "base_model", model)
    if base is model:
        return model
    return base if _head_missing(model, loading_info) else model


def load_model(spec: str, *, with_tokenizer: bool = True):
    """Return ``(model, tokenizer_or_None, source)``; the model class is the one saved in the
    config (``architectures``), so a classifier stays a classifier."""
    config, source = load_config(spec)
    get_adapter(config)  # refuse unsupported architectures before reading any weights
    try:
        model, loading_info = _model_class(config).from_pretrained(source, output_loading_info=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise LaminaError(f"could not load the weights of '{spec}': {_first_line(exc)}") from None
    model = _without_untrained_head(model, loading_info)
    tokenizer = None
    if with_tokenizer and _may_have_tokenizer(source):
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
        except (OSError, ValueError, TypeError):
            tokenizer = None
    model.eval()
    return model, tokenizer, source


def load_for_classification(spec: str, task, *, train: bool):
    """A sequence classifier for ``task``: a new head when training from an encoder (or from a
    model fine-tuned on other labels), the trained head as-is for evaluation."""
    from transformers import AutoModelForSequenceClassification

    config, source = load_config(spec)
    get_adapter(config)
    kwargs = {"num_labels": task.num_labels}
    if task.is_regression:
        kwargs["problem_type"] = "regression"
    else:
        kwargs["problem_type"] = "single_label_classification"
        kwargs["id2label"] = task.id2label()
        kwargs["label2id"] = {v: k for k, v in task.id2label().items()}
    try:
        if train:
            model = AutoModelForSequenceClassification.from_pretrained(source, ignore_mismatched_sizes=True, **kwargs)
        else:
            model, info = AutoModelForSequenceClassification.from_pretrained(source, output_loading_info=True)
            if _head_missing(model, info):
                raise LaminaError(f"'{spec}' has no trained classification head (fine-tune it first)")
            if model.config.num_labels != task.num_labels:
                raise LaminaError(
                    f"'{spec}' predicts {model.config.num_labels} labels but task '{task.name}' has {task.num_labels}"
                )
    except (OSError, ValueError, RuntimeError) as exc:
        raise LaminaError(f"could not load '{spec}' as a classifier: {_first_line(exc)}") from None
    tokenizer = AutoTokenizer.from_pretrained(source) if _may_have_tokenizer(source) else None
    if tokenizer is not None and tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.config.pad_token_id is None and tokenizer is not None:
        model.config.pad_token_id = tokenizer.pad_token_id  # decoders classify at the last non-pad token
    return model, tokenizer, source


def load_masked_lm(spec: str, *, train: bool = False):
    """A masked-LM model and its tokenizer; refuses a checkpoint without a trained MLM head
    unless ``train`` (then the head starts fresh)."""
    from transformers import AutoModelForMaskedLM

    config, source = load_config(spec)
    get_adapter(config)
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(source, output_loading_info=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise LaminaError(f"could not load '{spec}' as a masked-LM model: {_first_line(exc)}") from None
    if _head_missing(model, info) and not train:
        raise LaminaError(f"'{spec}' has no trained masked-LM head (train one with `lamina pretrain`)")
    tokenizer = AutoTokenizer.from_pretrained(source) if _may_have_tokenizer(source) else None
    return model, tokenizer, source
