"""Build a student: a given model, layers copied from the teacher, a fresh smaller config,
or the first N layers of a pretrained model."""

from __future__ import annotations

from lamina.errors import LaminaError


def same_vocabulary(a, b) -> bool:
    return a is None or b is None or a.get_vocab() == b.get_vocab()


def check_same_vocabulary(teacher_tok, student_tok, teacher_name: str, student_name: str, why: str = "") -> None:
    """Token-level and hidden-state losses assume one tokenizer: refuse different vocabularies."""
    if not same_vocabulary(teacher_tok, student_tok):
        raise LaminaError(
            f"teacher '{teacher_name}' and student '{student_name}' have different vocabularies "
            f"({len(teacher_tok)} vs {len(student_tok)} tokens); " + (why or "distillation needs the same tokenizer")
        )


def _given_keys(spec: str) -> set[str]:
    """The keys a JSON config spec (text or file) sets explicitly; a folder's config sets them all."""
    import json
    from pathlib import Path

    try:
        text = spec if spec.strip().startswith("{") else Path(spec).expanduser().read_text(encoding="utf-8")
        return set(json.loads(text))
    except (OSError, ValueError):
        return {"vocab_size", "pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id"}


def _config_from(spec: str):
    from lamina.models.loading import config_from_spec

    return config_from_spec(spec, "--student-config")


def build_student(
    *,
    task,
    teacher,
    teacher_tokenizer,
    teacher_name: str,
    student: str | None = None,
    from_teacher: str | None = None,
    keep: int | None = None,
    keep_decoder: int | None = None,
    student_config: str | None = None,
    first_n: int | None = None,
    calibration=None,
    seed: int = 42,
    strategy_options: dict | None = None,
    width: dict | None = None,
    importance: str = "activation",
    width_texts=None,
    max_length: int = 128,
):
    """Return ``(student_model, tokenizer, description)``; exactly one way must be chosen."""
    from transformers import set_seed

    from lamina.models.adapters import get_adapter
    from lamina.models.surgery import drop_layers
    from lamina.strategies import get_strategy, select_decoder_layers, select_layers
    from lamina.tasks.objectives import objective_for

    modes = {
        "--student": student is not None and first_n is None,
        "--student-from-teacher": from_teacher is not None,
        "--student-config": student_config is not None,
        "--student-first-n": first_n is not None,
    }
    if sum(modes.values()) != 1:
        given = [k for k, v in modes.items() if v]
        raise LaminaError(
            "choose one student: --student PATH, --student-from-teacher STRATEGY --keep N, "
            "--student-config CONFIG, or --student-first-n N [--student PRETRAINED]"
            + (f" (got {', '.join(given)})" if given else "")
        )
    if keep_decoder is not None and from_teacher is None:
        raise LaminaError(
            "--keep-decoder goes with --student-from-teacher STRATEGY --keep N (the teacher's decoder "
            "layers the student keeps)"
        )
    set_seed(seed)
    if from_teacher is not None:
        if keep is None:
            raise LaminaError("--student-from-teacher needs --keep N (the student's layer count)")
        strategy = get_strategy(from_teacher, **(strategy_options or {}))
        n = get_adapter(teacher).num_layers(teacher.config)
        decoder = None if keep_decoder is None else select_decoder_layers(teacher, strategy, keep_decoder)
        stats = (
            calibration(teacher, teacher_tokenizer, token=strategy.calibration_token)
            if strategy.needs_calibration
            else None
        )
        kept = select_layers(strategy, n, keep=keep, stats=stats)
        model = drop_layers(teacher, kept)  # a deep copy: embeddings, kept layers and the head
        info = {"init": f"teacher layers {kept} ({from_teacher})", "kept_layers": kept}
        if decoder is not None:
            model = drop_layers(model, decoder, inplace=True, stack="decoder")
            info.update(
                init=f"teacher layers {kept}, decoder layers {decoder} ({from_teacher})", kept_decoder_layers=decoder
            )
        if width:
            model, info["width"] = _narrow(model, teacher_tokenizer, width, importance, width_texts, max_length)
            shape = info["width"]["after"]
            info["init"] += (
                f", narrowed by {importance} importance to FFN {shape['ffn']}, {shape['heads']} heads, "
                f"hidden {shape['hidden']}"
            )
        return model, teacher_tokenizer, info
    objective = objective_for(task)
    if student_config is not None:
        config = objective.student_config(student_config) or _config_from(student_config)
        get_adapter(config)
        given = _given_keys(student_config)
        for key in ("vocab_size", "pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id"):
            # the teacher's tokenizer is the student's: what the config leaves out comes from the teacher
            if key not in given and getattr(teacher.config, key, None) is not None:
                setattr(config, key, getattr(teacher.config, key))
        if getattr(config, "vocab_size", None) != getattr(teacher.config, "vocab_size", None):
            raise LaminaError(
                f"--student-config has vocab_size {getattr(config, 'vocab_size', None)}, the teacher "
                f"{teacher.config.vocab_size}: the student must share the teacher's tokenizer"
            )
        model = objective.model_from_config(config, task)
        return model, teacher_tokenizer, {"init": "random (from --student-config)"}
    source = student or "minilm-l6"
    model, tokenizer, _ = objective.load_model(source, task, train=True)
    if first_n is not None:
        n = get_adapter(model).num_layers(model.config)
        if not 1 <= first_n <= n:
            raise LaminaError(f"--student-first-n {first_n}: '{source}' has {n} layers")
        model = drop_layers(model, list(range(first_n)), inplace=True)
        return model, tokenizer or teacher_tokenizer, {"init": f"first {first_n} layers of {source}"}
    return model, tokenizer or teacher_tokenizer, {"init": f"{source}"}


def _narrow(model, tokenizer, width: dict, importance: str, texts, max_length: int):
    """The depth-pruned student narrowed to ``width`` by ``importance``, measured on ``texts()``."""
    from lamina.data.calibration import calibration_batches
    from lamina.importance import get_importance, narrow

    batches = []
    if get_importance(importance).needs_calibration:
        if tokenizer is None or texts is None:
            raise LaminaError(
                f"--importance {importance} reads the training text through the teacher's tokenizer; "
                "use --importance magnitude here"
            )
        batches = calibration_batches(tokenizer, texts(), max_length=max_length)
    return narrow(model, width, importance=importance, batches=batches)
