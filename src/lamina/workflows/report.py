"""``lamina report``: Markdown tables in the seeds' shapes plus PNG plots over results records.

As a command it reads the folders and files it is given (a recipe's output folder through
its ``results/`` and with its report step's settings); as a recipe step it reads the
recipe's gathered results. The record kinds it reads are those of the registered workflows.
"""

from __future__ import annotations

from lamina.config import setting
from lamina.reports.spec import ReportSpec
from lamina.workflows import RunContext, Workflow, record_kinds, register_workflow


class ReportConfig(ReportSpec):
    paths: list[str] = setting(
        [], "Folders (searched recursively) or JSON files of lamina runs (in a recipe: its results)."
    )
    output: str | None = setting(None, "Write report.md, report.csv and PNG plots into this folder.", flag="-o")

    def spec(self) -> ReportSpec:
        return ReportSpec(**self.model_dump(exclude={"paths", "output"}, exclude_unset=True))


@register_workflow("report")
class Report(Workflow):
    """Gather results JSON into Markdown tables (configurations × tasks, score vs layers kept,
    Pareto front of score vs speed-up, all runs) and, with -o, a CSV and PNG plots."""

    Config = ReportConfig
    arguments = ("paths",)
    always_runs = True
    in_reports = False

    def run(self, cfg: ReportConfig, ctx: RunContext) -> dict:
        from lamina.errors import LaminaError
        from lamina.reports.build import build_report, write_report
        from lamina.reports.recipe import report_inputs

        spec, meta = cfg.spec(), ctx.report_meta
        paths = list(cfg.paths)
        if ctx.in_recipe and not paths:
            paths = [str(ctx.results_dir)]
        elif not paths:
            raise LaminaError("give the folders or results JSON files to report on")
        else:
            paths, recipe_spec, recipe_meta = report_inputs(paths)
            if recipe_meta:  # a recipe's output folder: its report step's settings, then the flags
                spec = recipe_spec.model_copy(update=cfg.model_dump(exclude={"paths", "output"}, exclude_unset=True))
                meta = recipe_meta
        if cfg.output:
            written = write_report(paths, cfg.output, spec, meta=meta, kinds=record_kinds())
            return {"text": written["text"], "written": written}
        return {"text": build_report(paths, spec, meta=meta, kinds=record_kinds())[0], "written": None}

    def show(self, record, cfg, echo) -> None:
        echo(record["text"].rstrip("\n"))
        written = record["written"]
        if written:
            extra = f" and {len(written['plots'])} plots" if written["plots"] else ""
            echo(f"wrote {written['markdown']}, {written['csv']}{extra}")
