"""The cost of L2KD's pieces in ``lamina lifelong`` (issue 16's benchmark), side by side:

1. pseudo-data generation: examples/s of the LLL model sampling pseudo-examples of earlier
   tasks from their task tokens (top-k 20, up to ``--max-length`` tokens; LAMOL's replay);
2. one L2KD (Word-KD) step versus one LAMOL step: the same model, batch and data, trained on
   the new task's examples with the per-task teacher's token-level KL (QA + LM part: the
   teacher's forward pass plus the KL over the vocabulary) versus with NLL. Rounds alternate
   the order; a run's figure is the median step time after the first two steps.

    python benchmarks/l2kd_cost.py --model smollm2-135m --data-dir ../shared/data \\
        [--task sst2 --examples 64 --steps 12 --rounds 2 --threads 2]
    # → benchmarks/results/l2kd_cost/cost.{json,md}

``--model`` is any causal LM folder or alias; the teacher is a copy of it (its weights do not
change the cost). Before the model has learnt the tasks its samples rarely end early, so the
generation figure is close to the worst case (every sample ``--max-length`` tokens long).
Timings are only meaningful on a quiet machine.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks/results/l2kd_cost"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument(
        "--task", default="sst2", help="a lifelong task (sst2, bbc-news, bbc-headline) or NAME of --text-file"
    )
    ap.add_argument("--text-file", default=None, help="NAME=FILE: a custom text-to-text task (a quick check)")
    ap.add_argument("--examples", type=int, default=64, help="pseudo-examples generated")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()

    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    from step_timer import alternated_rounds, cost_table, median_step, per_variant, write_cost

    from lamina.lifelong_learning.format import add_task_tokens, encode_rows
    from lamina.lifelong_learning.replay import sample_pseudo
    from lamina.lifelong_learning.tasks import read_text_task
    from lamina.lifelong_learning.trainer import train_stage
    from lamina.models.loading import load_causal_lm
    from lamina.workflows.lifelong import LifelongConfig

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    work = Path(tempfile.mkdtemp(prefix="l2kd-cost-"))
    files = {"text_files": dict([args.text_file.split("=", 1)])} if args.text_file else {}
    samples = args.steps * args.batch_size
    cfg = LifelongConfig(
        model=args.model,
        tasks=[args.task],
        data_dir=args.data_dir,
        max_length=args.max_length,
        batch_size=args.batch_size,
        max_steps=args.steps,
        max_train_samples=samples,
        max_eval_samples=8,
        progress=False,
        output=str(work / "unused"),
        logging_steps=1000,
        **files,
    )
    task = read_text_task(args.task, cfg)
    model, tokenizer, _ = load_causal_lm(args.model, train=True)
    torch.manual_seed(0)
    tokens = add_task_tokens(model, tokenizer, [args.task])
    encoded = encode_rows(
        task.train, args.task, tokenizer, tokens, max_length=cfg.max_length, max_answer=cfg.max_answer_tokens
    )

    start = time.perf_counter()
    _, stats = sample_pseudo(
        model,
        tokenizer,
        tokens,
        [args.task],
        args.examples,
        max_length=cfg.max_length,
        batch_size=cfg.eval_batch_size,
        top_k=cfg.top_k,
    )
    gen_seconds = time.perf_counter() - start

    base = copy.deepcopy(model.state_dict())
    teacher = copy.deepcopy(model)

    def measure(name, r):
        kd = int(name == "l2kd")
        model.load_state_dict(base)  # every run from the same weights
        return median_step(
            lambda timer: train_stage(
                model,
                [{**e, "kd": kd} for e in encoded],
                cfg,
                work / f"{name}-r{r}",
                tokens,
                teacher=teacher if kd else None,
                callbacks=[timer],
            )
        )

    steps = per_variant(alternated_rounds(["lamol", "l2kd"], args.rounds, measure))
    result = {
        "command": " ".join(sys.argv),
        "threads": args.threads,
        "model": args.model,
        "task": args.task,
        "time": time.ctime(),
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "pseudo_examples": args.examples,
        "pseudo_kept": stats["kept"],
        "pseudo_seconds": gen_seconds,
        "pseudo_examples_per_second": args.examples / gen_seconds,
        "step_seconds": steps,
        "l2kd_step_vs_lamol": statistics.median(steps["l2kd"]) / statistics.median(steps["lamol"]),
    }
    write_cost(
        out,
        result,
        cost_table(
            [
                (
                    f"pseudo-data generation, examples/s ({args.examples} sampled, {stats['kept']} parsed)",
                    f"{result['pseudo_examples_per_second']:.2f}",
                ),
                ("LAMOL step (NLL), s (median over rounds)", f"{statistics.median(steps['lamol']):.4f}"),
                ("L2KD step (Word-KD: teacher forward + KL), s", f"{statistics.median(steps['l2kd']):.4f}"),
                ("L2KD / LAMOL step", f"{result['l2kd_step_vs_lamol']:.2f}x"),
            ]
        ),
    )


if __name__ == "__main__":
    main()
