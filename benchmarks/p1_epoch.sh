#!/usr/bin/env bash
# P1 (b), issue 4: one full SST-2 training epoch (67,349 examples, 2,105 steps at batch 32,
# max length 64), MiniLM-L6 SST-2 teacher → 3-layer student, each tool as its documentation
# recommends: lamina with its defaults (teacher-output cache built from cold in a fresh
# --cache-dir and counted in its wall time, dynamic padding, length-grouped batches) and
# TextBrewer 0.2.1 GeneralDistiller with batches padded to 64. Wall time of each whole
# process, their ratio, and the dev accuracy of each student (both scored by `lamina eval`).
#
#   flock /tmp/lamina-cpu.lock bash benchmarks/p1_epoch.sh            # LOSS=kd (default) or LOSS=kd_hidden
#   LAMINA_COMMIT=<hash> ...  runs lamina from a snapshot of that commit (git archive → runs/p1/lamina-<hash>/src,
#                             PYTHONPATH), so others' unfinished edits in src/ do not enter the measurement
#   → benchmarks/results/p1_speed/epoch_$LOSS.{json,md}, runs/p1/epoch/ (models, logs)
#
# Needs the lamina venv (.venv), the TextBrewer venv (.venv-textbrewer, built as described at the top of
# benchmarks/textbrewer/tb_distill.py), runs/teachers/sst2-s42 and runs/p1/student-top3 made by
#   lamina prune runs/teachers/sst2-s42 -o runs/p1/student-top3 --strategy top --keep 3 --no-speed
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${LAMINA_DATA_DIR:-../shared/data}
LOSS=${LOSS:-kd}
OUT=runs/p1/epoch
RESULTS=benchmarks/results/p1_speed
PY=.venv/bin/python
TB_PY=.venv-textbrewer/bin/python
case $LOSS in
  kd) LAMINA_LOSS=kd=0.5,ce=0.5 ;;
  kd_hidden) LAMINA_LOSS=kd=0.5,ce=0.5,hidden_mse=1 ;;
  *) echo "LOSS must be kd or kd_hidden" >&2; exit 2 ;;
esac
if [ -n "${LAMINA_COMMIT:-}" ]; then
  snap=runs/p1/lamina-${LAMINA_COMMIT:0:7}
  if [ ! -f "$snap/COMMIT" ]; then
    mkdir -p "$snap" && git archive "$LAMINA_COMMIT" src | tar -x -C "$snap" && git rev-parse "$LAMINA_COMMIT" > "$snap/COMMIT"
  fi
  export PYTHONPATH=$PWD/$snap/src
fi
# SMOKE_N=N: a script check on N examples (writes under runs/p1/epoch-smoke, no results)
tb_extra=(); lam_extra=()
if [ -n "${SMOKE_N:-}" ]; then
  OUT=runs/p1/epoch-smoke; RESULTS=$OUT/results; mkdir -p "$OUT"
  $PY -c "import json; json.dump(list(range($SMOKE_N)), open('$OUT/idx.json', 'w'))"
  tb_extra=(--indices "$OUT/idx.json"); lam_extra=(--max-train-samples "$SMOKE_N")
fi
mkdir -p "$OUT" "$RESULTS"
# the machine's load every 30 s (about 2 = this job alone: its 2 torch threads on the 2 cores), to judge the noise afterwards
(while true; do echo "$(date +%s) $(cat /proc/loadavg)"; sleep 30; done) > "$OUT/loadavg-$LOSS.txt" &
sampler=$!
trap 'kill $sampler 2>/dev/null' EXIT
now() { date +%s.%N; }

# --- TextBrewer: tokenise (padding to 64), GeneralDistiller one epoch, dev accuracy, save the student
t0=$(now)
$TB_PY benchmarks/textbrewer/tb_distill.py --teacher runs/teachers/sst2-s42 --student runs/p1/student-top3 \
  --data-dir "$DATA" --loss "$LOSS" --epochs 1 --eval --save-dir "$OUT/textbrewer-$LOSS" \
  --work-dir "$OUT/tb-work-$LOSS" "${tb_extra[@]}" --json "$OUT/textbrewer-$LOSS.json" > "$OUT/textbrewer-$LOSS.log" 2>&1
t1=$(now)

# --- lamina: the CLI with its defaults, the cache built from cold in a fresh folder
cache=$OUT/cache-$LOSS-$(date +%Y%m%d%H%M%S)
t2=$(now)
$PY benchmarks/p1_timed_cli.py --json "$OUT/lamina-$LOSS-phases.json" -- distill \
  --teacher runs/teachers/sst2-s42 --task sst2 --data-dir "$DATA" -o "$OUT/lamina-$LOSS" \
  --student-from-teacher top --keep 3 --loss "$LAMINA_LOSS" --temperature 2 --lr 1e-4 --batch-size 32 \
  --max-length 64 --epochs 1 --cache-dir "$cache" --overwrite --seed 42 "${lam_extra[@]}" > "$OUT/lamina-$LOSS.log" 2>&1
t3=$(now)

# --- the same scorer for both students (not timed)
for tool in textbrewer lamina; do
  $PY -m lamina.cli eval "$OUT/$tool-$LOSS" --task sst2 --data-dir "$DATA" --no-speed \
    --json "$OUT/$tool-$LOSS-eval.json" > "$OUT/$tool-$LOSS-eval.log" 2>&1
done

$PY - "$LOSS" "$t0" "$t1" "$t2" "$t3" "$OUT" "$RESULTS" "$cache" <<'EOF'
import json, platform, subprocess, sys
from pathlib import Path
loss, t0, t1, t2, t3, out, results, cache = sys.argv[1], *map(float, sys.argv[2:6]), Path(sys.argv[6]), Path(sys.argv[7]), sys.argv[8]
tb = json.loads((out / f"textbrewer-{loss}.json").read_text())
lam = json.loads((out / f"lamina-{loss}" / "lamina_results.json").read_text())
phases = json.loads((out / f"lamina-{loss}-phases.json").read_text())
acc = {t: json.loads((out / f"{t}-{loss}-eval.json").read_text())["metrics"]["accuracy"] for t in ("textbrewer", "lamina")}
wall_tb, wall_lam = t1 - t0, t3 - t2
tb_median = tb["median_step_seconds"] or float("nan")
samples = [(float(l.split()[0]), float(l.split()[1])) for l in (out / f"loadavg-{loss}.txt").read_text().splitlines() if l.strip()]


def mean_load(a, b):
    xs = [x for ts, x in samples if a <= ts <= b]
    return round(sum(xs) / len(xs), 2) if xs else None


lam_train = phases["trainer_train_seconds"]
steps = lam["training"]["global_steps"]
res = {
    "loss": loss,
    "command": f"flock /tmp/lamina-cpu.lock env LOSS={loss} bash benchmarks/p1_epoch.sh",
    "lamina_command": phases["command"], "lamina_src": phases["lamina_src"], "lamina_commit": phases["lamina_commit_snapshot"],
    "textbrewer_command": tb["command"],
    "repo_head": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "textbrewer": {"wall_seconds_process": round(wall_tb, 1), "train_seconds": tb["train_seconds"], "steps": tb["steps"],
                   "median_step_seconds": round(tb_median, 4), "dev_accuracy_lamina_eval": acc["textbrewer"],
                   "dev_accuracy_own_eval": tb.get("dev_accuracy"), "train_loss_mean": tb["train_loss_mean"]},
    "lamina": {"wall_seconds_process": round(wall_lam, 1), "wall_seconds_record": lam["wall_seconds"],
               "cache_build_seconds": phases.get("cache_build_or_open_seconds"), "cache_dir": cache,
               "trainer_train_seconds_incl_eval_and_checkpoint": lam_train, "steps": steps,
               "mean_step_seconds_incl_eval": round(lam_train / steps, 4),
               "dev_accuracy_lamina_eval": acc["lamina"], "dev_accuracy_record": lam["metrics"].get("accuracy"),
               "train_loss_mean": lam["training"]["train_loss_mean"], "cache": lam["distill"]["cache"]},
    "wall_time_ratio_lamina_over_textbrewer": round(wall_lam / wall_tb, 3),
    "target": "<= 0.35, dev accuracy equal within noise",
    "machine": f"{platform.machine()}, torch threads 2",
    "loadavg_1min_mean": {"textbrewer": mean_load(t0, t1), "lamina": mean_load(t2, t3)},
}
(results / f"epoch_{loss}.json").write_text(json.dumps(res, indent=2))
md = f"""# P1 (b): one SST-2 epoch, lamina vs TextBrewer 0.2.1 (loss set `{loss}`)

`{res['command']}`

| | wall time (s) | of which | dev accuracy |
|---|---:|---|---:|
| TextBrewer 0.2.1 (GeneralDistiller, padded to 64) | {wall_tb:.0f} | training {tb['train_seconds']:.0f} s ({tb['steps']} steps, median {tb_median:.3f} s/step) | {100 * acc['textbrewer']:.2f} |
| lamina (defaults: cache, dynamic padding, length grouping) | {wall_lam:.0f} | cache build {phases.get('cache_build_or_open_seconds', 0):.0f} s (cold) + Trainer.train {lam_train:.0f} s ({steps} steps, with its end-of-epoch eval and checkpoint) | {100 * acc['lamina']:.2f} |

Wall-time ratio lamina / TextBrewer: **{wall_lam / wall_tb:.3f}** (target ≤ 0.35). Wall time = the whole
process (imports, data, tokenisation, models, cache build, training, evaluation, saving).
Dev accuracy: both students scored by `lamina eval` (872 examples). Mean 1-minute load average
while each ran (about 2 = the job alone: 2 torch threads on 2 cores): TextBrewer {res['loadavg_1min_mean']['textbrewer']},
lamina {res['loadavg_1min_mean']['lamina']}.
"""
(results / f"epoch_{loss}.md").write_text(md)
print(md)
EOF
