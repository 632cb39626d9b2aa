"""The single timing helper: every lamina command that reports speed calls this.

Inputs are random token ids of a fixed shape (no padding), the model is in eval mode
under ``torch.inference_mode``, a few warm-up passes are discarded and the median of
the timed repeats is reported. ``threads`` pins ``torch.set_num_threads`` for the
measurement and restores it after, so numbers from one process are comparable.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn


@contextmanager
def _threads(n: int | None):
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def weights_size_bytes(folder: str | Path) -> int:
    """Bytes of the weight files in a saved model folder."""
    folder = Path(folder)
    patterns = ("*.safetensors", "*.bin", "*.gguf")
    return sum(f.stat().st_size for pattern in patterns for f in folder.glob(pattern))


@torch.inference_mode()
def measure_throughput(
    model: nn.Module,
    *,
    batch_size: int = 32,
    seq_len: int = 128,
    warmup: int = 2,
    repeats: int = 5,
    threads: int | None = None,
    seed: int = 0,
) -> dict:
    """Median seconds per batch and samples/second of ``model`` on random token ids."""
    vocab = int(getattr(model.config, "vocab_size", 1000))
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, max(vocab, 6), (batch_size, seq_len), generator=generator)
    batch = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
    if getattr(model.config, "is_encoder_decoder", False):  # the decoder reads as many tokens
        batch["decoder_input_ids"] = input_ids
    was_training = model.training
    model.eval()
    times = []
    try:
        with _threads(threads):
            for i in range(warmup + repeats):
                start = time.perf_counter()
                model(**batch)
                if i >= warmup:
                    times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    median = statistics.median(times)
    return {
        "batch_size": batch_size,
        "seq_len": seq_len,
        "threads": threads or torch.get_num_threads(),
        "repeats": repeats,
        "seconds_per_batch": median,
        "samples_per_second": batch_size / median,
        "all_seconds": times,
    }


def compare_throughput(models: dict, *, rounds: int = 3, **kwargs) -> dict:
    """Time several models in interleaved rounds (A, B, A, B, ...) so that a noisy machine's
    drifts hit all of them alike. Returns, per name, the median over rounds of
    :func:`measure_throughput`'s per-round median, plus the per-round figures."""
    per_round: dict = {name: [] for name in models}
    last: dict = {}
    for _ in range(rounds):
        for name, model in models.items():
            last[name] = measure_throughput(model, **kwargs)
            per_round[name].append(last[name]["seconds_per_batch"])
    out = {}
    for name, seconds in per_round.items():
        median = statistics.median(seconds)
        out[name] = {
            **{k: v for k, v in last[name].items() if k not in ("seconds_per_batch", "samples_per_second", "all_seconds")},
            "rounds": rounds,
            "seconds_per_batch": median,
            "samples_per_second": last[name]["batch_size"] / median,
            "seconds_per_round": seconds,
        }
    return out


@torch.inference_mode()
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
    """Greedy generation with the KV cache through HF ``generate``: median seconds per call and
    new tokens per second (``batch_size`` × ``new_tokens`` / seconds), from random prompts;
    every call is forced to produce exactly ``new_tokens`` tokens."""
    vocab = int(getattr(model.config, "vocab_size", 1000))
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, max(vocab, 6), (batch_size, prompt_len), generator=generator)
    pad = getattr(model.config, "pad_token_id", None)
    kwargs = dict(attention_mask=torch.ones_like(input_ids), max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                  do_sample=False, num_beams=1, use_cache=True, pad_token_id=0 if pad is None else pad)
    was_training = model.training
    model.eval()
    times = []
    try:
        with _threads(threads):
            for i in range(warmup + repeats):
                start = time.perf_counter()
                model.generate(input_ids, **kwargs)
                if i >= warmup:
                    times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    median = statistics.median(times)
    return {
        "batch_size": batch_size,
        "prompt_len": prompt_len,
        "new_tokens": new_tokens,
        "threads": threads or torch.get_num_threads(),
        "repeats": repeats,
        "seconds_per_call": median,
        "tokens_per_second": batch_size * new_tokens / median,
    }
