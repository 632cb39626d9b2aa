"""The teachers of a distillation run: loaded through the task's objective, their layer
maps and what the losses read from each (``TeacherSpec``), and whether their outputs can
come from the teacher-output cache (the reason is always stated)."""

from __future__ import annotations

from pathlib import Path

from lamina.distillation.layer_map import build_layer_map
from lamina.distillation.student import check_same_vocabulary, same_vocabulary
from lamina.distillation.trainer import TeacherSpec, check_attention_heads
from lamina.losses import Needs, get_loss
from lamina.models.adapters import get_adapter


def load_teachers(names: list[str], task, objective) -> list[tuple[str, object, object]]:
    """(name, model, tokenizer) per teacher."""
    return [(name, *objective.load_model(name, task, train=False)[:2]) for name in names]


def foreign_teachers(teachers, specs, tokenizer, *, student_name: str, task, cfg) -> set[int]:
    """The teachers whose tokenizer is not the student's. Class logits are over labels, not the
    vocabulary, so such a teacher can teach through logit losses if it reads the raw text with
    its own tokenizer; anything compared token by token or state by state is refused."""
    from lamina.tasks.objectives import objective_for

    objective = objective_for(task)
    foreign = set()
    for i, ((name, _, tok), spec) in enumerate(zip(teachers, specs)):
        if same_vocabulary(tok, tokenizer):
            continue
        n = spec.needs
        if not (objective.reads_text and objective.has_labels):
            check_same_vocabulary(
                tok,
                tokenizer,
                name,
                student_name,
                f"task '{task.name}' ({task.objective.name}) compares vocabulary distributions, which "
                "needs one tokenizer",
            )
        if n.teacher_cls or n.teacher_tokens or n.teacher_attentions or n.student_states:
            token_level = ", ".join(sorted(k for k, w in cfg.loss.items() if w > 0 and not _logits_only(k)))
            check_same_vocabulary(
                tok,
                tokenizer,
                name,
                student_name,
                f"loss {token_level} compares hidden states or attentions position by position, "
                "which needs one tokenizer; across tokenizers only logit losses (kd, prob_mse) teach",
            )
        if cfg.noise > 0 and cfg.noise_side == "both":
            check_same_vocabulary(
                tok,
                tokenizer,
                name,
                student_name,
                "--noise-side both replaces tokens of the student's vocabulary in the teacher's input",
            )
        foreign.add(i)
    return foreign


def _logits_only(loss: str) -> bool:
    n = get_loss(loss).needs([(1, 1)], 1, 1)
    return not (n.teacher_cls or n.teacher_tokens or n.teacher_attentions or n.student_states)


def teacher_columns(i: int) -> str:
    return f"teacher{i}_"


def add_teacher_tokenization(train, rows, i: int, tokenizer, max_length: int):
    """``train`` with teacher ``i``'s own tokenization of the same rows as ``teacher{i}_*`` columns."""
    from lamina.data.encode import encode

    enc = encode(rows, tokenizer, max_length)
    for col in ("input_ids", "attention_mask", "token_type_ids"):
        if col in enc.column_names:
            train = train.add_column(teacher_columns(i) + col, enc[col])
    return train


def teacher_view_of(train, i: int):
    """The training set as teacher ``i`` reads it (its own tokenization, the same rows and idx)."""
    prefix = teacher_columns(i)
    cols = [c for c in train.column_names if c.startswith(prefix)]
    keep = cols + [c for c in ("idx", "label") if c in train.column_names]
    return train.select_columns(keep).rename_columns({c: c.removeprefix(prefix) for c in cols})


def teacher_specs(
    teachers, student, *, weights: list[float] | None, layer_map: str, loss_weights: dict[str, float]
) -> list[TeacherSpec]:
    """Each teacher's layer map and the union of what the active losses read from it."""
    s_layers = get_adapter(student).num_layers(student.config)
    weights = weights or [1.0] * len(teachers)
    specs = []
    for (name, model, _), w in zip(teachers, weights):
        n = get_adapter(model).num_layers(model.config)
        lmap = build_layer_map(layer_map, s_layers, n)
        needs = Needs()
        for loss_name, lw in loss_weights.items():
            if lw > 0:
                needs = needs.merge(get_loss(loss_name).needs(lmap, n, s_layers))
        if needs.teacher_attentions:
            check_attention_heads(student, model, name)
        specs.append(TeacherSpec(model=model, name=name, weight=w, layer_map=lmap, num_layers=n, needs=needs))
    return specs


def cache_decision(cfg, method, task) -> str | None:
    """None when the teacher outputs can be cached, else why they are computed online."""
    if not cfg.cache:
        return "off (--no-cache)"
    if method.cache_off_reason:
        return f"off: method '{method.name}': {method.cache_off_reason}"
    from lamina.tasks.objectives import objective_for

    objective = objective_for(task)
    reason = objective.cache_off_reason
    if reason and not (getattr(cfg, "cache_top_k", None) and objective.caches_top_k):
        return f"off: {reason}"
    if cfg.noise > 0 and cfg.noise_side == "both":
        return "off: noise is applied on the teacher side, so teacher outputs change every step"
    return None


def check_cache_top_k(cfg, method, task) -> None:
    """Refuse ``--cache-top-k`` where a top-k teacher cache cannot be used, before anything is loaded."""
    k = getattr(cfg, "cache_top_k", None)
    if not k:
        return
    from lamina.errors import LaminaError
    from lamina.tasks.objectives import objective_for

    objective = objective_for(task)
    flag = f"--cache-top-k {k}"
    if not objective.caches_top_k:
        why = (
            objective.cache_off_reason
            if objective.has("tokens")
            else "its teacher outputs are class logits, cached whole by the teacher-output cache"
        )
        raise LaminaError(
            f"{flag} is for token-level KD of a causal LM or a seq2seq model; task '{task.name}' "
            f"({task.objective.name}): {why}"
        )
    state = cache_decision(cfg, method, task)
    if state is not None:
        raise LaminaError(f"{flag} needs the teacher-output cache, which is {state}")
    if len(cfg.teacher) > 1:
        raise LaminaError(
            f"{flag} takes one teacher: kd averages several teachers' logits, which top-k "
            f"log-probabilities cannot reproduce"
        )
    reads = [n for n, w in cfg.loss.items() if w > 0 and get_loss(n).needs([], 1, 1).teacher_logits]
    if not reads:
        raise LaminaError(
            f"{flag} caches the teacher's token distributions for loss kd, and --loss "
            f"{','.join(f'{n}={w:g}' for n, w in cfg.loss.items())} reads none"
        )


def check_top_k_vocabulary(k: int, teacher, student, teacher_name: str, student_name: str) -> None:
    """The top-k cache stores token ids of the teacher's vocabulary, read as the student's."""
    from lamina.errors import LaminaError

    t = teacher.get_output_embeddings().weight.shape[0]
    s = student.get_output_embeddings().weight.shape[0]
    if t != s:
        raise LaminaError(
            f"--cache-top-k {k}: teacher '{teacher_name}' predicts over {t} tokens, student "
            f"'{student_name}' over {s}: cached token ids must index one vocabulary"
        )
    if k > t:
        raise LaminaError(f"--cache-top-k {k} is more than the vocabulary ({t} tokens)")


def open_caches(specs, train, collator, *, cfg, args, log, own_inputs: dict | None = None, positions=None) -> str:
    """Build (or reuse) each teacher's cache entry for the training set; returns the record's cache line.
    ``own_inputs``: {teacher index: (encoded, collator)} for teachers with their own tokenizer;
    ``positions``: the student's target-position rule (a top-k cache stores one row per target token)."""
    from lamina.distillation.cache import TeacherCache
    from lamina.models.bundled import cache_dir

    top_k = getattr(cfg, "cache_top_k", None)
    root = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else cache_dir() / "teacher_outputs"
    with args.main_process_first(desc="teacher-output cache"):
        for spec in specs:
            cache_needs = Needs(
                teacher_logits=spec.needs.teacher_logits,
                teacher_cls=spec.needs.teacher_cls,
                teacher_tokens=spec.needs.teacher_tokens,
            )
            if cache_needs.any_teacher:
                spec.model.to(args.device)
                encoded, collate = (own_inputs or {}).get(specs.index(spec), (train, collator))
                spec.cache = TeacherCache.build_or_open(
                    spec.model,
                    encoded,
                    collate,
                    root=root,
                    needs=cache_needs,
                    max_length=cfg.max_length,
                    dtype=cfg.cache_dtype,
                    batch_size=cfg.eval_batch_size,
                    log=log,
                    top_k=top_k,
                    temperature=cfg.temperature,
                    positions=positions,
                )
                if not spec.needs.teacher_attentions:  # never run again: off the accelerator
                    spec.model.to("cpu")
    if top_k:
        return (
            f"on (top-{top_k}: the teacher's {top_k} most probable tokens per target token and the rest's mass, "
            f"{cfg.cache_dtype} log-probabilities, {root})"
        )
    return f"on ({cfg.cache_dtype}, {root})"
