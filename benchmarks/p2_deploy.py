"""P2': the 3-layer distilled SST-2 student exported int8 for ONNX Runtime against the fp32 PyTorch
6-layer teacher, and the full table (teacher / 3-layer / 3-layer int8 / 6-layer int8, each in
PyTorch and ONNX Runtime): accuracy on SST-2 dev, latency (batch 1), throughput (batch 32 × 128),
bytes on disk; plus a `lamina report` of the same records (the score-vs-latency Pareto plot).

    LAMINA_DATA_DIR=../shared/data python benchmarks/p2_deploy.py \
        --teacher runs/sst2-teacher --student runs/sst2-student3 -o benchmarks/results/p2_deploy

Targets: student onnx-int8 throughput >= 5x the fp32 PyTorch teacher's (batch 32 x 128, 2 threads,
all eight models timed side by side in interleaved rounds in one process), and its accuracy at most
1 point below the fp32 student's. Writes p2.json, p2.md, the exports under OUT/models/ (unless
--keep-models is off) and OUT/report/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teacher", required=True, help="fine-tuned 6-layer classifier folder")
    ap.add_argument("--student", required=True, help="distilled 3-layer classifier folder")
    ap.add_argument("--task", default="sst2")
    ap.add_argument("--data-dir", default=os.environ.get("LAMINA_DATA_DIR"))
    ap.add_argument("-o", "--output", default="benchmarks/results/p2_deploy")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (each a median of --repeats)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--max-samples", type=int, default=None, help="score a seeded subset of dev (default: all)")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument(
        "--no-keep-models",
        dest="keep_models",
        action="store_false",
        help="delete the exported folders at the end (the records stay)",
    )
    args = ap.parse_args(argv)

    from lamina.eval.timing import clear_shared, compare_throughput
    from lamina.models.export import load_exported
    from lamina.models.loading import load_for_classification
    from lamina.tasks import get_task
    from lamina.workflows import RunContext
    from lamina.workflows.evaluate import EvalConfig, run_eval
    from lamina.workflows.export import ExportConfig, run_export
    from lamina.workflows.report import Report, ReportConfig

    out = Path(args.output)
    models_dir, records_dir = out / "models", out / "records"
    records_dir.mkdir(parents=True, exist_ok=True)
    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    started = time.time()

    # the exports: fp32 ONNX and both int8s of each model
    folders = {"teacher": {"torch": args.teacher}, "student": {"torch": args.student}}
    for who in ("teacher", "student"):
        for fmt in ("onnx", "onnx-int8", "torch-int8"):
            dest = models_dir / f"{who}-{fmt}"
            rec = run_export(
                ExportConfig(
                    model=folders[who]["torch"],
                    output=str(dest),
                    format=fmt,
                    overwrite=True,
                    data_dir=args.data_dir,
                    max_length=args.max_length,
                    parity_data=args.task,
                    min_agreement=0.0,
                ),
                log=lambda *_: None,
            )
            p = rec["export"]["parity"]
            print(f"exported {who} {fmt}: max|diff| {p['max_abs_diff']:.2e}, agreement {p['argmax_agreement']:.4f}")
            folders[who][fmt] = str(dest)

    # the eight rows: (name, folder, backend)
    rows = [
        (f"{who} {label}", folders[who][fmt], backend)
        for who in ("teacher", "student")
        for label, fmt, backend in (
            ("fp32 PyTorch", "torch", "torch"),
            ("fp32 ONNX Runtime", "onnx", "onnx"),
            ("int8 PyTorch", "torch-int8", "torch"),
            ("int8 ONNX Runtime", "onnx-int8", "onnx"),
        )
    ]

    # accuracy (and lamina eval's own timing) per row; records for lamina report
    evals = {}
    for name, folder, backend in rows:
        cfg = EvalConfig(
            model=folder,
            task=args.task,
            backend=backend,
            data_dir=args.data_dir,
            max_samples=args.max_samples,
            max_length=args.max_length,
            threads=args.threads,
            speed_seq_len=args.seq_len,
            speed_batch_sizes=[1, args.batch_size],
        )
        rec = run_eval(cfg)
        rec["recipe"] = {"run": name.replace(" ", "-"), "label": name, "step": "p2"}
        evals[name] = rec
        (records_dir / f"{name.replace(' ', '-')}.json").write_text(json.dumps(rec, indent=1, default=str))
        print(f"{name}: {rec['metrics']}")

    # side by side: every model in one process, interleaved rounds, at batch 1 and at batch 32
    task = get_task(args.task)
    loaded = {}
    for name, folder, backend in rows:
        got = load_exported(folder, backend=backend, threads=args.threads)
        loaded[name] = got[0] if got else load_for_classification(folder, task, train=False)[0]
    timing = {}
    for bs in (1, args.batch_size):
        clear_shared()
        timing[bs] = compare_throughput(
            loaded, rounds=args.rounds, batch_size=bs, seq_len=args.seq_len, repeats=args.repeats, threads=args.threads
        )

    main_metric = task.main_metric
    table = []
    for name, folder, _ in rows:
        one, big = timing[1][name], timing[args.batch_size][name]
        table.append(
            {
                "model": name,
                "folder": folder,
                main_metric: evals[name]["metrics"][main_metric],
                "latency_ms_batch1": 1000 * one["seconds_per_batch"],
                "latency_ms_batch1_range": [1000 * one["seconds_min"], 1000 * one["seconds_max"]],
                "samples_per_second": big["samples_per_second"],
                "samples_per_second_range": [
                    args.batch_size / big["seconds_max"],
                    args.batch_size / big["seconds_min"],
                ],
                "bytes": evals[name]["sizes"]["bytes"],
            }
        )
    by = {r["model"]: r for r in table}
    base = by["teacher fp32 PyTorch"]
    target = by["student int8 ONNX Runtime"]
    ratio = target["samples_per_second"] / base["samples_per_second"]
    drop = 100 * (by["student fp32 PyTorch"][main_metric] - target[main_metric])
    result = {
        "command": command,
        "threads": args.threads,
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "rounds": args.rounds,
        "repeats": args.repeats,
        "task": args.task,
        "dev_examples": evals[base["model"]].get("examples"),
        "rows": table,
        "p2": {
            "throughput_ratio": ratio,
            "target_ratio": 5.0,
            "met_ratio": ratio >= 5.0,
            "points_below_fp32_student": drop,
            "target_points": 1.0,
            "met_accuracy": drop <= 1.0,
        },
        "load_average": os.getloadavg(),
        "wall_seconds": round(time.time() - started, 1),
    }
    (out / "p2.json").write_text(json.dumps(result, indent=1, default=str) + "\n")

    def rng(r, key, fmt):
        lo, hi = r[f"{key}_range"]
        return f"{fmt.format(r[key])} ({fmt.format(lo)}–{fmt.format(hi)})"

    md = [
        f"# P2': deployment table ({args.task} dev)",
        "",
        f"`{command}`",
        "",
        f"{args.threads} threads; latency: batch 1 × {args.seq_len}; throughput: batch {args.batch_size} × "
        f"{args.seq_len}; all models timed side by side in one process, {args.rounds} interleaved rounds × median "
        f"of {args.repeats} (median, min–max over rounds). Load average at the end: "
        f"{', '.join(f'{x:.2f}' for x in result['load_average'])}.",
        "",
        f"| model | {main_metric} | latency b=1 (ms) | samples/s (b={args.batch_size}) | vs teacher fp32 PyTorch "
        "| MB on disk |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in table:
        md.append(
            f"| {r['model']} | {100 * r[main_metric]:.2f} | {rng(r, 'latency_ms_batch1', '{:.1f}')} | "
            f"{rng(r, 'samples_per_second', '{:.1f}')} | {r['samples_per_second'] / base['samples_per_second']:.2f}x "
            f"| {r['bytes'] / 1e6:.1f} |"
        )
    md += [
        "",
        f"**P2'**: student int8 (ONNX Runtime) / teacher fp32 (PyTorch) throughput = **{ratio:.2f}x** "
        f"(target ≥ 5x: {'met' if ratio >= 5 else 'not met'}); accuracy {-drop:+.2f} points against the fp32 "
        f"student (target: at most 1 point below: {'met' if drop <= 1 else 'not met'}).",
        "",
    ]
    (out / "p2.md").write_text("\n".join(md))
    Report().run(
        ReportConfig(
            paths=[str(records_dir)],
            output=str(out / "report"),
            title=f"P2': teacher and student, PyTorch and ONNX Runtime, fp32 and int8 ({args.task})",
        ),
        RunContext(log=lambda *_: None),
    )
    if not args.keep_models:
        shutil.rmtree(models_dir, ignore_errors=True)
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
