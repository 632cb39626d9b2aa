"""Write the recipe one stage of benchmarks/gpu/run.sh runs: a repo recipe with a `gpu` form added.

    python benchmarks/gpu/derive.py STAGE SIZE OUT.yaml --task T --model M [--bf16]

STAGE: pmb (recipes/poor_mans_bert.yaml), md (recipes/metadistil_seed004.yaml) or seqkd
(recipes/seqkd_kim_rush.yaml). SIZE: gpu (what fits the stage's share of ~9 minutes on one H100)
or tiny (a few steps on tiny inputs, to check the script end to end on a CPU). The derived recipe
keeps only the steps the stage runs (and the report step, its configs cut to those steps), so its
plan needs nothing else (no mpnet-base for seed 004's RoBERTa stand-in). Same inputs, same file:
`lamina run` then skips the runs a previous invocation finished.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RECIPES = {"pmb": "poor_mans_bert.yaml", "md": "metadistil_seed004.yaml", "seqkd": "seqkd_kim_rush.yaml"}
TINY_BART = (
    '{{"model_type": "bart", "d_model": {d}, "encoder_layers": {n}, "decoder_layers": {n}, '
    '"encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": {f}, "decoder_ffn_dim": {f}, '
    '"max_position_embeddings": 64, "dropout": 0.1}}'
)


def _keep(recipe: dict, steps: list[str]) -> None:
    """Keep these steps (in this order) and the report step, its row lists cut to them."""
    by_name = {s["name"]: s for s in recipe["steps"]}
    kept = [by_name[n] for n in steps]
    report = next((s for s in recipe["steps"] if s["kind"] == "report"), None)
    if report is not None:
        args = report["args"]
        for key in ("configs", "depth_steps", "baseline"):
            if key in args:
                args[key] = [c for c in args[key] if c in steps]
        args["pareto"] = False  # no speed measured here (prune speed is a CPU measurement)
        kept.append(report)
    recipe["steps"] = kept


def pmb(recipe: dict, size: str, task: str, model: str, train: dict) -> dict:
    """Poor Man's BERT: the baseline, then top/alternate/contribution dropping of 1/3 and 1/2 of
    the layers from the pretrained model, each fine-tuned (fine-tuned after dropping), one seed."""
    _keep(recipe, ["full", "drop", "drop-ft"])
    twelve = model != "minilm-l6"
    drops = [4, 6] if twelve else [2, 3]
    if size == "tiny":
        drops = [3]
    desc = (
        f"{model} ({'12' if twelve else '6'} layers) on {task}, seed 42; drop K ∈ {drops} with top, alternate "
        "and contribution, each fine-tuned after dropping (the dropped-after-fine-tuning branch is left out). "
    )
    if size == "gpu":
        desc += (
            "Fine-tuning: a seeded 20,000-example subset of the training set (SST-2: 30% of it), 1 epoch, "
            "batch 32, max length 128, lr 5e-5, full dev set. For one GPU, about 4 minutes."
        )
        finetune = {"max_train_samples": 20000, "epochs": 1}
        prune = {"speed": False}
    else:
        desc += "Tiny: 64 training examples, 4 steps, 64 dev examples, max length 32 (checks the script, no result)."
        finetune = {"max_train_samples": 64, "max_eval_samples": 64, "epochs": 1, "batch_size": 16}
        prune = {"speed": False, "calib_samples": 16, "max_length": 32}
    recipe["forms"]["gpu"] = {
        "description": desc,
        "vars": {
            "model": model,
            "strategies": ["top", "alternate", "contribution"],
            "drops": drops,
            "impossible": [],
            "tasks": [task],
            "task_seeds": [{"task": task, "seed": [42]}],
            "drop_ft_exclude": [],
            "ftdrop_exclude": [],
            "max_length": 128 if size == "gpu" else 32,
        },
        "defaults": {"finetune": {**finetune, **train}, "prune": prune},
    }
    recipe["steps"][-1]["args"]["title"] = f"Poor Man's BERT: dropping layers of {model} (GPU form)"
    return recipe


def md(recipe: dict, size: str, task: str, model: str, train: dict) -> dict:
    """Seed 004's BERT → 3-layer DistilBERT-style student: the teacher, the student fine-tuned
    alone, KD and MetaDistil, one student seed."""
    _keep(recipe, ["bert", "distilbert", "ft-distilbert", "kd-bert-distilbert", "md-bert-distilbert"])
    if size == "gpu":
        desc = (
            f"BERT stand-in (MiniLM-L6) → 3-layer student (every other layer) on {task}: the teacher on all of the "
            "training set, 1 epoch; the students on a seeded 20,100-example subset (100 of them MetaDistil's quiz), "
            "3 epochs, max length 128, lr 5e-5, the whole quiz every meta round (the reference's step sizes, exact "
            "meta-gradient), student seed 42 only. For one GPU, about 3.5 minutes."
        )
        vars_ = {"seeds": [42], "teacher_samples": None, "teacher_epochs": 1, "train_samples": 20100, "epochs": 3}
        extra: dict = {}
    else:
        desc = (
            "Tiny: teacher and students on 40 examples (8 of them the quiz), 1 epoch, max length 32, "
            "64 dev examples (checks the script, no result)."
        )
        vars_ = {
            "seeds": [42],
            "teacher_samples": 40,
            "teacher_epochs": 1,
            "train_samples": 40,
            "epochs": 1,
            "max_length": 32,
            "quiz": {
                "quiz_size": 8,
                "pilot_lr": 5.0e-5,
                "teacher_lr": 1.0e-5,
                "meta_grad": "exact",
                "quiz_batch_size": 8,
                "held_batches": 1,
            },
        }
        extra = {"max_eval_samples": 64, "batch_size": 16}
    recipe["forms"]["gpu"] = {
        "description": desc,
        "vars": vars_,
        "defaults": {"finetune": {"task": task, **extra, **train}, "distill": {"task": task, **extra, **train}},
    }
    return recipe


def seqkd(recipe: dict, size: str, task: str, model: str, train: dict) -> dict:
    """Kim & Rush: the teacher, its beam-5 targets, then the students (Seq-KD right after the
    baseline: the P6 comparison first), one student seed."""
    order = ["teacher", "targets", "dev_targets", "teacher_eval", "baseline", "seq-kd", "word-kd", "seq-inter"]
    _keep(recipe, [*order, "seq-kd-word-kd"])
    for step in recipe["steps"]:  # the task is written into some steps' args
        if step["args"].get("task") == "multi30k":
            step["args"]["task"] = task
    if size == "gpu":
        desc = (
            f"The paper form on {task} (multi30k: all 29,000 pairs, 10 epochs each, length 64, full val), student seed "
            "42 only, in the order teacher, targets, baseline, Seq-KD, Word-KD, Seq-Inter, Seq-KD + Word-KD: what the "
            "stage's time allows (a rerun resumes)."
        )
        vars_ = {"seeds": [42]}
        extra: dict = {}
        evals: dict = {}
    else:
        desc = "Tiny: BART 1+1 × 32 teacher and student, 64 pairs, 1 epoch, length 16, 32 dev pairs (no result)."
        vars_ = {
            "seeds": [42],
            "train_samples": 64,
            "teacher_epochs": 1,
            "student_epochs": 1,
            "max_length": 16,
            "teacher_config": TINY_BART.format(d=32, n=1, f=64),
            "student_config": TINY_BART.format(d=32, n=1, f=64),
        }
        extra = {"max_eval_samples": 32, "batch_size": 16}
        evals = {"max_samples": 32}
        for step in recipe["steps"]:
            if step["name"] == "teacher":
                step["args"]["tokenizer_vocab"] = 400
    defaults = {"finetune": {"task": task, **extra, **train}, "distill": {"task": task, **extra, **train}}
    if evals:
        defaults["eval"] = evals
    recipe["forms"]["gpu"] = {"description": desc, "vars": vars_, "defaults": defaults}
    return recipe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stage", choices=sorted(RECIPES))
    ap.add_argument("size", choices=["gpu", "tiny"])
    ap.add_argument("out")
    ap.add_argument("--task", required=True)
    ap.add_argument("--model", default="minilm-l6")
    ap.add_argument("--bf16", action="store_true", help="bf16 mixed precision in every training run")
    args = ap.parse_args()
    recipe = yaml.safe_load((ROOT / "recipes" / RECIPES[args.stage]).read_text(encoding="utf-8"))
    train = {"progress": False}
    if args.bf16:
        train["bf16"] = True
    derived = {"pmb": pmb, "md": md, "seqkd": seqkd}[args.stage](recipe, args.size, args.task, args.model, train)
    derived["default_form"] = "gpu"
    derived["output_dir"] = None
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = f"# Derived from recipes/{RECIPES[args.stage]} by benchmarks/gpu/derive.py ({args.size}); do not edit.\n"
    out.write_text(text + yaml.safe_dump(derived, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")


if __name__ == "__main__":
    main()
