"""Throughput of MiniLM-L6 and its pruned 5/4/3/2-layer versions (CPU, one process, ratios).

    python benchmarks/prune_throughput.py [--model minilm-l6] [--batch-size 32] [--seq-len 128] [--rounds 5]

Every model is measured with lamina's single timing helper (warm-up, median of repeats,
fixed threads). Models are measured in interleaved rounds (6,5,4,3,2, 6,5,4,3,2, ...) so
that drifts of a noisy machine hit all of them alike; the figure per model is the median
over rounds, and speed-ups are ratios to the unpruned model from the same run.
Writes benchmarks/results/prune_throughput.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch
import transformers

from lamina.eval.timing import compare_throughput, parameter_count
from lamina.models import drop_layers, get_adapter
from lamina.models.loading import load_model

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm-l6")
    ap.add_argument("--layers", default="5,4,3,2", help="layer counts to keep (top strategy)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--out", default=str(RESULTS / "prune_throughput"))
    args = ap.parse_args()

    model, _, _ = load_model(args.model, with_tokenizer=False)
    n = get_adapter(model).num_layers(model.config)
    variants = {n: model}
    for k in (int(x) for x in args.layers.split(",")):
        variants[k] = drop_layers(model, list(range(k)))  # the speed of k layers does not depend on which k

    timed = compare_throughput(
        variants,
        rounds=args.rounds,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        repeats=args.repeats,
        threads=args.threads,
    )
    base = timed[n]["seconds_per_batch"]
    rows = []
    for k, m in variants.items():
        sec = timed[k]["seconds_per_batch"]
        rows.append(
            {
                "layers": k,
                "parameters": parameter_count(m),
                "seconds_per_batch_median": round(sec, 4),
                "seconds_per_batch_rounds": [round(s, 4) for s in timed[k]["seconds_per_round"]],
                "samples_per_second": round(args.batch_size / sec, 2),
                "speedup_vs_full": round(base / sec, 3),
            }
        )
    command = "python " + " ".join(["benchmarks/prune_throughput.py", *sys.argv[1:]])
    result = {
        "command": command,
        "model": args.model,
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "rounds": args.rounds,
        "repeats_per_round": args.repeats,
        "threads": args.threads,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, {torch.get_num_threads()} torch threads",
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Throughput of {args.model} pruned to fewer layers",
        "",
        f"Command: `{command}`",
        "",
        f"CPU, batch {args.batch_size} × {args.seq_len} tokens, {args.threads} threads, torch {torch.__version__}, "
        f"transformers {transformers.__version__}; median of {args.rounds} interleaved rounds, each the median of "
        f"{args.repeats} timed passes after 2 warm-ups. Ratios come from this one run.",
        "",
        "| layers | parameters | s / batch | samples / s | speed-up vs full |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['layers']} | {row['parameters']:,} | {row['seconds_per_batch_median']:.3f} | "
            f"{row['samples_per_second']:.1f} | {row['speedup_vs_full']:.2f}x |"
        )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
