"""The teachers of a distillation run: loaded through the task's objective, their layer
maps and what the losses read from each (``TeacherSpec``), and whether their outputs can
come from the teacher-output cache (the reason is always stated)."""

from __future__ import annotations

from pathlib import Path

from lamina.distill.layer_map import build_layer_map
from lamina.distill.student import check_same_vocabulary
from lamina.distill.trainer import TeacherSpec, check_attention_heads
from lamina.losses import Needs, get_loss
from lamina.models.adapters import get_adapter


def load_teachers(names: list[str], task, objective) -> list[tuple[str, object, object]]:
    """(name, model, tokenizer) per teacher, all with the first teacher's vocabulary."""
    teachers = [(name, *objective.load_model(name, task, train=False)[:2]) for name in names]
    first, _, first_tok = teachers[0]
    for name, _, tok in teachers[1:]:
        check_same_vocabulary(first_tok, tok, first, name)
    return teachers


def teacher_specs(teachers, student, *, weights: list[float] | None, layer_map: str,
                  loss_weights: dict[str, float]) -> list[TeacherSpec]:
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
    if task.objective == "masked-lm":
        return "off: masking changes the inputs every step, so teacher outputs are computed online"
    if cfg.noise > 0 and cfg.noise_side == "both":
        return "off: noise is applied on the teacher side, so teacher outputs change every step"
    return None


def open_caches(specs, train, collator, *, cfg, args, log) -> str:
    """Build (or reuse) each teacher's cache entry for the training set; returns the record's cache line."""
    from lamina.distill.cache import TeacherCache
    from lamina.models.bundled import cache_dir

    root = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else cache_dir() / "teacher_outputs"
    with args.main_process_first(desc="teacher-output cache"):
        for spec in specs:
            cache_needs = Needs(teacher_logits=spec.needs.teacher_logits, teacher_cls=spec.needs.teacher_cls,
                                teacher_tokens=spec.needs.teacher_tokens)
            if cache_needs.any_teacher:
                spec.model.to(args.device)
                spec.cache = TeacherCache.build_or_open(
                    spec.model, train, collator, root=root, needs=cache_needs, max_length=cfg.max_length,
                    dtype=cfg.cache_dtype, batch_size=cfg.eval_batch_size, log=log)
    return f"on ({cfg.cache_dtype}, {root})"
