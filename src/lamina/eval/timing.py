"""The single timing helper: every lamina command that reports speed calls this.

Inputs are random token ids of a fixed shape (no padding), the model is in eval mode
under ``torch.inference_mode``, a few warm-up passes are discarded and the median of
the timed repeats is reported, with its spread (min and max over the repeats).
``threads`` pins ``torch.set_num_threads`` for the measurement and restores it after, so
numbers from one process are comparable.

Two backends share the helper: a PyTorch ``nn.Module`` (fp32 or dynamically quantised),
and any object that offers ``timed_call(batch, threads)`` (the ONNX Runtime model of
:mod:`lamina.models.export`, whose session is pinned to ``threads`` through
``SessionOptions.intra_op_num_threads``).

Speed is a property of the architecture and the backend, not of the weights: a measurement
is keyed by :func:`speed_key` (the class, the backend and the shape of every tensor), and
within one process models of identical shape share one measurement (:func:`clear_shared`
forgets them).
"""

from __future__ import annotations

import hashlib
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

from lamina.registry import lazy_import

# imported by the first measurement: a command refuses bad settings before torch is loaded
torch = lazy_import("torch")
nn = lazy_import("torch.nn")

_SHARED: dict[tuple, dict] = {}  # (speed key, batch, seq, threads, warmup, repeats, seed) -> measurement


@contextmanager
def _threads(n: int | None):
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def parameter_count(model) -> int:
    if not isinstance(model, nn.Module):
        return int(getattr(model, "num_parameters", 0) or 0)
    return sum(p.numel() for p in model.parameters())


WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.gguf", "*.onnx", "*.onnx_data", "*.pt")


def weights_size_bytes(folder: str | Path) -> int:
    """Bytes of the weight files in a saved model folder (safetensors, ONNX, int8 state dicts...)."""
    folder = Path(folder)
    return sum(
        f.stat().st_size for pattern in WEIGHT_PATTERNS for f in folder.glob(pattern) if f.name != "training_args.bin"
    )


def backend_of(model) -> str:
    """``torch``, ``torch-int8`` (dynamically quantised modules) or the model's own ``backend``."""
    if not isinstance(model, nn.Module):
        return str(getattr(model, "backend", type(model).__name__))
    quantized = any(
        type(m).__module__.startswith(("torch.ao.nn.quantized", "torch.nn.quantized")) for m in model.modules()
    )
    return "torch-int8" if quantized else "torch"


def speed_key(model) -> str:
    """A short hash of what decides speed: the backend, the class and every tensor's shape and
    dtype (for an ONNX model, its graph: operators and initializer shapes). Two models with
    the same key differ only in their weights."""
    if not isinstance(model, nn.Module):
        described = model.structure()
    else:
        state = model.state_dict()
        described = repr(
            [type(model).__name__]
            + [
                (k, tuple(v.shape), str(v.dtype)) if hasattr(v, "shape") else (k, type(v).__name__)
                for k, v in state.items()
            ]
        )
    return hashlib.sha1(f"{backend_of(model)}|{described}".encode()).hexdigest()[:16]


def clear_shared() -> None:
    """Forget the measurements shared within this process."""
    _SHARED.clear()


def _inputs(model, batch_size: int, seq_len: int, seed: int) -> dict:
    vocab = int(getattr(model.config, "vocab_size", 1000) or 1000)
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, max(vocab, 6), (batch_size, seq_len), generator=generator)
    batch = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
    if getattr(model.config, "is_encoder_decoder", False):  # the decoder reads as many tokens
        batch["decoder_input_ids"] = input_ids
    return batch


def _timed(fn, warmup: int, repeats: int) -> list[float]:
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        fn()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


@contextmanager
def _evaluating(model: nn.Module):
    """The model in eval mode (its training flag restored after), under ``torch.inference_mode``."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield model
    finally:
        model.train(was_training)


def _torch_times(model: nn.Module, batch: dict, threads, warmup, repeats) -> list[float]:
    with _evaluating(model), _threads(threads):
        return _timed(lambda: model(**batch), warmup, repeats)


def measure_throughput(
    model,
    *,
    batch_size: int = 32,
    seq_len: int = 128,
    warmup: int = 2,
    repeats: int = 5,
    threads: int | None = None,
    seed: int = 0,
    shared: bool = True,
) -> dict:
    """Median seconds per batch (with min and max over the repeats) and samples/second of
    ``model`` on random token ids. With ``shared``, a model whose :func:`speed_key` was
    already measured in this process with the same settings gets that measurement."""
    key = speed_key(model)
    memo = (key, batch_size, seq_len, threads or torch.get_num_threads(), warmup, repeats, seed)
    if shared and memo in _SHARED:
        return {**_SHARED[memo], "shared": True}
    batch = _inputs(model, batch_size, seq_len, seed)
    if isinstance(model, nn.Module):
        times = _torch_times(model, batch, threads, warmup, repeats)
    else:
        run = model.timed_call(batch, threads)
        times = _timed(run, warmup, repeats)
    median = statistics.median(times)
    result = {
        "backend": backend_of(model),
        "speed_key": key,
        "batch_size": batch_size,
        "seq_len": seq_len,
        "threads": threads or torch.get_num_threads(),
        "repeats": repeats,
        "seconds_per_batch": median,
        "seconds_min": min(times),
        "seconds_max": max(times),
        "samples_per_second": batch_size / median,
        "all_seconds": times,
    }
    if shared:
        _SHARED[memo] = result
    return result


def compare_throughput(models: dict, *, rounds: int = 3, **kwargs) -> dict:
    """Time several models in interleaved rounds (A, B, A, B, ...) so that a noisy machine's
    drifts hit all of them alike. Returns, per name, the median over rounds of
    :func:`measure_throughput`'s per-round median, with the min and max over rounds, plus
    the per-round figures. Models of identical shape are timed once (the first of them), and
    a set of models already compared in this process is not compared again."""
    keys = {name: speed_key(m) for name, m in models.items()}
    threads = kwargs.get("threads") or torch.get_num_threads()
    memo_of = {name: ("rounds", keys[name], rounds, threads, tuple(sorted(kwargs.items()))) for name in models}
    if all(memo_of[name] in _SHARED for name in models):
        return {name: {**_SHARED[memo_of[name]], "shared": True} for name in models}
    first_of: dict[str, str] = {}
    for name in models:
        first_of.setdefault(keys[name], name)
    timed = [name for name in models if first_of[keys[name]] == name]
    per_round: dict = {name: [] for name in timed}
    last: dict = {}
    for _ in range(rounds):
        for name in timed:
            last[name] = measure_throughput(models[name], shared=False, **kwargs)
            per_round[name].append(last[name]["seconds_per_batch"])
    out = {}
    for name in models:
        src = first_of[keys[name]]
        seconds = per_round[src]
        median = statistics.median(seconds)
        out[name] = {
            **{
                k: v
                for k, v in last[src].items()
                if k not in ("seconds_per_batch", "samples_per_second", "all_seconds", "seconds_min", "seconds_max")
            },
            "rounds": rounds,
            "seconds_per_batch": median,
            "seconds_min": min(seconds),
            "seconds_max": max(seconds),
            "samples_per_second": last[src]["batch_size"] / median,
            "seconds_per_round": seconds,
        }
        _SHARED[memo_of[name]] = out[name]
    return out


def measure_generation(
    model: nn.Module,
    *,
    batch_size: int = 1,
    prompt_len: int = 32,
    new_tokens: int = 32,
    warmup: int = 1,
    repeats: int = 3,
    threads: int | None = None,
    seed: int = 0,
) -> dict:
    """Greedy generation with the KV cache through HF ``generate``: median seconds per call (with
    min and max over the repeats, timed by the same :func:`_timed` as every other figure) and new
    tokens per second (``batch_size`` × ``new_tokens`` / seconds), from random prompts; every call
    is forced to produce exactly ``new_tokens`` tokens."""
    vocab = int(getattr(model.config, "vocab_size", 1000))
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, max(vocab, 6), (batch_size, prompt_len), generator=generator)
    pad = getattr(model.config, "pad_token_id", None)
    kwargs = dict(
        attention_mask=torch.ones_like(input_ids),
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        num_beams=1,
        use_cache=True,
        pad_token_id=0 if pad is None else pad,
    )
    with _evaluating(model), _threads(threads):
        times = _timed(lambda: model.generate(input_ids, **kwargs), warmup, repeats)
    median = statistics.median(times)
    return {
        "batch_size": batch_size,
        "prompt_len": prompt_len,
        "new_tokens": new_tokens,
        "threads": threads or torch.get_num_threads(),
        "repeats": repeats,
        "seconds_per_call": median,
        "seconds_min": min(times),
        "seconds_max": max(times),
        "tokens_per_second": batch_size * new_tokens / median,
    }
