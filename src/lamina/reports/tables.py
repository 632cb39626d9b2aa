"""Markdown tables in the seeds' shapes: configurations × tasks (the blog's table) and
strategies × layers kept (Poor Man's BERT's figures), mean ± std over seeds."""

from __future__ import annotations

import statistics

from lamina.reports.collect import Group, Row, group
from lamina.reports.runs import to_markdown


def score_text(g: Group | None) -> str:
    if g is None or g.mean is None:
        return "–"
    scale = 100 if all(abs(s) <= 1 for s in g.scores) else 1
    text = f"{scale * g.mean:.2f}"
    if g.std is not None:
        text += f" ± {scale * g.std:.2f}"
    return text + (f" ({len(g.scores)})" if len(g.scores) > 1 else "")


def _speed(x: float | None, spread: tuple | None = None) -> str:
    if x is None:
        return "–"
    return f"{x:.2f}x" + (f" ({spread[0]:.2f}–{spread[1]:.2f})" if spread else "")


def _figure(x: float | None, spread: tuple | None, fmt: str = "{:.1f}") -> str:
    """A speed figure with its spread (min–max over repeats)."""
    if x is None:
        return "–"
    return fmt.format(x) + (f" ({fmt.format(spread[0])}–{fmt.format(spread[1])})" if spread else "")


def _megabytes(n: int | None) -> str:
    return "–" if not n else f"{n / 1e6:.1f}"


def tasks_of(rows: list[Row]) -> list[str]:
    return list(dict.fromkeys(r.task for r in rows if r.task))


def configuration(rows: list[Row]):
    """``row → name`` of its configuration: its label, and its depth where one label spans
    several depths (a recipe step over drop counts), so that depths never average together."""
    depths: dict[str, set] = {}
    for r in rows:
        depths.setdefault(r.label, set()).add(r.layers)
    return lambda r: f"{r.label}, {r.layers} layers" if len(depths[r.label]) > 1 else r.label


def metric_text(rows: list[Row], metric: str) -> str:
    """``metric`` of the rows (seeds), mean ± std, shown as :func:`lamina.eval.metrics.shown` shows it
    (fractions ×100); "–" where no row has it."""
    from lamina.eval.metrics import is_fraction

    values = [r.metrics[metric] for r in rows if isinstance(r.metrics.get(metric), (int, float))]
    if not values:
        return "–"
    scale = 100 if all(is_fraction(metric, v) for v in values) else 1
    mean = statistics.fmean(values)
    text = f"{scale * mean:.2f}"
    if len(values) > 1:
        text += f" ± {scale * statistics.stdev(values):.2f} ({len(values)})"
    return text


def configs_table(rows: list[Row], metrics: list[str] | None = None) -> str:
    """One row per configuration, one column per task (main metric, mean ± std (seeds)); with
    ``metrics``, one column per task and metric of these."""
    tasks = tasks_of(rows)
    name = configuration(rows)
    metric_of = {t: next((r.metric for r in rows if r.task == t and r.metric), "") for t in tasks}
    cells = {g.key: g for g in group(rows, lambda r: (name(r), r.task))}
    shown_metrics = [(t, m, f"{t} ({m})" if len(tasks) > 1 else m) for t in tasks for m in metrics or ()]
    timed = any(r.latency_ms is not None or r.throughput is not None for r in rows)
    exported = any(r.backend != "torch" for r in rows)
    shaped = any(r.shape and "×" in r.shape for r in rows)  # (records written before shapes: layers alone)
    columns = [
        "configuration",
        *(["backend"] if exported else []),
        "layers",
        *(["shape (L×H×A×FFN)"] if shaped else []),
        "parameters",
        "speed-up",
        *(["latency b=1 (ms)", "samples/s", "MB on disk"] if timed else []),
    ]
    columns += [c for _, _, c in shown_metrics] if metrics else [f"{t} ({metric_of[t]})" for t in tasks]
    table = []
    for g in group(rows, lambda r: (name(r),)):
        first = g.first
        row = {
            "configuration": g.key[0],
            "backend": first.backend,
            "layers": first.layers if first.layers is not None else "–",
            "shape (L×H×A×FFN)": first.shape or "–",
            "parameters": f"{first.parameters / 1e6:.1f}M" if first.parameters else "–",
            "speed-up": _speed(g.speedup, first.speedup_range if first.backend == "torch" else None),
            "latency b=1 (ms)": _figure(first.latency_ms, first.latency_range),
            "samples/s": _figure(first.throughput, first.throughput_range),
            "MB on disk": _megabytes(first.bytes),
        }
        if metrics:
            for t, m, column in shown_metrics:
                cell = cells.get((g.key[0], t))
                row[column] = metric_text(cell.rows if cell else [], m)
        else:
            for t in tasks:
                row[f"{t} ({metric_of[t]})"] = score_text(cells.get((g.key[0], t)))
        table.append(row)
    return to_markdown(columns, table)


def layers_table(rows: list[Row], baseline: list[Row], task: str) -> str:
    """Rows = label (strategy), columns = layers kept (most first); the baseline first."""
    rows = [r for r in rows if r.task == task and r.layers is not None]
    base = [r for r in baseline if r.task == task]
    counts = sorted({r.layers for r in rows + base if r.layers is not None}, reverse=True)
    columns = ["strategy"] + [f"{n} layers" for n in counts]
    table = []
    for g in group(base, lambda r: (r.label,)):
        table.append(
            {"strategy": g.first.label, **{f"{n} layers": score_text(g) if n == g.first.layers else "" for n in counts}}
        )
    cells = {g.key: g for g in group(rows, lambda r: (r.series, r.layers))}
    for label in dict.fromkeys(r.series for r in rows):
        table.append({"strategy": label, **{f"{n} layers": score_text(cells.get((label, n))) for n in counts}})
    return to_markdown(columns, table)


def pareto_front(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """The points no other point beats on both speed-up and score, by increasing speed-up."""
    front = []
    for p in sorted(points, key=lambda p: (-p[0], -p[1])):  # fastest first
        if not front or p[1] > front[-1][1]:
            front.append(p)
    return sorted(front)


def pareto_points(rows: list[Row], task: str) -> list[tuple[float, float, str]]:
    pts = []
    name = configuration(rows)
    for g in group([r for r in rows if r.task == task], lambda r: (name(r),)):
        if g.mean is not None and g.speedup is not None:
            pts.append((g.speedup, g.mean, g.key[0]))
    return pts


def pareto_table(rows: list[Row], task: str) -> str:
    front = pareto_front(pareto_points(rows, task))
    if not front:
        return ""
    table = [
        {"configuration": label, "speed-up": _speed(s), "score": f"{100 * m:.2f}" if abs(m) <= 1 else f"{m:.2f}"}
        for s, m, label in front
    ]
    return to_markdown(["configuration", "speed-up", "score"], table)


def latency_points(rows: list[Row], task: str) -> list[tuple[float, float, str, int | None]]:
    """(latency ms, mean score, configuration, bytes) per configuration with a latency."""
    pts = []
    name = configuration(rows)
    for g in group([r for r in rows if r.task == task], lambda r: (name(r),)):
        if g.mean is not None and g.first.latency_ms is not None:
            pts.append((g.first.latency_ms, g.mean, g.key[0], g.first.bytes))
    return pts


def latency_front(points: list[tuple]) -> list[tuple]:
    """The points no other point beats on both latency (lower) and score (higher), fastest first."""
    front = []
    for p in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or p[1] > front[-1][1]:
            front.append(p)
    return front


def latency_table(rows: list[Row], task: str) -> str:
    pts = latency_points(rows, task)
    front = latency_front(pts)
    if len(pts) < 2:
        return ""
    by_label = {r.label: r for r in rows if r.task == task}
    table = []
    for lat, m, label, nbytes in sorted(pts):
        r = by_label.get(label)
        table.append(
            {
                "configuration": label,
                "backend": r.backend if r else "",
                "latency b=1 (ms)": _figure(lat, r.latency_range if r else None),
                "MB on disk": _megabytes(nbytes),
                "score": f"{100 * m:.2f}" if abs(m) <= 1 else f"{m:.2f}",
                "Pareto": "yes" if any(p[2] == label for p in front) else "",
            }
        )
    return to_markdown(["configuration", "backend", "latency b=1 (ms)", "MB on disk", "score", "Pareto"], table)
