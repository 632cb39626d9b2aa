"""Terminal tables for command results (rich): what prune, inspect, eval and data print."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lamina.eval.metrics import is_fraction

console = Console()


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f} MB"


def print_inspect_table(table: dict) -> None:
    t = Table(title=f"{table['model']} ({table['architecture']}): per-layer view")
    for col in ("layer", "parameters", "contribution cos(in,out)", "angular dist(in,out)"):
        t.add_column(col, justify="right")
    for row in table["rows"]:
        t.add_row(
            str(row["layer"]),
            f"{row['parameters']:,}",
            f"{row.get('contribution_cosine', float('nan')):.4f}",
            f"{row.get('angular_distance', float('nan')):.4f}",
        )
    tot = table["totals"]
    t.add_section()
    t.add_row("total", f"{tot['parameters']:,}", "", "")
    t.add_row("in layers", f"{tot['layer_parameters']:,}", "", "")
    console.print(t)
    cal = table.get("calibration") or {}
    console.print(
        f"calibration: {cal.get('source')} · {cal.get('samples')} examples · {cal.get('tokens'):,} tokens "
        f"({'last token' if cal.get('token') == 'last' else 'all tokens'})"
    )
    blocks = ", ".join(
        f"{b['size']}→layers {b['start']}..{b['start'] + b['size'] - 1} ({b['angular_distance']:.3f})"
        for b in table.get("best_blocks", [])
    )
    if blocks:
        console.print(f"most redundant contiguous block per size (angular): {blocks}")
    console.print("high cosine / low angular distance = the layer changes its input little (a drop candidate)")


def print_prune_summary(record: dict, output: str) -> None:
    sizes, p = record["sizes"], record["prune"]
    t = Table(title=f"{record['model']} → {output}  (strategy: {record['config']['strategy']})")
    t.add_column("")
    t.add_column("before", justify="right")
    t.add_column("after", justify="right")
    t.add_column("ratio", justify="right")
    t.add_row("layers", str(sizes["layers_before"]), str(sizes["layers"]), "")
    pb, pa = sizes["parameters_before"], sizes["parameters"]
    t.add_row("parameters", f"{pb:,}", f"{pa:,}", f"{pa / pb:.2f}x")
    sb, sa = sizes.get("bytes_before"), sizes.get("bytes")
    t.add_row("weights on disk", _mb(sb), _mb(sa), f"{sa / sb:.2f}x" if sb else "")
    if record.get("speeds"):
        s = record["speeds"]
        t.add_row(
            f"samples/s (CPU, {s['batch_size']}×{s['seq_len']})",
            f"{s['before_samples_per_second']:.1f}",
            f"{s['samples_per_second']:.1f}",
            f"{s['speedup']:.2f}x",
        )
    console.print(t)
    console.print(f"kept layers {p['kept_layers']}, dropped {p['dropped_layers']}")
    console.print(f"saved to {output} (model card: {output}/README.md)")


def print_eval(record: dict) -> None:
    t = Table(title=f"{record['model']} on {record['task']} ({record['config']['split']})")
    t.add_column("")
    t.add_column("value", justify="right")
    for k, v in record["metrics"].items():
        t.add_row(k, _metric(k, v))
    sizes = record["sizes"]
    t.add_section()
    t.add_row("layers", str(sizes["layers"]))
    t.add_row("parameters", f"{sizes['parameters']:,}")
    t.add_row("weights on disk", _mb(sizes.get("bytes")))
    speeds = record.get("speeds") or {}
    if speeds:
        t.add_section()
        if speeds.get("latency_ms_batch1") is not None:
            t.add_row(f"latency, batch 1 × {speeds['seq_len']} (ms)", f"{speeds['latency_ms_batch1']:.1f}")
        for bs, r in speeds["per_batch_size"].items():
            t.add_row(f"samples/s, batch {bs} × {speeds['seq_len']}", f"{r['samples_per_second']:.1f}")
    console.print(t)
    if record.get("depths"):
        print_depths(record)


def _metric(k: str, v: float) -> str:
    return f"{100 * v:.2f}" if is_fraction(k, v) else f"{v:.4f}"


def print_depths(record: dict) -> None:
    rows = record["depths"]
    names = list(rows[0]["metrics"])
    t = Table(title=f"pruned without retraining ({record['config']['strategy']})")
    for col in ["layers", "kept layers", *names, "parameters"] + (["speed-up"] if "speedup" in rows[0] else []):
        t.add_column(col, justify="right")
    for r in rows:
        cells = [str(r["layers"]), ",".join(map(str, r["kept_layers"])), *[_metric(k, r["metrics"][k]) for k in names],
                 f"{r['parameters']:,}"]
        if "speedup" in r:
            cells.append(f"{r['speedup']:.2f}x")
        t.add_row(*cells)
    console.print(t)


def print_data_summary(summary: dict) -> None:
    console.print(f"[bold]{summary['task']}[/bold]: {summary['description']}  (source: {summary['source']})")
    t = Table()
    for col in ("split", "examples", "labels", "tokens p50", "p90", "p95", "p99", "max", "truncated@128"):
        t.add_column(col, justify="right" if col != "labels" else "left")
    for name, s in summary["splits"].items():
        lens = s["token_lengths"]
        labels = ", ".join(f"{k} {v}" for k, v in s["labels"].items()) if s["labels"] else s.get("label_range", "")
        t.add_row(
            name, f"{s['examples']:,}", labels, *(str(lens[p]) for p in ("p50", "p90", "p95", "p99", "max")),
            "-" if s["truncated_at_128"] is None else f"{100 * s['truncated_at_128']:.1f}%",
        )
    console.print(t)
    for i, ex in enumerate(summary["examples"], 1):
        text = " ".join(ex["text"].split())[:200]
        pair = "  ||  " + " ".join(ex["text_pair"].split())[:200] if ex.get("text_pair") is not None else ""
        console.print(escape(f"{i}. [{ex['label']}] {text}{pair}"))
