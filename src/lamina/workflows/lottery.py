"""``lamina lottery``: lottery tickets by iterative magnitude pruning with rewinding
(Frankle & Carbin 2019; for pre-trained BERT, Chen et al. 2020), and its two baselines.

``--mode imp`` (default): round 0 fine-tunes the dense model; then each round prunes the
surviving weights by magnitude (one global threshold, or ``--per-layer``), rewinds the
survivors and trains again, until ``--target-sparsity``. ``--schedule linear`` removes
``--prune-rate`` of the *original* weights per round (Chen et al.'s 10%: 10%, 20%, ...),
``geometric`` that share of the *remaining* ones (Frankle & Carbin). The rewind target is
the pretrained weights (default, as the BERT-Tickets code), the weights after
``--rewind-step K`` steps of round 0, or a seeded random re-initialisation (the control);
the task head keeps its trained values across rounds (as the reference code) unless
``--rewind-head``.

``--mode oneshot``: the pretrained weights pruned by magnitude to the target in one go
(Chen et al.'s "pruning θ0"), then fine-tuned once; ``--mode random``: a random mask at the
target sparsity, fine-tuned once.

What is pruned and how a mask is held: :mod:`lamina.models.sparsity`. Every round's mask
(safetensors, with its sparsity and score) and, unless ``--no-save-round-models``, its trained
model are in ``OUT/rounds/round-R/``; ``OUT`` itself is a plain HF folder of the final ticket
(zeros in place, no pruning hooks) with ``mask.safetensors`` and a card giving per-matrix and
global sparsity. Train the mask on another task with ``lamina finetune --mask OUT``, or
distil into it with ``lamina distill --mask OUT``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Literal, Optional

from pydantic import model_validator

from lamina.config import setting
from lamina.training.settings import DEFAULT_MODEL, TaskSettings, TrainSettings
from lamina.workflows import RunContext, Workflow, register_workflow


class LotteryConfig(TaskSettings, TrainSettings):
    model: str = setting(DEFAULT_MODEL, "Pretrained model (folder, hub id or bundled alias).")
    mode: Literal["imp", "oneshot", "random"] = setting(
        "imp", "imp: iterative magnitude pruning with rewinding; oneshot: magnitude-prune the pretrained weights "
        "once, then fine-tune; random: a random mask, then fine-tune.")
    target_sparsity: float = setting(0.5, "Share of the prunable weights removed at the end.", gt=0, lt=1)
    prune_rate: float = setting(0.1, "Share pruned per round (of the original weights for --schedule linear, of "
                                "the remaining ones for geometric).", gt=0, lt=1)
    schedule: Literal["linear", "geometric"] = setting(
        "linear", "linear: rate × original per round (Chen et al.); geometric: rate × remaining (Frankle & Carbin).")
    per_layer: bool = setting(False, "One magnitude threshold per matrix instead of one global threshold.")
    rewind: Literal["pretrained", "step", "random"] = setting(
        "pretrained", "Rewind survivors to the pretrained weights, to the weights at --rewind-step of round 0, or "
        "to a seeded random re-initialisation (the control).")
    rewind_step: Optional[int] = setting(None, "Rewind to the weights after this many steps of round 0 "
                                         "(implies --rewind step).", ge=0)
    rewind_head: bool = setting(False, "Rewind the task head too (the reference code keeps the trained head).")
    save_round_models: bool = setting(True, "Save each round's trained model under OUT/rounds/ (the masks "
                                      "are always saved).")

    @model_validator(mode="after")
    def _check_rewind(self):
        if self.rewind_step is not None:
            if self.rewind not in ("pretrained", "step"):
                raise ValueError(f"--rewind-step goes with --rewind step, not --rewind {self.rewind}")
            self.rewind = "step"
        elif self.rewind == "step":
            raise ValueError("--rewind step needs --rewind-step K")
        if self.resume:
            raise ValueError("--resume is not supported by lottery yet (rounds are not checkpointed): "
                             "use --overwrite to start again")
        return self


@register_workflow("lottery")
class Lottery(Workflow):
    """Lottery tickets: iterative magnitude pruning with rewinding (or one-shot / random baselines)."""

    Config = LotteryConfig
    arguments = ("model",)
    recipe_defaults = {"progress": False}

    def run(self, cfg: LotteryConfig, ctx: RunContext) -> dict:
        return run_lottery(cfg, callbacks=ctx.callbacks, log=ctx.log)

    def show(self, record, cfg, echo) -> None:
        if record:
            for r in record["lottery"]["rounds"]:
                echo(f"round {r['round']}: sparsity {100 * r['sparsity']:.1f}%  "
                     f"{r['main_metric']} {r['score']:.4f}")
        super().show(record, cfg, echo)


def _snapshot_callback(model, step: int):
    """A Trainer callback that copies the model's state after ``step`` optimizer steps (``.state``)."""
    from transformers import TrainerCallback

    class Snapshot(TrainerCallback):
        state = None

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == step and self.state is None:
                self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    return Snapshot()


def _rewind_target(cfg: LotteryConfig, model, initial: dict) -> dict:
    """The weights survivors rewind to, when not taken during round 0."""
    if cfg.rewind == "random":
        from lamina.training.masks import reinitialise_base

        import copy

        shadow = copy.deepcopy(model)
        reinitialise_base(shadow, cfg.seed + 1)
        return {k: v.detach().clone() for k, v in shadow.state_dict().items()}
    return initial


def run_lottery(cfg: LotteryConfig, *, callbacks=None, log=print) -> dict:
    import torch
    from transformers import Trainer, set_seed

    from lamina.data.encode import check_max_length
    from lamina.errors import LaminaError
    from lamina.eval.timing import parameter_count
    from lamina.io import write_json
    from lamina.models.adapters import get_adapter
    from lamina.models.card import write_lottery_card
    from lamina.models.sparsity import (
        MaskCallback,
        apply_masks,
        dense_masks,
        magnitude_masks,
        random_masks,
        save_masks,
        save_sparse,
        schedule,
        sparsity_of,
    )
    from lamina.results import new_record
    from lamina.tasks.objectives import objective_for
    from lamina.training.arguments import steps_per_epoch, training_arguments
    from lamina.training.finish import finish_run, training_summary
    from lamina.training.masks import mask_summary
    from lamina.training.workdir import prepare_work_dir

    task = cfg.get_task()
    objective = objective_for(task)
    sparsities = schedule(cfg.target_sparsity, cfg.prune_rate, cfg.schedule) if cfg.mode == "imp" else []
    work, _ = prepare_work_dir(cfg.output, resume=False, overwrite=cfg.overwrite)
    record = new_record("lottery", model=cfg.model, task=task.name, config=cfg.model_dump(), seed=cfg.seed)
    raw = objective.raw_data(task, cfg.data_dir)
    set_seed(cfg.seed)
    model, tokenizer, source = objective.load_model(cfg.model, task, train=True)
    if objective.reads_text:
        check_max_length(cfg.max_length, model.config, tokenizer)
    data = objective.prepare(task, raw, tokenizer, cfg)
    per_round = (cfg.max_steps if cfg.max_steps > 0
                 else int(steps_per_epoch(len(data.train), cfg.batch_size) * cfg.epochs + 0.999))
    if cfg.rewind == "step" and cfg.rewind_step > per_round:
        raise LaminaError(f"--rewind-step {cfg.rewind_step} is beyond training: a round has {per_round} steps")

    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}  # pretrained + the seeded new head
    head = {k for k in initial if not k.startswith(f"{model.base_model_prefix}.")}
    target = None if cfg.rewind == "step" else _rewind_target(cfg, model, initial)

    if cfg.mode == "oneshot":
        masks = magnitude_masks(model, cfg.target_sparsity, per_layer=cfg.per_layer)
    elif cfg.mode == "random":
        masks = random_masks(model, cfg.target_sparsity, seed=cfg.seed)
    else:
        masks = dense_masks(model)
    apply_masks(model, masks)
    trainings = len(sparsities) + 1 if cfg.mode == "imp" else 1
    rounds, trainer, train_output, metrics = [], None, None, {}
    rounds_dir = work / "rounds"
    for r in range(trainings):
        t0 = time.perf_counter()
        hold = MaskCallback(model, masks)
        snap = _snapshot_callback(model, cfg.rewind_step) if (r == 0 and cfg.rewind == "step") else None
        args = training_arguments(cfg, work / f"round-{r}", num_examples=len(data.train),
                                  **objective.trainer_settings(task))
        trainer = Trainer(
            model=model, args=args, train_dataset=data.train, eval_dataset=data.evals["dev"],
            processing_class=tokenizer, data_collator=data.collator, compute_metrics=objective.compute_metrics(task),
            callbacks=[*(callbacks or []), hold, *([snap] if snap else [])],
        )
        train_output = trainer.train()
        t_train = time.perf_counter()
        metrics = objective.evaluate(task, trainer, data.evals)
        score = metrics.get(task.main_metric)
        sparsity = sparsity_of(masks)
        log(f"round {r}: sparsity {100 * sparsity:.1f}%, {task.main_metric} {score}")
        folder = rounds_dir / f"round-{r}"
        folder.mkdir(parents=True, exist_ok=True)
        save_masks(folder / "mask.safetensors", masks, round=r, score=score, metric=task.main_metric,
                   task=task.name, model=cfg.model, mode=cfg.mode)
        if cfg.save_round_models and r < trainings - 1:  # the last round's model is OUT itself
            save_sparse(model, folder / "model")
            if tokenizer is not None:
                tokenizer.save_pretrained(folder / "model")
        entry = {"round": r, "sparsity": sparsity, "main_metric": task.main_metric, "score": score,
                 "metrics": {k: v for k, v in metrics.items() if k in task.metrics},
                 "steps": trainer.state.global_step, "train_loss": train_output.training_loss,
                 "seconds": {"train": round(t_train - t0, 2), "evaluate_and_save": round(time.perf_counter() - t_train, 2)}}
        rounds.append(entry)
        if snap is not None:
            if snap.state is None:
                raise LaminaError(f"round 0 ended before --rewind-step {cfg.rewind_step}")
            target = snap.state
        if r < trainings - 1:  # prune, then rewind the survivors
            t_prune = time.perf_counter()
            masks = magnitude_masks(model, sparsities[r], previous=masks, per_layer=cfg.per_layer)
            with torch.no_grad():
                state = model.state_dict()
                for k, v in state.items():
                    if k in head and not cfg.rewind_head:
                        continue
                    v.copy_(target[k])
            apply_masks(model, masks)
            entry["seconds"]["prune_and_rewind"] = round(time.perf_counter() - t_prune, 2)
            del trainer  # a new optimizer (and schedule) each round, as the reference code
        write_json(folder / "round.json", entry)

    summary = mask_summary(model, masks)
    record["metrics"] = {k: v for k, v in metrics.items() if k in task.metrics}
    record["lottery"] = {
        "mode": cfg.mode, "schedule": cfg.schedule if cfg.mode == "imp" else None,
        "schedule_meaning": ("prune-rate of the original weights per round" if cfg.schedule == "linear"
                             else "prune-rate of the remaining weights per round") if cfg.mode == "imp" else None,
        "prune_rate": cfg.prune_rate if cfg.mode == "imp" else None,
        "target_sparsity": cfg.target_sparsity, "threshold": "per-layer" if cfg.per_layer else "global",
        "rewind": cfg.rewind if cfg.mode == "imp" else None, "rewind_step": cfg.rewind_step,
        "rewind_head": cfg.rewind_head, "rounds": rounds, **summary,
        "pruned": "the Linear weights of every block (attention Q/K/V/output, both feed-forward matrices) and "
                  "the pooler; never embeddings, biases, LayerNorms or the task head",
    }
    record["training"] = {**training_summary(trainer, train_output, metrics, None),
                          "train_examples": len(data.train), "steps_per_round": per_round,
                          "eval_examples": {s: len(d) for s, d in data.evals.items()}, "source_path": source}
    record["sizes"] = {"layers": get_adapter(model).num_layers(model.config), "parameters": parameter_count(model),
                       "nonzero_prunable": int(sum(int(m.sum()) for m in masks.values()))}

    def save(tmp):
        save_sparse(model, tmp)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        save_masks(tmp / "mask.safetensors", masks, round=len(rounds) - 1, score=rounds[-1]["score"],
                   metric=task.main_metric, task=task.name, model=cfg.model, mode=cfg.mode)
        shutil.copytree(rounds_dir, tmp / "rounds")

    finish_run(cfg, work, record, save=save,
               card=lambda tmp: write_lottery_card(tmp, record, task, name=Path(cfg.output).name,
                                                   auto_class=objective.auto_class))
    return record
