"""P1c (issue 12): the cost of a MetaDistil step against a KD step.

Same teacher (MiniLM-L6 fine-tuned on bbc-news by the quickstart), same student (its
contribution-pruned 3-layer copy), same batch (32 × 64 tokens, padded: fixed shapes), same
loss (kd=0.5,ce=0.5, T=2), same quiz (100 training examples held out), 2 threads. Variants,
each run in its own process and alternated over rounds (order rotated):

  kd-cache     the standard method with the warm teacher-output cache (lamina's default)
  kd-online    the standard method with --no-cache (the teacher runs every step, as in MetaDistil)
  md-exact     --method metadistil --meta-grad exact (second order), a meta round every step
  md-exact-q32 the same, scoring one quiz batch of 32 per round, in turn (--quiz-batch-size 32
               --held-batches 1; the reference's num_held_batches)
  md-fd        --meta-grad fd (finite difference, first-order passes only)
  md-every4    --meta-grad exact --meta-every 4
  md-mixed     --meta-grad mixed (the exact gradient as a mixed product: a student JVP and a
               teacher backward, no double backward)
  md-mixed-every4 --meta-grad mixed --meta-every 4

Step time = interval between consecutive TrainerCallback.on_step_end calls; a run's figure is
the median over its steps after the first three (for md-every4 the median over whole 4-step
cycles, divided by 4); ratios are taken within a round. Peak memory: the process's maximum
resident set size (CPU: no device memory), which includes the loaded models and data.

    python benchmarks/p1c_metadistil.py --teacher /tmp/qs/runs/teacher --student /tmp/qs/runs/drop-contribution
    # → benchmarks/results/p1c_metadistil/cost.{json,md}
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "p1c_metadistil"
VARIANTS = {
    "kd-cache": {"cache": True},
    "kd-online": {"cache": False},
    "md-exact": {"method": "metadistil", "method_options": {"meta_grad": "exact"}},
    "md-exact-q32": {
        "method": "metadistil",
        "method_options": {"meta_grad": "exact", "quiz_batch_size": 32, "held_batches": 1},
    },
    "md-fd": {"method": "metadistil", "method_options": {"meta_grad": "fd"}},
    "md-every4": {"method": "metadistil", "method_options": {"meta_grad": "exact", "meta_every": 4}},
    "md-mixed": {"method": "metadistil", "method_options": {"meta_grad": "mixed"}},
    "md-mixed-every4": {"method": "metadistil", "method_options": {"meta_grad": "mixed", "meta_every": 4}},
}


def one(args) -> None:
    import torch
    from step_timer import StepTimer  # benchmarks/, the script's own folder, is on sys.path

    from lamina.workflows.distill import DistillConfig, run_distill

    torch.set_num_threads(args.threads)
    timer = StepTimer()

    variant = VARIANTS[args.variant]
    options = {"quiz_size": 100, "pilot_lr": 5e-5, "teacher_lr": 1e-5, **variant.get("method_options", {})}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = DistillConfig(
            teacher=[args.teacher],
            student=args.student,
            task="bbc-news",
            output=str(Path(tmp) / "out"),
            loss="kd=0.5,ce=0.5",
            temperature=2.0,
            lr=1e-4,
            batch_size=32,
            max_length=64,
            epochs=1,
            max_steps=args.steps,
            max_train_samples=args.steps * 32 + 100,
            max_eval_samples=32,
            pad_to_max_length=True,
            group_by_length=False,
            cache=variant.get("cache", False),
            cache_dir=args.cache_dir,
            seed=42,
            progress=False,
            method=variant.get("method", "standard"),
            method_options=options if variant.get("method") else {},
        )
        run_distill(cfg, callbacks=[timer], log=lambda m: None)
    steps = timer.steps
    every = options.get("meta_every", 1) if variant.get("method") else 1
    if every > 1:  # whole cycles (one meta step + every-1 plain steps), from step 4 on
        body = steps[4:]
        cycles = [sum(body[i : i + every]) / every for i in range(0, len(body) - every + 1, every)]
        median = statistics.median(cycles)
    else:
        median = statistics.median(steps[3:])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "variant": args.variant,
                "median_step_s": median,
                "step_seconds": [round(s, 4) for s in steps],
                "peak_rss_mb": round(peak_mb, 1),
            }
        )
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", nargs="?", default="all", choices=["all", "one"])
    p.add_argument("--teacher", required=True)
    p.add_argument("--student", required=True)
    p.add_argument("--variant", default="kd-cache")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache-dir", default=str(ROOT / "runs" / "p1c" / "cache"))
    args = p.parse_args()
    if args.mode == "one":
        return one(args)
    from step_timer import alternated_rounds, write_cost  # benchmarks/, the script's own folder, is on sys.path

    def run(variant: str) -> dict:
        cmd = [
            sys.executable,
            __file__,
            "one",
            "--teacher",
            args.teacher,
            "--student",
            args.student,
            "--variant",
            variant,
            "--steps",
            str(args.steps),
            "--threads",
            str(args.threads),
            "--cache-dir",
            args.cache_dir,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ).stdout
        return json.loads(out.strip().splitlines()[-1])

    run("kd-cache")  # warms the cache entry
    names = list(VARIANTS)
    rounds = alternated_rounds(
        names,
        args.rounds,
        lambda v, r: run(v),
        after_round=lambda entry: print({v: round(entry["runs"][v]["median_step_s"], 3) for v in names}, flush=True),
    )

    def ratio(v, base):
        return statistics.median(r["runs"][v]["median_step_s"] / r["runs"][base]["median_step_s"] for r in rounds)

    table = {
        v: {
            "median_step_s": statistics.median(r["runs"][v]["median_step_s"] for r in rounds),
            "x_kd_online": ratio(v, "kd-online"),
            "x_kd_cache": ratio(v, "kd-cache"),
            "peak_rss_mb": max(r["runs"][v]["peak_rss_mb"] for r in rounds),
        }
        for v in names
    }
    result = {
        "command": " ".join(["python", "benchmarks/p1c_metadistil.py", *sys.argv[1:]]),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "steps_per_run": args.steps,
        "rounds": rounds,
        "table": table,
    }
    lines = [
        "# P1c: a MetaDistil step against a KD step",
        "",
        f"Command: `{result['command']}` (commit {result['commit']}; 2 threads; machine otherwise idle). "
        f"{args.rounds} rounds × {args.steps} steps per run; medians over rounds of per-run medians.",
        "",
        "| variant | s/step | × KD (teacher online) | × KD (cached teacher) | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for v, t in table.items():
        lines.append(
            f"| {v} | {t['median_step_s']:.3f} | {t['x_kd_online']:.2f} | {t['x_kd_cache']:.2f} | "
            f"{t['peak_rss_mb']:.0f} |"
        )
    write_cost(RESULTS, result, lines, indent=2)


if __name__ == "__main__":
    main()
