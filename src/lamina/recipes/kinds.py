"""Step kinds: what a recipe step can do. One registered class per kind.

A kind validates a run's ``args`` into the config object of the workflow it calls
(``config``) and runs it (``run``), writing the run's folder (``output``) atomically with
``lamina_results.json`` inside, which is what makes a run complete. Adding a kind is one
``@register_kind`` class here or in your own code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lamina.errors import LaminaError
from lamina.registry import Registry

STEP_KINDS = Registry("step kind")
register_kind = STEP_KINDS.register


class RunContext:
    """What a kind gets besides its args: where the recipe writes and how to talk."""

    def __init__(self, *, data_dir: str | None, results_dir: Path, log=print, callbacks=None, report_meta=None):
        self.data_dir = data_dir
        self.results_dir = results_dir
        self.log = log
        self.callbacks = callbacks or []
        self.report_meta = report_meta or {}


class StepKind:
    name: str
    trains = False  # a Trainer run: an interrupted one resumes from OUT.work
    takes_data_dir = True  # the recipe's data_dir is passed unless the args give one
    always_runs = False  # never "complete": re-run every time (reports)

    def schema(self) -> type[BaseModel]:
        raise NotImplementedError

    def defaults(self) -> dict:
        return {}

    def config(self, args: dict, output: str, ctx_data_dir: str | None):
        """Validate ``args`` (plus the runner's output folder) into the workflow's config."""
        values = {**self.defaults(), **args, "output": output}
        if self.takes_data_dir and ctx_data_dir and not values.get("data_dir"):
            values["data_dir"] = ctx_data_dir
        try:
            return self.schema()(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(map(str, err["loc"]))
            msg = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
            raise LaminaError(f"{self.name} args: {where + ': ' if where else ''}{msg}") from None

    def run(self, cfg, ctx: RunContext) -> dict:
        raise NotImplementedError


class _TrainingKind(StepKind):
    trains = True

    def defaults(self) -> dict:
        return {"progress": False}  # the recipe shows one progress display of its own


@register_kind("finetune")
class FinetuneKind(_TrainingKind):
    def schema(self):
        from lamina.training.finetune import FinetuneConfig

        return FinetuneConfig

    def run(self, cfg, ctx):
        from lamina.training.finetune import run_finetune

        return run_finetune(cfg, callbacks=ctx.callbacks)


@register_kind("distill")
class DistillKind(_TrainingKind):
    def schema(self):
        from lamina.distill.run import DistillConfig

        return DistillConfig

    def run(self, cfg, ctx):
        from lamina.distill.run import run_distill

        return run_distill(cfg, callbacks=ctx.callbacks, log=ctx.log)


@register_kind("pretrain")
class PretrainKind(_TrainingKind):
    takes_data_dir = False

    def schema(self):
        from lamina.training.pretrain import PretrainConfig

        return PretrainConfig

    def run(self, cfg, ctx):
        from lamina.training.pretrain import run_pretrain

        return run_pretrain(cfg, callbacks=ctx.callbacks)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PruneArgs(_Args):
    """``lamina prune`` as recipe args."""

    model: str
    output: str
    strategy: str = "top"
    drop: Optional[int] = Field(None, ge=0)
    keep: Optional[int] = Field(None, ge=1)
    layers: Optional[list[int]] = None
    parity: str = "odd"
    calib_data: Optional[str] = None
    calib_samples: int = Field(256, ge=1)
    max_length: int = Field(128, ge=2)
    data_dir: Optional[str] = None
    speed: bool = True
    speed_batch_size: int = Field(8, ge=1)
    speed_seq_len: int = Field(128, ge=2)


@register_kind("prune")
class PruneKind(StepKind):
    def schema(self):
        return PruneArgs

    def run(self, cfg: PruneArgs, ctx):
        from lamina.pruning import Calibration, PruneRequest, run_prune

        strategy = "explicit" if cfg.layers is not None else cfg.strategy
        return run_prune(
            PruneRequest(
                model=cfg.model, output=cfg.output, strategy=strategy, drop=cfg.drop, keep=cfg.keep, layers=cfg.layers,
                strategy_options={"parity": cfg.parity} if strategy == "alternate" else {},
                calibration=Calibration(cfg.calib_data, cfg.data_dir, cfg.calib_samples, cfg.max_length),
                measure_speed=cfg.speed, speed_batch_size=cfg.speed_batch_size, speed_seq_len=cfg.speed_seq_len,
                overwrite=True,
            )
        )


class EvalArgs(_Args):
    """``lamina eval`` as recipe args; the record is written to the run's folder."""

    model: str
    task: str
    output: str
    split: str = "dev"
    data_dir: Optional[str] = None
    max_length: int = Field(128, ge=2)
    batch_size: int = Field(64, ge=1)
    max_samples: Optional[int] = Field(None, ge=1)
    speed: bool = True
    task_options: dict[str, Any] = Field(default_factory=dict)
    depths: Optional[list[int]] = None  # also score prunings to these depths, no retraining
    strategy: str = "alternate"
    corpus: Optional[list[str]] = None  # task mlm: the text to score on


@register_kind("eval")
class EvalKind(StepKind):
    def schema(self):
        return EvalArgs

    def run(self, cfg: EvalArgs, ctx):
        from lamina.eval.evaluate import run_eval
        from lamina.io import atomic_output_dir, write_json
        from lamina.results import RESULTS_FILE

        record = run_eval(
            cfg.model, cfg.task, split=cfg.split, data_dir=cfg.data_dir, max_length=cfg.max_length,
            batch_size=cfg.batch_size, max_samples=cfg.max_samples, speed=cfg.speed,
            task_options=cfg.task_options or None, depths=cfg.depths, strategy=cfg.strategy, corpus=cfg.corpus,
        )
        with atomic_output_dir(cfg.output, overwrite=True) as tmp:
            write_json(tmp / RESULTS_FILE, record)
        return record


@register_kind("report")
class ReportKind(StepKind):
    takes_data_dir = False
    always_runs = True

    def schema(self):
        from lamina.reports.spec import ReportStepArgs

        return ReportStepArgs

    def run(self, cfg, ctx):
        from lamina.reports import write_report

        spec = cfg.spec()
        write_report([ctx.results_dir], cfg.output, spec, meta=ctx.report_meta)
        return None
