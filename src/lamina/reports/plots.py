"""PNG plots with matplotlib (Agg backend, no display needed)."""

from __future__ import annotations

from pathlib import Path

from lamina.reports.collect import Row, group
from lamina.reports.tables import latency_front, latency_points, pareto_front, pareto_points


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _scale(rows: list[Row]) -> float:
    return 100.0 if all(r.score is None or abs(r.score) <= 1 for r in rows) else 1.0


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def plot_layers(rows: list[Row], baseline: list[Row], task: str, path: Path, *, title: str = "") -> Path | None:
    """Score vs layers kept: one line per label (mean ± std over seeds), the baseline dashed."""
    rows = [r for r in rows if r.task == task and r.layers is not None and r.score is not None]
    if not rows:
        return None
    plt = _pyplot()
    scale = _scale(rows)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label in dict.fromkeys(r.series for r in rows):
        groups = sorted(group([r for r in rows if r.series == label], lambda r: (r.layers,)), key=lambda g: g.key)
        xs = [g.key[0] for g in groups]
        ys = [scale * g.mean for g in groups]
        errs = [scale * (g.std or 0.0) for g in groups]
        ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, label=label)
    for g in group([r for r in baseline if r.task == task and r.score is not None], lambda r: (r.label,)):
        ax.axhline(scale * g.mean, linestyle="--", color="gray", label=f"{g.first.label} ({g.first.layers} layers)")
    ax.set_xlabel("layers kept")
    ax.set_ylabel(f"{rows[0].metric} ({task} dev)")
    ax.set_xticks(sorted({r.layers for r in rows}))
    ax.set_title(title or f"{task}: score vs layers kept")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


def plot_pareto(rows: list[Row], task: str, path: Path, *, title: str = "") -> Path | None:
    """Score vs speed-up, one point per label; the Pareto front joined by a line."""
    pts = pareto_points(rows, task)
    if len(pts) < 2:
        return None
    plt = _pyplot()
    scale = _scale([r for r in rows if r.task == task])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter([p[0] for p in pts], [scale * p[1] for p in pts], color="tab:blue", alpha=0.6)
    front = pareto_front(pts)
    ax.plot([p[0] for p in front], [scale * p[1] for p in front], color="tab:red", marker="o", label="Pareto front")
    for s, m, label in pts:
        ax.annotate(label, (s, scale * m), fontsize=6, xytext=(3, 3), textcoords="offset points")
    metric = next((r.metric for r in rows if r.task == task and r.metric), "score")
    ax.set_xlabel("CPU speed-up vs the unpruned model (lamina prune's timing, or lamina eval's throughput)")
    ax.set_ylabel(f"{metric} ({task} dev)")
    ax.set_title(title or f"{task}: score vs speed-up")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_latency(rows: list[Row], task: str, path: Path, *, title: str = "") -> Path | None:
    """Score vs CPU latency (batch 1, with its min–max as error bars), marker area for bytes on
    disk, one point per configuration (PyTorch, ONNX or int8 alike); the Pareto front joined."""
    pts = latency_points(rows, task)
    if len(pts) < 2:
        return None
    plt = _pyplot()
    scale = _scale([r for r in rows if r.task == task])
    by_label = {r.label: r for r in rows if r.task == task}
    largest = max((p[3] or 0) for p in pts) or 1
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    colours = {"torch": "tab:blue", "torch-int8": "tab:purple", "onnx": "tab:green", "onnx-int8": "tab:orange"}
    shown: set[str] = set()
    for lat, m, label, nbytes in pts:
        r = by_label.get(label)
        backend = r.backend if r else "torch"
        size = 40 + 600 * (nbytes or 0) / largest
        spread = r.latency_range if r and r.latency_range else (lat, lat)
        ax.errorbar(
            [lat],
            [scale * m],
            xerr=[[lat - spread[0]], [spread[1] - lat]],
            fmt="none",
            ecolor="gray",
            alpha=0.6,
            capsize=2,
        )
        ax.scatter(
            [lat],
            [scale * m],
            s=size,
            color=colours.get(backend, "tab:gray"),
            alpha=0.55,
            edgecolors="black",
            linewidths=0.5,
            label=backend if backend not in shown else None,
        )
        shown.add(backend)
        note = f"{label} ({nbytes / 1e6:.0f} MB)" if nbytes else label
        ax.annotate(note, (lat, scale * m), fontsize=6, xytext=(4, 4), textcoords="offset points")
    front = latency_front(pts)
    ax.plot([p[0] for p in front], [scale * p[1] for p in front], color="tab:red", linewidth=1, label="Pareto front")
    metric = next((r.metric for r in rows if r.task == task and r.metric), "score")
    lats = [p[0] for p in pts]
    if min(lats) > 0 and max(lats) / min(lats) > 20:
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")  # int8 ONNX next to fp32 PyTorch spans orders of magnitude on a busy machine
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("CPU latency, batch 1 (ms; bars: min–max over repeats)")
    ax.set_ylabel(f"{metric} ({task} dev)")
    ax.set_title(title or f"{task}: score vs latency (marker area: bytes on disk)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, markerscale=0.4)
    return _save(fig, path)


def plot_curves(rows: list[Row], task: str, path: Path, *, title: str = "") -> Path | None:
    """Learning curves: training loss and the main dev metric against steps, one colour per label."""
    rows = [r for r in rows if r.task == task and r.curve]
    if not rows:
        return None
    plt = _pyplot()
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 4))
    colours = {label: f"C{i % 10}" for i, label in enumerate(dict.fromkeys(r.label for r in rows))}
    shown: set[str] = set()
    for r in rows:
        c = colours[r.label]
        legend = r.label if r.label not in shown else None
        shown.add(r.label)
        loss = r.curve.get("train/loss") or []
        if loss:
            ax_loss.plot([p[0] for p in loss], [p[1] for p in loss], color=c, alpha=0.8, linewidth=1, label=legend)
        metric = r.curve.get(f"eval/{r.metric}") or []
        if metric:
            scale = 100 if all(abs(p[1]) <= 1 for p in metric) else 1
            ax_metric.plot(
                [p[0] for p in metric],
                [scale * p[1] for p in metric],
                color=c,
                marker="o",
                markersize=3,
                linewidth=1,
                label=legend,
            )
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss")
    ax_metric.set_xlabel("step")
    ax_metric.set_ylabel(f"dev {rows[0].metric}")
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
    ax_metric.legend(fontsize=7)
    fig.suptitle(title or f"{task}: learning curves")
    return _save(fig, path)
