"""``lamina distill``: teachers → student → teacher-output cache → a distillation method
(a registered DistillationTrainer) → a plain HF folder with a model card.

The run is a sequence of phases, each in its own module: the task's objective reads the
data and loads the models (:mod:`lamina.tasks.objectives`), :mod:`lamina.distillation.teachers`
loads the teachers and decides the cache, :mod:`lamina.distillation.student` builds the student,
the method (:mod:`lamina.distillation.methods`) trains, and :mod:`lamina.training.finish` writes.

Why one file of more than 500 lines: a command is one file (its settings, its run, and what is shown
of its records: card, terminal table, report row, record section), and distill has the most settings
of any command (teachers, student from a config, a model or the teacher by depth and width, the loss
mix, the cache, noise, LayerDrop, a method's options), each validated here where it is declared. The
phases themselves live in the modules named above.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import field_validator, model_validator

from lamina.config import OptionMap, parse_numbers, setting
from lamina.results import RecordPart
from lamina.training.settings import MaskSettings, TaskSettings, TrainSettings
from lamina.workflows import RunContext, Workflow, register_workflow


class DistillConfig(TaskSettings, TrainSettings, MaskSettings):
    teacher: list[str] = setting(
        ...,
        "Fine-tuned teacher (repeat for several).",
        min_length=1,
        missing="give at least one --teacher (a fine-tuned model folder)",
    )
    teacher_weights: list[float] | None = setting(None, "Weight of each teacher, e.g. 0.7,0.3 (default equal).")
    method: str = setting("standard", "Distillation method (see `lamina methods`).")
    method_options: OptionMap = setting(
        {}, "The method's own settings, NAME=VALUE (repeatable).", flag="--method-option"
    )
    student: str | None = setting(None, "Student model (path or alias).")
    student_from_teacher: str | None = setting(None, "Copy teacher layers chosen by this strategy.")
    keep: int | None = setting(
        None, "Student layers (with --student-from-teacher; an encoder-decoder's encoder layers).", ge=1
    )
    keep_decoder: int | None = setting(
        None,
        "Encoder-decoders (BART, Marian, T5): decoder layers to leave, chosen by the same (data-free) strategy.",
        ge=1,
    )
    strategy_options: OptionMap = setting(
        {}, "Options of the --student-from-teacher strategy, NAME=VALUE.", flag="--strategy-option"
    )
    ffn: int | None = setting(None, "With --student-from-teacher: FFN neurons the student keeps per layer.", ge=1)
    heads: int | None = setting(None, "With --student-from-teacher: attention heads the student keeps per layer.", ge=1)
    hidden: int | None = setting(None, "With --student-from-teacher: hidden channels the student keeps.", ge=1)
    importance: str = setting(
        "activation",
        "With --ffn/--heads/--hidden: how the teacher's units are ranked "
        "(see `lamina importance`; activation reads 256 training examples).",
    )
    student_config: str | None = setting(None, "Random init from a config (folder, JSON file or JSON text).")
    student_first_n: int | None = setting(None, "First N layers of --student (default minilm-l6).", ge=1)
    loss: dict[str, float] = setting({"kd": 1.0}, "Weighted losses, e.g. kd=1,pkd=100 (see `lamina losses`).")
    temperature: float = setting(2.0, "Soft-target temperature.", flag="-T", gt=0)
    alpha: float | None = setting(None, "Hinton's mix: kd=alpha, ce=1-alpha.", ge=0, le=1)
    layer_map: str = setting("skip", "Student → teacher layers: skip, last, first, or pairs 1:2,2:4,...")
    cache: bool = setting(True, "Teacher-output cache on disk.")
    cache_dtype: Literal["float16", "float32"] = setting("float16", "Cached outputs' dtype: float16 or float32.")
    cache_dir: str | None = setting(None, "Cache folder (default: lamina's cache).")
    cache_top_k: int | None = setting(
        None,
        "Token-level KD (causal-lm, seq2seq): cache the teacher's K most probable "
        "tokens per target token and the rest's mass, read instead of running the "
        "teacher every step (default: off, the full vocabulary online; 64 is a "
        "provisional choice).",
        ge=1,
    )
    noise: float = setting(0.0, "Replace input tokens with this probability.", ge=0, lt=1)
    noise_side: Literal["student", "both"] = setting("student", "Noise on the student, or both (turns the cache off).")
    prefinetune_epochs: float = setting(0.0, "Hard-label epochs of the student first.", ge=0)

    @field_validator("loss", mode="before")
    @classmethod
    def _parse_loss(cls, value):
        from lamina.losses import parse_loss_spec

        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        return parse_loss_spec(value)

    @field_validator("teacher_weights", mode="before")
    @classmethod
    def _parse_weights(cls, value):
        return parse_numbers(value, "--teacher-weights")

    @classmethod
    def extra_cli_fields(cls) -> dict:
        """Every registered method's own settings as hidden flags too (``--pilot-lr`` for metadistil):
        accepted as shorthand, like keys of a --config file or recipe args, but listed by `lamina
        methods`, not by `lamina distill --help`, which lists ``--method-option NAME=VALUE``."""
        import copy

        from lamina.distillation.methods import METHODS

        out = super().extra_cli_fields()
        for name in METHODS.names():
            for key, field in METHODS.get(name).Options.model_fields.items():
                if key not in cls.model_fields and key not in out:
                    flag = copy.copy(field)
                    flag.description = f"--method {name}: {field.description or ''}".strip()
                    flag.json_schema_extra = {**(field.json_schema_extra or {}), "hidden": True}
                    out[key] = flag
        return out

    @model_validator(mode="before")
    @classmethod
    def _route_method_settings(cls, values):
        """Settings of the chosen method given as flags or keys go into ``method_options``."""
        from lamina.config import parse_mapping
        from lamina.distillation.methods import METHODS

        if not isinstance(values, dict):
            return values
        extra = [k for k in values if k not in cls.model_fields]
        if not extra:
            return values
        values = dict(values)
        method = values.get("method") or "standard"
        chosen = METHODS.get(method).Options.model_fields if method in METHODS else {}
        routed = parse_mapping(values.get("method_options"), "--method-option")
        for key in extra:
            if key in chosen:
                routed[key] = values.pop(key)
            else:
                owners = [n for n in METHODS.names() if key in METHODS.get(n).Options.model_fields]
                if owners:
                    raise ValueError(
                        f"--{key.replace('_', '-')} is a setting of --method {owners[0]}, not of '{method}'"
                    )
        values["method_options"] = routed
        return values

    @model_validator(mode="after")
    def _check(self):
        from pydantic import ValidationError

        from lamina.config import describe_error
        from lamina.distillation.methods import get_method

        if self.alpha is not None:  # Hinton's mix: alpha·kd + (1 − alpha)·ce
            self.loss = {**self.loss, "kd": self.alpha, "ce": 1.0 - self.alpha}
        if self.teacher_weights is not None and len(self.teacher_weights) != len(self.teacher):
            raise ValueError(f"{len(self.teacher_weights)} teacher weights for {len(self.teacher)} teachers")
        if self.keep_decoder is not None and self.student_from_teacher is None:
            raise ValueError(
                "--keep-decoder goes with --student-from-teacher STRATEGY --keep N (the teacher's decoder "
                "layers the student keeps)"
            )
        if self.widths and self.student_from_teacher is None:
            raise ValueError(
                "--ffn/--heads/--hidden shape a student cut from the teacher: give --student-from-teacher "
                "STRATEGY --keep N"
            )
        from lamina.importance import IMPORTANCE

        IMPORTANCE.get(self.importance)
        method = get_method(self.method)
        try:
            method.Options(**self.method_options)  # unknown or bad method settings fail here
        except ValidationError as exc:
            raise ValueError(describe_error(exc, flags=set(self.method_options), model=method.Options)) from None
        return self

    @property
    def widths(self) -> dict:
        return {k: v for k, v in (("ffn", self.ffn), ("heads", self.heads), ("hidden", self.hidden)) if v is not None}


class DistillTeacher(RecordPart):
    name: str
    weight: float
    layers: int
    layer_map: list[list[int]] | None = None  # [teacher layer, student layer] pairs
    tokenizer: str | None = None  # the student's, or its own


class DistillSection(RecordPart):
    """``record["distill"]``: teachers, student initialisation, losses and method."""

    method: str | None = None  # (older records: the standard method)
    method_options: dict[str, Any] = {}
    method_record: dict[str, Any] | None = None  # what the method reports of itself
    teachers: list[DistillTeacher]
    student_init: str
    student_kept_layers: list[int] | None = None
    student_kept_decoder_layers: list[int] | None = None
    student_width: dict[str, Any] | None = None  # lamina.importance.narrow's info
    losses: dict[str, float]
    temperature: float
    cache: str | None = None
    # what the kd loss compared the student with: {"kind": "full"} or {"kind": "top-k", "k": K, "dtype": ...}
    kd_targets: dict[str, Any] | None = None
    noise: dict[str, Any] | None = None
    prefinetune_epochs: float = 0.0
    projections: list[int] = []


@register_workflow("distill")
class Distill(Workflow):
    """Distill one or more fine-tuned teachers into a smaller student (KD, PKD, TinyBERT, DistilBERT losses)."""

    Config = DistillConfig
    Section = DistillSection
    recipe_defaults = {"progress": False}

    def run(self, cfg: DistillConfig, ctx: RunContext) -> dict:
        return run_distill(cfg, callbacks=ctx.callbacks, log=ctx.log)

    def lineage_parent(self, record: dict) -> str | None:
        # the student's starting point: the teacher it was cut from, or the --student model
        cfg = record.get("config") or {}
        if cfg.get("student_from_teacher") and cfg.get("teacher"):
            return cfg["teacher"][0]
        return cfg.get("student")

    def lineage_summary(self, record: dict) -> dict:
        teachers = (record.get("distill") or {}).get("teachers") or [{}]
        return {
            "strategy": (record.get("config") or {}).get("student_from_teacher"),
            "layers_before": teachers[0].get("layers"),
        }

    def card(
        self,
        folder,
        record: dict,
        *,
        name: str,
        task,
        auto_class: str = "AutoModelForSequenceClassification",
        **context,
    ) -> list[str]:
        """The model card of a distilled student: teachers, initialisation, losses and scores."""
        from lamina.models.card import fmt_params, front_matter, layerdrop_lines, provenance, scores_table, usage

        cfg, d, tr, sizes = record["config"], record["distill"], record["training"], record["sizes"]
        teachers = ", ".join(f"`{t['name']}` ({t['layers']} layers, weight {t['weight']})" for t in d["teachers"])
        maps = "; ".join(f"{t['name']}: {t['layer_map']}" for t in d["teachers"])
        losses = " + ".join(f"{w:g}·{n}" for n, w in d["losses"].items())
        lines = [
            *front_matter(["lamina", "knowledge-distillation", f"task:{task.name}"]),
            f"# {name}",
            "",
            f"A {sizes['layers']}-layer student distilled on **{task.name}** ({task.description}) with lamina "
            "(`lamina distill`).",
            "",
            "## How it was made",
            "",
            f"- **Teacher(s):** {teachers}",
            f"- **Method:** `{d.get('method', 'standard')}`"
            + (
                f" ({', '.join(f'{k}={v}' for k, v in d['method_options'].items())})" if d.get("method_options") else ""
            ),
            f"- **Student initialisation:** {d['student_init']} ({sizes['layers']} layers, "
            f"{fmt_params(sizes['parameters'])} parameters)",
            f"- **Loss:** {losses}; temperature {d['temperature']}; layer map ({cfg['layer_map']}) {maps}",
            f"- **Teacher-output cache:** {d['cache']}",
            f"- **Token noise:** {d['noise'] or 'none'}; student pre-fine-tuning: {d['prefinetune_epochs']} epochs",
            f"- **Training examples:** {tr['train_examples']:,}"
            + (" (subset)" if cfg.get("max_train_samples") else ""),
            f"- **Settings:** {cfg['epochs']} epochs, lr {cfg['lr']}, batch {cfg['batch_size']}, max length "
            f"{cfg['max_length']}, seed {cfg['seed']}; {tr['global_steps']} steps, best checkpoint {tr['best_checkpoint']}",
            *layerdrop_lines(cfg, " (student)"),
            f"- **Wall time:** {record.get('wall_seconds', 0):.0f} s",
            *provenance(record),
            "## Scores",
            "",
            *scores_table(record),
            *usage(name, auto_class),
        ]
        return lines


def _calibration_texts(rows, samples: int = 256) -> list[tuple]:
    """Up to ``samples`` training rows (seed 0) as text tuples: what a data-driven --student-from-teacher
    strategy and a width criterion measure the teacher on."""
    picked = rows.shuffle(seed=0).select(range(min(samples, len(rows))))
    pairs = list(picked["text_pair"]) if "text_pair" in picked.column_names else None
    column = "text" if "text" in picked.column_names else "source"  # seq2seq pairs: the sources
    return [(a, b) for a, b in zip(picked[column], pairs)] if pairs else [(a,) for a in picked[column]]


def _calibration(rows, samples: int = 256):
    """Layer statistics on the calibration rows, for a data-driven --student-from-teacher strategy."""
    from lamina.analysis import stats_from_texts

    def stats(model, tokenizer, token=None):  # the rows are read only when a strategy asks (text tasks)
        return stats_from_texts(model, tokenizer, _calibration_texts(rows, samples), token=token)

    return stats


def _kd_targets(cfg: DistillConfig, specs, weights: dict) -> dict | None:
    """What kd's teacher distribution was: the top-k cache's (k, dtype), or the full one; None without kd."""
    if not any(w > 0 for n, w in weights.items() if n in ("kd", "kd_masked")):
        return None
    if any(getattr(s.cache, "top_k", None) for s in specs):
        return {"kind": "top-k", "k": cfg.cache_top_k, "dtype": cfg.cache_dtype, "rest_bucket": True}
    return {"kind": "full"}


def run_distill(cfg: DistillConfig, *, callbacks=None, log=print) -> dict:
    from transformers import Trainer

    from lamina.data.encode import check_max_length, padding_collator
    from lamina.distillation.collate import DistillCollator
    from lamina.distillation.methods import get_method
    from lamina.distillation.student import build_student
    from lamina.distillation.teachers import (
        add_teacher_tokenization,
        cache_decision,
        check_cache_top_k,
        check_top_k_vocabulary,
        foreign_teachers,
        load_teachers,
        open_caches,
        teacher_specs,
        teacher_view_of,
    )
    from lamina.distillation.trainer import DistillModule, Noise, TokenPositions, make_projections, set_eager_attention
    from lamina.errors import LaminaError
    from lamina.eval.timing import parameter_count
    from lamina.losses import get_loss
    from lamina.models.adapters import get_adapter
    from lamina.models.card import write_card
    from lamina.models.layerdrop import apply_layerdrop
    from lamina.models.width import model_shape
    from lamina.results import new_record
    from lamina.tasks.objectives import PrepSettings, objective_for
    from lamina.training.arguments import training_arguments
    from lamina.training.finish import finish_run, train_and_evaluate, training_summary
    from lamina.training.masks import hold_mask
    from lamina.training.workdir import no_trace_if_refused, prepare_work_dir

    task = cfg.get_task()
    objective = objective_for(task)
    method = get_method(cfg.method)
    weights = dict(cfg.loss)
    for name, weight in weights.items():
        if weight > 0:
            type(get_loss(name)).check_objective(task, objective.capabilities)
    method.check(cfg, task)
    check_cache_top_k(cfg, method, task)
    work, checkpoint = prepare_work_dir(cfg)
    record = new_record("distill", model="", task=task.name, config=cfg.model_dump(), seed=cfg.seed)
    raw = objective.raw_data(task, cfg.data_dir)

    teachers = load_teachers(cfg.teacher, task, objective)
    t_name, t_model, t_tok = teachers[0]
    student, tokenizer, init = build_student(
        task=task,
        teacher=t_model,
        teacher_tokenizer=t_tok,
        teacher_name=t_name,
        student=cfg.student,
        from_teacher=cfg.student_from_teacher,
        keep=cfg.keep,
        keep_decoder=cfg.keep_decoder,
        student_config=cfg.student_config,
        first_n=cfg.student_first_n,
        calibration=_calibration(raw["train"]),
        seed=cfg.seed,
        strategy_options=cfg.strategy_options,
        width=cfg.widths,
        importance=cfg.importance,
        width_texts=lambda: _calibration_texts(raw["train"]),
        max_length=cfg.max_length,
    )
    if tokenizer is None and objective.reads_text:
        raise LaminaError("no tokenizer: the teacher folder must hold one")
    if tokenizer is not None:
        tokenizer.padding_side = "right"  # cached token states are stored left-aligned
    specs = teacher_specs(teachers, student, weights=cfg.teacher_weights, layer_map=cfg.layer_map, loss_weights=weights)
    foreign = foreign_teachers(teachers, specs, tokenizer, student_name=cfg.student or "student", task=task, cfg=cfg)
    if cfg.cache_top_k:
        check_top_k_vocabulary(cfg.cache_top_k, t_model, student, t_name, cfg.student or "student")
    if objective.reads_text:
        check_max_length(cfg.max_length, student.config, tokenizer)
        for i, (_, m, tok) in enumerate(teachers):
            check_max_length(cfg.max_length, m.config, tok if i in foreign else tokenizer)
    if any(s.needs.student_attentions for s in specs):
        set_eager_attention(student, *[s.model for s in specs])

    data = objective.prepare(task, raw, tokenizer, PrepSettings.of(cfg), model=student)
    train = data.train
    for i in sorted(foreign):  # such a teacher reads the same rows through its own tokenizer
        teachers[i][2].padding_side = "right"
        train = add_teacher_tokenization(train, data.train_rows, i, teachers[i][2], cfg.max_length)
    method_options = method.Options(**cfg.method_options)
    train, method_data = method.split_training_set(
        train, cfg=cfg, task=task, tokenizer=tokenizer, options=method_options, log=log
    )
    train = train.add_column("idx", list(range(len(train))))
    pad = dict(pad_to_max_length=cfg.pad_to_max_length, max_length=cfg.max_length)
    own = {i: padding_collator(teachers[i][2], **pad) for i in sorted(foreign)}
    collator = DistillCollator(data.collator, own)
    args = training_arguments(
        cfg,
        work,
        num_examples=len(train),
        **{"remove_unused_columns": False, "label_names": ["labels"], **objective.trainer_settings(task)},
    )

    cache_state = cache_decision(cfg, method, task)
    if cache_state is None:
        own_inputs = {i: (teacher_view_of(train, i), DistillCollator(c)) for i, c in own.items()}
        cache_state = open_caches(
            specs,
            train,
            collator,
            cfg=cfg,
            args=args,
            log=log,
            own_inputs=own_inputs,
            positions=TokenPositions.of(student),
        )
    log(f"teacher-output cache {cache_state}")

    if cfg.prefinetune_epochs > 0 and not checkpoint:  # a hard-label warm-up of the student
        pre_args = training_arguments(
            cfg,
            work / "prefinetune",
            num_examples=len(train),
            num_train_epochs=cfg.prefinetune_epochs,
            eval_strategy="no",
            save_strategy="no",
            load_best_model_at_end=False,
            report_to=[],
        )
        Trainer(
            model=student,
            args=pre_args,
            train_dataset=train.remove_columns("idx"),
            processing_class=tokenizer,
            data_collator=DistillCollator(data.collator),
        ).train()

    held, mask_info = hold_mask(student, cfg.mask, init=cfg.mask_init, seed=cfg.seed)
    if held is not None:  # a sparse student: the mask is held through KD
        callbacks = [*(callbacks or []), held]
        record["mask"] = mask_info
    module = DistillModule(
        student, make_projections(student, specs), teachers=[s.model for s in specs] if method.trains_teachers else None
    )
    layerdrop = apply_layerdrop(student, cfg.layerdrop, seed=cfg.seed)
    noise = Noise(
        p=cfg.noise,
        side=cfg.noise_side,
        vocab_size=getattr(student.config, "vocab_size", 0),
        special_ids=list(tokenizer.all_special_ids) if tokenizer is not None else [],
        seed=cfg.seed,
    )
    record["model"] = cfg.student or init["init"]
    s_layers = get_adapter(student).num_layers(student.config)
    with no_trace_if_refused(work):  # a method refusing its data (seqkd: another teacher's targets)
        trainer = method(
            model=module,
            args=args,
            train_dataset=train,
            eval_dataset=data.evals["dev"],
            processing_class=tokenizer,
            data_collator=collator,
            compute_metrics=objective.compute_metrics(task),
            callbacks=callbacks,
            teachers=specs,
            loss_weights=weights,
            temperature=cfg.temperature,
            noise=noise,
            student_num_layers=s_layers,
            method_options=method_options,
            method_data=method_data,
        )
    train_output, metrics = train_and_evaluate(
        trainer, cfg=cfg, checkpoint=checkpoint, layerdrop=layerdrop, task=task, objective=objective, data=data
    )
    trainer.after_training([tok for _, _, tok in teachers])
    record["metrics"] = {k: v for k, v in metrics.items() if k in task.metrics}
    record["distill"] = {
        "method": method.name,
        "method_options": dict(cfg.method_options),
        "method_record": trainer.method_record(),
        "teachers": [
            {
                "name": s.name,
                "weight": s.weight,
                "layers": s.num_layers,
                "layer_map": s.layer_map,
                "tokenizer": f"its own ({len(teachers[i][2])} tokens)" if i in foreign else "the student's",
            }
            for i, s in enumerate(specs)
        ],
        "student_init": init["init"],
        **{f"student_{k}": init[k] for k in ("kept_layers", "kept_decoder_layers", "width") if k in init},
        "losses": weights,
        "temperature": cfg.temperature,
        "cache": cache_state,
        "kd_targets": _kd_targets(cfg, specs, weights),
        "noise": {"p": cfg.noise, "side": cfg.noise_side} if cfg.noise else None,
        "prefinetune_epochs": cfg.prefinetune_epochs,
        "projections": sorted(int(k) for k in module.projections.keys()),
    }
    record["training"] = {
        **training_summary(trainer, train_output, metrics, checkpoint),
        "train_examples": len(train),
        "eval_examples": {s: len(d) for s, d in data.evals.items()},
        **data.info,
    }
    record["sizes"] = {"layers": s_layers, "parameters": parameter_count(student), "shape": model_shape(student)}

    def save(tmp):
        module.student.save_pretrained(tmp)  # the student alone: projections (and trained teachers) stay behind
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)

    finish_run(
        cfg,
        work,
        record,
        save=save,
        main_process=trainer.is_world_process_zero(),
        card=lambda tmp: write_card(
            tmp, record, task=task, name=Path(cfg.output).name, auto_class=objective.auto_class_for(student)
        ),
    )
    return record
