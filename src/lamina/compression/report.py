"""``OUT/report/``: every shape timed, as a table (``candidates.md``), and the healed candidates'
dev score against their measured batch-1 latency (``pareto.png``: marker area for the bytes
shipped, the Pareto front joined, the chosen one circled, the input model for reference)."""

from __future__ import annotations

from pathlib import Path


def table(section: dict) -> list[str]:
    """Markdown lines: one row per shape timed, the healed ones with their score."""
    budget = section["budget"]
    lines = [
        f"| shape (layers:FFN:heads:hidden) | parameters | MB ({section['backend']}) | samples/s | speed-up "
        "| latency ms (batch 1) | meets budget | probe loss | dev score | drop (points) | |",
        "|---|---:|---:|---:|---:|---:|:-:|---:|---:|---:|---|",
    ]
    for s in section["shapes"]:
        m = s["measured"]
        score = "" if s.get("score") is None else f"{s['score']:.2f}"
        drop = "" if s.get("drop") is None else f"{s['drop']:+.2f}"
        probe = "" if s.get("probe_loss") is None else f"{s['probe_loss']:.4f}"
        note = "**chosen**" if s["name"] == section.get("chosen") else s.get("status", "")
        lines.append(
            f"| {s['name']} | {m['parameters']:,} | {m['megabytes']:.1f} | {m['samples_per_second']:.1f} "
            f"| {m['speedup']:.2f}x | {m['latency_ms']:.2f} | {'yes' if s['meets'] else 'no'} | {probe} "
            f"| {score} | {drop} | {note} |"
        )
    lines.append("")
    lines.append(
        f"Budget `{budget['text']}`; input model: {section['reference']['score']:.2f} dev, "
        f"{section['reference']['torch']['samples_per_second']:.1f} samples/s (PyTorch fp32), "
        f"{section['reference']['backend']['latency_ms']:.2f} ms batch-1 latency on {section['backend']}."
    )
    return lines


def plot(section: dict, path: Path) -> Path | None:
    """Score vs batch-1 latency of the healed candidates and the input model (None: nothing healed)."""
    from lamina.reports.plots import _pyplot, _save
    from lamina.reports.tables import pareto_front

    healed = [s for s in section["shapes"] if s.get("score") is not None]
    if not healed:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    ref = section["reference"]
    points = [(s["measured"]["latency_ms"], s["score"], s["name"], s["measured"]["bytes"]) for s in healed]
    points.append((ref["backend"]["latency_ms"], ref["score"], "input model", ref["backend"]["bytes"]))
    largest = max(p[3] for p in points) or 1
    for lat, score, name, nbytes in points:
        colour = "tab:gray" if name == "input model" else "tab:blue"
        ax.scatter(
            [lat], [score], s=40 + 600 * nbytes / largest, color=colour, alpha=0.55, edgecolors="black", linewidths=0.5
        )
        ax.annotate(
            f"{name} ({nbytes / 1e6:.1f} MB)", (lat, score), fontsize=7, xytext=(4, 4), textcoords="offset points"
        )
        if name == section.get("chosen"):
            ax.scatter(
                [lat], [score], s=900, facecolors="none", edgecolors="tab:red", linewidths=2, label=f"chosen: {name}"
            )
    # the front: faster is better, so negate the latency for pareto_front's "higher is better" axes
    front = sorted(pareto_front([(-lat, score, name) for lat, score, name, _ in points]), key=lambda p: -p[0])
    ax.plot([-p[0] for p in front], [p[1] for p in front], color="tab:red", linewidth=1, label="Pareto front")
    budget = section["budget"]
    if budget["kind"] == "latency_ms":
        ax.axvline(budget["value"], linestyle="--", color="gray", label=budget["text"])
    ax.set_xlabel(
        f"latency, batch 1 × {section['reference']['backend']['seq_len']} tokens, {section['backend']} "
        "(ms, measured once per shape)"
    )
    ax.set_ylabel(f"{section['metric']} (dev, points)")
    ax.set_title(f"lamina compress {budget['text']}: healed candidates (marker area: bytes shipped)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)


def card(record: dict, name: str) -> list[str]:
    """The model card of a ``lamina compress`` output (its kind's ``card`` hook)."""
    from lamina.models.card import front_matter, onnx_usage, provenance, usage

    c, sizes = record["compress"], record["sizes"]
    chosen = next(s for s in c["shapes"] if s["name"] == c["chosen"])
    m, ref = chosen["measured"], c["reference"]
    healed = [s for s in c["shapes"] if s.get("score") is not None]
    lines = [
        *front_matter(["lamina", "compression", "knowledge-distillation", f"task:{record['task']}"]),
        f"# {name}",
        "",
        f"`{record['model']}` compressed by lamina (`lamina compress`) to the budget **{c['budget']['text']}** "
        f"on `{c['backend']}`: shape {chosen['name']} (layers:FFN:heads:hidden), {m['speedup']:.2f}x the input "
        f"model's throughput, {m['latency_ms']:.2f} ms at batch 1, {sizes['parameters']:,} parameters, "
        f"{m['megabytes']:.1f} MB; dev {c['metric']} {chosen['score']:.2f} against the input model's "
        f"{ref['score']:.2f} (a drop of {chosen['drop']:.2f} points).",
        "",
    ]
    if c.get("notice"):
        lines += [f"**{c['notice']}**", ""]
    lines += [
        "## How it was made",
        "",
        f"- **Budget:** {c['budget']['text']}; accepted drop {c['max_drop']:g} points; time budget "
        f"{c['time_budget_seconds'] / 60:g} min ({c['seconds_spent'] / 60:.1f} min spent)",
        f"- **Search:** {c['grid_size']} shapes on the grid (depth × FFN 1, 1/2, 1/4 × heads/hidden 1, 1/2); "
        f"{len(c['shapes'])} timed on this machine ({m['threads']} threads, median of {m['repeats']}, "
        f"throughput at {m['batch_size']} × {m['seq_len']} tokens, latency at 1 × {m['seq_len']}), once each, "
        f"on models of each shape (speed does not depend on the weights); "
        f"{sum(s['meets'] for s in c['shapes'])} met the budget",
        f"- **Ranking:** each shape that met it cut from the teacher (`{c['heal']['strategy']}` layers, "
        f"`{c['heal']['importance']}` importance) and scored, untrained, by the heal loss against the teacher "
        "on a few training examples",
        f"- **Healing:** {len(healed)} candidate(s) distilled from the input model (loss "
        + " + ".join(f"{w:g}·{n}" for n, w in c["heal"]["loss"].items())
        + f", T {c['heal']['temperature']:g}, lr {c['heal']['lr']:g}, "
        + (f"{c['heal']['max_steps']} steps), " if c["heal"]["max_steps"] > 0 else f"{c['heal']['epochs']:g} epochs), ")
        + "then scored on the dev set"
        + (f" on `{c['backend']}`" if c["backend"] != "torch" else ""),
        "- **Choice:** the best dev score among the healed candidates (all meet the budget by measurement)",
        "",
        "## Every shape timed",
        "",
        *table(c),
        "",
        "![score vs latency](report/pareto.png)",
        "",
        *provenance(record),
    ]
    if c["backend"] == "torch":
        lines += usage(name, "AutoModelForSequenceClassification")
    else:
        lines += [
            "## Use",
            "",
            "With `onnxruntime` and `tokenizers` alone:",
            "",
            "```python",
            *onnx_usage(
                name,
                c["reference"].get("inputs") or ["input_ids", "attention_mask"],
                record["config"].get("max_length", 128),
            ),
            "```",
            "",
        ]
    return lines
