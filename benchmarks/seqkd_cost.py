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
STUDENT = {"model_type": "bart", "d_model": 128, "encoder_layers": 2, "decoder_layers": 2, "encoder_attention_heads": 4,
           "decoder_attention_heads": 4, "encoder_ffn_dim": 512, "decoder_ffn_dim": 512, "max_position_embeddings": 256}


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
    from step_timer import StepTimer

    from lamina.workflows.distill import DistillConfig, run_distill
    from lamina.workflows.generate_targets import GenerateTargetsConfig, run_generate_targets

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="seqkd-cost-"))
    quiet = lambda *_: None  # noqa: E731
    files = {"train_file": args.train_file, "validation_file": args.validation_file} if args.train_file else {}
    gen = {}
    for beams, n_best in ((1, 1), (5, 5)):
        cfg = GenerateTargetsConfig(teacher=args.teacher, task=args.task, data_dir=args.data_dir, num_beams=beams,
                                    n_best=n_best, max_length=args.max_length, max_new_tokens=args.max_length,
                                    max_train_samples=args.pairs, output=str(work / f"targets-b{beams}"),
                                    cache_dir=str(work / f"store-b{beams}"), batch_size=args.batch_size, **files)
        record = run_generate_targets(cfg, log=quiet)
        gen[f"beam{beams}"] = record["generation"]["examples_per_second"]
    steps = {"nll": [], "word-kd": []}
    for r in range(args.rounds):
        order = [("nll", {"ce": 1.0}), ("word-kd", {"kd": 0.5, "ce": 0.5})]
        for name, loss in order if r % 2 == 0 else order[::-1]:
            timer = StepTimer()
            cfg = DistillConfig(teacher=[args.teacher], task=args.task, data_dir=args.data_dir,
                                student_config=json.dumps(STUDENT), loss=loss, temperature=1.0,
                                max_length=args.max_length, max_new_tokens=args.max_length,
                                batch_size=args.batch_size, max_steps=args.steps,
                                max_train_samples=args.steps * args.batch_size, max_eval_samples=32,
                                output=str(work / f"{name}-r{r}"), progress=False, seed=42, **files)
            run_distill(cfg, callbacks=[timer], log=quiet)
            steps[name].append(statistics.median(timer.steps[2:]))
    result = {
        "command": " ".join(sys.argv), "threads": args.threads, "pairs": args.pairs, "time": time.ctime(),
        "generate_targets_examples_per_second": gen,
        "beam5_cost_vs_greedy": gen["beam1"] / gen["beam5"],
        "step_seconds": steps,
        "word_kd_step_vs_nll": statistics.median(steps["word-kd"]) / statistics.median(steps["nll"]),
    }
    (out / "cost.json").write_text(json.dumps(result, indent=1))
    md = ["| what | value |", "|---|---:|",
          f"| generate-targets greedy, examples/s | {gen['beam1']:.1f} |",
          f"| generate-targets beam 5 (5-best), examples/s | {gen['beam5']:.1f} |",
          f"| beam 5 cost / greedy | {result['beam5_cost_vs_greedy']:.2f}x |",
          f"| NLL step, s (median over rounds) | {statistics.median(steps['nll']):.4f} |",
          f"| Word-KD step, s | {statistics.median(steps['word-kd']):.4f} |",
          f"| Word-KD / NLL step | {result['word_kd_step_vs_nll']:.2f}x |"]
    (out / "cost.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
