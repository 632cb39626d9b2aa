"""Reports: tables in the seeds' shapes, speed-ups through lineage, Pareto front, plots,
learning curves read back from TensorBoard files."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lamina.cli import app
from lamina.reports import ReportSpec, write_report
from lamina.reports.collect import learning_curve, load_rows
from lamina.reports.tables import pareto_front


def _write(folder: Path, name: str, record: dict) -> Path:
    d = folder / name
    d.mkdir(parents=True)
    base = {"command": "lamina test", "config": {}, "metrics": {}, "sizes": {}, "speeds": {}, "seed": None}
    (d / "lamina_results.json").write_text(json.dumps({**base, **record}))
    return d


def _grid(tmp_path: Path) -> Path:
    """A baseline, two strategies × two depths × two seeds on one task, pruned with speeds."""
    root = tmp_path / "runs"
    for seed, acc in ((1, 0.90), (2, 0.92)):
        _write(
            root,
            f"full-s{seed}",
            {
                "kind": "finetune",
                "model": "m",
                "task": "sst2",
                "seed": seed,
                "metrics": {"accuracy": acc},
                "sizes": {"layers": 6, "parameters": 22_000_000},
            },
        )
    for strategy, bonus in (("top", 0.02), ("alternate", 0.0)):
        for layers, speed in ((4, 1.5), (3, 2.0)):
            pruned = _write(
                root,
                f"{strategy}-{layers}",
                {
                    "kind": "prune",
                    "model": "m",
                    "config": {"strategy": strategy},
                    "sizes": {"layers": layers, "layers_before": 6},
                    "speeds": {"speedup": speed},
                },
            )
            for seed in (1, 2):
                _write(
                    root,
                    f"{strategy}-{layers}-ft-s{seed}",
                    {
                        "kind": "finetune",
                        "model": str(pruned),
                        "task": "sst2",
                        "seed": seed,
                        "metrics": {"accuracy": 0.80 + bonus + 0.02 * layers + 0.01 * seed},
                        "sizes": {"layers": layers, "parameters": 17_000_000},
                    },
                )
    _write(
        root,
        "kd-s1",
        {
            "kind": "distill",
            "model": "m",
            "task": "sst2",
            "seed": 1,
            "config": {"student_first_n": 3, "student": "m"},
            "distill": {"teachers": [{"layers": 6}]},
            "metrics": {"accuracy": 0.91},
            "sizes": {"layers": 3, "parameters": 17_000_000},
        },
    )
    return root


def test_rows_follow_lineage_and_fill_speedups(tmp_path):
    from lamina.reports.runs import find_results

    rows = {r.run: r for r in load_rows(find_results([_grid(tmp_path)]))}
    assert rows["top-3-ft-s1"].strategy == "top" and rows["top-3-ft-s1"].speedup == 2.0
    assert rows["top-3-ft-s1"].label == "top-3-ft"  # seeds fold together
    assert rows["full-s1"].speedup == 1.0
    assert rows["kd-s1"].speedup == 2.0, "a first-N student takes the speed-up measured for 6 → 3 layers"


def test_report_tables_and_plots(tmp_path):
    root = _grid(tmp_path)
    out = tmp_path / "report"
    spec = ReportSpec(title="t")
    written = write_report([root], out, spec)
    md = written["text"]
    assert "## Scores" in md and "| top-3-ft | 3 | 17.0M | 2.00x | 89.50 ± 0.71 (2) |" in md
    # strategies × layers kept, the unpruned baseline first
    assert "| strategy | 6 layers | 4 layers | 3 layers |" in md
    assert "| full | 91.00 ± 1.41 (2) |  |  |" in md
    assert "| top | – | 91.50 ± 0.71 (2) | 89.50 ± 0.71 (2) |" in md
    assert "| alternate | – | 89.50 ± 0.71 (2) | 87.50 ± 0.71 (2) |" in md
    assert "Pareto-optimal" in md and "| top-4-ft | 1.50x | 91.50 |\n| kd | 2.00x | 91.00 |" in md
    assert {p.name for p in written["plots"]} == {"layers-sst2.png", "pareto-sst2.png"}
    assert all(p.stat().st_size > 1000 for p in written["plots"])
    assert (out / "report.csv").read_text().startswith("run,kind,model,task")


def test_a_label_over_several_depths_is_one_configuration_per_depth(tmp_path):
    """A recipe step over drop counts gives one label to several depths: they must not average."""
    from lamina.reports.runs import find_results
    from lamina.reports.tables import configs_table, pareto_points

    root = tmp_path / "runs"
    _write(
        root,
        "full",
        {
            "kind": "finetune",
            "model": "m",
            "task": "sst2",
            "seed": 1,
            "recipe": {"label": "full"},
            "metrics": {"accuracy": 0.90},
            "sizes": {"layers": 6, "parameters": 22_000_000},
        },
    )
    for layers, speed, acc in ((5, 1.2, 0.88), (3, 2.0, 0.80)):
        pruned = _write(
            root,
            f"top-{layers}",
            {
                "kind": "prune",
                "model": "m",
                "config": {"strategy": "top"},
                "sizes": {"layers": layers, "layers_before": 6},
                "speeds": {"speedup": speed},
            },
        )
        _write(
            root,
            f"top-{layers}-ft",
            {
                "kind": "finetune",
                "model": str(pruned),
                "task": "sst2",
                "seed": 1,
                "recipe": {"label": "top"},
                "metrics": {"accuracy": acc},
                "sizes": {"layers": layers, "parameters": 1_000_000 * layers},
            },
        )
    rows = [r for r in load_rows(find_results([root])) if r.kind == "finetune"]
    md = configs_table(rows)
    assert "| top, 5 layers | 5 | 5.0M | 1.20x | 88.00 |" in md
    assert "| top, 3 layers | 3 | 3.0M | 2.00x | 80.00 |" in md
    assert "| full | 6 | 22.0M | 1.00x | 90.00 |" in md
    assert sorted(pareto_points(rows, "sst2")) == [
        (1.0, 0.90, "full"),
        (1.2, 0.88, "top, 5 layers"),
        (2.0, 0.80, "top, 3 layers"),
    ]


def test_pareto_front_keeps_the_undominated_points():
    pts = [(1.0, 0.90, "full"), (2.0, 0.85, "a"), (2.0, 0.88, "b"), (1.5, 0.80, "c"), (3.0, 0.70, "d")]
    assert [p[2] for p in pareto_front(pts)] == ["full", "b", "d"]


def test_learning_curve_from_tensorboard_files(tmp_path):
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "run" / "logs" / "x"))
    for step, loss in ((1, 0.9), (2, 0.5), (3, 0.4)):
        writer.add_scalar("train/loss", loss, step)
    writer.add_scalar("eval/accuracy", 0.75, 3)
    writer.add_scalar("eval/runtime", 1.2, 3)
    writer.close()
    curve = learning_curve(tmp_path / "run")
    assert [p[0] for p in curve["train/loss"]] == [1, 2, 3]
    assert abs(curve["train/loss"][1][1] - 0.5) < 1e-6
    assert curve["eval/accuracy"] == [[3, 0.75]] and "eval/runtime" not in curve
    assert learning_curve(tmp_path / "nothing") == {}


def test_a_record_without_logs_uses_its_own_loss_curve(tmp_path):
    from lamina.reports.runs import find_results

    _write(
        tmp_path,
        "ft-s1",
        {
            "kind": "finetune",
            "model": "m",
            "task": "sst2",
            "seed": 1,
            "metrics": {"accuracy": 0.9},
            "training": {"loss_curve": [[1, 0.7], [2, 0.5]]},
        },
    )
    (row,) = load_rows(find_results([tmp_path]))
    assert row.curve == {"train/loss": [[1, 0.7], [2, 0.5]]}


def test_cli_report_prints_markdown_and_writes_plots(tmp_path):
    root = _grid(tmp_path)
    result = CliRunner().invoke(app, ["report", str(root), "-o", str(tmp_path / "r"), "--title", "Mine"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Mine") and "plots" in result.output
    assert (tmp_path / "r" / "layers-sst2.png").is_file()
    result = CliRunner().invoke(app, ["report", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "not found" in result.stderr


def test_score_vs_latency_across_prune_distill_and_quantize(tmp_path):
    """Rows of one shape share one speed figure (with its spread); exports are rows with their backend;
    evals of another row's model only lend it their measurement; the Pareto front is on latency."""
    root = tmp_path / "runs"

    def speeds(ms, lo, hi, key, backend):
        return {
            "latency_ms_batch1": ms,
            "latency_ms_batch1_range": [lo, hi],
            "samples_per_second": 1000 / ms,
            "samples_per_second_range": [900 / ms, 1100 / ms],
            "speed_key": key,
            "backend": backend,
        }

    teacher = _write(
        root,
        "teacher",
        {
            "kind": "finetune",
            "model": "m",
            "task": "sst2",
            "seed": 1,
            "metrics": {"accuracy": 0.92},
            "sizes": {"layers": 6, "parameters": 22_000_000, "bytes": 90_000_000},
        },
    )
    student = _write(
        root,
        "student",
        {
            "kind": "distill",
            "model": "m",
            "task": "sst2",
            "seed": 1,
            "config": {"student_first_n": 3, "student": "m"},
            "distill": {"teachers": [{"layers": 6}]},
            "metrics": {"accuracy": 0.91},
            "sizes": {"layers": 3, "parameters": 17_000_000, "bytes": 70_000_000},
        },
    )
    _write(
        root,
        "drop-ft",
        {
            "kind": "finetune",
            "model": "m",
            "task": "sst2",
            "seed": 1,
            "metrics": {"accuracy": 0.85},
            "sizes": {"layers": 3, "parameters": 17_000_000, "bytes": 70_000_000},
        },
    )
    int8 = _write(
        root,
        "int8",
        {
            "kind": "export",
            "model": str(student),
            "task": "sst2",
            "export": {"format": "onnx-int8"},
            "metrics": {"accuracy": 0.905},
            "sizes": {"layers": 3, "parameters": 17_000_000, "bytes": 18_000_000},
        },
    )
    _write(
        root,
        "eval-teacher",
        {
            "kind": "eval",
            "model": str(teacher),
            "task": "sst2",
            "backend": "torch",
            "metrics": {"accuracy": 0.92},
            "sizes": {"layers": 6, "parameters": 22_000_000},
            "speeds": speeds(20.0, 19.0, 23.0, "k6", "torch"),
        },
    )
    _write(
        root,
        "eval-student",
        {
            "kind": "eval",
            "model": str(student),
            "task": "sst2",
            "backend": "torch",
            "metrics": {"accuracy": 0.91},
            "sizes": {"layers": 3, "parameters": 17_000_000},
            "speeds": speeds(11.0, 10.0, 12.0, "k3", "torch"),
        },
    )
    _write(
        root,
        "eval-int8",
        {
            "kind": "eval",
            "model": str(int8),
            "task": "sst2",
            "backend": "onnx-int8",
            "metrics": {"accuracy": 0.905},
            "sizes": {"layers": 3, "parameters": 17_000_000},
            "speeds": speeds(4.0, 3.5, 5.0, "kq", "onnx-int8"),
        },
    )
    written = write_report([root], tmp_path / "report", ReportSpec(title="t"))
    md = written["text"]
    assert "## Score vs latency and size" in md
    assert "| drop-ft | torch | 11.0 (10.0–12.0) | 70.0 | 85.00 |  |" in md, "same shape: the student's measurement"
    assert "| int8 | onnx-int8 | 4.0 (3.5–5.0) | 18.0 | 90.50 | yes |" in md
    assert "| student | torch | 11.0 (10.0–12.0) | 70.0 | 91.00 | yes |" in md
    assert "| teacher | torch | 20.0 (19.0–23.0) | 90.0 | 92.00 | yes |" in md
    assert "| eval-int8 |" not in md.split("## All runs")[0], "an eval of another row's model is not a configuration"
    assert "latency-sst2.png" in {p.name for p in written["plots"]}
    assert "| int8 | onnx-int8 | 3 | 17.0M |" in md  # the scores table names the backend


def test_lineage_is_stored_when_a_run_finishes_and_survives_deleted_parents(tmp_path):
    """A model fine-tuned after a prune keeps its strategy row once the pruned folder is gone."""
    import shutil

    from lamina.reports.runs import find_results
    from lamina.results import finish_record

    pruned = _write(
        tmp_path,
        "top-3",
        {
            "kind": "prune",
            "model": "m",
            "config": {"strategy": "top"},
            "sizes": {"layers": 3, "layers_before": 6},
            "speeds": {"speedup": 2.0},
        },
    )
    record = finish_record(
        {
            "kind": "finetune",
            "model": str(pruned),
            "task": "sst2",
            "seed": 1,
            "config": {},
            "metrics": {"accuracy": 0.8},
            "sizes": {"layers": 3},
            "speeds": {},
        }
    )
    assert [c["kind"] for c in record["lineage"]] == ["finetune", "prune"]
    ft = _write(tmp_path / "kept", "top-3-ft", record)
    # a grandchild reads its parent's stored ancestry, even once the pruned folder is deleted
    shutil.rmtree(pruned)
    child = finish_record({"kind": "export", "model": str(ft), "config": {}, "sizes": {}, "speeds": {}})
    assert [c["kind"] for c in child["lineage"]] == ["export", "finetune", "prune"]
    row = next(r for r in load_rows(find_results([tmp_path / "kept"])) if r.run == "top-3-ft")
    assert row.strategy == "top" and row.speedup == 2.0


def test_width_pruned_rows_carry_their_shape_and_a_measured_speedup_not_the_full_models(tmp_path):
    """A 6-layer student narrowed by width has full depth but is not 1.0x: its speed-up is its measured
    throughput over the full model's; rows show layers × hidden × heads × FFN."""
    root = tmp_path / "runs"
    full_shape = {"layers": 6, "hidden": 384, "heads": 12, "kv_heads": 12, "ffn": 1536}
    narrow_shape = {"layers": 6, "hidden": 192, "heads": 6, "kv_heads": 6, "ffn": 768}
    teacher = _write(
        root,
        "teacher",
        {
            "kind": "finetune",
            "model": "m",
            "task": "sst2",
            "seed": 1,
            "metrics": {"accuracy": 0.92},
            "sizes": {"layers": 6, "parameters": 22_000_000, "shape": full_shape},
        },
    )
    student = _write(
        root,
        "narrow",
        {
            "kind": "distill",
            "model": "m",
            "task": "sst2",
            "seed": 1,
            "config": {"student_from_teacher": "top"},
            "distill": {"teachers": [{"layers": 6}]},
            "metrics": {"accuracy": 0.90},
            "sizes": {"layers": 6, "parameters": 8_000_000, "shape": narrow_shape},
        },
    )
    for name, model, shape, params, sps in (
        ("eval-teacher", teacher, full_shape, 22_000_000, 100.0),
        ("eval-narrow", student, narrow_shape, 8_000_000, 359.0),
    ):
        _write(
            root,
            name,
            {
                "kind": "eval",
                "model": str(model),
                "task": "sst2",
                "backend": "torch",
                "metrics": {"accuracy": 0.9},
                "sizes": {"layers": 6, "parameters": params, "shape": shape},
                "speeds": {
                    "samples_per_second": sps,
                    "latency_ms_batch1": 1000 / sps,
                    "speed_key": name,
                    "backend": "torch",
                },
            },
        )
    from lamina.reports.runs import find_results

    rows = {r.run: r for r in load_rows(find_results([root]))}
    assert rows["narrow"].shape == "6×192×6×768" and rows["teacher"].shape == "6×384×12×1536"
    assert rows["teacher"].speedup == 1.0
    assert abs(rows["narrow"].speedup - 3.59) < 1e-9, "throughput over the full model's, not full depth's 1.0x"
    md = write_report([root], tmp_path / "report", ReportSpec(title="t"))["text"]
    assert "shape (L×H×A×FFN)" in md and "| 6×192×6×768 |" in md
