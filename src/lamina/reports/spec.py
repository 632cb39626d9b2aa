"""What a report shows (the ``report`` step's args; ``lamina report`` uses the defaults)."""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field


class ReportSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = "lamina report"
    intro: str = ""  # Markdown placed under the title (what the recipe reproduces, the seed's claims)
    # steps (recipe step names, or run kinds outside recipes) whose runs are rows of the
    # configurations table (rows = label, one column per task); None = every run
    configs: Optional[list[str]] = None
    # steps shown as score vs layers kept (one line per label); None = every run with a
    # pruning strategy in its lineage
    layers: Optional[list[str]] = None
    # steps whose runs give the unpruned score per task (a dashed line in the layers plots);
    # None = the runs with no pruning in their lineage at the full depth
    baseline: Optional[list[str]] = None
    pareto: bool = True  # score vs speed-up, one point per label, the Pareto front marked
    curves: list[str] = Field(default_factory=list)  # steps whose learning curves are plotted
    plots: bool = True  # write PNG plots (matplotlib)
    runs_table: bool = True  # the per-run table at the end


class ReportStepArgs(ReportSpec):
    output: str

    def spec(self) -> ReportSpec:
        return ReportSpec(**self.model_dump(exclude={"output"}))
