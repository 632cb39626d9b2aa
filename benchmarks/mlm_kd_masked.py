"""Step time of MLM distillation with `kd` (soft targets at every token) vs `kd_masked`
(at the masked positions only, DistilBERT's restrict_ce_to_mask), everything else equal:
seed 002's loss (kd=5, mlm=2, cosine=1), the 4-layer hidden-128 MLM teacher of
benchmarks/layerdrop_mlm.sh (runs/layerdrop_mlm/teacher-ld0.1), a 2-layer student made by
alternate pruning, WikiText-2 valid blocks of 128 tokens, batch 32.

    python benchmarks/mlm_kd_masked.py --data-dir ../shared/data [--rounds 3 --steps 12 --threads 2]
    # → benchmarks/results/mlm_kd_masked/speed.{json,md}

Each run is its own process running `run_distill` (what `lamina distill --task mlm` runs);
the two losses alternate over the rounds (order rotated each round). Step time = interval
between consecutive TrainerCallback.on_step_end calls; a run's figure is the median over its
steps after the first two; ratios are taken within a round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEACHER = ROOT / "runs/layerdrop_mlm/teacher-ld0.1"
WORK = ROOT / "runs/mlm_kd_masked"
RESULTS = ROOT / "benchmarks/results/mlm_kd_masked"
LOSSES = {"kd": "kd=5,mlm=2,cosine=1", "kd_masked": "kd_masked=5,mlm=2,cosine=1"}


def one(args) -> None:
    import torch
    from step_timer import StepTimer  # benchmarks/, the script's own folder, is on sys.path

    from lamina.workflows.distill import DistillConfig, run_distill

    torch.set_num_threads(args.threads)
    timer = StepTimer()

    wiki = Path(args.data_dir) / "wikitext-2-raw"
    cfg = DistillConfig(
        teacher=[str(TEACHER)],
        task="mlm",
        corpus=[str(wiki / "wiki.valid.raw")],
        eval_corpus=[str(wiki / "wiki.test.raw")],
        max_eval_samples=32,
        output=str(WORK / f"out-{args.loss}"),
        student_from_teacher="alternate",
        keep=2,
        loss=LOSSES[args.loss],
        temperature=2.0,
        lr=5e-4,
        batch_size=32,
        max_length=128,
        epochs=1,
        max_steps=args.steps,
        max_train_samples=args.steps * 32,
        overwrite=True,
        seed=42,
    )
    record = run_distill(cfg, callbacks=[timer], log=print)
    steps = timer.steps
    Path(args.json).write_text(
        json.dumps(
            {
                "loss": args.loss,
                "spec": LOSSES[args.loss],
                "step_seconds": [round(s, 4) for s in steps],
                "median_s": statistics.median(steps[2:]),
                "train_loss_mean": record["training"]["train_loss_mean"],
                "eval_mlm_loss": record["metrics"]["loss"],
                "threads": torch.get_num_threads(),
            },
            indent=1,
        )
    )


def drive(args) -> None:
    if not (TEACHER / "config.json").is_file():
        sys.exit(f"error: {TEACHER} missing: run benchmarks/layerdrop_mlm.sh first")
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs = []
    order = list(LOSSES)
    for r in range(args.rounds):
        for loss in order[r % 2 :] + order[: r % 2]:
            path = WORK / f"r{r}-{loss}.json"
            cmd = [
                sys.executable,
                __file__,
                "one",
                "--loss",
                loss,
                "--json",
                str(path),
                "--data-dir",
                args.data_dir,
                "--steps",
                str(args.steps),
                "--threads",
                str(args.threads),
            ]
            with open(WORK / f"r{r}-{loss}.log", "w") as log:
                subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
            runs.append({"round": r, **json.loads(path.read_text())})
            print(f"round {r} {loss}: {runs[-1]['median_s']:.3f} s/step", flush=True)
    med = {loss: statistics.median(x["median_s"] for x in runs if x["loss"] == loss) for loss in LOSSES}
    ratios = [
        next(x["median_s"] for x in runs if x["round"] == r and x["loss"] == "kd_masked")
        / next(x["median_s"] for x in runs if x["round"] == r and x["loss"] == "kd")
        for r in range(args.rounds)
    ]
    command = (
        f"python benchmarks/mlm_kd_masked.py --data-dir {args.data_dir} --rounds {args.rounds} "
        f"--steps {args.steps} --threads {args.threads}"
    )
    summary = {
        "command": command,
        "median_s_per_step": med,
        "ratio_kd_masked_over_kd_per_round": ratios,
        "ratio_median": statistics.median(ratios),
        "runs": runs,
    }
    (RESULTS / "speed.json").write_text(json.dumps(summary, indent=1))
    md = [
        f"# MLM distillation: `kd` vs `kd_masked` step time\n\n`{command}`\n",
        "| loss | median s/step | eval MLM loss (after the steps) |",
        "|---|---:|---:|",
    ]
    for loss in LOSSES:
        ev = statistics.median(x["eval_mlm_loss"] for x in runs if x["loss"] == loss)
        md.append(f"| `{LOSSES[loss]}` | {med[loss]:.3f} | {ev:.4f} |")
    md.append(
        f"\nkd_masked / kd per round: {', '.join(f'{x:.3f}' for x in ratios)} (median {summary['ratio_median']:.3f}).\n"
    )
    (RESULTS / "speed.md").write_text("\n".join(md))
    print("\n".join(md))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", nargs="?", default="drive", choices=["drive", "one"])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--loss", choices=list(LOSSES))
    ap.add_argument("--json")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    one(args) if args.mode == "one" else drive(args)


if __name__ == "__main__":
    main()
