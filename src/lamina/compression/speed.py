"""A shape's speed and size on the shipped backend, measured once per shape.

Speed is a property of the shape and the backend, not of the weights (the premise of
:mod:`lamina.eval.timing`'s speed keys): a shape is timed on a model of that shape cut from the
input model by its first units (no importance pass), exported to the backend's format when that
is not PyTorch (the export of a shape is written to a temporary folder and removed). Two figures
per shape, each by :func:`lamina.eval.timing.measure_throughput` (2 warm-up passes, the median of
``repeats``): throughput at ``batch_size`` × ``seq_len`` random tokens (the ``--speedup`` budget,
over the input model's PyTorch fp32 throughput measured the same way) and batch-1 latency at
``seq_len`` (``--latency-ms``, and the Pareto plot's axis). Size: parameters, and the bytes of
the weights as shipped (the PyTorch state dict, or the exported files).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from lamina.compression.shapes import Shape


def shape_model(model, shape: Shape):
    """A model of ``shape`` cut from ``model`` (first layers, first units): weights irrelevant, shape exact."""
    import torch

    from lamina.compression.shapes import shape_of
    from lamina.models.adapters import get_adapter
    from lamina.models.surgery import drop_layers
    from lamina.models.width import plan_from_scores, prune_width

    out = drop_layers(model, list(range(shape.layers)))
    full = shape_of(out)
    if get_adapter(out).width is None or (shape.ffn, shape.heads, shape.hidden) == (full.ffn, full.heads, full.hidden):
        return out.eval()
    zeros = {
        "ffn": [torch.zeros(full.ffn)] * full.layers,
        "heads": [torch.zeros(full.heads)] * full.layers,
        "hidden": torch.zeros(full.hidden),
    }  # equal scores: the first units stay
    widths = {k: getattr(shape, k) for k in ("ffn", "heads", "hidden") if getattr(shape, k) != getattr(full, k)}
    return prune_width(out, plan_from_scores(zeros, out.config, **widths)).eval()


def state_bytes(model) -> int:
    """Bytes of the state dict as safetensors stores it (a shared tensor once)."""
    seen, total = set(), 0
    for t in model.state_dict().values():
        key = (t.data_ptr(), t.numel())
        if key not in seen:
            seen.add(key)
            total += t.numel() * t.element_size()
    return total


def measure(
    model,
    *,
    backend: str,
    tokenizer,
    texts: list[str],
    batch_size: int,
    seq_len: int,
    repeats: int = 5,
    reference: float | None = None,
) -> dict:
    """Throughput, batch-1 latency, parameters and bytes of ``model`` on ``backend`` (``torch``, or an
    export format's name); ``reference``: the input model's samples/s that ``speedup`` divides by."""
    from lamina.eval.timing import measure_throughput, parameter_count, weights_size_bytes

    params = parameter_count(model)
    folder = None
    try:
        if backend == "torch":
            timed, nbytes = model, state_bytes(model)
        else:
            from lamina.models.formats import get_format

            folder = Path(tempfile.mkdtemp(prefix="lamina-compress-shape-"))
            timed, _ = get_format(backend).export(model, tokenizer, folder, texts, seq_len)
            nbytes = weights_size_bytes(folder)
        kw = dict(seq_len=seq_len, repeats=repeats, shared=False)
        throughput = measure_throughput(timed, batch_size=batch_size, **kw)
        latency = measure_throughput(timed, batch_size=1, **kw)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    sps = throughput["samples_per_second"]
    return {
        "backend": backend,
        "parameters": params,
        "bytes": nbytes,
        "megabytes": nbytes / 1e6,
        "samples_per_second": sps,
        "speedup": sps / reference if reference else 1.0,
        "latency_ms": 1000 * latency["seconds_per_batch"],
        "latency_range_ms": [1000 * latency["seconds_min"], 1000 * latency["seconds_max"]],
        "batch_size": batch_size,
        "seq_len": seq_len,
        "threads": throughput["threads"],
        "repeats": repeats,
    }
