#!/usr/bin/env bash
# K1 (issue 29) — UNRUN: written with the top-k cache (--cache-top-k), not yet run by anyone.
# SmolLM2-135M healing by logit KD: the teacher is smollm2-135m, the student the same model with
# $KEEP of its 30 layers (--student-from-teacher $STRATEGY), trained $STEPS steps on wikitext-2
# with --loss kd=1, once with the teacher online (full vocabulary) and once per K in $KS from the
# top-k cache. Per row: peak RSS (/usr/bin/time -v), step time (the Trainer's logged train_runtime
# / the record's global steps; the top-k rows exclude the one-off cache build, timed apart), cache bytes per target
# token (the entry's size / its meta.json target_tokens) and the healed perplexity (the record's
# dev perplexity after the same steps). Settles the provisional default K (64): the smallest K
# whose healed perplexity is within noise of the online row (repeat SEEDS to know the noise).
#   LAMINA_DATA_DIR=../shared/data bash benchmarks/k1_topk_cache.sh
#   KS="16 64" STEPS=200 SEEDS=42 LAMINA_DATA_DIR=../shared/data bash benchmarks/k1_topk_cache.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LAMINA_DATA_DIR:?set LAMINA_DATA_DIR}"
KS=${KS:-16 64 256}
SEEDS=${SEEDS:-42}
STEPS=${STEPS:-500}
KEEP=${KEEP:-20}
STRATEGY=${STRATEGY:-contribution}
MAXLEN=${MAXLEN:-256}
BATCH=${BATCH:-8}
RUNS=${RUNS:-runs/k1}
RESULTS=benchmarks/results/k1_topk_cache
CORPUS=${CORPUS:-$LAMINA_DATA_DIR/wikitext-2-raw/wiki.valid.raw}  # (the shared data has no wiki.train.raw)
EVAL=${EVAL:-$LAMINA_DATA_DIR/wikitext-2-raw/wiki.test.raw}
mkdir -p "$RUNS" "$RESULTS"
command -v /usr/bin/time >/dev/null || { echo "error: /usr/bin/time (GNU time) is needed for peak RSS" >&2; exit 2; }
common=(--task causal-lm --corpus "$CORPUS" --eval-corpus "$EVAL" --teacher smollm2-135m --student-from-teacher "$STRATEGY"
        --keep "$KEEP" --loss kd=1 -T 1 --max-length "$MAXLEN" --batch-size "$BATCH" --max-steps "$STEPS"
        --lr 1e-4 --no-progress --overwrite)

run() {  # name, extra flags...
  local name=$1; shift
  /usr/bin/time -v -o "$RUNS/$name.time" python -m lamina.cli distill "${common[@]}" -o "$RUNS/$name" "$@" \
    > "$RUNS/$name.log" 2>&1
  cp "$RUNS/$name/lamina_results.json" "$RESULTS/$name.json"
}

for seed in $SEEDS; do
  run "online-s$seed" --seed "$seed"
  for k in $KS; do
    cache="$RUNS/cache-k$k"
    # build the entry first (1 step), so the measured run reads a warm cache and times training alone
    /usr/bin/time -v -o "$RUNS/build-k$k-s$seed.time" python -m lamina.cli distill "${common[@]}" --max-steps 1 \
      --cache-top-k "$k" --cache-dir "$cache" --seed "$seed" -o "$RUNS/build-k$k-s$seed" > "$RUNS/build-k$k.log" 2>&1
    run "topk$k-s$seed" --cache-top-k "$k" --cache-dir "$cache" --seed "$seed"
  done
done

python - "$RUNS" "$RESULTS" <<'PY'
import json, pathlib, re, sys
runs, results = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
rows = []
for rec in sorted(results.glob("*.json")):
    r = json.loads(rec.read_text()); name = rec.stem
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", (runs / f"{name}.time").read_text())
    steps = r["training"].get("global_steps") or 1
    runtime = re.search(r"'train_runtime': '([0-9.]+)'", (runs / f"{name}.log").read_text())
    row = {"run": name, "kd_targets": r["distill"].get("kd_targets"), "peak_rss_mib": int(rss.group(1)) // 1024,
           "step_s": round(float(runtime.group(1)) / steps, 4) if runtime else None,
           "perplexity": r["metrics"]["perplexity"]}
    m = re.match(r"topk(\d+)-", name)
    if m:
        entries = [p for p in (runs / f"cache-k{m.group(1)}").iterdir() if (p / "meta.json").is_file()]
        meta = json.loads((entries[0] / "meta.json").read_text())
        size = sum(f.stat().st_size for f in entries[0].iterdir())
        row["cache_bytes_per_token"] = round(size / meta["target_tokens"], 1)
    rows.append(row)
(results / "summary.json").write_text(json.dumps(rows, indent=2))
for row in rows:
    print(row)
PY
