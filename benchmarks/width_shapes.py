"""Width pruning on CPU: what each shape buys in throughput, and what the importance pass costs.

    python benchmarks/width_shapes.py [--model minilm-l6] [--shapes "6:1536:12:384,3:1536:12:384,..."]
                                      [--batch-size 32] [--seq-len 128] [--rounds 5] [--calib-samples 256]

Shapes are LAYERS:FFN:HEADS:HIDDEN. Each shape is cut from the model (top layers dropped, then
FFN/heads/hidden kept by magnitude: speed depends on the shape alone, not on which units stay)
and timed with lamina's timing helper in interleaved rounds (median of rounds × median of
passes, batch × seq_len random tokens); speed-ups are ratios to the full model in the same
run. Then the activation importance pass (Minitron) is timed on ``--calib-samples`` bbc-news
examples at ``--seq-len`` tokens, and the magnitude pass (no data).
Writes benchmarks/results/width/<model>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
import transformers

from lamina.data.calibration import calibration_batches, load_calibration_texts
from lamina.eval.timing import compare_throughput, parameter_count
from lamina.importance import get_importance, narrow
from lamina.models import drop_layers, get_adapter
from lamina.models.loading import load_model
from lamina.models.width import width_spec

RESULTS = Path(__file__).parent / "results" / "width"


def cut(model, layers: int, ffn: int, heads: int, hidden: int):
    spec = width_spec(model)
    small = drop_layers(model, list(range(layers)))
    c = small.config
    widths = {
        k: v
        for k, v, full in (
            ("ffn", ffn, spec.ffn(c)),
            ("heads", heads, spec.heads(c)),
            ("hidden", hidden, spec.hidden(c)),
        )
        if v != full
    }
    if "heads" in widths or "hidden" in widths:
        widths.setdefault("heads", heads)
        widths.setdefault("hidden", hidden)
    return narrow(small, widths, importance="magnitude")[0] if widths else small


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm-l6")
    ap.add_argument(
        "--shapes",
        default="3:1536:12:384,2:1536:12:384,6:384:12:384,6:192:12:384,6:1536:6:192,"
        "6:768:6:192,4:768:6:192,3:768:12:384,3:384:12:384",
    )
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--calib-samples", type=int, default=256)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()

    model, tokenizer, _ = load_model(args.model)
    model.eval()
    spec, c = width_spec(model), model.config
    n = get_adapter(model).num_layers(c)
    full = f"{n}:{spec.ffn(c)}:{spec.heads(c)}:{spec.hidden(c)}"
    variants = {full: model}
    for s in args.shapes.split(","):
        variants[s] = cut(model, *(int(x) for x in s.split(":")))
    timed = compare_throughput(
        variants,
        rounds=args.rounds,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        repeats=args.repeats,
        threads=args.threads,
    )
    base = timed[full]["samples_per_second"]
    rows = [
        {
            "shape": name,
            "parameters": parameter_count(m),
            "samples_per_second": round(timed[name]["samples_per_second"], 2),
            "speedup": round(timed[name]["samples_per_second"] / base, 2),
        }
        for name, m in variants.items()
    ]

    texts = load_calibration_texts(None, samples=args.calib_samples)
    batches = calibration_batches(tokenizer, texts, max_length=args.seq_len)
    cost = {}
    for name in ("activation", "magnitude"):
        start = time.perf_counter()
        get_importance(name).scores(model, batches)
        cost[name] = round(time.perf_counter() - start, 2)

    command = "python benchmarks/width_shapes.py " + " ".join(sys.argv[1:])
    result = {
        "command": command.strip(),
        "model": args.model,
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "rounds": args.rounds,
        "repeats": args.repeats,
        "threads": args.threads,
        "shapes": rows,
        "importance_seconds": cost,
        "calib_samples": len(texts),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / args.model.replace("/", "_")
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Width shapes of {args.model}: CPU throughput (batch {args.batch_size} × {args.seq_len})",
        "",
        f"`{result['command']}` ({args.threads} threads, {args.rounds} interleaved rounds × {args.repeats} "
        "passes, medians)",
        "",
        "| layers:FFN:heads:hidden | parameters | samples/s | speed-up |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {r['shape']} | {r['parameters']:,} | {r['samples_per_second']} | {r['speedup']:.2f}x |" for r in rows]
    lines += [
        "",
        f"Importance pass on {len(texts)} bbc-news examples at {args.seq_len} tokens: activation "
        f"{cost['activation']} s, magnitude {cost['magnitude']} s.",
        "",
    ]
    stem.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
