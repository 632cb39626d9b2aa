"""``lamina finetune``: sequence classification / regression on HF Trainer.

Dynamic padding (``DataCollatorWithPadding``), evaluation and checkpoints every
``eval_steps`` (or every epoch), the best checkpoint by the task's main metric restored
at the end, Trainer progress bars and TensorBoard logs. Works from any supported model:
a pretrained encoder, a pruned folder (fine-tune after dropping) or a model that was
already fine-tuned (drop-from-fine-tuned, then fine-tune again, as in Sajjad et al.).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lamina.io import atomic_output_dir, write_json
from lamina.results import RESULTS_FILE, finish_record, new_record


class TaskSettings(BaseModel):
    """Which data a training run reads."""

    model_config = ConfigDict(extra="forbid")

    task: str
    data_dir: Optional[str] = None
    # custom task files
    train_file: Optional[str] = None
    validation_file: Optional[str] = None
    text_columns: list[str] = Field(default_factory=lambda: ["text"])
    label_column: str = "label"
    regression: bool = False

    def task_options(self) -> dict:
        return {
            "train_file": self.train_file,
            "validation_file": self.validation_file,
            "text_columns": self.text_columns,
            "label_column": self.label_column,
            "regression": self.regression,
        }


class TrainSettings(BaseModel):
    """How a training run trains (shared by finetune and distill)."""

    model_config = ConfigDict(extra="forbid")

    output: str
    epochs: float = Field(3.0, gt=0)
    lr: float = Field(5e-5, gt=0)
    batch_size: int = Field(32, ge=1)
    eval_batch_size: int = Field(64, ge=1)
    max_length: int = Field(128, ge=2)
    seed: int = 42
    max_train_samples: Optional[int] = Field(None, ge=1)
    max_eval_samples: Optional[int] = Field(None, ge=1)
    eval_steps: Optional[int] = Field(None, ge=1)
    logging_steps: int = Field(50, ge=1)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    max_steps: int = -1
    # any TrainingArguments.optim value (sgd, adafactor, ...); the fused AdamW is transformers'
    # own default with recent torch and saves ~0.1 s a step over the per-tensor loop (P1)
    optim: str = "adamw_torch_fused"
    bf16: bool = False
    # LayerDrop (Fan et al.): skip each block with this probability while training; one
    # rate for all layers or one per layer
    layerdrop: float | list[float] = 0.0
    group_by_length: bool = True  # batches of similar lengths: less padding with dynamic padding
    pad_to_max_length: bool = False  # fixed-shape batches (benchmarks, some accelerators)
    progress: bool = True
    resume: bool = False
    overwrite: bool = False
    keep_checkpoints: bool = False

    @field_validator("layerdrop", mode="before")
    @classmethod
    def _parse_layerdrop(cls, value):
        from lamina.models.layerdrop import parse_rates

        return parse_rates(0.0 if value is None else value)


class FinetuneConfig(TaskSettings, TrainSettings):
    model: str = "minilm-l6"


def subset(ds, n: int | None, seed: int, *, shuffle: bool):
    if n is None or n >= len(ds):
        return ds
    return (ds.shuffle(seed=seed) if shuffle else ds).select(range(n))


def padding_collator(tokenizer, cfg: TrainSettings):
    """Dynamic padding (each batch to its longest example), or fixed ``max_length``."""
    from transformers import DataCollatorWithPadding

    if cfg.pad_to_max_length:
        return DataCollatorWithPadding(tokenizer, padding="max_length", max_length=cfg.max_length)
    return DataCollatorWithPadding(tokenizer)


def tensorboard_available() -> bool:
    return any(importlib.util.find_spec(m) is not None for m in ("tensorboard", "tensorboardX"))


def training_arguments(cfg: TrainSettings, work: Path, *, main_metric: str, steps_per_epoch: int, **overrides):
    import torch
    from transformers import TrainingArguments

    strategy = "steps" if cfg.eval_steps else "epoch"
    total = cfg.max_steps if cfg.max_steps > 0 else int(steps_per_epoch * cfg.epochs + 0.999)
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
        metric_for_best_model=main_metric,
        greater_is_better=True,
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
    from lamina.models.layerdrop import is_active

    if is_active(cfg.layerdrop):
        kwargs["ddp_find_unused_parameters"] = True  # skipped blocks get no gradient that step
    return TrainingArguments(**{**kwargs, **overrides})


def run_finetune(cfg: FinetuneConfig, *, callbacks=None) -> dict:
    from transformers import Trainer, set_seed

    from lamina.data.encode import check_max_length, encode
    from lamina.eval.metrics import trainer_metrics
    from lamina.eval.timing import parameter_count
    from lamina.models.adapters import get_adapter
    from lamina.models.card import write_finetune_card
    from lamina.models.layerdrop import apply_layerdrop
    from lamina.models.loading import load_for_classification
    from lamina.tasks import get_task
    from lamina.training.workdir import prepare_work_dir

    task = get_task(cfg.task, **cfg.task_options())
    work, checkpoint = prepare_work_dir(cfg.output, resume=cfg.resume, overwrite=cfg.overwrite)
    record = new_record("finetune", model=cfg.model, task=task.name, config=cfg.model_dump(), seed=cfg.seed)
    data = task.load(cfg.data_dir)
    set_seed(cfg.seed)  # the new classification head is initialised from this seed
    model, tokenizer, source = load_for_classification(cfg.model, task, train=True)
    check_max_length(cfg.max_length, model.config, tokenizer)
    layerdrop = apply_layerdrop(model, cfg.layerdrop, seed=cfg.seed)
    train = subset(data["train"], cfg.max_train_samples, cfg.seed, shuffle=True)
    evals = {s: subset(data[s], cfg.max_eval_samples, cfg.seed, shuffle=False) for s in task.eval_splits}
    train_enc = encode(train, tokenizer, cfg.max_length)
    eval_enc = {s: encode(d, tokenizer, cfg.max_length) for s, d in evals.items()}

    main = task.main_metric
    steps_per_epoch = max(1, -(-len(train_enc) // cfg.batch_size))
    args = training_arguments(cfg, work, main_metric=main, steps_per_epoch=steps_per_epoch)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_enc,
        eval_dataset=eval_enc["dev"],
        processing_class=tokenizer,
        data_collator=padding_collator(tokenizer, cfg),
        compute_metrics=trainer_metrics(task),
        callbacks=callbacks,
    )
    train_output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if layerdrop is not None:
        layerdrop.remove()
    metrics = _strip(trainer.evaluate(), "eval_")
    if "dev_mismatched" in eval_enc:
        mm = _strip(trainer.evaluate(eval_dataset=eval_enc["dev_mismatched"]), "eval_")
        metrics["mismatched_accuracy"] = mm["accuracy"]

    record["metrics"] = {k: v for k, v in metrics.items() if k in task.metrics}
    record["training"] = {
        **training_summary(trainer, train_output, metrics, checkpoint),
        "train_examples": len(train_enc),
        "eval_examples": {s: len(d) for s, d in eval_enc.items()},
        "source_path": source,
    }
    record["sizes"] = {"layers": get_adapter(model).num_layers(model.config), "parameters": parameter_count(model)}
    finish_run(
        cfg, work, record,
        save=lambda tmp: trainer.save_model(str(tmp)),
        card=lambda tmp: write_finetune_card(tmp, record, task, name=Path(cfg.output).name),
        main_process=trainer.is_world_process_zero(),
    )
    return record


def training_summary(trainer, train_output, metrics: dict, checkpoint) -> dict:
    logged = [h for h in trainer.state.log_history if "loss" in h]
    losses = [h["loss"] for h in logged]
    best = trainer.state.best_model_checkpoint
    return {
        "dev_loss": metrics.get("loss"),
        "global_steps": trainer.state.global_step,
        "epochs_done": trainer.state.epoch,
        "train_loss_first": losses[0] if losses else None,
        "train_loss_last": losses[-1] if losses else None,
        "train_loss_mean": train_output.training_loss,
        "best_checkpoint": Path(best).name if best else None,
        "resumed_from": checkpoint.name if checkpoint else None,
        "loss_curve": [[h["step"], h["loss"]] for h in logged],  # (step, training loss) as logged
        "eval_curve": _eval_curve(trainer.state.log_history),  # {metric: [[step, value], ...]}
    }


def _eval_curve(history: list[dict]) -> dict[str, list]:
    skip = ("runtime", "per_second", "epoch", "model_preparation_time")
    curve: dict[str, list] = {}
    for h in history:
        for k, v in h.items():
            if k.startswith("eval_") and not any(s in k for s in skip) and isinstance(v, (int, float)):
                curve.setdefault(k.removeprefix("eval_"), []).append([h["step"], v])
    return curve


def finish_run(cfg: TrainSettings, work: Path, record: dict, *, save, card, main_process: bool = True) -> None:
    """Write the finished model, logs, card and results record into ``cfg.output`` in one
    rename, then drop the work folder (unless checkpoints are to be kept). Under torchrun
    only the main process writes."""
    if not main_process:
        finish_record(record)
        return
    with atomic_output_dir(cfg.output, overwrite=cfg.overwrite) as tmp:
        save(tmp)
        (tmp / "training_args.bin").unlink(missing_ok=True)  # a pickle; the JSON record holds the settings
        runs = work / "runs"
        if runs.is_dir():
            shutil.copytree(runs, tmp / "logs")
        finish_record(record)
        card(tmp)
        write_json(tmp / RESULTS_FILE, record)
    if not cfg.keep_checkpoints:
        shutil.rmtree(work, ignore_errors=True)


def _strip(metrics: dict, prefix: str) -> dict:
    return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in metrics.items()}


__all__ = ["FinetuneConfig", "TaskSettings", "TrainSettings", "run_finetune"]
