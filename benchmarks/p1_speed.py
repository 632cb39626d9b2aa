"""P1 (a), issue 4: step time of lamina's distillation vs TextBrewer 0.2.1 on identical
fixed-shape work (MiniLM-L6 SST-2 teacher → 3-layer student, batch 32 × 64 tokens
padded, the same 1,280 training examples, 40 steps, first 5 steps excluded).

    flock /tmp/lamina-cpu.lock python benchmarks/p1_speed.py --data-dir ../shared/data [--lamina-commit HASH]
    # → benchmarks/results/p1_speed/speed.{json,md} (+ speed_runs.json, every step of every run)

Needs: the lamina venv active (this script), the TextBrewer venv at .venv-textbrewer (built as
described at the top of benchmarks/textbrewer/tb_distill.py), the teacher runs/teachers/sst2-s42
and the student made once with
    lamina prune runs/teachers/sst2-s42 -o runs/p1/student-top3 --strategy top --keep 3 --no-speed

Variants, each run in its own process (`python benchmarks/p1_speed.py one --variant V --loss L`):
  lamina-cache     run_distill (what `lamina distill` runs) with --pad-to-max-length
                   --no-group-by-length, teacher-output cache on and warm (built once before
                   the rounds; that build is timed and reported separately)
  lamina-nocache   the same with --no-cache (the teacher runs online every step)
  textbrewer       GeneralDistiller, benchmarks/textbrewer/tb_distill.py in the TextBrewer venv
  textbrewer-cache BasicDistiller with is_caching_logits=True (TextBrewer's own in-memory
                   logits cache; kd only)
  lamina-cache-fused  lamina-cache with --optim adamw_torch_fused. lamina-cache and lamina-nocache
                   pass --optim adamw_torch explicitly (the per-tensor AdamW loop: lamina's default
                   up to 206679d, and the torch.optim.AdamW that TextBrewer is given here, as in its
                   examples); fused is transformers' own default for torch >= 2.8 and lamina's
                   default from c6123cc on
  plain            the floor: a plain PyTorch loop training the student alone (forward with
                   labels, backward, clip, AdamW, schedule) on the same batches
for the loss sets kd (kd=0.5,ce=0.5) and kd_hidden (kd=0.5,ce=0.5,hidden_mse=1, skip map
1:2,2:4,3:6). The variants are alternated over --rounds rounds (the order rotated each
round) so that the machine's drifts hit all of them alike. Step time = interval between
consecutive step ends (lamina: TrainerCallback.on_step_end; TextBrewer: its LR
scheduler's step(); plain: after the optimizer); the median over steps 6..40 of a run is
that run's figure, and the ratios are taken within a round.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "p1_speed"
TEACHER = "runs/teachers/sst2-s42"
STUDENT = "runs/p1/student-top3"
WORK = ROOT / "runs" / "p1" / "speed"
TB_PYTHON = ROOT / ".venv-textbrewer" / "bin" / "python"
TB_SCRIPT = ROOT / "benchmarks" / "textbrewer" / "tb_distill.py"
LOSSES = {"kd": "kd=0.5,ce=0.5", "kd_hidden": "kd=0.5,ce=0.5,hidden_mse=1"}
VARIANTS = {
    "kd": ["lamina-cache", "lamina-nocache", "textbrewer", "textbrewer-cache", "lamina-cache-fused"],
    "kd_hidden": ["lamina-cache", "lamina-nocache", "textbrewer", "lamina-cache-fused"],
}


def git_state() -> dict:
    def out(*cmd):
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True).stdout.strip()

    import lamina

    src = Path(lamina.__file__).resolve().parents[1]
    snapshot = src.parent / "COMMIT"
    return {
        "repo_head": out("git", "rev-parse", "HEAD"),
        "lamina_src": str(src),
        # benchmarks run lamina from a snapshot of a commit (PYTHONPATH=SNAPSHOT/src) when the
        # working tree holds others' unfinished edits; COMMIT names that commit
        "lamina_commit_snapshot": snapshot.read_text().strip() if snapshot.is_file() else None,
        "src_uncommitted_in_repo": out("git", "status", "--short", "--", "src").splitlines(),
    }


# ----------------------------------------------------------------------------- one run, in its own process


def _patch_lamina_timers(times: dict) -> None:
    """Time what a DistillationTrainer step spends where (perf_counter around methods)."""
    from transformers import Trainer

    from lamina.distillation.trainer import DistillationTrainer

    def wrap(cls, name, key):
        original = getattr(cls, name)

        def timed(self, *a, **k):
            if not self.model.training:
                return original(self, *a, **k)
            t = time.perf_counter()
            try:
                return original(self, *a, **k)
            finally:
                times.setdefault(key, []).append(time.perf_counter() - t)

        setattr(cls, name, timed)

    wrap(Trainer, "training_step", "training_step")  # forward + losses + backward
    wrap(DistillationTrainer, "compute_loss", "compute_loss")  # student forward + teacher views + losses
    wrap(DistillationTrainer, "_teacher_view", "teacher_view")  # cache read, or teacher forward


def run_lamina(args) -> dict:
    import torch
    from p1_timed_cli import timed  # benchmarks/, the script's own folder, is on sys.path
    from step_timer import StepTimer  # benchmarks/, the script's own folder, is on sys.path

    from lamina.distillation import cache as cache_mod
    from lamina.workflows.distill import DistillConfig, run_distill

    torch.set_num_threads(args.threads)
    timer = StepTimer()
    times: dict[str, list[float]] = {}
    messages: list[str] = []
    cache_seconds = {}

    _patch_lamina_timers(times)
    build = cache_mod.TeacherCache.build_or_open.__func__  # one teacher: called once per run
    cache_mod.TeacherCache.build_or_open = classmethod(timed(build, cache_seconds, "build_or_open"))

    cfg = DistillConfig(
        teacher=[TEACHER],
        task="sst2",
        data_dir=args.data_dir,
        output=str(WORK / f"out-{args.variant}-{args.loss}"),
        student_from_teacher="top",
        keep=3,
        loss=LOSSES[args.loss],
        temperature=2.0,
        lr=1e-4,
        batch_size=32,
        max_length=64,
        epochs=1,
        max_steps=args.steps,
        max_train_samples=args.steps * 32,
        pad_to_max_length=True,
        group_by_length=False,
        cache=args.variant.startswith("lamina-cache"),
        cache_dir=str(args.cache_dir),
        optim="adamw_torch_fused" if args.variant.endswith("-fused") else "adamw_torch",
        overwrite=True,
        seed=42,
    )
    record = run_distill(cfg, callbacks=[timer], log=lambda m: (messages.append(str(m)), print(m)))
    steps = timer.steps
    return {
        "tool": args.variant,
        "loss": args.loss,
        "lamina_loss": LOSSES[args.loss],
        "train_examples": record["training"]["train_examples"],
        "steps": len(steps),
        "step_seconds": [round(s, 5) for s in steps],
        "parts_seconds": {k: [round(x, 5) for x in v] for k, v in times.items()},
        "cache": record["distill"]["cache"],
        "cache_build_or_open_seconds": cache_seconds.get("build_or_open"),
        "cache_messages": [m for m in messages if "cache" in m],
        "train_loss_first": record["training"]["train_loss_first"],
        "train_loss_mean": record["training"]["train_loss_mean"],
        "dev_accuracy_after_40_steps": record["metrics"].get("accuracy"),
        "wall_seconds_lamina": record["wall_seconds"],
        "threads": torch.get_num_threads(),
    }


def run_plain(args) -> dict:
    """The floor: the student's own training step, no teacher, no distillation code."""
    import torch
    from torch.utils.data import DataLoader
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

    from lamina.data.encode import encode, padding_collator, subset
    from lamina.tasks import get_task

    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    tok = AutoTokenizer.from_pretrained(STUDENT)
    train = subset(get_task("sst2").load(args.data_dir)["train"], args.steps * 32, 42, stratify=False)
    enc = encode(train, tok, 64).rename_column("label", "labels")

    loader = DataLoader(
        enc,
        batch_size=32,
        shuffle=True,
        collate_fn=padding_collator(tok, pad_to_max_length=True, max_length=64),
        generator=torch.Generator().manual_seed(42),
    )
    model = AutoModelForSequenceClassification.from_pretrained(STUDENT)
    model.train()
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(x in n for x in no_decay)], "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if any(x in n for x in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=1e-4)
    sched = get_linear_schedule_with_warmup(opt, int(0.1 * len(loader)), len(loader))
    parts = {"forward": [], "backward": [], "optimizer": []}
    stamps = [time.perf_counter()]
    for batch in loader:
        t0 = time.perf_counter()
        loss = model(**batch).loss
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        t3 = time.perf_counter()
        parts["forward"].append(t1 - t0)
        parts["backward"].append(t2 - t1)
        parts["optimizer"].append(t3 - t2)
        stamps.append(t3)
    steps = [b - a for a, b in zip(stamps, stamps[1:])]
    return {
        "tool": "plain",
        "loss": "ce (student alone)",
        "train_examples": len(enc),
        "steps": len(steps),
        "step_seconds": [round(s, 5) for s in steps],
        "parts_seconds": {k: [round(x, 5) for x in v] for k, v in parts.items()},
        "threads": torch.get_num_threads(),
    }


def one(args) -> None:
    t0 = time.perf_counter()
    result = run_plain(args) if args.variant == "plain" else run_lamina(args)
    w = args.warmup
    result["median_step_seconds"] = statistics.median(result["step_seconds"][w:])
    result["warmup_steps_excluded"] = w
    result["parts_median_seconds"] = {k: statistics.median(v[w:]) for k, v in result.get("parts_seconds", {}).items()}
    result["process_seconds_after_imports"] = round(time.perf_counter() - t0, 3)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"{result['tool']} {result['loss']}: median step {result['median_step_seconds']:.4f} s")


# ----------------------------------------------------------------------------- driver


def launch(variant: str, loss: str, args, json_path: Path, log) -> dict:
    if variant.startswith("textbrewer"):
        cmd = [
            str(TB_PYTHON),
            str(TB_SCRIPT),
            "--teacher",
            TEACHER,
            "--student",
            STUDENT,
            "--data-dir",
            args.data_dir,
            "--loss",
            loss,
            "--indices",
            str(WORK / "subset.json"),
            "--epochs",
            "1",
            "--threads",
            str(args.threads),
            "--warmup-steps-excluded",
            str(args.warmup),
            "--work-dir",
            str(WORK / f"tb-{variant}-{loss}"),
            "--json",
            str(json_path),
        ]
        if variant == "textbrewer-cache":
            cmd.append("--logits-cache")
    else:
        cmd = [
            sys.executable,
            __file__,
            "one",
            "--variant",
            variant,
            "--loss",
            loss,
            "--data-dir",
            args.data_dir,
            "--steps",
            str(args.steps),
            "--warmup",
            str(args.warmup),
            "--threads",
            str(args.threads),
            "--cache-dir",
            str(args.cache_dir),
            "--json",
            str(json_path),
        ]
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - t
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    result = json.loads(json_path.read_text())
    result["process_wall_seconds"] = round(wall, 3)
    # 1/5/15-minute load averages: about 2 = this run alone (2 torch threads, 2 cores); more = other work beside it
    result["loadavg_before"], result["loadavg_after"] = load_before, load_after
    result["argv"] = " ".join(cmd)
    return result


def write_subset(args) -> None:
    """The training rows lamina uses for --max-train-samples N (seeded shuffle, seed 42),
    for TextBrewer to read the same examples from the TSV."""
    from lamina.data.encode import subset
    from lamina.tasks import get_task

    train = get_task("sst2").load(args.data_dir)["train"]
    n = args.steps * 32
    rows = list(subset(train.add_column("row", list(range(len(train)))), n, 42, stratify=False)["row"])
    tsv = Path(args.data_dir)
    tsv = (tsv / "SST-2" if (tsv / "SST-2").is_dir() else tsv / "glue" / "SST-2") / "train.tsv"
    lines = tsv.read_text(encoding="utf-8").splitlines()[1:]
    assert len(lines) == len(train), (len(lines), len(train))
    assert [lines[r].split("\t")[0] for r in rows] == list(subset(train, n, 42, stratify=False)["text"]), (
        "row order differs"
    )
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "subset.json").write_text(json.dumps(rows))


def summarize(runs: list[dict], args, prep: dict) -> dict:
    med = statistics.median
    table = {}
    for loss, variants in VARIANTS.items():
        rows = {}
        rounds = sorted({r["round"] for r in runs})
        per_round = {
            v: {r["round"]: r["median_step_seconds"] for r in runs if r["tool"] == v and r["loss"] == loss}
            for v in variants
        }
        per_round["plain"] = {r["round"]: r["median_step_seconds"] for r in runs if r["tool"] == "plain"}
        for v, by_round in per_round.items():
            rows[v] = {
                "median_step_seconds_per_round": [round(by_round[k], 4) for k in rounds],
                "median_step_seconds": round(med(by_round.values()), 4),
            }
            parts = [
                r["parts_median_seconds"]
                for r in runs
                if r["tool"] == v and r["loss"] in (loss, "ce (student alone)") and r.get("parts_median_seconds")
            ]
            if parts and parts[0]:
                rows[v]["parts_median_seconds"] = {k: round(med(p[k] for p in parts), 4) for k in parts[0]}
        tb = per_round["textbrewer"]
        for v in per_round:
            if v == "textbrewer":
                continue
            ratios = [per_round[v][k] / tb[k] for k in rounds]
            rows[v]["ratio_vs_textbrewer_per_round"] = [round(x, 3) for x in ratios]
            rows[v]["ratio_vs_textbrewer_median_of_rounds"] = round(med(ratios), 3)
            rows[v]["ratio_vs_textbrewer_of_medians"] = round(
                rows[v]["median_step_seconds"] / rows["textbrewer"]["median_step_seconds"], 3
            )
        table[loss] = rows
    return table


def markdown(summary: dict, meta: dict) -> str:
    lines = [
        "# P1 (a): step time, lamina vs TextBrewer 0.2.1 (fixed shape 32 × 64)",
        "",
        f"`{meta['command']}`",
        "",
        f"{meta['rounds']} rounds × ({meta['steps']} steps, first {meta['warmup']} excluded); "
        f"median step time per run, then the median over rounds; ratios within a round. "
        f"torch {meta['torch']}, transformers {meta['transformers']}, textbrewer 0.2.1, {meta['threads']} threads.",
        "",
    ]
    for loss, rows in summary.items():
        lines += [
            f"## loss set `{loss}` (lamina `--loss {LOSSES[loss]}`)",
            "",
            "| variant | median step (s) | per round (s) | ratio vs TextBrewer (median of rounds) | per round |",
            "|---|---:|---|---:|---|",
        ]
        for v, r in rows.items():
            ratio = r.get("ratio_vs_textbrewer_median_of_rounds", 1.0)
            per = ", ".join(f"{x:.3f}" for x in r["median_step_seconds_per_round"])
            rr = ", ".join(f"{x:.2f}" for x in r.get("ratio_vs_textbrewer_per_round", [])) or "–"
            lines.append(f"| {v} | {r['median_step_seconds']:.3f} | {per} | {ratio:.3f} | {rr} |")
        lines.append("")
        parts = {v: r["parts_median_seconds"] for v, r in rows.items() if "parts_median_seconds" in r}
        if parts:
            lines += ["Where the time goes (median seconds per step):", ""]
            for v, p in parts.items():
                lines.append(f"- {v}: " + ", ".join(f"{k} {x:.3f}" for k, x in p.items()))
            lines.append("")
    if "loadavg_1min_at_run_ends" in meta:
        la = meta["loadavg_1min_at_run_ends"]
        lines += [
            f"1-minute load average at the end of each run (about 2 = the run alone: 2 torch threads, 2 cores): "
            f"min {la['min']:.2f}, median {la['median']:.2f}, max {la['max']:.2f}.",
            "",
        ]
    lines += [
        f"Cache build (teacher over the {meta['steps'] * 32} examples, cold): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in meta["cache_build_seconds"].items()),
        "",
    ]
    return "\n".join(lines)


def drive(args) -> None:

    global RESULTS
    RESULTS = Path(args.results)

    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_subset(args)
    log = open(WORK / "driver.log", "a")
    import threading

    def sample_load():  # the machine's load every 15 s, to judge the noise afterwards
        with open(WORK / "loadavg.txt", "a") as f:
            while True:
                f.write(f"{time.time():.0f} {Path('/proc/loadavg').read_text()}")
                f.flush()
                time.sleep(15)

    threading.Thread(target=sample_load, daemon=True).start()
    raw = WORK / "runs"
    raw.mkdir(exist_ok=True)
    # cold cache build, timed, once per loss set (these runs are warm-ups, not counted)
    import shutil

    shutil.rmtree(args.cache_dir, ignore_errors=True)
    cache_build = {}
    for loss in VARIANTS:
        r = launch("lamina-cache", loss, args, raw / f"prep-lamina-cache-{loss}.json", log)
        assert any("computing" in m for m in r["cache_messages"]), r["cache_messages"]
        cache_build[loss] = r["cache_build_or_open_seconds"]
        print(f"cache build ({loss}): {cache_build[loss]:.2f} s", flush=True)
    jobs = [(v, loss) for loss, vs in VARIANTS.items() for v in vs] + [("plain", "kd")]
    runs = []
    for rnd in range(args.rounds):
        k = rnd % len(jobs)
        for v, loss in jobs[k:] + jobs[:k]:  # rotate the order each round
            r = launch(v, loss, args, raw / f"r{rnd}-{v}-{loss}.json", log)
            if v.startswith("lamina-cache"):
                assert any("reusing" in m for m in r["cache_messages"]), r["cache_messages"]
            r["round"] = rnd
            runs.append(r)
            (WORK / "runs_so_far.json").write_text(json.dumps({"cache_build": cache_build, "runs": runs}, indent=1))
            print(f"round {rnd} {v:16s} {loss:9s} median step {r['median_step_seconds']:.4f} s", flush=True)
    finish(args, runs, cache_build)


def finish(args, runs, cache_build) -> None:
    import torch
    import transformers

    meta = {
        "command": "flock /tmp/lamina-cpu.lock python benchmarks/p1_speed.py " + " ".join(sys.argv[1:]),
        "rounds": args.rounds,
        "steps": args.steps,
        "warmup": args.warmup,
        "threads": args.threads,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "git": git_state(),
        "cache_build_seconds": cache_build,
    }
    loads = sorted(float(r["loadavg_after"][0]) for r in runs if "loadavg_after" in r)
    if loads:
        meta["loadavg_1min_at_run_ends"] = {"min": loads[0], "median": statistics.median(loads), "max": loads[-1]}
    summary = summarize(runs, args, cache_build)
    (RESULTS / "speed.json").write_text(json.dumps({**meta, "summary": summary}, indent=2))
    (RESULTS / "speed_runs.json").write_text(json.dumps(runs, indent=1))
    (RESULTS / "speed.md").write_text(markdown(summary, meta))
    print(markdown(summary, meta))


def main() -> None:
    global RESULTS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "mode",
        nargs="?",
        default="drive",
        choices=["drive", "one", "summarize"],
        help="summarize: rewrite the results from runs/p1/speed/runs_so_far.json",
    )
    ap.add_argument("--data-dir", default=os.environ.get("LAMINA_DATA_DIR", "../shared/data"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache-dir", default=str(WORK / "cache"))
    ap.add_argument("--variant", choices=["lamina-cache", "lamina-nocache", "lamina-cache-fused", "plain"])
    ap.add_argument("--loss", choices=list(LOSSES), default="kd")
    ap.add_argument("--json")
    ap.add_argument("--results", default=str(RESULTS), help="where speed.{json,md} go")
    ap.add_argument(
        "--lamina-commit",
        help="run lamina from a snapshot of this commit (git archive → "
        "runs/p1/lamina-<hash>/src on PYTHONPATH), not from the working tree",
    )
    args = ap.parse_args()
    os.chdir(ROOT)
    if args.lamina_commit and os.environ.get("P1_LAMINA_SNAPSHOT") is None:
        full = subprocess.run(
            ["git", "rev-parse", args.lamina_commit], capture_output=True, text=True, check=True
        ).stdout.strip()
        snap = ROOT / "runs" / "p1" / f"lamina-{full[:7]}"
        if not (snap / "COMMIT").is_file():
            snap.mkdir(parents=True, exist_ok=True)
            archive = subprocess.run(["git", "archive", full, "src"], capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(snap)], input=archive, check=True)
            (snap / "COMMIT").write_text(full + "\n")
        env = {**os.environ, "PYTHONPATH": str(snap / "src"), "P1_LAMINA_SNAPSHOT": full}
        os.execve(sys.executable, [sys.executable, __file__, *sys.argv[1:]], env)
    if args.mode == "one":
        one(args)
    elif args.mode == "summarize":
        RESULTS = Path(args.results)
        saved = json.loads((WORK / "runs_so_far.json").read_text())
        finish(args, saved["runs"], saved["cache_build"])
    else:
        drive(args)


if __name__ == "__main__":
    main()
