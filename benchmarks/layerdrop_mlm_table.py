"""Table in seed 002's shape and the student loss-vs-step plot, from benchmarks/layerdrop_mlm.sh's JSON.

python benchmarks/layerdrop_mlm_table.py benchmarks/results/layerdrop_mlm
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def load(folder: Path, prefix: str) -> dict[str, dict]:
    return {p.stem.removeprefix(prefix): json.loads(p.read_text()) for p in sorted(folder.glob(f"{prefix}*.json"))}


def main(folder: Path) -> None:
    teachers, depths, students = load(folder, "teacher-ld"), load(folder, "depths-ld"), load(folder, "student-ld")
    rates = sorted(teachers, key=float)
    lines = [
        "| Role | Layers | LayerDrop | Train loss (mean) | Train loss (last logged) | Eval MLM loss | "
        "Eval loss, every other layer dropped (no retraining) | Last loss | Avg cum loss | Student eval MLM loss |",
        "|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for p in rates:
        t = teachers[p]
        d = {r["layers"]: r["metrics"]["loss"] for r in depths.get(p, {}).get("depths", [])}
        lines.append(
            f"| Teacher | {t['sizes']['layers']} | {p} | {t['training']['train_loss_mean']:.4f} | "
            f"{t['training']['train_loss_last']:.4f} | {t['metrics']['loss']:.4f} | "
            f"{d.get(2, float('nan')):.4f} | – | – | – |"
        )
    for p in rates:
        s = students.get(p)
        if s is None:
            continue
        lines.append(
            f"| Student (init: teacher LD {p}, alternate) | {s['sizes']['layers']} | – | – | – | – | – | "
            f"{s['training']['train_loss_last']:.4f} | {s['training']['train_loss_mean']:.4f} | "
            f"{s['metrics']['loss']:.4f} |"
        )
    table = "\n".join(lines) + "\n"
    (folder / "table.md").write_text(table, encoding="utf-8")
    print(table)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for p in rates:
        s = students.get(p)
        if s and s["training"].get("loss_curve"):
            steps, losses = zip(*s["training"]["loss_curve"])
            ax.plot(steps, losses, label=f"student from teacher LayerDrop {p}")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (5·KD + 2·MLM + 1·cosine)")
    ax.set_title("2-layer students distilled from pruned 4-layer MLM teachers")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "student_loss.png", dpi=120)
    print(f"wrote {folder / 'table.md'} and {folder / 'student_loss.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/layerdrop_mlm"))
