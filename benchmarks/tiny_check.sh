#!/usr/bin/env bash
# Smoke check of the generation benchmarks on tiny random models and synthetic text (no SmolLM2,
# no real data, nothing committed): that benchmarks/p5_heal_smollm2.sh and benchmarks/seqkd_cost.py
# run end to end and write their tables. The figures it prints mean nothing.
#
#   bash benchmarks/tiny_check.sh [WORK_DIR]     # default: a fresh temporary folder
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-$(mktemp -d /tmp/lamina-tiny-check-XXXX)}
PY=${PYTHON:-python}
mkdir -p "$WORK/data/wikitext-2-raw"

# synthetic corpus, copy-task pairs, a tiny Llama (BPE tokenizer) and a tiny BART teacher (lamina finetune)
"$PY" - "$WORK" <<'PY'
import json, random, sys
from pathlib import Path

import transformers

from lamina.data.bpe import train_bpe

work = Path(sys.argv[1])
rng = random.Random(0)
words = "the a cat dog sat ran on in park mat house tree red blue big small and then".split()
lines = [" ".join(rng.choice(words) for _ in range(rng.randint(8, 20))) + " ." for _ in range(600)]
for name, part in (("wiki.valid.raw", lines[:400]), ("wiki.test.raw", lines[400:])):
    (work / "data/wikitext-2-raw" / name).write_text("\n".join(part) + "\n")
tok = train_bpe(lines, vocab_size=300, max_length=512)
config = transformers.LlamaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
                                  num_key_value_heads=1, intermediate_size=64, max_position_embeddings=512,
                                  pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                                  eos_token_id=tok.eos_token_id)
transformers.LlamaForCausalLM(config).save_pretrained(work / "tiny-llama")
tok.save_pretrained(work / "tiny-llama")
letters = "abcdefghijklmnop"
for name, n in (("train", 256), ("dev", 32)):
    rows = []
    for _ in range(n):
        i, k = rng.randrange(len(letters) - 1), rng.choice((2, 3))
        rows.append((f"{letters[i]} {k}", " ".join([letters[i], letters[i + 1]] * k)))
    (work / f"{name}.tsv").write_text("source\ttarget\n" + "".join(f"{s}\t{t}\n" for s, t in rows))
print(json.dumps({"work": str(work)}))
PY
BART='{"model_type": "bart", "d_model": 32, "encoder_layers": 2, "decoder_layers": 2, "encoder_attention_heads": 2,
       "decoder_attention_heads": 2, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64, "max_position_embeddings": 64}'
PAIRS=(--task pairs --train-file "$WORK/train.tsv" --validation-file "$WORK/dev.tsv")
[ -d "$WORK/tiny-bart" ] || "$PY" -m lamina.cli finetune "${PAIRS[@]}" --model-config "$BART" --tokenizer-vocab 300 \
  --max-steps 8 --max-length 16 --max-new-tokens 12 --batch-size 16 --no-progress -o "$WORK/tiny-bart" > "$WORK/teacher.log"

echo "== p5_heal_smollm2.sh on the tiny Llama"
PATH="$(dirname "$(command -v "$PY")"):$PATH" LAMINA_DATA_DIR="$WORK/data" MODEL="$WORK/tiny-llama" DROP=1 STEPS=4 \
  LEN=32 EVAL_BLOCKS=2 OUT="$WORK/p5" RES="$WORK/p5-results" bash "$ROOT/benchmarks/p5_heal_smollm2.sh"

echo "== seqkd_cost.py on the tiny BART"
"$PY" "$ROOT/benchmarks/seqkd_cost.py" --teacher "$WORK/tiny-bart" --data-dir "$WORK/data" --task pairs \
  --train-file "$WORK/train.tsv" --validation-file "$WORK/dev.tsv" --pairs 64 --steps 4 --rounds 2 --batch-size 8 \
  --max-length 16 --out "$WORK/seqkd-cost"
echo "tiny check done: $WORK"
