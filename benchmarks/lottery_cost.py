"""The cost of one IMP round against one fine-tuning run (same model, task, data and settings).

    LAMINA_DATA_DIR=../shared/data python benchmarks/lottery_cost.py [--model minilm-l6] [--task rte]
        [--epochs 1] [--max-train-samples N] [--max-length 128] [--batch-size 32] [--out DIR]

Runs ``lamina finetune`` once and ``lamina lottery --mode imp --target-sparsity R --prune-rate R``
(two trainings: the dense round 0, one prune + rewind, round 1 at sparsity R), both with the
same settings, and reports wall seconds: the fine-tuning run, each IMP round's training,
evaluation + saving (mask, round model) and prune + rewind, and the ratio of a round to a
fine-tuning run (after one throwaway warm-up run). A full IMP run to sparsity S with the linear schedule at rate R costs about
S/R + 1 rounds. Writes ``benchmarks/results/lottery_cost.{json,md}``. Run it on a quiet
machine: timings on a loaded one are void.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    from lamina.workflows.finetune import FinetuneConfig, run_finetune
    from lamina.workflows.lottery import LotteryConfig, run_lottery

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm-l6")
    ap.add_argument("--task", default="rte")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--max-train-samples", type=int, default=None)
    ap.add_argument("--max-eval-samples", type=int, default=None)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--rate", type=float, default=0.1)
    ap.add_argument("--out", default=str(RESULTS / "lottery_cost"))
    args = ap.parse_args()

    common = dict(
        model=args.model,
        task=args.task,
        data_dir=args.data_dir,
        epochs=args.epochs,
        max_train_samples=args.max_train_samples,
        max_eval_samples=args.max_eval_samples,
        max_length=args.max_length,
        batch_size=args.batch_size,
        progress=False,
        seed=1,
    )
    work = Path(tempfile.mkdtemp(prefix="lottery-cost-"))
    try:  # a throwaway run first: imports and first-read caches are not the runs' cost
        run_finetune(FinetuneConfig(output=str(work / "warmup"), **{**common, "max_steps": 1}))
        t0 = time.perf_counter()
        ft = run_finetune(FinetuneConfig(output=str(work / "ft"), **common))
        finetune_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        imp = run_lottery(
            LotteryConfig(
                output=str(work / "imp"), mode="imp", target_sparsity=args.rate, prune_rate=args.rate, **common
            ),
            log=lambda *_: None,
        )
        imp_seconds = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rounds = imp["lottery"]["rounds"]
    round_total = [sum(r["seconds"].values()) for r in rounds]
    result = {
        "command": "python " + " ".join(["benchmarks/lottery_cost.py", *sys.argv[1:]]),
        "settings": {k: v for k, v in common.items() if k != "data_dir"},
        "finetune_seconds": round(finetune_seconds, 2),
        "finetune_steps": ft["training"]["global_steps"],
        "imp_total_seconds": round(imp_seconds, 2),
        "rounds": [
            {"round": r["round"], "sparsity": r["sparsity"], **r["seconds"], "total": round(t, 2)}
            for r, t in zip(rounds, round_total)
        ],
        "round_vs_finetune": round(round_total[0] / finetune_seconds, 3),
        "prune_and_rewind_seconds": rounds[0]["seconds"].get("prune_and_rewind"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# One IMP round vs one fine-tuning run",
        "",
        f"`{result['command']}`",
        "",
        f"- fine-tuning run: {result['finetune_seconds']} s ({result['finetune_steps']} steps)",
        f"- IMP (2 rounds, one prune to {args.rate:.0%}): {result['imp_total_seconds']} s in all",
        "",
        "| round | sparsity | train s | evaluate + save s | prune + rewind s | total s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['round']} | {r['sparsity']:.2f} | {r['train']} | {r['evaluate_and_save']} | "
        f"{r.get('prune_and_rewind', '')} | {r['total']} |"
        for r in result["rounds"]
    ]
    lines += ["", f"One IMP round / one fine-tuning run: **{result['round_vs_finetune']:.2f}x**"]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
