"""Did the command/method restructuring (issue 11) slow the distillation step?

The same fixed-shape distillation (a MiniLM-L6 teacher fine-tuned on bbc-news → its
contribution-pruned 3-layer copy, kd=0.5,ce=0.5, batch 32 × 64 tokens padded, warm
teacher-output cache, fused AdamW, 40 steps, the first 5 excluded) run by lamina before the
restructuring (a worktree of c242f33) and after (this tree), alternated over rounds with the
order rotated, each run in its own process. P1 (a)'s ratio against TextBrewer (0.65) was
measured with the old code on this same kind of step: if the new/old ratio here is ~1, it
stands.

    python benchmarks/restructure_step.py --teacher runs/quickstart/runs/teacher \\
        --student runs/quickstart/runs/drop-contribution [--old-commit c242f33] [--rounds 3]
    # → benchmarks/results/restructure/step.{json,md}
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "restructure"


def one(args) -> None:
    """One run in this process, with whichever lamina is on sys.path; prints a JSON line."""
    import torch
    from step_timer import StepTimer  # benchmarks/, the script's own folder, is on sys.path

    try:
        from lamina.workflows.distill import DistillConfig, run_distill  # after the restructuring
    except ImportError:
        from lamina.distillation.run import DistillConfig, run_distill  # before it
    import lamina

    torch.set_num_threads(args.threads)
    timer = StepTimer()

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
            max_train_samples=args.steps * 32,
            max_eval_samples=64,
            pad_to_max_length=True,
            group_by_length=False,
            cache=True,
            cache_dir=args.cache_dir,
            optim="adamw_torch_fused",
            seed=42,
            progress=False,
        )
        record = run_distill(cfg, callbacks=[timer], log=lambda m: None)
    steps = timer.steps
    print(
        json.dumps(
            {
                "lamina_src": str(Path(lamina.__file__).parent),
                "steps": len(steps),
                "median_step_s": statistics.median(steps[5:]),
                "step_seconds": [round(s, 5) for s in steps],
                "train_loss_first": record["training"]["train_loss_first"],
            }
        )
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", nargs="?", default="all", choices=["all", "one"])
    p.add_argument("--teacher", required=True)
    p.add_argument("--student", required=True)
    p.add_argument("--old-commit", default="c242f33")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache-dir", default=str(ROOT / "runs" / "restructure" / "cache"))
    args = p.parse_args()
    if args.mode == "one":
        return one(args)

    old = ROOT / "runs" / "restructure" / f"old-{args.old_commit}"
    if not old.exists():
        old.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "worktree", "add", "--detach", str(old), args.old_commit], cwd=ROOT, check=True)
    trees = {"before": old / "src", "after": ROOT / "src"}
    base = [
        sys.executable,
        __file__,
        "one",
        "--teacher",
        args.teacher,
        "--student",
        args.student,
        "--steps",
        str(args.steps),
        "--threads",
        str(args.threads),
        "--cache-dir",
        args.cache_dir,
    ]

    def run(tree: str) -> dict:
        env = {**__import__("os").environ, "PYTHONPATH": str(trees[tree])}
        out = subprocess.run(base, env=env, capture_output=True, text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    warm = {t: run(t) for t in trees}  # builds each tree's cache entry (the subsets differ: stratified after)
    rounds = []
    names = list(trees)
    for r in range(args.rounds):
        order = names[r % 2 :] + names[: r % 2]
        got = {t: run(t) for t in order}
        rounds.append(
            {
                "order": order,
                **{t: got[t]["median_step_s"] for t in names},
                "ratio_after_over_before": got["after"]["median_step_s"] / got["before"]["median_step_s"],
            }
        )
        print(rounds[-1], flush=True)
    ratios = [r["ratio_after_over_before"] for r in rounds]
    result = {
        "command": " ".join(["python", "benchmarks/restructure_step.py", *sys.argv[1:]]),
        "old_commit": args.old_commit,
        "new_commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "sources": {t: warm[t]["lamina_src"] for t in names},
        "rounds": rounds,
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "step.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Distillation step time before and after the restructuring",
        "",
        f"Command: `{result['command']}` (old {args.old_commit}, new {result['new_commit']}; 2 threads,"
        " machine otherwise idle)",
        "",
        "| round | order | before (s/step) | after (s/step) | after / before |",
        "|---|---|---:|---:|---:|",
    ]
    for i, r in enumerate(rounds, 1):
        lines.append(
            f"| {i} | {' → '.join(r['order'])} | {r['before']:.4f} | {r['after']:.4f} | "
            f"{r['ratio_after_over_before']:.3f} |"
        )
    lines += [
        "",
        f"Median ratio {result['ratio_median']:.3f} (min {result['ratio_min']:.3f}, max {result['ratio_max']:.3f}).",
    ]
    (RESULTS / "step.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
