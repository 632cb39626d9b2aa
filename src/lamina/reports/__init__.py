"""``lamina report`` and the recipes' ``report`` step: Markdown tables in the seeds' shapes
plus PNG plots (score vs layers kept, score vs speed-up, learning curves).

``build.py`` assembles a report, ``runs.py`` finds the records and makes the per-run table,
``collect.py`` turns records into rows (main score, lineage, curves), ``tables.py`` and
``plots.py`` draw them, ``spec.py`` says what a report shows. Imports here are lazy, so the
command line starts without numpy or matplotlib.
"""

from __future__ import annotations


def __getattr__(name):
    if name in ("build_report", "write_report"):
        from lamina.reports import build

        return getattr(build, name)
    if name == "ReportSpec":
        from lamina.reports.spec import ReportSpec

        return ReportSpec
    raise AttributeError(name)


__all__ = ["ReportSpec", "build_report", "write_report"]
