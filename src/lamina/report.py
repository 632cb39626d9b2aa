"""Terminal tables for command results (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

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
