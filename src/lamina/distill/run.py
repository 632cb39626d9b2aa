"""``lamina distill``: the distillation workflow (config → teachers → student → cache →
DistillationTrainer → a plain HF folder with a model card)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import torch
from pydantic import Field, field_validator, model_validator

from lamina.errors import LaminaError
from lamina.training.finetune import TaskSettings, TrainSettings


class DistillConfig(TaskSettings, TrainSettings):
    teacher: list[str] = Field(min_length=1)
    teacher_weights: Optional[list[float]] = None
    student: Optional[str] = None
    student_from_teacher: Optional[str] = None
    keep: Optional[int] = Field(None, ge=1)
    student_config: Optional[str] = None
    student_first_n: Optional[int] = Field(None, ge=1)
    loss: dict[str, float] = Field(default_factory=lambda: {"kd": 1.0})
    temperature: float = Field(2.0, gt=0)
    alpha: Optional[float] = Field(None, ge=0, le=1)
    layer_map: str = "skip"
    cache: bool = True
    cache_dtype: Literal["float16", "float32"] = "float16"
    cache_dir: Optional[str] = None
    noise: float = Field(0.0, ge=0, lt=1)
    noise_side: Literal["student", "both"] = "student"
    prefinetune_epochs: float = Field(0.0, ge=0)
    # --task mlm (seed 002's DistilBERT-style MLM distillation): text corpora
    corpus: Optional[list[str]] = None
    eval_corpus: Optional[list[str]] = None
    mlm_probability: float = Field(0.15, gt=0, lt=1)

    @field_validator("loss", mode="before")
    @classmethod
    def _parse_loss(cls, value):
        from lamina.losses import parse_loss_spec

        return parse_loss_spec(value)

    @model_validator(mode="after")
    def _check(self):
        if self.alpha is not None:  # Hinton's mix: alpha·kd + (1 − alpha)·ce
            self.loss = {**self.loss, "kd": self.alpha, "ce": 1.0 - self.alpha}
        if self.task == "mlm" and not self.corpus:
            raise ValueError("--task mlm needs a text corpus: --corpus FILE")
        if self.teacher_weights is not None and len(self.teacher_weights) != len(self.teacher):
            raise ValueError(f"{len(self.teacher_weights)} teacher weights for {len(self.teacher)} teachers")
        return self

    def loss_weights(self) -> dict[str, float]:
        return dict(self.loss)


class DistillCollator:
    """Padding (dynamic, or fixed with ``pad_to_max_length``) that carries each example's
    dataset index (for the cache)."""

    def __init__(self, tokenizer, cfg=None):
        from transformers import DataCollatorWithPadding

        from lamina.training.finetune import padding_collator

        self.pad = padding_collator(tokenizer, cfg) if cfg is not None else DataCollatorWithPadding(tokenizer)

    def __call__(self, features):
        idx = [f["idx"] for f in features] if "idx" in features[0] else None
        batch = self.pad([{k: v for k, v in f.items() if k != "idx"} for f in features])
        if idx is not None:
            batch["idx"] = torch.tensor(idx, dtype=torch.long)
        return batch


def _calibration_from(task_train, samples: int = 256):
    from lamina.analysis.layer_stats import compute_layer_stats
    from lamina.data.calibration import tokenize_batches

    n = min(samples, len(task_train))
    rows = task_train.shuffle(seed=0).select(range(n))
    pairs = list(rows["text_pair"]) if "text_pair" in rows.column_names else None
    texts = [(a, b) for a, b in zip(rows["text"], pairs)] if pairs else [(a,) for a in rows["text"]]

    def stats(model, tokenizer):
        return compute_layer_stats(model, tokenize_batches(tokenizer, texts))

    return stats


def _set_eager_attention(*models) -> None:
    for m in models:
        if hasattr(m, "set_attn_implementation"):
            m.set_attn_implementation("eager")
        else:
            m.config._attn_implementation = "eager"


def run_distill(cfg: DistillConfig, *, callbacks=None, log=print) -> dict:
    from transformers import Trainer

    from lamina.data.encode import check_max_length, encode
    from lamina.distill.cache import TeacherCache
    from lamina.distill.layer_map import build_layer_map
    from lamina.distill.student import build_student, check_same_vocabulary
    from lamina.distill.trainer import (
        DistillationTrainer,
        Noise,
        StudentWithProjections,
        TeacherSpec,
        check_attention_heads,
        make_projections,
    )
    from lamina.eval.metrics import trainer_metrics
    from lamina.eval.timing import parameter_count
    from lamina.losses import Needs, get_loss
    from lamina.models.adapters import get_adapter
    from lamina.models.bundled import cache_dir
    from lamina.models.card import write_distill_card
    from lamina.data.corpus import mlm_collator
    from lamina.models.layerdrop import apply_layerdrop
    from lamina.models.loading import load_for_classification, load_masked_lm
    from lamina.results import new_record
    from lamina.tasks.mlm import MLM_TASK_NAME, MaskedLMTask
    from lamina.training.pretrain import mlm_datasets, mlm_metrics
    from lamina.tasks import get_task
    from lamina.training.finetune import finish_run, subset, training_arguments, training_summary
    from lamina.training.workdir import prepare_work_dir

    mlm = cfg.task == MLM_TASK_NAME
    task = MaskedLMTask(corpus=tuple(cfg.corpus)) if mlm else get_task(cfg.task, **cfg.task_options())
    weights = cfg.loss_weights()
    if task.is_regression and weights.get("kd", 0) > 0:
        raise LaminaError(f"task '{task.name}' is a regression task: 'kd' needs class probabilities (use ce, hidden_mse, ...)")
    for name, weight in weights.items():
        if weight > 0 and not mlm and get_loss(name).masked_lm_only:
            raise LaminaError(f"loss '{name}' is for masked-LM distillation: use --task mlm --corpus FILE")
    work, checkpoint = prepare_work_dir(cfg.output, resume=cfg.resume, overwrite=cfg.overwrite)
    record = new_record("distill", model=cfg.student or "", task=task.name, config=cfg.model_dump(), seed=cfg.seed)
    if mlm:
        from datasets import Dataset

        from lamina.data.corpus import read_corpus

        data = {"train": Dataset.from_dict({"text": read_corpus(cfg.corpus)})}  # lines, for calibration
    else:
        data = task.load(cfg.data_dir)

    teachers = []
    for name in cfg.teacher:
        model, tok, _ = load_masked_lm(name) if mlm else load_for_classification(name, task, train=False)
        teachers.append((name, model, tok))
    t_name, t_model, t_tok = teachers[0]
    for name, _, tok in teachers[1:]:
        check_same_vocabulary(t_tok, tok, t_name, name)

    student, tokenizer, init = build_student(
        task=task, teacher=t_model, teacher_tokenizer=t_tok, teacher_name=t_name, student=cfg.student,
        from_teacher=cfg.student_from_teacher, keep=cfg.keep, student_config=cfg.student_config,
        first_n=cfg.student_first_n, calibration=_calibration_from(data["train"]), seed=cfg.seed,
    )
    if tokenizer is None:
        raise LaminaError("no tokenizer: the teacher folder must hold one")
    tokenizer.padding_side = "right"  # cached token states are stored left-aligned
    check_same_vocabulary(t_tok, tokenizer, t_name, cfg.student or "student")
    for m in [student] + [m for _, m, _ in teachers]:
        check_max_length(cfg.max_length, m.config, tokenizer)

    s_layers = get_adapter(student).num_layers(student.config)
    t_weights = cfg.teacher_weights or [1.0] * len(teachers)
    specs = []
    for (name, model, _), w in zip(teachers, t_weights):
        n = get_adapter(model).num_layers(model.config)
        lmap = build_layer_map(cfg.layer_map, s_layers, n)
        needs = Needs()
        for loss_name, lw in weights.items():
            if lw > 0:
                needs = needs.merge(get_loss(loss_name).needs(lmap, n, s_layers))
        if needs.teacher_attentions:
            check_attention_heads(student, model, name)
        specs.append(TeacherSpec(model=model, name=name, weight=w, layer_map=lmap, num_layers=n, needs=needs))
    if any(s.needs.student_attentions for s in specs):
        _set_eager_attention(student, *[s.model for s in specs])

    if mlm:  # blocks of text, masked afresh every step; a fixed masked evaluation set
        train_enc, dev, _ = mlm_datasets(
            tokenizer, cfg.corpus, cfg.eval_corpus, block_size=cfg.max_length, mlm_probability=cfg.mlm_probability,
            eval_fraction=0.05, seed=cfg.seed, max_train_samples=cfg.max_train_samples,
            max_eval_samples=cfg.max_eval_samples)
        eval_enc = {"dev": dev}
        collator = mlm_collator(tokenizer, cfg.mlm_probability, seed=cfg.seed)
    else:
        train = subset(data["train"], cfg.max_train_samples, cfg.seed, shuffle=True)
        train_enc = encode(train, tokenizer, cfg.max_length)
        eval_enc = {s: encode(subset(data[s], cfg.max_eval_samples, cfg.seed, shuffle=False), tokenizer, cfg.max_length)
                    for s in task.eval_splits}
        collator = DistillCollator(tokenizer, cfg)
    train_enc = train_enc.add_column("idx", list(range(len(train_enc))))
    steps_per_epoch = max(1, -(-len(train_enc) // cfg.batch_size))
    args = training_arguments(cfg, work, main_metric=task.main_metric, steps_per_epoch=steps_per_epoch,
                              remove_unused_columns=False, label_names=["labels"],
                              **({"greater_is_better": False, "prediction_loss_only": True} if mlm else {}))

    cache_state = "off (--no-cache)"
    if cfg.cache and mlm:
        cache_state = "off: masking changes the inputs every step, so teacher outputs are computed online"
    elif cfg.cache and cfg.noise > 0 and cfg.noise_side == "both":
        cache_state = "off: noise is applied on the teacher side, so teacher outputs change every step"
        log(f"teacher-output cache {cache_state}")
    elif cfg.cache:
        root = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else cache_dir() / "teacher_outputs"
        with args.main_process_first(desc="teacher-output cache"):
            for spec in specs:
                cache_needs = Needs(teacher_logits=spec.needs.teacher_logits, teacher_cls=spec.needs.teacher_cls,
                                    teacher_tokens=spec.needs.teacher_tokens)
                if cache_needs.any_teacher:
                    spec.model.to(args.device)
                    spec.cache = TeacherCache.build_or_open(
                        spec.model, train_enc, collator, root=root, needs=cache_needs, max_length=cfg.max_length,
                        dtype=cfg.cache_dtype, batch_size=cfg.eval_batch_size, log=log)
        cache_state = f"on ({cfg.cache_dtype}, {root})"

    if cfg.prefinetune_epochs > 0 and not checkpoint:  # seed 004: hard-label warm-up of the student
        pre_args = training_arguments(
            cfg, work / "prefinetune", main_metric=task.main_metric, steps_per_epoch=steps_per_epoch,
            num_train_epochs=cfg.prefinetune_epochs, eval_strategy="no", save_strategy="no",
            load_best_model_at_end=False, report_to=[])
        Trainer(model=student, args=pre_args, train_dataset=train_enc.remove_columns("idx"),
                processing_class=tokenizer, data_collator=collator).train()

    module = StudentWithProjections(student, make_projections(student, specs, weights))
    layerdrop = apply_layerdrop(student, cfg.layerdrop, seed=cfg.seed)
    noise = Noise(p=cfg.noise, side=cfg.noise_side, vocab_size=student.config.vocab_size,
                  special_ids=list(tokenizer.all_special_ids), seed=cfg.seed)
    record["model"] = cfg.student or init["init"]
    trainer = DistillationTrainer(
        model=module, args=args, train_dataset=train_enc, eval_dataset=eval_enc["dev"], processing_class=tokenizer,
        data_collator=collator, compute_metrics=None if mlm else trainer_metrics(task), callbacks=callbacks,
        teachers=specs, loss_weights=weights, temperature=cfg.temperature, noise=noise, student_num_layers=s_layers,
    )
    train_output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if layerdrop is not None:
        layerdrop.remove()
    evaluated = trainer.evaluate()
    metrics = mlm_metrics(evaluated) if mlm else {k.removeprefix("eval_"): v for k, v in evaluated.items()}
    if "dev_mismatched" in eval_enc:
        mm = trainer.evaluate(eval_dataset=eval_enc["dev_mismatched"])
        metrics["mismatched_accuracy"] = mm["eval_accuracy"]
    record["metrics"] = {k: v for k, v in metrics.items() if k in task.metrics}
    record["distill"] = {
        "teachers": [{"name": s.name, "weight": s.weight, "layers": s.num_layers, "layer_map": s.layer_map} for s in specs],
        "student_init": init["init"],
        "losses": weights,
        "temperature": cfg.temperature,
        "cache": cache_state,
        "noise": {"p": cfg.noise, "side": cfg.noise_side} if cfg.noise else None,
        "prefinetune_epochs": cfg.prefinetune_epochs,
        "projections": sorted(int(k) for k in module.projections.keys()),
    }
    record["training"] = {**training_summary(trainer, train_output, metrics, checkpoint),
                          "train_examples": len(train_enc), "eval_examples": {s: len(d) for s, d in eval_enc.items()}}
    record["sizes"] = {"layers": s_layers, "parameters": parameter_count(student)}

    def save(tmp):
        module.student.save_pretrained(tmp)  # the student alone: projections stay behind
        tokenizer.save_pretrained(tmp)

    finish_run(cfg, work, record, save=save, main_process=trainer.is_world_process_zero(),
               card=lambda tmp: write_distill_card(
                   tmp, record, task, name=Path(cfg.output).name,
                   auto_class="AutoModelForMaskedLM" if mlm else "AutoModelForSequenceClassification"))
    return record
