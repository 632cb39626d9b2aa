"""What a report shows (the ``report`` command's and recipe step's settings)."""

from __future__ import annotations

from pydantic import field_validator

from lamina.config import Settings, setting


class ReportSpec(Settings):
    title: str = setting("lamina report", "Report title.")
    intro: str = setting("", "Markdown placed under the title (what a recipe reproduces, the seed's claims).")
    configs: list[str] | None = setting(
        None, "Recipe steps (or run kinds) whose runs are rows of the configurations table (default: every run)."
    )
    depth_steps: list[str] | None = setting(
        None, "Steps shown as score vs layers kept (default: every run with a pruning strategy in its lineage)."
    )
    baseline: list[str] | None = setting(
        None, "Steps whose runs give the unpruned score per task (default: unpruned runs at the full depth)."
    )
    metrics: list[str] | None = setting(
        None,
        "Metrics shown as columns of the configurations table, repeated or comma-separated, e.g. "
        "bleu,bleu_beam5,perplexity (default: each task's main metric).",
    )
    pareto: bool = setting(True, "Score vs speed-up, one point per label, the Pareto front marked.")
    curves: list[str] = setting([], "Steps (or run kinds, e.g. finetune) whose learning curves are plotted.")
    plots: bool = setting(True, "Write PNG plots (with an output folder).")
    runs_table: bool = setting(True, "The per-run table at the end.")
    # --layers named steps here, but layers to keep in prune and a layer count in pretrain
    renamed = {"layers": "depth_steps"}

    @field_validator("metrics", mode="before")
    @classmethod
    def _split_metrics(cls, value):
        if isinstance(value, str):
            value = [value]
        return None if value is None else [m.strip() for v in value for m in str(v).split(",") if m.strip()]
