"""``lamina generate-targets``: the teacher decodes the training sources of a seq2seq task once
(beam K, n-best list) for sequence-level KD; the lists go into the n-best store
(:mod:`lamina.distillation.nbest`, fingerprinted by teacher weights, data and decoding settings,
reused when unchanged) and are copied into OUT for ``lamina distill --method seqkd --targets OUT``.
``--split dev`` decodes the dev sources instead (every one of them): the teacher's beam output
that ``--beam-targets OUT`` scores under a model (seed 001's p(ŷ) column), never training data."""

from __future__ import annotations

from typing import Literal

from lamina.config import setting
from lamina.results import RecordPart
from lamina.training.settings import OutputSettings, TaskSettings
from lamina.workflows import RunContext, Workflow, register_workflow


class GenerateTargetsConfig(TaskSettings, OutputSettings):
    teacher: str = setting(
        ...,
        "The trained seq2seq teacher (folder, alias or hub id).",
        missing="give the teacher model (a folder) as the first argument",
    )
    task: str = setting("multi30k", "A seq2seq task: multi30k, bbc-headline or pairs.", flag="-t")
    num_beams: int = setting(5, "Beam size of the teacher's decoding (1: greedy).", ge=1)
    split: Literal["train", "dev"] = setting(
        "train",
        "Decode the training sources (for --method seqkd; --max-train-samples picks a subset) or every dev "
        "source (for --beam-targets).",
    )
    n_best: int = setting(1, "Hypotheses kept per source (best first; Seq-Inter picks among them).", ge=1)
    max_length: int = setting(128, "Source tokens (truncation).", ge=2)
    batch_size: int = setting(32, "Sources decoded per batch.", ge=1)
    max_train_samples: int | None = setting(
        None, "Train on a seeded subset of N examples (stratified by label for classification).", ge=1
    )
    seed: int = setting(42, "Seed of the subset.")
    cache_dir: str | None = setting(None, "n-best store folder (default: lamina's cache, teacher_nbest/).")


class GenerationSection(RecordPart):
    """``record["generation"]`` (the key records have always used): the n-best targets made or reused."""

    entry: str
    reused: bool
    split: str
    pairs: int
    decoding: dict[str, int | None]  # num_beams, n_best, max_new_tokens, max_length
    fingerprint: str
    seconds: float | None = None  # (None when reused)
    examples_per_second: float | None = None


@register_workflow("generate-targets")
class GenerateTargets(Workflow):
    """Decode a seq2seq task's training sources with a teacher (beam K, n-best) for Seq-KD / Seq-Inter
    (or, with --split dev, its dev sources for --beam-targets)."""

    Config = GenerateTargetsConfig
    arguments = ("teacher",)
    in_reports = False  # targets, not a model's scores
    Section = GenerationSection
    section_key = "generation"

    def run(self, cfg: GenerateTargetsConfig, ctx: RunContext) -> dict:
        return run_generate_targets(cfg, log=ctx.log)

    def show(self, record, cfg, echo) -> None:
        g = record["generation"]
        how = "reused" if g["reused"] else f"{g['examples_per_second']:.1f} examples/s"
        echo(
            f"{g['pairs']} {g['split']} pairs, beam {g['decoding']['num_beams']}, n-best {g['decoding']['n_best']} ({how}); "
            f"saved to {cfg.output}"
        )


def run_generate_targets(cfg: GenerateTargetsConfig, *, log=print) -> dict:
    import shutil
    import time
    from pathlib import Path

    from lamina.data.encode import subset
    from lamina.distillation.nbest import META_FILE, TARGETS_FILE, build_or_open
    from lamina.errors import LaminaError
    from lamina.io import atomic_output_dir, check_output_dir
    from lamina.models.bundled import cache_dir
    from lamina.results import RESULTS_FILE, finish_record, new_record, write_record
    from lamina.tasks.objectives import objective_for

    task = cfg.get_task()
    objective = objective_for(task)
    if not objective.has("pairs"):
        raise LaminaError(f"generate-targets needs a seq2seq task (multi30k, bbc-headline, pairs), not '{task.name}'")
    check_output_dir(cfg.output, overwrite=cfg.overwrite)
    record = new_record("generate-targets", model=cfg.teacher, task=task.name, config=cfg.model_dump(), seed=cfg.seed)
    raw = objective.raw_data(task, cfg.data_dir)
    teacher, tokenizer, _ = objective.load_model(cfg.teacher, task, train=False)
    if tokenizer is None:
        raise LaminaError(f"the teacher '{cfg.teacher}' has no tokenizer")
    objective.check_positions(teacher.config, tokenizer, cfg.max_length, task)
    pairs = (
        subset(raw["train"], cfg.max_train_samples, cfg.seed, stratify=False)
        if cfg.split == "train"
        else raw[cfg.split]
    )
    decoding = {
        "num_beams": cfg.num_beams,
        "n_best": cfg.n_best,
        "max_new_tokens": task.max_new_tokens,
        "max_length": cfg.max_length,
    }
    root = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else cache_dir() / "teacher_nbest"
    start = time.perf_counter()
    entry, meta, reused = build_or_open(
        teacher,
        tokenizer,
        list(pairs["source"]),
        list(pairs["target"]),
        root=root,
        decoding=decoding,
        batch_size=cfg.batch_size,
        split=cfg.split,
        log=log,
    )
    seconds = time.perf_counter() - start
    record["generation"] = {
        "entry": str(entry),
        "reused": reused,
        "split": cfg.split,
        "pairs": meta["pairs"],
        "decoding": decoding,
        "fingerprint": meta["fingerprint"],
        "seconds": None if reused else seconds,
        "examples_per_second": None if reused else meta["pairs"] / seconds,
    }
    with atomic_output_dir(cfg.output, overwrite=cfg.overwrite) as tmp:
        for name in (TARGETS_FILE, META_FILE):
            shutil.copyfile(entry / name, tmp / name)
        finish_record(record)
        write_record(tmp / RESULTS_FILE, record)
    return record
