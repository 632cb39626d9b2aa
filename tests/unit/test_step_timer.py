"""The cost benchmarks' shared loop (benchmarks/step_timer.py): rotation, figures, table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from step_timer import alternated_rounds, cost_table, median_step, per_variant, write_cost  # noqa: E402


def test_rounds_rotate_the_order_and_keep_each_figure():
    ran = []
    rounds = alternated_rounds(["a", "b", "c"], 4, lambda name, r: ran.append((name, r)) or f"{name}{r}")
    assert [r["order"] for r in rounds] == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]
    assert ran[:4] == [("a", 0), ("b", 0), ("c", 0), ("b", 1)]
    assert list(rounds[1]["runs"]) == ["b", "c", "a"]  # in the order run
    assert per_variant(rounds) == {
        "a": ["a0", "a1", "a2", "a3"],
        "b": ["b0", "b1", "b2", "b3"],
        "c": ["c0", "c1", "c2", "c3"],
    }
    two = alternated_rounds(["x", "y"], 3, lambda name, r: {"s": r})
    assert [r["order"] for r in two] == [["x", "y"], ["y", "x"], ["x", "y"]]  # two variants: alternated
    assert per_variant(two, "s") == {"x": [0, 1, 2], "y": [0, 1, 2]}


def test_median_step_skips_the_warm_up():
    def run(timer):
        timer.stamps = [0.0, 5.0, 5.1, 5.3, 5.4, 5.6]  # steps 5, 0.1, 0.2, 0.1, 0.2

    assert abs(median_step(run, skip=1) - 0.15) < 1e-9
    assert abs(median_step(run, skip=2) - 0.2) < 1e-9


def test_cost_table_and_files(tmp_path, capsys):
    lines = cost_table([("A step, s", "0.1000"), ("B / A", "2.00x")])
    assert lines == ["| what | value |", "|---|---:|", "| A step, s | 0.1000 |", "| B / A | 2.00x |"]
    write_cost(tmp_path / "out", {"x": 1}, lines)
    assert json.loads((tmp_path / "out" / "cost.json").read_text()) == {"x": 1}
    assert (tmp_path / "out" / "cost.md").read_text() == "\n".join(lines) + "\n"
    assert "| B / A | 2.00x |" in capsys.readouterr().out
