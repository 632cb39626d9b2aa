"""HF ``TrainingArguments`` from lamina's TrainSettings, the same way for every training command."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lamina.training.settings import TrainSettings


def tensorboard_available() -> bool:
    return any(importlib.util.find_spec(m) is not None for m in ("tensorboard", "tensorboardX"))


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    return max(1, -(-num_examples // batch_size))


def total_steps(cfg: TrainSettings, num_examples: int) -> int:
    """The optimiser steps a run over ``num_examples`` takes: ``--max-steps``, else epochs × steps per epoch."""
    return (
        cfg.max_steps if cfg.max_steps > 0 else int(steps_per_epoch(num_examples, cfg.batch_size) * cfg.epochs + 0.999)
    )


def training_arguments(
    cfg: TrainSettings,
    work: Path,
    *,
    num_examples: int,
    metric_for_best_model: str = "loss",
    greater_is_better: bool = False,
    prediction_loss_only: bool = False,
    **overrides,
):
    """TrainingArguments for a run over ``num_examples`` training examples; the best checkpoint
    is picked by ``metric_for_best_model`` in its direction (an objective's ``trainer_settings``)."""
    import torch
    from transformers import TrainingArguments

    from lamina.models.layerdrop import is_active

    strategy = "steps" if cfg.eval_steps else "epoch"
    total = total_steps(cfg, num_examples)
    kwargs = dict(
        output_dir=str(work),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        learning_rate=cfg.lr,
        optim=cfg.optim,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size,
        weight_decay=cfg.weight_decay,
        warmup_steps=int(cfg.warmup_ratio * total),
        eval_strategy=strategy,
        save_strategy=strategy,
        eval_steps=cfg.eval_steps,
        save_steps=cfg.eval_steps,
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        load_best_model_at_end=True,
        metric_for_best_model=metric_for_best_model,
        greater_is_better=greater_is_better,
        prediction_loss_only=prediction_loss_only,
        save_total_limit=2,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=cfg.bf16,
        report_to=["tensorboard"] if tensorboard_available() else [],
        disable_tqdm=not cfg.progress,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        # on a CPU-only machine say so: accelerate then runs DDP over gloo under torchrun
        # (without it each torchrun process trains alone, with no gradient all-reduce)
        use_cpu=not torch.cuda.is_available(),
    )
    if is_active(cfg.layerdrop):
        kwargs["ddp_find_unused_parameters"] = True  # skipped blocks get no gradient that step
    return TrainingArguments(**{**kwargs, **overrides})
