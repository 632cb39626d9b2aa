"""Seq2seq tasks, encoder-decoder adapters and sequence-level KD on a synthetic copy task with tiny
random configs: Word-KD, Seq-KD, Seq-Inter and Seq-KD-soft for an encoder-decoder (BART) student,
Word-KD and Seq-KD for a decoder-only (Llama) one; the n-best store; sacrebleu; bad input."""

from __future__ import annotations

import functools
import gzip
import json
import math
import random
import subprocess
import sys
import time

import pytest
import torch
import transformers
from conftest import assert_cli_ok, assert_one_line_error, tiny_llama
from typer.testing import CliRunner

from lamina.cli import app
from lamina.distillation.nbest import build_or_open, pick_target, read_targets
from lamina.errors import LaminaError
from lamina.eval.metrics import corpus_bleu
from lamina.models import drop_layers

runner = CliRunner()
LETTERS = list("abcdefghijklmnop")
BART = {
    "model_type": "bart",
    "d_model": 32,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 64,
    "decoder_ffn_dim": 64,
    "max_position_embeddings": 64,
    "dropout": 0.0,
    "attention_dropout": 0.0,
}
LLAMA = {
    "model_type": "llama",
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
}
TRAIN = ["--max-length", "12", "--max-new-tokens", "10", "--batch-size", "16", "--no-progress", "--logging-steps", "5"]


_ok = assert_cli_ok
_one_line_error = functools.partial(assert_one_line_error, code=2)


@pytest.fixture(scope="module")
def copy_task(tmp_path_factory):
    """Pairs files of a copy task small models learn in a few hundred steps: a letter (and a
    count, 2 or 3) → the letter and the next one, repeated that many times ("c 2" → "c d c d")."""
    folder = tmp_path_factory.mktemp("copy")
    rng = random.Random(0)
    for name, n in (("train", 320), ("dev", 24)):
        rows = []
        for _ in range(n):
            i, k = rng.randrange(len(LETTERS) - 1), rng.choice((2, 3))
            rows.append((f"{LETTERS[i]} {k}", " ".join([LETTERS[i], LETTERS[i + 1]] * k)))
        (folder / f"{name}.tsv").write_text("source\ttarget\n" + "".join(f"{s}\t{t}\n" for s, t in rows))
    return ["--task", "pairs", "--train-file", str(folder / "train.tsv"), "--validation-file", str(folder / "dev.tsv")]


def _metrics(folder):
    return json.loads((folder / "lamina_results.json").read_text())


def _teacher(tmp_path_factory, copy_task, config, name, epochs):
    out = tmp_path_factory.mktemp(name) / "teacher"
    _ok(
        runner.invoke(
            app,
            [
                "finetune",
                *copy_task,
                "--model-config",
                json.dumps(config),
                "--tokenizer-vocab",
                "300",
                "-o",
                str(out),
                "--epochs",
                str(epochs),
                "--lr",
                "5e-3",
                "--warmup-ratio",
                "0.05",
                *TRAIN,
            ],
        )
    )
    return out


@pytest.fixture(scope="module")
def bart_teacher(tmp_path_factory, copy_task):
    return _teacher(tmp_path_factory, copy_task, BART, "bart", 12)


@pytest.fixture(scope="module")
def llama_teacher(tmp_path_factory, copy_task):
    return _teacher(tmp_path_factory, copy_task, LLAMA, "llama", 12)


def _student_config(teacher, **changes):
    config = json.loads((teacher / "config.json").read_text())
    config.update(changes)
    return json.dumps({k: v for k, v in config.items() if k not in ("architectures", "transformers_version")})


def test_a_teacher_trained_from_a_config_learns_the_copy_task(bart_teacher):
    record = _metrics(bart_teacher)
    assert record["metrics"]["bleu"] > 20, record["metrics"]
    assert record["model"].startswith("random init from")
    tok = transformers.AutoTokenizer.from_pretrained(bart_teacher)
    assert len(tok) <= 300 and tok.eos_token == "</s>"
    assert (
        type(transformers.AutoModelForSeq2SeqLM.from_pretrained(bart_teacher)).__name__
        == "BartForConditionalGeneration"
    )


@pytest.mark.parametrize("arch", ["bart", "llama"])
def test_sequence_level_kd_methods_teach_a_student_from_a_config(
    arch, bart_teacher, llama_teacher, copy_task, tmp_path
):
    teacher = bart_teacher if arch == "bart" else llama_teacher
    small = (
        {"d_model": 16, "encoder_layers": 1, "decoder_layers": 1, "encoder_ffn_dim": 32, "decoder_ffn_dim": 32}
        if arch == "bart"
        else {"hidden_size": 16, "num_hidden_layers": 1, "intermediate_size": 32}
    )
    student = [
        "--teacher",
        str(teacher),
        "--student-config",
        _student_config(teacher, **small),
        *TRAIN,
        "--max-steps",
        "60",
        "--lr",
        "1e-2",
        "--warmup-ratio",
        "0.05",
        "-T",
        "1",
    ]
    targets = tmp_path / "targets"
    _ok(
        runner.invoke(
            app,
            [
                "generate-targets",
                str(teacher),
                *copy_task,
                "-o",
                str(targets),
                "--num-beams",
                "3",
                "--n-best",
                "3",
                "--max-length",
                "12",
                "--max-new-tokens",
                "10",
                "--cache-dir",
                str(tmp_path / "nbest"),
            ],
        )
    )
    rows, meta = read_targets(targets)
    assert len(rows) == 320 and all(len(r["nbest"]) == 3 for r in rows) and meta["decoding"]["num_beams"] == 3
    start = tmp_path / "start"  # the untrained student: the same config and seed, no step taken
    _ok(runner.invoke(app, ["distill", *copy_task, *student, "-o", str(start), "--max-steps", "1", "--lr", "1e-9"]))
    methods = {
        "word-kd": ["--alpha", "0.5"],
        "seq-kd": ["--method", "seqkd", "--targets", str(targets), "--loss", "ce"],
    }
    if arch == "bart":
        methods["seq-inter"] = ["--method", "seqkd", "--targets", str(targets), "--pick", "inter", "--loss", "ce"]
        methods["seq-kd-soft"] = ["--method", "seqkd", "--targets", str(targets), "--loss", "kd"]
    begin = _metrics(start)["metrics"]
    for name, args in methods.items():
        out = tmp_path / name
        _ok(runner.invoke(app, ["distill", *copy_task, *student, *args, "-o", str(out)]))
        record = _metrics(out)
        tr = record["training"]
        assert tr["train_loss_last"] < tr["train_loss_first"], (name, tr)
        assert record["metrics"]["loss"] < begin["loss"], (name, record["metrics"], begin)
        assert record["metrics"]["bleu"] > begin["bleu"], (name, record["metrics"], begin)
        if name.startswith("seq"):
            assert record["distill"]["method_record"]["fingerprint"] == meta["fingerprint"]


def test_word_kd_student_from_teacher_layers_and_the_pruned_bart_generates_the_same_with_the_cache(
    bart_teacher, copy_task, tmp_path
):
    out = tmp_path / "s"
    _ok(
        runner.invoke(
            app,
            [
                "distill",
                *copy_task,
                "--teacher",
                str(bart_teacher),
                "--student-from-teacher",
                "top",
                "--keep",
                "1",
                "--alpha",
                "0.5",
                "-o",
                str(out),
                *TRAIN,
                "--max-steps",
                "4",
            ],
        )
    )
    assert _metrics(out)["distill"]["student_init"].startswith("teacher layers [0]")
    pruned = tmp_path / "p"
    _ok(
        runner.invoke(
            app, ["prune", str(bart_teacher), "-o", str(pruned), "--keep", "1", "--keep-decoder", "1", "--no-speed"]
        )
    )
    record = _metrics(pruned)["prune"]
    assert record["kept_layers"] == [0] and record["kept_decoder_layers"] == [0]
    model = transformers.AutoModelForSeq2SeqLM.from_pretrained(pruned).eval()
    assert (model.config.encoder_layers, model.config.decoder_layers) == (1, 1)
    ids = torch.tensor([[20, 21, 22, 2]])
    kw = dict(attention_mask=torch.ones_like(ids), max_new_tokens=8, min_new_tokens=8, do_sample=False)
    assert torch.equal(model.generate(ids, use_cache=True, **kw), model.generate(ids, use_cache=False, **kw))


def test_t5_keeps_block_0_and_xlnet_is_prunable():
    t5 = transformers.T5ForConditionalGeneration(
        transformers.T5Config(
            vocab_size=50, d_model=16, num_layers=3, num_decoder_layers=2, num_heads=2, d_ff=32, d_kv=8
        )
    )
    pruned = drop_layers(drop_layers(t5, [0, 2]), [0], stack="decoder")
    assert (pruned.config.num_layers, pruned.config.num_decoder_layers) == (2, 1)
    assert len(pruned.encoder.block) == 2 and len(pruned.decoder.block) == 1
    with pytest.raises(LaminaError, match="block 0"):
        drop_layers(t5, [1, 2])
    xlnet = transformers.XLNetLMHeadModel(
        transformers.XLNetConfig(vocab_size=50, d_model=16, n_layer=3, n_head=2, d_inner=32)
    ).eval()
    small = drop_layers(xlnet, [0, 2])
    assert small.config.n_layer == 2 and small(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 50)


def test_sacrebleu_corpus_bleu_equals_the_sacrebleu_command(tmp_path):
    hyps = ["the cat sat on the mat", "a dog ran to the park", "red house near a blue tree"]
    refs = ["the cat sat on a mat", "the dog ran to the park", "a red house by the blue tree"]
    (tmp_path / "hyp.txt").write_text("\n".join(hyps) + "\n")
    (tmp_path / "ref.txt").write_text("\n".join(refs) + "\n")
    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "sacrebleu",
            str(tmp_path / "ref.txt"),
            "-i",
            str(tmp_path / "hyp.txt"),
            "-b",
            "-w",
            "4",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert corpus_bleu(hyps, refs) == pytest.approx(float(printed.stdout.strip()), abs=1e-4)
    assert 0 < corpus_bleu(hyps, refs) < 100


def test_seq_inter_picks_the_candidate_closest_to_the_reference():
    row = {
        "reference": "the cat sat on the mat",
        "nbest": ["a cat is sitting", "the cat sat on a mat", "the cat sat", "on the mat the cat sat"],
    }
    assert pick_target(row, "best") == "a cat is sitting"
    assert pick_target(row, "inter") == "the cat sat on a mat"  # the only candidate sharing 4-grams


def test_nbest_store_keys_on_weights_data_and_decoding_and_never_reads_a_partial_build(tmp_path, monkeypatch):
    import lamina.eval.generation as generation

    tok, model, _ = _tiny_pair_models()
    src, ref = ["a b c", "d e f"], ["a b c", "d e f"]
    dec = {"num_beams": 2, "n_best": 2, "max_new_tokens": 4, "max_length": 12}
    log = lambda _: None  # noqa: E731
    first, meta, reused = build_or_open(model, tok, src, ref, root=tmp_path, decoding=dec, log=log)
    assert not reused and len(read_targets(first)[0]) == 2
    assert build_or_open(model, tok, src, ref, root=tmp_path, decoding=dec, log=log)[2]  # unchanged: reused
    entries = {first}
    for changed in ({"decoding": {**dec, "num_beams": 3}}, {"src": ["a b c", "d e e"]}):
        entry, _, reused = build_or_open(
            model, tok, changed.get("src", src), ref, root=tmp_path, decoding=changed.get("decoding", dec), log=log
        )
        assert not reused and entry not in entries
        entries.add(entry)
    with torch.no_grad():
        model.lm_head.weight[0, 0] += 1.0  # other weights: another entry
    entry, _, reused = build_or_open(model, tok, src, ref, root=tmp_path, decoding=dec, log=log)
    assert not reused and entry not in entries
    entries.add(entry)

    def dies(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(generation, "generate_texts", dies)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(KeyboardInterrupt):
        build_or_open(model, tok, src, ref, root=tmp_path, decoding={**dec, "n_best": 1}, log=log)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing half-written is left
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "targets.jsonl").write_text('{"nbest": ["x"]}\n')
    with pytest.raises(LaminaError, match="no complete teacher targets"):
        read_targets(tmp_path / "partial")


def test_a_killed_nbest_build_is_swept_by_the_next_one(tmp_path):
    from lamina.distillation.cache import STALE_UNLOCKED_S, _new_temp
    from lamina.distillation.nbest import sweep

    dead, owner = _new_temp(tmp_path, "ab" * 12)  # what kill -9 leaves mid-write: its lock is gone with it
    (dead / "targets.jsonl").write_text('{"nbest": ["x"]}\n')
    owner.close()
    live, live_owner = _new_temp(tmp_path, "cd" * 12)  # a build under way: its lock is held
    old = tmp_path / (".%s.partial-abc123" % ("ef" * 12))  # an older lamina's folder: no lock to ask
    old.mkdir()
    (old / "targets.jsonl").write_text("")
    foreign = tmp_path / (".%s-keepme" % ("01" * 12))  # holds something not the store's: never touched
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    logs = []
    assert sweep(tmp_path, log=logs.append) == [dead] and "interrupted build" in logs[0]
    assert sweep(tmp_path, log=logs.append, now=time.time() + STALE_UNLOCKED_S + 1) == [old]
    assert live.is_dir() and foreign.is_dir()
    live_owner.close()
    tok, model, _ = _tiny_pair_models()
    dec = {"num_beams": 1, "n_best": 1, "max_new_tokens": 4, "max_length": 12}
    entry, _, _ = build_or_open(model, tok, ["a b"], ["a b"], root=tmp_path, decoding=dec, log=lambda _: None)
    assert not live.exists() and foreign.is_dir()  # a build sweeps first
    assert sorted(p.name for p in entry.iterdir()) == ["meta.json", "targets.jsonl"]  # no .owner left in the entry


def test_bad_input(bart_teacher, copy_task, tmp_path, tiny_bert_with_tokenizer):
    data = tmp_path / "data" / "multi30k"
    data.mkdir(parents=True)
    for stem, n_de, n_en in (("train", 3, 2), ("val", 1, 1), ("test_2016_flickr", 1, 1)):
        for lang, n in (("de", n_de), ("en", n_en)):
            with gzip.open(data / f"{stem}.{lang}.gz", "wt", encoding="utf-8") as f:
                f.write("".join(f"line {i}\n" for i in range(n)))
    _one_line_error(
        runner.invoke(
            app,
            [
                "finetune",
                "--task",
                "multi30k",
                "--data-dir",
                str(data.parent),
                "--model-config",
                json.dumps(BART),
                "-o",
                str(tmp_path / "a"),
            ],
        ),
        "has 3 lines but train.en.gz has 2",
    )
    empty = tmp_path / "empty.tsv"
    empty.write_text("source\ttarget\na b\ta b\nc d\t\n")
    _one_line_error(
        runner.invoke(
            app,
            [
                "eval",
                str(bart_teacher),
                "--task",
                "pairs",
                "--train-file",
                str(empty),
                "--validation-file",
                str(empty),
                "--no-speed",
                "--max-length",
                "12",
            ],
        ),
        "pair 2 has an empty target",
    )
    _one_line_error(
        runner.invoke(app, ["eval", str(bart_teacher), *copy_task, "--num-beams", "0", "--no-speed"]), "--num-beams"
    )
    _one_line_error(
        runner.invoke(app, ["eval", str(tiny_bert_with_tokenizer), *copy_task, "--no-speed", "--max-length", "12"]),
        "is a classifier",
    )
    llama = tmp_path / "llama"
    _one_line_error(
        runner.invoke(
            app,
            [
                "finetune",
                *copy_task,
                "--model-config",
                json.dumps(LLAMA),
                "-o",
                str(llama),
                "--max-length",
                "60",
                "--max-new-tokens",
                "10",
            ],
        ),
        "beyond the model's 64 positions",
    )
    other = tmp_path / "other"  # targets generated by another teacher are refused
    _ok(runner.invoke(app, ["prune", str(bart_teacher), "-o", str(other), "--keep", "1", "--no-speed"]))
    targets = tmp_path / "targets"
    _ok(
        runner.invoke(
            app,
            [
                "generate-targets",
                str(other),
                *copy_task,
                "-o",
                str(targets),
                "--num-beams",
                "1",
                "--max-train-samples",
                "8",
                "--max-length",
                "12",
                "--max-new-tokens",
                "10",
                "--cache-dir",
                str(tmp_path / "nb"),
            ],
        )
    )
    _one_line_error(
        runner.invoke(
            app,
            [
                "distill",
                *copy_task,
                "--teacher",
                str(bart_teacher),
                "--method",
                "seqkd",
                "--targets",
                str(targets),
                "--loss",
                "ce",
                "--student-from-teacher",
                "top",
                "--keep",
                "1",
                "-o",
                str(tmp_path / "b"),
                *TRAIN,
            ],
        ),
        "another teacher",
    )
    _one_line_error(
        runner.invoke(
            app,
            [
                "distill",
                *copy_task,
                "--teacher",
                str(bart_teacher),
                "--method",
                "seqkd",
                "--loss",
                "ce",
                "-o",
                str(tmp_path / "c"),
            ],
        ),
        "needs --targets",
    )
    assert not any((tmp_path / n).exists() for n in ("a", "b", "c", "llama"))
    assert not any((tmp_path / f"{n}.work").exists() for n in ("a", "b", "c", "llama")), "a refused run leaves no work"


def _tiny_pair_models():
    """A BPE tokenizer and a tiny random BART and Llama on its vocabulary."""
    from lamina.data.bpe import train_bpe

    tok = train_bpe([" ".join(LETTERS)] * 4, vocab_size=300, max_length=64)
    torch.manual_seed(0)
    bart = transformers.BartForConditionalGeneration(
        transformers.BartConfig(
            vocab_size=len(tok),
            d_model=16,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=32,
            decoder_ffn_dim=32,
            max_position_embeddings=64,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
            decoder_start_token_id=1,
            forced_eos_token_id=None,
        )
    ).eval()
    llama = tiny_llama(len(tok), **{k: v for k, v in LLAMA.items() if k != "model_type"}, pad_token_id=0)
    return tok, bart, llama


@pytest.mark.parametrize("arch", ["bart", "llama"])
def test_a_sequence_probability_is_exp_of_its_token_log_probs_summed_step_by_step(arch):
    """seed 001's p(ŷ): sequence_log_probs (one teacher-forced pass over padded batches) equals log p(y|x)
    summed token by token from separate forward passes over growing prefixes, for both model kinds."""
    import datasets

    from lamina.data.pairs import PairCollator, encode_pairs
    from lamina.eval.scoring import sequence_log_probs

    tok, bart, llama = _tiny_pair_models()
    model = bart if arch == "bart" else llama
    pairs = {"source": ["a b c", "d e f g h i"], "target": ["b c d e f", "e"]}
    decoder_only = arch == "llama"
    encoded = encode_pairs(
        datasets.Dataset.from_dict(pairs), tok, max_length=12, max_target_length=10, decoder_only=decoder_only
    )
    got = sequence_log_probs(model, encoded, PairCollator(tok, None if decoder_only else 1), batch_size=2)
    for i, (source, target) in enumerate(zip(pairs["source"], pairs["target"])):
        src, tgt = tok(source)["input_ids"], tok(text_target=target)["input_ids"]
        assert tgt[-1] == tok.eos_token_id  # the end of the sentence is part of its probability
        total = 0.0
        with torch.no_grad():
            for t in range(len(tgt)):
                if decoder_only:
                    logits = model(torch.tensor([src + tgt[:t]])).logits[0, -1]
                else:
                    logits = model(
                        input_ids=torch.tensor([src]), decoder_input_ids=torch.tensor([[1] + tgt[:t]])
                    ).logits[0, -1]
                total += torch.log_softmax(logits, -1)[tgt[t]].item()
        assert got[i] == pytest.approx(total, abs=1e-4)
        assert 0 < torch.exp(torch.tensor(got[i])).item() < 1


def test_eval_scores_the_probability_of_the_teachers_beam_output(bart_teacher, copy_task, tmp_path):
    dev_targets = tmp_path / "dev-targets"
    _ok(
        runner.invoke(
            app,
            [
                "generate-targets",
                str(bart_teacher),
                *copy_task,
                "--split",
                "dev",
                "-o",
                str(dev_targets),
                "--num-beams",
                "3",
                "--max-length",
                "12",
                "--max-new-tokens",
                "10",
                "--cache-dir",
                str(tmp_path / "nb"),
            ],
        )
    )
    rows, meta = read_targets(dev_targets)
    assert meta["split"] == "dev" and len(rows) == 24  # every dev pair, whatever --max-train-samples says
    scored = tmp_path / "scored"
    _ok(
        runner.invoke(
            app,
            [
                "eval",
                str(bart_teacher),
                *copy_task,
                "--beam-targets",
                str(dev_targets),
                "--no-speed",
                "--max-length",
                "12",
                "--max-new-tokens",
                "10",
                "-o",
                str(scored),
            ],
        )
    )
    m = _metrics(scored)["metrics"]
    # the teacher learned the task: its own beam output is likely under it; the two figures are one measurement
    assert 0.3 < m["p_teacher_beam"] <= 1 and m["nll_teacher_beam"] > 0
    assert m["p_teacher_beam"] >= math.exp(-m["nll_teacher_beam"]) - 1e-9  # mean of exp ≥ exp of mean (Jensen)
    report = runner.invoke(app, ["report", str(scored), "--metrics", "bleu,p_teacher_beam", "--no-plots"])
    _ok(report)
    table = next(line for line in report.output.splitlines() if line.startswith("| configuration"))
    assert table.rstrip(" |").endswith("| bleu | p_teacher_beam")  # the chosen metrics as columns, in order
    assert f"| {100 * m['p_teacher_beam']:.2f} |" in report.output  # a probability shown in %, as the seed does
    # training targets score no dev sources; dev targets are not training data for Seq-KD
    train_targets = tmp_path / "train-targets"
    _ok(
        runner.invoke(
            app,
            [
                "generate-targets",
                str(bart_teacher),
                *copy_task,
                "-o",
                str(train_targets),
                "--num-beams",
                "1",
                "--max-train-samples",
                "8",
                "--max-length",
                "12",
                "--max-new-tokens",
                "10",
                "--cache-dir",
                str(tmp_path / "nb"),
            ],
        )
    )
    _one_line_error(
        runner.invoke(
            app,
            [
                "eval",
                str(bart_teacher),
                *copy_task,
                "--beam-targets",
                str(train_targets),
                "--no-speed",
                "--max-length",
                "12",
                "--max-new-tokens",
                "10",
            ],
        ),
        "were not decoded there",
    )
    _one_line_error(
        runner.invoke(
            app,
            [
                "distill",
                *copy_task,
                "--teacher",
                str(bart_teacher),
                "--method",
                "seqkd",
                "--targets",
                str(dev_targets),
                "--loss",
                "ce",
                "--student-from-teacher",
                "top",
                "--keep",
                "1",
                "-o",
                str(tmp_path / "d"),
                *TRAIN,
            ],
        ),
        "--split train",
    )
    _one_line_error(
        runner.invoke(app, ["eval", str(bart_teacher), "--task", "sst2", "--beam-targets", str(dev_targets)]),
        "beam_targets is an option of bbc-headline, multi30k, pairs",
    )
    assert not (tmp_path / "d").exists()


MARIAN = {
    "model_type": "marian",
    "d_model": 16,
    "encoder_layers": 3,
    "decoder_layers": 3,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 32,
    "decoder_ffn_dim": 32,
    "max_position_embeddings": 64,
    "dropout": 0.0,
    "attention_dropout": 0.0,
}


def test_distill_keep_decoder_builds_the_student_from_the_teachers_chosen_decoder_layers(copy_task, tmp_path):
    from conftest import make_tiny

    from lamina.distillation.student import build_student

    teacher = tmp_path / "marian"  # a 3+3 Marian with its BPE tokenizer, barely trained: only its layers matter here
    _ok(
        runner.invoke(
            app,
            [
                "finetune",
                *copy_task,
                "--model-config",
                json.dumps(MARIAN),
                "--tokenizer-vocab",
                "300",
                "-o",
                str(teacher),
                "--max-steps",
                "2",
                *TRAIN,
            ],
        )
    )
    model = transformers.AutoModelForSeq2SeqLM.from_pretrained(teacher).eval()
    tok = transformers.AutoTokenizer.from_pretrained(teacher)
    student, _, init = build_student(
        task=None,
        teacher=model,
        teacher_tokenizer=tok,
        teacher_name="t",
        from_teacher="alternate",
        keep=2,
        keep_decoder=2,
    )
    assert init["kept_layers"] == [0, 2] and init["kept_decoder_layers"] == [0, 2]
    assert (student.config.encoder_layers, student.config.decoder_layers) == (2, 2)
    assert len(student.model.decoder.layers) == 2 and len(model.model.decoder.layers) == 3  # the teacher is intact
    for mine, theirs in zip(student.model.decoder.layers, [model.model.decoder.layers[i] for i in (0, 2)]):
        a, b = mine.state_dict(), theirs.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(student.model.decoder.layers[1].fc1.weight, model.model.decoder.layers[1].fc1.weight)

    out, dev_targets = tmp_path / "student", tmp_path / "dev-targets"
    _ok(
        runner.invoke(
            app,
            [
                "generate-targets",
                str(teacher),
                *copy_task,
                "--split",
                "dev",
                "--num-beams",
                "1",
                "-o",
                str(dev_targets),
                "--max-length",
                "12",
                "--max-new-tokens",
                "10",
                "--cache-dir",
                str(tmp_path / "nb"),
            ],
        )
    )
    _ok(
        runner.invoke(
            app,
            [
                "distill",
                *copy_task,
                "--teacher",
                str(teacher),
                "--student-from-teacher",
                "top",
                "--keep",
                "2",
                "--keep-decoder",
                "1",
                "--alpha",
                "0.5",
                "-T",
                "1",
                "-o",
                str(out),
                *TRAIN,
                "--max-steps",
                "30",
                "--lr",
                "1e-2",
                "--beam-targets",
                str(dev_targets),
            ],
        )
    )
    record = _metrics(out)
    assert record["distill"]["student_kept_decoder_layers"] == [0]
    assert 0 < record["metrics"]["p_teacher_beam"] < 1  # a distilled student scores p(ŷ) at its evaluation too
    assert record["training"]["train_loss_last"] < record["training"]["train_loss_first"], record["training"]
    saved = transformers.AutoModelForSeq2SeqLM.from_pretrained(out)
    assert (saved.config.encoder_layers, saved.config.decoder_layers) == (2, 1)
    with pytest.raises(LaminaError, match="is for encoder-decoders"):
        build_student(
            task=None,
            teacher=make_tiny("llama"),
            teacher_tokenizer=None,
            teacher_name="t",
            from_teacher="top",
            keep=2,
            keep_decoder=1,
        )
    with pytest.raises(LaminaError, match="data-free strategy"):
        build_student(
            task=None,
            teacher=model,
            teacher_tokenizer=tok,
            teacher_name="t",
            from_teacher="contribution",
            keep=2,
            keep_decoder=1,
        )
    _one_line_error(
        runner.invoke(
            app,
            [
                "distill",
                *copy_task,
                "--teacher",
                str(teacher),
                "--student-config",
                json.dumps(MARIAN),
                "--keep-decoder",
                "1",
                "-o",
                str(tmp_path / "x"),
                *TRAIN,
            ],
        ),
        "--keep-decoder goes with --student-from-teacher",
    )
    assert not (tmp_path / "x").exists()


def test_a_pruned_t5_generates_the_same_with_and_without_the_cache_after_a_vanilla_reload(tmp_path):
    """prune --keep / --keep-decoder on a tiny T5 (block 0 of each stack holds the relative position
    bias and is kept): after AutoModelForSeq2SeqLM.from_pretrained, greedy decoding with the KV cache
    equals decoding without it (the kept decoder blocks' layer indices renumbered)."""
    torch.manual_seed(0)
    t5 = transformers.T5ForConditionalGeneration(
        transformers.T5Config(
            vocab_size=60,
            d_model=16,
            num_layers=3,
            num_decoder_layers=3,
            num_heads=2,
            d_ff=32,
            d_kv=8,
            dropout_rate=0.0,
            decoder_start_token_id=0,
        )
    )
    t5.save_pretrained(tmp_path / "t5")
    pruned = tmp_path / "p"
    _ok(
        runner.invoke(
            app,
            [
                "prune",
                str(tmp_path / "t5"),
                "-o",
                str(pruned),
                "--strategy",
                "alternate",
                "--keep",
                "2",
                "--keep-decoder",
                "2",
                "--no-speed",
            ],
        )
    )
    record = _metrics(pruned)["prune"]
    assert record["kept_layers"] == [0, 2] and record["kept_decoder_layers"] == [0, 2]
    model = transformers.AutoModelForSeq2SeqLM.from_pretrained(pruned).eval()
    assert (model.config.num_layers, model.config.num_decoder_layers) == (2, 2)
    assert [b.layer[0].SelfAttention.layer_idx for b in model.decoder.block] == [0, 1]
    assert model.decoder.block[0].layer[0].SelfAttention.has_relative_attention_bias
    ids = torch.tensor([[5, 17, 42, 8, 1], [9, 3, 30, 1, 0]])
    kw = dict(attention_mask=(ids != 0).long(), max_new_tokens=10, min_new_tokens=10, do_sample=False)
    cached, uncached = model.generate(ids, use_cache=True, **kw), model.generate(ids, use_cache=False, **kw)
    assert cached.shape == (2, 11) and torch.equal(cached, uncached)
    # the same weights as the original's blocks 0 and 2: the reload kept what was chosen
    full = t5.state_dict()
    assert torch.equal(
        model.decoder.block[1].layer[2].DenseReluDense.wi.weight,
        full["decoder.block.2.layer.2.DenseReluDense.wi.weight"],
    )


def test_generation_tasks_keep_the_final_model_not_the_checkpoint_with_the_lowest_reference_loss(tmp_path):
    """Sequence-level KD raises the references' perplexity while BLEU rises, so picking the checkpoint
    by that loss would keep an early, barely trained Seq-KD student (it did in the P6 run)."""
    from lamina.tasks.base import get_task
    from lamina.tasks.objectives import objective_for
    from lamina.training.arguments import training_arguments
    from lamina.training.settings import TrainSettings

    task = get_task("multi30k")
    settings = objective_for(task).trainer_settings(task)
    args = training_arguments(TrainSettings(output=str(tmp_path / "out")), tmp_path, num_examples=8, **settings)
    assert args.load_best_model_at_end is False
    classification = get_task("sst2")  # classifiers still restore the best checkpoint by their metric
    assert training_arguments(
        TrainSettings(output=str(tmp_path / "out")),
        tmp_path,
        num_examples=8,
        **objective_for(classification).trainer_settings(classification),
    ).load_best_model_at_end


@pytest.mark.parametrize("arch", ["bart", "llama"])
def test_reference_perplexity_is_token_weighted_and_the_same_for_any_batch_size(arch):
    """The references' loss is total target-token NLL / target tokens over the split: the same for eval batch
    sizes 1, 3 and 8, and equal to one unpadded forward pass per pair through the model's own loss."""
    import datasets

    from lamina.data.pairs import PairCollator, encode_pairs
    from lamina.eval.scoring import token_loss

    tok, bart, llama = _tiny_pair_models()
    model = bart if arch == "bart" else llama
    rng = random.Random(1)
    pairs = {
        "source": [" ".join(rng.choices(LETTERS, k=rng.randint(1, 8))) for _ in range(11)],
        "target": [" ".join(rng.choices(LETTERS, k=rng.randint(1, 9))) for _ in range(11)],
    }
    decoder_only = arch == "llama"
    encoded = encode_pairs(
        datasets.Dataset.from_dict(pairs), tok, max_length=12, max_target_length=10, decoder_only=decoder_only
    )
    collator = PairCollator(tok, None if decoder_only else 1)
    got = [token_loss(model, encoded, collator, batch_size=bs) for bs in (1, 3, 8)]
    nll, tokens, per_pair = 0.0, 0, []
    with torch.no_grad():
        for row in encoded:
            labels = torch.tensor([row["labels"]])
            n = int((labels[:, 1:] if decoder_only else labels).ne(-100).sum())
            loss = model(input_ids=torch.tensor([row["input_ids"]]), labels=labels).loss.item()
            nll, tokens = nll + loss * n, tokens + n
            per_pair.append(loss)
    for m in got:
        assert m["loss"] == pytest.approx(nll / tokens, rel=1e-5)
        assert m["perplexity"] == pytest.approx(math.exp(nll / tokens), rel=1e-5)
        assert m["loss"] == pytest.approx(got[0]["loss"], rel=1e-5)
    # the targets differ in length, so a mean of per-pair means (batch size 1 in a Trainer) is another number
    assert abs(sum(per_pair) / len(per_pair) - nll / tokens) > 1e-3


def test_training_time_reference_perplexity_equals_lamina_eval_of_the_saved_model(copy_task, tmp_path):
    """finetune's and distill's (the student's) record loss/perplexity are what `lamina eval` gives the saved
    model, whatever the eval batch size and the training-time length-grouped eval sampler."""
    teacher, student = tmp_path / "teacher", tmp_path / "student"
    _ok(
        runner.invoke(
            app,
            [
                "finetune",
                *copy_task,
                "--model-config",
                json.dumps(BART),
                "--tokenizer-vocab",
                "300",
                "-o",
                str(teacher),
                "--max-steps",
                "2",
                "--lr",
                "5e-3",
                *TRAIN,
            ],
        )
    )
    _ok(
        runner.invoke(
            app,
            [
                "distill",
                *copy_task,
                "--teacher",
                str(teacher),
                "--student-from-teacher",
                "top",
                "--keep",
                "1",
                "--alpha",
                "0.5",
                "-T",
                "1",
                "-o",
                str(student),
                *TRAIN,
                "--max-steps",
                "2",
                "--lr",
                "1e-2",
            ],
        )
    )
    for folder in (teacher, student):
        trained = _metrics(folder)["metrics"]
        for bs in ("5", "24"):
            scored = tmp_path / f"{folder.name}-eval-{bs}"
            _ok(
                runner.invoke(
                    app,
                    [
                        "eval",
                        str(folder),
                        *copy_task,
                        "--no-speed",
                        "--max-length",
                        "12",
                        "--max-new-tokens",
                        "10",
                        "--batch-size",
                        bs,
                        "-o",
                        str(scored),
                    ],
                )
            )
            m = _metrics(scored)["metrics"]
            assert m["loss"] == pytest.approx(trained["loss"], rel=1e-5), (folder.name, bs)
            assert m["perplexity"] == pytest.approx(trained["perplexity"], rel=1e-5), (folder.name, bs)
            assert m["bleu"] == pytest.approx(trained["bleu"])
