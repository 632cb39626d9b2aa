"""Assemble a report: Markdown (and CSV) over results records, with PNG plots."""

from __future__ import annotations

from pathlib import Path

from lamina.reports.collect import Row, load_rows, measures_another
from lamina.reports.runs import find_results, report_rows, to_csv, to_markdown
from lamina.reports.spec import ReportSpec
from lamina.reports.tables import configs_table, latency_table, layers_table, pareto_table, tasks_of


def _select(rows: list[Row], steps: list[str] | None, default) -> list[Row]:
    """Rows of the named recipe steps (or run kinds); ``default(row)`` decides when None."""
    if steps is None:
        return [r for r in rows if default(r)]
    return [r for r in rows if r.step in steps or r.kind in steps]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)


def build_report(
    paths, spec: ReportSpec | None = None, *, plots_dir: Path | None = None, meta: dict | None = None, kinds=None
):
    """(markdown, csv, written plot paths) for the results JSON under ``paths`` (of ``kinds`` only, when given)."""
    from lamina.reports import plots

    spec = spec or ReportSpec()
    meta = meta or {}
    found = find_results(paths, kinds)
    rows = load_rows(found)
    scored = [r for r in rows if r.score is not None]
    depth = max((r.full_layers for r in scored if r.full_layers), default=None)
    configs = _select(scored, spec.configs, lambda r: not measures_another(r, rows))
    baseline = _select(
        scored, spec.baseline, lambda r: r.strategy is None and r.kind == "finetune" and r.layers == depth
    )
    layered = _select(scored, spec.depth_steps, lambda r: r.strategy is not None)
    curved = _select(rows, spec.curves, lambda r: False)
    written: list[Path] = []
    draw = plots_dir is not None and spec.plots

    md = [f"# {spec.title}", ""]
    if meta.get("description"):
        md += [meta["description"].strip(), ""]
    if spec.intro:
        md += [spec.intro.strip(), ""]
    if meta.get("form"):
        md += [f"**Form:** `{meta['form']}`: {meta.get('form_description') or ''}".rstrip(), ""]
    if meta.get("command"):
        md += ["**Command:**", "", "```bash", meta["command"], "```", ""]
    if configs:
        md += [
            "## Scores",
            "",
            ("Dev metrics (fractions ×100)" if spec.metrics else "Main dev metric ×100")
            + ", mean ± std over seeds (number of seeds in brackets). Speed-up: CPU "
            "throughput of the pruned architecture over the unpruned one, measured by `lamina prune` "
            "(min–max over interleaved rounds); latency (batch 1) and samples/s: `lamina eval`'s timing "
            "(median, min–max over repeats). Models of one shape and backend share one measurement.",
            "",
            configs_table(configs, spec.metrics),
            "",
        ]
    tasks = tasks_of(layered)
    if tasks:
        md += ["## Score vs layers kept", ""]
        for task in tasks:
            md += [f"### {task}", "", layers_table(layered, baseline, task), ""]
            if draw:
                p = plots.plot_layers(layered, baseline, task, plots_dir / f"layers-{_slug(task)}.png")
                if p:
                    written.append(p)
                    md += [f"![score vs layers kept, {task}]({p.name})", ""]
    if spec.pareto:
        pareto_rows = configs + [r for r in baseline if r not in configs]
        views = (
            (
                "Score vs speed-up",
                pareto_table,
                plots.plot_pareto,
                "pareto",
                "score vs speed-up",
                "Pareto-optimal configurations (no other is both faster and better):",
            ),
            (
                "Score vs latency and size",
                latency_table,
                plots.plot_latency,
                "latency",
                "score vs latency",
                "CPU latency at batch 1 (median, min–max over repeats; models of one shape and backend share one "
                "measurement), bytes on disk, and the Pareto front across pruning, distillation and quantisation "
                "(no other configuration is both faster and better):",
            ),
        )
        for heading, make_table, plot, prefix, alt, caption in views:
            sections = []
            for task in tasks_of(pareto_rows):
                table = make_table(pareto_rows, task)
                if not table:
                    continue
                sections += [f"### {task}", "", caption, "", table, ""]
                if draw:
                    p = plot(pareto_rows, task, plots_dir / f"{prefix}-{_slug(task)}.png")
                    if p:
                        written.append(p)
                        sections += [f"![{alt}, {task}]({p.name})", ""]
            if sections:
                md += [f"## {heading}", "", *sections]
    if curved and draw:
        curve_md = []
        for task in tasks_of(curved):
            p = plots.plot_curves(curved, task, plots_dir / f"curves-{_slug(task)}.png")
            if p:
                written.append(p)
                curve_md += [f"![learning curves, {task}]({p.name})", ""]
        if curve_md:
            md += [
                "## Learning curves",
                "",
                "Training loss and dev metric per logged step, one line per run.",
                "",
                *curve_md,
            ]
    columns, flat = report_rows(found)
    if spec.runs_table:
        md += ["## All runs", "", to_markdown(columns, flat)]
    return "\n".join(md).rstrip() + "\n", to_csv(columns, flat), written


def write_report(
    paths, output: str | Path, spec: ReportSpec | None = None, *, meta: dict | None = None, kinds=None
) -> dict:
    """report.md, report.csv and the PNG plots in ``output``."""
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):  # plots of an earlier report that may no longer apply
        old.unlink()
    md, csv, plots = build_report(paths, spec, plots_dir=out, meta=meta, kinds=kinds)
    (out / "report.md").write_text(md, encoding="utf-8")
    (out / "report.csv").write_text(csv, encoding="utf-8")
    return {"markdown": out / "report.md", "csv": out / "report.csv", "plots": plots, "text": md}
