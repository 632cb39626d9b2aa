"""Load a model from a local folder, a bundled alias or a Hugging Face hub id.

A local folder is checked before transformers reads it, so that a broken folder gets one
line naming the file and what is wrong: ``config.json`` must be a JSON object whose
``model_type`` transformers knows, and each ``*.safetensors`` weights file must be as long
as its own header says (a truncated copy or an interrupted download is caught here).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from lamina.errors import LaminaError
from lamina.models.adapters import get_adapter, supported_architectures
from lamina.models.bundled import BUNDLED, bundled_path
from lamina.registry import lazy_import

transformers = lazy_import("transformers")  # imported once a model is read: a missing folder is refused without it


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
    return transformers.AutoModel


def _local_config(folder: Path) -> dict:
    """The parsed ``config.json`` of a local folder; one clear error if it is unreadable."""
    path = folder / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LaminaError(f"{path} is not valid UTF-8 (byte {exc.start}): not a model config") from None
    except OSError as exc:
        raise LaminaError(f"could not read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LaminaError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "re-save or re-download the model"
        ) from None
    if not isinstance(data, dict):
        raise LaminaError(f"{path} must hold a JSON object of model settings, not a {type(data).__name__}")
    model_type = data.get("model_type")
    if model_type is not None and (not isinstance(model_type, str) or model_type not in transformers.CONFIG_MAPPING):
        raise LaminaError(
            f"{path}: unknown model_type {json.dumps(model_type)} (transformers {transformers.__version__} "
            f"does not know it); supported architectures: {', '.join(supported_architectures())}"
        )
    return data


def load_config(spec: str):
    source = resolve_model(spec)
    local = Path(source).is_dir()
    data = _local_config(Path(source)) if local else None
    try:
        return transformers.AutoConfig.from_pretrained(source), source
    except (OSError, ValueError, TypeError, KeyError) as exc:
        if local:
            path = Path(source) / "config.json"
            if "model_type" not in data:
                raise LaminaError(
                    f"{path} has no 'model_type' (which architecture it is); supported architectures: "
                    f"{', '.join(supported_architectures())}"
                ) from None
            raise LaminaError(f"could not read {path}: {_first_line(exc)}") from None
        raise LaminaError(
            f"could not load model '{spec}': not a local folder, not a bundled alias "
            f"({', '.join(BUNDLED)}), and the hub said: {_first_line(exc)}"
        ) from None


def _check_safetensors(path: Path) -> None:
    """Refuse a ``.safetensors`` file whose length does not match its own header."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise LaminaError(f"{path} is truncated or corrupt: {size} bytes, too short for a safetensors file")
        n = int.from_bytes(head, "little")
        if n > 100_000_000:  # safetensors' own limit on the metadata length
            raise LaminaError(
                f"{path} is corrupt or not a safetensors file: its first 8 bytes do not hold a valid header length"
            )
        if n > size - 8:
            raise LaminaError(
                f"{path} is truncated or corrupt: its header says {n:,} bytes of metadata but the file "
                f"has only {size:,} bytes (re-save or re-download the model)"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw)
        ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
    except (ValueError, UnicodeDecodeError, AttributeError, KeyError, TypeError, IndexError):
        raise LaminaError(f"{path} is corrupt: its header is not safetensors metadata") from None
    expected = 8 + n + max(ends, default=0)
    if size < expected:
        raise LaminaError(
            f"{path} is truncated: {size:,} bytes where its header says {expected:,} (re-save or re-download the model)"
        )
    if size > expected:
        raise LaminaError(f"{path} is corrupt: {size - expected:,} bytes more than its header describes")


SAFE_WEIGHTS = "model.safetensors"
SAFE_INDEX = "model.safetensors.index.json"
TORCH_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")


def _weights_file(source: str) -> Path | None:
    """The weights file a local folder's model is read from (None for a hub id)."""
    folder = Path(source)
    if not folder.is_dir():
        return None
    for name in (SAFE_WEIGHTS, SAFE_INDEX, *TORCH_WEIGHTS):
        if (folder / name).is_file():
            return folder / name
    return None


def _check_weights(source: str) -> None:
    """Check a local folder's safetensors weights (single file or shards) before loading."""
    weights = _weights_file(source)
    if weights is None:
        return
    if weights.name == SAFE_WEIGHTS:
        _check_safetensors(weights)
    elif weights.name == SAFE_INDEX:
        try:
            shards = sorted(set(json.loads(weights.read_text(encoding="utf-8"))["weight_map"].values()))
        except (ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
            raise LaminaError(f"{weights} is not a valid shard index (JSON with a 'weight_map')") from None
        for shard in shards:
            path = weights.parent / str(shard)
            if not path.is_file():
                raise LaminaError(f"{weights} lists the shard {shard}, which is missing from {weights.parent}")
            _check_safetensors(path)


def _weight_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (OSError, ValueError, RuntimeError, EOFError, pickle.UnpicklingError)
    try:
        from safetensors import SafetensorError

        errors += (SafetensorError,)
    except ImportError:  # pragma: no cover - safetensors ships with transformers
        pass
    return errors


def _from_pretrained(cls, source: str, failed: str, **kwargs):
    """``cls.from_pretrained(source)``; a broken weights file is one error naming the file,
    anything else that fails is ``failed: <first line of the reason>``."""
    _check_weights(source)
    try:
        return cls.from_pretrained(source, **kwargs)
    except _weight_errors() as exc:
        weights = _weights_file(source)
        if weights is not None:
            raise LaminaError(f"{failed}: could not read {weights}: {_first_line(exc)}") from None
        raise LaminaError(f"{failed}: {_first_line(exc)}") from None


def load_tokenizer(spec: str):
    """The tokenizer of a local folder, bundled alias or hub id; one clear error if none."""
    source = resolve_model(spec)
    try:
        return transformers.AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError, TypeError) as exc:
        raise LaminaError(f"could not load a tokenizer from '{spec}': {_first_line(exc)}") from None


TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
)


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
    model, loading_info = _from_pretrained(
        _model_class(config), source, f"could not load the weights of '{spec}'", output_loading_info=True
    )
    model = _without_untrained_head(model, loading_info)
    tokenizer = None
    if with_tokenizer and _may_have_tokenizer(source):
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(source)
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
    cls, failed = AutoModelForSequenceClassification, f"could not load '{spec}' as a classifier"
    if train:
        model = _from_pretrained(cls, source, failed, ignore_mismatched_sizes=True, **kwargs)
    else:
        model, info = _from_pretrained(cls, source, failed, output_loading_info=True)
        if _head_missing(model, info):
            raise LaminaError(f"'{spec}' has no trained classification head (fine-tune it first)")
        if model.config.num_labels != task.num_labels:
            raise LaminaError(
                f"'{spec}' predicts {model.config.num_labels} labels but task '{task.name}' has {task.num_labels}"
            )
    tokenizer = transformers.AutoTokenizer.from_pretrained(source) if _may_have_tokenizer(source) else None
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
    model, info = _from_pretrained(
        AutoModelForMaskedLM, source, f"could not load '{spec}' as a masked-LM model", output_loading_info=True
    )
    if _head_missing(model, info) and not train:
        raise LaminaError(f"'{spec}' has no trained masked-LM head (train one with `lamina pretrain`)")
    tokenizer = transformers.AutoTokenizer.from_pretrained(source) if _may_have_tokenizer(source) else None
    return model, tokenizer, source


def load_causal_lm(spec: str, *, train: bool = False):
    """A causal-LM model (decoder with its LM head) and its tokenizer (padding with
    end-of-sequence when it has no padding token); refuses a checkpoint without a trained
    LM head (a classifier, a bare decoder) unless ``train``."""
    from transformers import AutoModelForCausalLM

    config, source = load_config(spec)
    adapter = get_adapter(config)
    if getattr(config, "is_encoder_decoder", False) or not adapter.causal:
        raise LaminaError(
            f"'{spec}' is a {config.model_type} model, not a decoder: a causal-LM task needs a "
            "decoder-only model (llama, gpt2, qwen2, ...)"
        )
    model, info = _from_pretrained(
        AutoModelForCausalLM, source, f"could not load '{spec}' as a causal-LM model", output_loading_info=True
    )
    if _head_missing(model, info) and not train:
        raise LaminaError(
            f"'{spec}' has no trained language-model head (it was saved as "
            f"{', '.join(config.architectures or ['a bare model'])})"
        )
    tokenizer = transformers.AutoTokenizer.from_pretrained(source) if _may_have_tokenizer(source) else None
    if tokenizer is not None and tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.config.pad_token_id is None and tokenizer is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer, source


def load_generator(spec: str, *, train: bool = False):
    """A model that generates text for a seq2seq task: an encoder-decoder (BART, Marian, T5)
    with its LM head, or a decoder-only causal LM (trained on prompt + target). A classifier,
    or an encoder that cannot generate, is refused."""
    from transformers import AutoModelForSeq2SeqLM

    config, source = load_config(spec)
    adapter = get_adapter(config)
    classifier = [
        a for a in (config.architectures or []) if a.endswith(("ForSequenceClassification", "ForTokenClassification"))
    ]
    if classifier:
        raise LaminaError(
            f"'{spec}' is a classifier ({classifier[0]}): a seq2seq task needs a model that generates "
            "text (an encoder-decoder such as BART, Marian, T5, or a decoder-only LM)"
        )
    if not getattr(config, "is_encoder_decoder", False):
        if not adapter.causal:
            raise LaminaError(
                f"'{spec}' is a {config.model_type} encoder, which does not generate: a seq2seq task "
                "needs an encoder-decoder (BART, Marian, T5) or a decoder-only LM"
            )
        return load_causal_lm(spec, train=train)
    model, info = _from_pretrained(
        AutoModelForSeq2SeqLM, source, f"could not load '{spec}' as a seq2seq model", output_loading_info=True
    )
    if _head_missing(model, info) and not train:
        raise LaminaError(f"'{spec}' has no trained language-model head")
    tokenizer = transformers.AutoTokenizer.from_pretrained(source) if _may_have_tokenizer(source) else None
    return model, tokenizer, source


def config_from_spec(spec: str, flag: str = "--model-config"):
    """A model config from a folder, a JSON file or JSON text (with a ``model_type``), for a
    model initialised at random."""
    text = spec.strip().startswith("{")  # JSON text (too long to be a path, sometimes)
    path = Path(spec).expanduser()
    if not text and path.is_dir():
        return transformers.AutoConfig.from_pretrained(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if not text and path.is_file() else json.loads(spec)
    except json.JSONDecodeError:
        raise LaminaError(f"{flag} '{spec}' is neither a folder, a JSON file nor JSON text") from None
    if not isinstance(data, dict) or "model_type" not in data:
        raise LaminaError(f'{flag} needs a model_type (e.g. "bert")')
    if data["model_type"] not in transformers.CONFIG_MAPPING:
        raise LaminaError(f"{flag}: unknown model_type {json.dumps(data['model_type'])}")
    data = dict(data)
    return transformers.AutoConfig.for_model(data.pop("model_type"), **data)
