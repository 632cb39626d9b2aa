"""The cost of sequence-level KD's pieces, side by side (issue 13's benchmark):

1. ``generate-targets``: examples/s of the teacher decoding the training sources, greedy
   (beam 1) versus beam 5 with a 5-best list (each into a fresh n-best store);
2. a Word-KD step (``--loss kd=0.5,ce=0.5``: the teacher's forward pass plus token-level KL)
   versus a plain NLL step (``--loss ce``), same student, data and batch; rounds alternate the
   order, a run's figure is the median step time after the first two steps.

    python benchmarks/seqkd_cost.py --teacher runs/seqkd_kim_rush/runs/teacher --data-dir ../shared/data \\
        [--pairs 512 --steps 20 --rounds 3 --threads 2]
    # → benchmarks/results/seqkd_cost/cost.{json,md}

The teacher is the recipes/seqkd_kim_rush.yaml teacher (or any multi30k teacher); the student
is its 2+2 × 128 config. Timings are only meaningful on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks/results/seqkd_cost"
STUDENT = {
    "model_type": "bart",
    "d_model": 128,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "encoder_ffn_dim": 512,
    "decoder_ffn_dim": 512,
    "max_position_embeddings": 256,
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teacher", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--task", default="multi30k")
    ap.add_argument("--pairs", type=int, default=512)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=32)
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--train-file", default=None, help="--task pairs: the pairs files (a quick check)")
    ap.add_argument("--validation-file", default=None)
    args = ap.parse_args()

    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    from step_timer import alternated_rounds, cost_table, median_step, per_variant, write_cost

    from lamina.workflows.distill import DistillConfig, run_distill
    from lamina.workflows.generate_targets import GenerateTargetsConfig, run_generate_targets

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    work = Path(tempfile.mkdtemp(prefix="seqkd-cost-"))
    quiet = lambda *_: None  # noqa: E731
    files = {"train_file": args.train_file, "validation_file": args.validation_file} if args.train_file else {}
    gen = {}
    for beams, n_best in ((1, 1), (5, 5)):
        cfg = GenerateTargetsConfig(
            teacher=args.teacher,
            task=args.task,
            data_dir=args.data_dir,
            num_beams=beams,
            n_best=n_best,
            max_length=args.max_length,
            max_new_tokens=args.max_length,
            max_train_samples=args.pairs,
            output=str(work / f"targets-b{beams}"),
            cache_dir=str(work / f"store-b{beams}"),
            batch_size=args.batch_size,
            **files,
        )
        record = run_generate_targets(cfg, log=quiet)
        gen[f"beam{beams}"] = record["generation"]["examples_per_second"]
    losses = {"nll": {"ce": 1.0}, "word-kd": {"kd": 0.5, "ce": 0.5}}

    def measure(name, r):
        cfg = DistillConfig(
            teacher=[args.teacher],
            task=args.task,
            data_dir=args.data_dir,
            student_config=json.dumps(STUDENT),
            loss=losses[name],
            temperature=1.0,
            max_length=args.max_length,
            max_new_tokens=args.max_length,
            batch_size=args.batch_size,
            max_steps=args.steps,
            max_train_samples=args.steps * args.batch_size,
            max_eval_samples=32,
            output=str(work / f"{name}-r{r}"),
            progress=False,
            seed=42,
            **files,
        )
        return median_step(lambda timer: run_distill(cfg, callbacks=[timer], log=quiet))

    steps = per_variant(alternated_rounds(list(losses), args.rounds, measure))
    result = {
        "command": " ".join(sys.argv),
        "threads": args.threads,
        "pairs": args.pairs,
        "time": time.ctime(),
        "generate_targets_examples_per_second": gen,
        "beam5_cost_vs_greedy": gen["beam1"] / gen["beam5"],
        "step_seconds": steps,
        "word_kd_step_vs_nll": statistics.median(steps["word-kd"]) / statistics.median(steps["nll"]),
    }
    write_cost(
        out,
        result,
        cost_table(
            [
                ("generate-targets greedy, examples/s", f"{gen['beam1']:.1f}"),
                ("generate-targets beam 5 (5-best), examples/s", f"{gen['beam5']:.1f}"),
                ("beam 5 cost / greedy", f"{result['beam5_cost_vs_greedy']:.2f}x"),
                ("NLL step, s (median over rounds)", f"{statistics.median(steps['nll']):.4f}"),
                ("Word-KD step, s", f"{statistics.median(steps['word-kd']):.4f}"),
                ("Word-KD / NLL step", f"{result['word_kd_step_vs_nll']:.2f}x"),
            ]
        ),
    )


if __name__ == "__main__":
    main()
