"""The machinery of the deployment formats of a sequence classifier: ONNX (fp32), ONNX Runtime
int8 and PyTorch int8. Each format is a class in :mod:`lamina.models.formats` (one file each)
that calls what is here:

- ``onnx``: ``torch.onnx.export`` (the TorchScript-based exporter, ``dynamo=False``, opset
  17: seconds, and the logits agree with PyTorch to ~1e-7) with dynamic batch and sequence
  axes; the folder runs with ``onnxruntime`` and ``tokenizers`` alone.
- ``onnx-int8``: that graph through ONNX Runtime's dynamic quantisation (int8 weights,
  activations quantised on the fly; the embedding tables too, so the file is ~4x smaller).
- ``torch-int8``: ``torch.ao.quantization.quantize_dynamic`` on every ``nn.Linear``; that
  API is deprecated (torchao replaces it, slower on CPU), so it sits behind
  :func:`torch_int8_unavailable`, and ONNX Runtime int8 is the supported path.

An exported folder holds the model file, ``config.json`` (labels, shape), the tokenizer, a
model card and the results record (``kind: export``); :func:`exported_format` says which format
it is and :func:`load_exported` reads it back through that format (an :class:`OnnxModel`,
ONNX Runtime, or a quantised PyTorch module). :class:`TextClassifier` turns either (or a plain PyTorch classifier) into labels
and confidences for raw text: ``lamina serve`` and the parity checks use it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from lamina.errors import LaminaError
from lamina.registry import lazy_import

# the export formats (lamina.models.formats) read this module's file names when the command line lists them
np = lazy_import("numpy")
torch = lazy_import("torch")
nn = lazy_import("torch.nn")

ONNX_FILE = "model.onnx"
TORCH_INT8_FILE = "model_int8.safetensors"
OLD_TORCH_INT8_FILE = "model_int8.pt"  # a pickle, written before 2026-12-03: refused, never read
OPSET = 17


# ---------------------------------------------------------------- what a folder is


def exported_format(folder: str | Path) -> str | None:
    """The format (``onnx``, ``onnx-int8``, ``torch-int8``, ...) of a folder ``lamina export`` wrote,
    else None: the one its results record names, else the first whose ``files`` the folder holds."""
    from lamina.models.formats import EXPORT_FORMATS
    from lamina.results import record_kind

    folder = Path(folder)
    if not folder.is_dir():
        return None
    record = folder / "lamina_results.json"
    if record.is_file():
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
            fmt = record_kind(data).exported_format(data) if isinstance(data, dict) else None
            if isinstance(fmt, str) and fmt in EXPORT_FORMATS:
                return fmt
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass
    for name in EXPORT_FORMATS.names():
        if any((folder / f).is_file() for f in EXPORT_FORMATS.get(name).files):
            return name
    return None


def torch_int8_unavailable() -> str | None:
    """Why ``torch-int8`` cannot be made with this torch (None when it can).

    ``torch.ao.quantization`` warns that it is deprecated and will be removed; when it is
    gone, this says so instead of failing deep inside an export."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torch.ao.quantization import quantize_dynamic  # noqa: F401
    except ImportError:
        return (
            f"torch {torch.__version__} no longer has torch.ao.quantization.quantize_dynamic: "
            "use --format onnx-int8 (ONNX Runtime int8) instead"
        )
    if (
        "qnnpack" not in torch.backends.quantized.supported_engines
        and "fbgemm" not in torch.backends.quantized.supported_engines
        and "x86" not in torch.backends.quantized.supported_engines
    ):
        return f"this torch build ({torch.__version__}) has no quantized CPU engine: use --format onnx-int8"
    return None


def quantize_torch(model: nn.Module) -> nn.Module:
    import warnings

    reason = torch_int8_unavailable()
    if reason:
        raise LaminaError(reason)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model.eval(), {nn.Linear}, dtype=torch.qint8)


# ---------------------------------------------------------------- ONNX Runtime


class OnnxModel:
    """An exported classifier run by ONNX Runtime: ``model(**batch)`` gives the logits
    (numpy) for a tokenized batch (numpy arrays or torch tensors). ``threads`` pins the
    session's intra-op threads (``SessionOptions.intra_op_num_threads``; None: ONNX
    Runtime's default)."""

    def __init__(self, folder: str | Path, *, threads: int | None = None, config=None, fmt: str | None = None):
        import onnxruntime as ort  # noqa: F401  (fails early and clearly if missing)

        self.folder = Path(folder)
        self.path = self.folder / ONNX_FILE
        if not self.path.is_file():
            raise LaminaError(f"{self.folder} has no {ONNX_FILE}: not an ONNX export")
        self.format = fmt or exported_format(self.folder) or "onnx"
        self.backend = "onnx-int8" if self.format == "onnx-int8" else "onnx"
        self.config = config if config is not None else _config_of(self.folder)
        self.threads = threads
        self._sessions: dict = {}
        session = self.session(threads)
        self.input_names = [i.name for i in session.get_inputs()]
        self.num_parameters = export_record(self.folder).get("sizes", {}).get("parameters")
        self.training = False

    def session(self, threads: int | None = None):
        if threads not in self._sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.log_severity_level = 3
            if threads:
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
            try:
                self._sessions[threads] = ort.InferenceSession(
                    str(self.path), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise LaminaError(f"could not load {self.path} with ONNX Runtime: {first}") from None
        return self._sessions[threads]

    def feeds(self, batch: dict) -> dict:
        out = {}
        ref = None
        for name, value in batch.items():
            if name in self.input_names:
                arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
                out[name] = arr.astype(np.int64, copy=False)
                ref = out[name]
        for name in self.input_names:  # token_type_ids the tokenizer did not return: all zeros
            if name not in out and ref is not None:
                out[name] = np.zeros_like(ref)
        return out

    def __call__(self, threads: int | None = None, **batch) -> np.ndarray:
        return self.session(threads if threads is not None else self.threads).run(["logits"], self.feeds(batch))[0]

    def timed_call(self, batch: dict, threads: int | None):
        """A zero-argument call for :func:`lamina.eval.timing.measure_throughput`."""
        session, feeds = self.session(threads), self.feeds(batch)
        return lambda: session.run(["logits"], feeds)

    def structure(self) -> str:
        """What decides speed: operators and initializer shapes (no weights)."""
        import onnx

        graph = onnx.load(str(self.path), load_external_data=False).graph
        return repr([n.op_type for n in graph.node] + [(list(t.dims), t.data_type) for t in graph.initializer])

    def eval(self):
        return self


def _config_of(folder: Path):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(folder)
    except (OSError, ValueError) as exc:
        raise LaminaError(f"could not read {folder}/config.json: {str(exc).splitlines()[0]}") from None


def export_record(folder: str | Path) -> dict:
    """The results record of a folder (``{}`` when it has none or it is unreadable)."""
    path = Path(folder) / "lamina_results.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}


def _dynamic_linears(model: nn.Module):
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return [(name, mod) for name, mod in model.named_modules() if isinstance(mod, DynamicLinear)]


def _owned_by(key: str, modules: set[str]) -> bool:
    return any(key.startswith(m + ".") for m in modules)


def save_torch_int8(model: nn.Module, path: str | Path) -> None:
    """Write a dynamically quantised module as plain tensors (safetensors, no pickle): for
    each quantised Linear its int8 weight, scale(s), zero point(s) and fp32 bias; every other
    parameter and buffer as it is."""
    from safetensors.torch import save_file

    tensors, quantised = {}, set()
    for name, mod in _dynamic_linears(model):
        w, b = mod.weight(), mod.bias()
        quantised.add(name)
        tensors[f"{name}.qweight"] = w.int_repr().contiguous()
        if w.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
            tensors[f"{name}.qscales"] = w.q_per_channel_scales().float().contiguous()
            tensors[f"{name}.qzero_points"] = w.q_per_channel_zero_points().contiguous()
            tensors[f"{name}.qaxis"] = torch.tensor([w.q_per_channel_axis()])
        else:
            tensors[f"{name}.qscales"] = torch.tensor([w.q_scale()], dtype=torch.float32)
            tensors[f"{name}.qzero_points"] = torch.tensor([w.q_zero_point()])
        if b is not None:
            tensors[f"{name}.bias"] = b.detach().contiguous()
    for key, value in model.state_dict().items():
        if isinstance(value, torch.Tensor) and not _owned_by(key, quantised):
            tensors[key] = value.detach().contiguous()
    # tied weights would be shared storage, which safetensors refuses: store each name's own copy
    save_file({k: v.clone() for k, v in tensors.items()}, str(path), metadata={"format": "pt", "lamina": "torch-int8"})


def load_torch_int8(folder: str | Path) -> nn.Module:
    """The dynamically quantised PyTorch module saved by ``--format torch-int8``: the fp32
    architecture from ``config.json``, quantised the same way, then its int8 weights set from
    the safetensors file (no unpickling)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from lamina.models.loading import _model_class, load_config

    config, source = load_config(str(folder))
    path = Path(source) / TORCH_INT8_FILE
    if not path.is_file() and (Path(source) / OLD_TORCH_INT8_FILE).is_file():
        raise LaminaError(
            f"{Path(source) / OLD_TORCH_INT8_FILE} is a pickle written by an older lamina, which is "
            "never unpickled: export the model again with --format torch-int8"
        )
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise LaminaError(f"could not read {path}: {str(exc).splitlines()[0]}") from None
    model = quantize_torch(_model_class(config)(config))
    linears = _dynamic_linears(model)
    try:
        for name, mod in linears:
            q, scales, zps = (
                tensors.pop(f"{name}.qweight"),
                tensors.pop(f"{name}.qscales"),
                tensors.pop(f"{name}.qzero_points"),
            )
            if f"{name}.qaxis" in tensors:
                axis = int(tensors.pop(f"{name}.qaxis")[0])
                weight = torch._make_per_channel_quantized_tensor(q, scales.double(), zps, axis)
            else:
                weight = torch._make_per_tensor_quantized_tensor(q, float(scales[0]), int(zps[0]))
            mod.set_weight_bias(weight, tensors.pop(f"{name}.bias", None))
    except KeyError as exc:
        raise LaminaError(f"{path} does not match {source}/config.json: no tensor {exc}") from None
    full = model.state_dict()  # the quantised Linears' packed weights as just set, and the rest
    quantised = {name for name, _ in linears}
    own = {k for k, v in full.items() if isinstance(v, torch.Tensor) and not _owned_by(k, quantised)}
    missing, unexpected = own - set(tensors), set(tensors) - own
    if missing or unexpected:
        raise LaminaError(
            f"{path} does not match {source}/config.json: "
            f"{len(missing)} missing and {len(unexpected)} unexpected tensors"
        )
    full.update(tensors)
    model.load_state_dict(full)
    return model.eval()


def _a(word: str) -> str:
    return f"{'an' if word[:1].upper() in 'AEIOU' else 'a'} {word}"


def load_exported(spec: str, *, backend: str | None = None, threads: int | None = None):
    """``(model, tokenizer, source)`` for ``lamina eval`` / ``lamina serve`` on ``backend``
    (``torch``, ``onnx``: see :func:`lamina.models.formats.backends`; None: the folder's own): an
    export read back by its format, or None for a plain PyTorch folder (the caller's usual
    loader). An export asked for on another backend is one clear error."""
    from lamina.models.formats import EXPORT_FORMATS, get_format
    from lamina.models.loading import load_tokenizer, resolve_model

    source = resolve_model(spec)
    name = exported_format(source)
    fmt = get_format(name) if name else None
    own = fmt.backend if fmt else "torch"
    backend = backend or own
    if backend != own:
        if fmt is not None and fmt.backend != "torch":
            raise LaminaError(f"'{spec}' is {_a(fmt.label)} export ({name}): evaluate it with --backend {fmt.backend}")
        wanted = next(get_format(n) for n in EXPORT_FORMATS.names() if get_format(n).backend == backend)
        what = f"a {name} export" if fmt else "a PyTorch model folder"
        missing = f" (no {', '.join(wanted.files)})" if wanted.files else ""
        raise LaminaError(
            f"'{spec}' is {what}, not {_a(wanted.label)} export{missing}: export it with "
            f"`lamina export {spec} -o OUT --format {wanted.name}` or use --backend {own}"
        )
    if fmt is None:
        return None
    return fmt.load(source, threads=threads), load_tokenizer(source), source


# ---------------------------------------------------------------- predictions from text


def logits_of(model, batch: dict) -> np.ndarray:
    """Logits (numpy) of a PyTorch classifier or an :class:`OnnxModel` for a tokenized batch."""
    if isinstance(model, nn.Module):
        with torch.inference_mode():
            return model(**{k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}).logits.float().numpy()
    return model(**batch)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class TextClassifier:
    """Labels and confidences for raw texts, from any backend: the text is tokenized as
    ``lamina eval`` does (truncation at ``max_length``) and padded per batch."""

    def __init__(self, model, tokenizer, *, max_length: int = 128, labels: dict | None = None):
        if tokenizer is None:
            raise LaminaError("this model has no tokenizer: save one in the model folder")
        self.model, self.tokenizer, self.max_length = model, tokenizer, max_length
        id2label = labels or getattr(model.config, "id2label", None) or {}
        self.labels = {int(k): str(v) for k, v in id2label.items()}

    def logits(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        out = []
        for start in range(0, len(texts), batch_size):
            enc = self.tokenizer(
                list(texts[start : start + batch_size]),
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )
            out.append(logits_of(self.model, dict(enc)))
        return np.concatenate(out, axis=0)

    def predict(self, texts: list[str]) -> list[dict]:
        probs = softmax(self.logits(texts))
        ids = probs.argmax(axis=-1)
        return [
            {"label": self.labels.get(int(i), str(int(i))), "label_id": int(i), "confidence": float(p[i])}
            for i, p in zip(ids, probs)
        ]


# ---------------------------------------------------------------- export


def check_exportable(model: nn.Module, spec: str) -> None:
    if not type(model).__name__.endswith("ForSequenceClassification"):
        raise LaminaError(
            f"'{spec}' is a {type(model).__name__}, not a sequence classifier: lamina export takes a "
            "fine-tuned or distilled classifier (fine-tune it first)"
        )


def input_names(model: nn.Module, tokenizer) -> list[str]:
    import inspect

    accepted = inspect.signature(model.forward).parameters
    names = [n for n in getattr(tokenizer, "model_input_names", ["input_ids", "attention_mask"]) if n in accepted]
    return ["input_ids"] + [n for n in names if n != "input_ids"]


def _logits_module(model: nn.Module, names: list[str]) -> nn.Module:
    """The classifier as a function of positional tensors (what the TorchScript exporter traces)."""

    class _Logits(nn.Module):
        def __init__(self, model: nn.Module, names: list[str]):
            super().__init__()
            self.model, self.names = model, names

        def forward(self, *tensors):
            return self.model(**dict(zip(self.names, tensors)), return_dict=True).logits

    return _Logits(model, names)


def export_onnx(
    model: nn.Module, tokenizer, path: Path, sample_texts: list[str], *, max_length: int = 128
) -> list[str]:
    """Write ``model`` (a sequence classifier) to ``path`` as ONNX with dynamic batch and
    sequence axes; returns the graph's input names."""
    import warnings

    names = input_names(model, tokenizer)
    enc = tokenizer(
        sample_texts[:2] or ["hello world"], truncation=True, max_length=max_length, padding=True, return_tensors="pt"
    )
    args = tuple(enc[n] if n in enc else torch.zeros_like(enc["input_ids"]) for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch"}
    wrapped = _logits_module(model.eval(), names).eval()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped,
            args,
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
        )
    return names


def quantize_onnx(fp32_path: Path, int8_path: Path) -> None:
    """ONNX Runtime dynamic quantisation: int8 weights (embeddings included) with one scale per
    output channel, activations quantised on the fly. Per channel rather than per tensor: on the
    quickstart's 3-layer BBC News student the largest logit error on 128 texts fell from 0.36 to
    0.12 (argmax agreement 99.3% to 100%) for the same 17.6 MB."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # "consider pre-processing before quantization"
    try:
        quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        logging.getLogger().setLevel(level)


# ---------------------------------------------------------------- parity


def parity(
    reference: nn.Module, exported, tokenizer, texts: list[str], *, max_length: int = 128, batch_size: int = 16
) -> dict:
    """Logits of ``exported`` against the PyTorch ``reference`` on real ``texts``: max abs
    difference and argmax agreement. Batches of ``batch_size`` padded to their longest text,
    plus a batch of 1 and one of 7 at 16 and 64 tokens, so the dynamic axes are exercised."""
    batches = []
    for start in range(0, len(texts), batch_size):
        batches.append(
            tokenizer(
                texts[start : start + batch_size],
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
        )
    shapes = set()
    for n, length in ((1, 16), (7, 64)):
        if len(texts) >= n:
            batches.append(
                tokenizer(
                    texts[:n],
                    truncation=True,
                    max_length=min(length, max_length),
                    padding="max_length",
                    return_tensors="pt",
                )
            )
    max_diff, agree, count = 0.0, 0, 0
    for enc in batches:
        batch = dict(enc)
        ref = logits_of(reference, batch)
        got = logits_of(exported, batch)
        shapes.add(tuple(enc["input_ids"].shape))
        max_diff = max(max_diff, float(np.abs(ref - got).max()))
        agree += int((ref.argmax(-1) == got.argmax(-1)).sum())
        count += ref.shape[0]
    return {
        "texts": len(texts),
        "rows_compared": count,
        "max_abs_diff": max_diff,
        "argmax_agreement": agree / count if count else None,
        "shapes": sorted(shapes),
    }
