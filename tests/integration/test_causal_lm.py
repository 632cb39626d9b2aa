"""--task causal-lm: LM fine-tuning, logit KD from a full decoder into one built from its layers
(still generating with the KV cache after a vanilla reload), prune-on-demand eval with
generation speed, and its bad inputs."""

from __future__ import annotations

import functools
import json

import pytest
import torch
import transformers
from conftest import (
    SMALL_LLAMA,
    assert_cli_ok,
    assert_one_line_error,
    save_with_tokenizer,
    special_ids,
    write_patterned_corpus,
)
from conftest import tiny_llama as make_llama
from typer.testing import CliRunner

from lamina.cli import app
from lamina.data.bpe import train_bpe
from lamina.losses import LossContext, get_loss
from lamina.losses.functional import causal_lm

runner = CliRunner()
_ok = assert_cli_ok
_one_line_error = functools.partial(assert_one_line_error, code=2)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_patterned_corpus(tmp_path_factory.mktemp("corpus"), lines=240, strides=3)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory, corpus):
    """A 4-layer random Llama with a BPE tokenizer trained on the corpus, as an HF folder."""
    tok = train_bpe(corpus.read_text().splitlines(), vocab_size=320, max_length=64)
    model = make_llama(len(tok), max_position_embeddings=64, **special_ids(tok))
    return save_with_tokenizer(model, tok, tmp_path_factory.mktemp("llama"))


@pytest.fixture(scope="module")
def trained_llama(tmp_path_factory, tiny_llama, corpus):
    out = tmp_path_factory.mktemp("ft") / "lm"
    _ok(
        runner.invoke(
            app,
            [
                "finetune",
                str(tiny_llama),
                "--task",
                "causal-lm",
                "--corpus",
                str(corpus),
                "-o",
                str(out),
                "--max-length",
                "32",
                "--batch-size",
                "8",
                "--epochs",
                "4",
                "--lr",
                "3e-3",
                "--logging-steps",
                "5",
                "--no-progress",
            ],
        )
    )
    return out


def _greedy(model, use_cache):
    ids = torch.tensor([[5, 17, 42, 8]])
    return model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=8,
        min_new_tokens=8,
        do_sample=False,
        use_cache=use_cache,
        pad_token_id=0,
    )


def test_finetune_causal_lm_lowers_the_loss_and_reloads_with_vanilla_transformers(trained_llama):
    record = json.loads((trained_llama / "lamina_results.json").read_text())
    tr = record["training"]
    assert set(record["metrics"]) == {"loss", "perplexity"}
    assert tr["train_loss_last"] < tr["train_loss_first"] - 1.0, tr
    assert record["metrics"]["perplexity"] < 30  # uniform over 320 tokens would be 320
    assert tr["eval_source"].startswith("5% of the training blocks")
    model = transformers.AutoModelForCausalLM.from_pretrained(trained_llama)
    assert type(model).__name__ == "LlamaForCausalLM"
    assert "AutoModelForCausalLM" in (trained_llama / "README.md").read_text()


def test_token_nll_shifts_like_the_model_loss():
    model = make_llama(50, **SMALL_LLAMA)
    ids = torch.randint(0, 50, (2, 9), generator=torch.Generator().manual_seed(1))
    out = model(input_ids=ids, labels=ids)
    assert float(causal_lm(out.logits, ids)) == pytest.approx(float(out.loss), rel=1e-5)
    ctx = LossContext(
        student_logits=out.logits, labels=ids, attention_mask=torch.ones_like(ids), teachers=[], shift_labels=True
    )
    assert float(get_loss("ce")(ctx)) == pytest.approx(float(out.loss), rel=1e-5)
    ctx.shift_labels = False  # unshifted it is another (wrong for a decoder) number
    assert float(get_loss("ce")(ctx)) != pytest.approx(float(out.loss), rel=1e-3)


def test_distill_causal_lm_student_from_teacher_layers_generates_with_the_cache(trained_llama, corpus, tmp_path):
    out = tmp_path / "student"
    _ok(
        runner.invoke(
            app,
            [
                "distill",
                "--task",
                "causal-lm",
                "--corpus",
                str(corpus),
                "--teacher",
                str(trained_llama),
                "-o",
                str(out),
                "--student-from-teacher",
                "contribution",
                "--keep",
                "2",
                "--alpha",
                "0.5",
                "--max-length",
                "32",
                "--batch-size",
                "8",
                "--max-steps",
                "12",
                "--lr",
                "2e-3",
                "--logging-steps",
                "2",
                "--no-progress",
            ],
        )
    )
    record = json.loads((out / "lamina_results.json").read_text())
    assert set(record["metrics"]) == {"loss", "perplexity"}
    assert record["distill"]["losses"] == {"kd": 0.5, "ce": 0.5}
    assert record["distill"]["cache"].startswith("off: token-level logits")
    assert record["distill"]["student_init"].startswith("teacher layers")
    tr = record["training"]
    assert tr["train_loss_last"] < tr["train_loss_first"], tr
    model = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
    assert model.config.num_hidden_layers == 2
    cached = _greedy(model, True)
    assert cached.shape[1] == 12
    assert torch.equal(cached, _greedy(model, False))


def test_eval_causal_lm_depths_with_generation_speed(trained_llama, corpus, tmp_path):
    out = tmp_path / "eval.json"
    _ok(
        runner.invoke(
            app,
            [
                "eval",
                str(trained_llama),
                "--task",
                "causal-lm",
                "--corpus",
                str(corpus),
                "--max-length",
                "32",
                "--max-samples",
                "6",
                "--depths",
                "4,2",
                "--speed-batch-sizes",
                "1",
                "--speed-seq-len",
                "8",
                "--json",
                str(out),
            ],
        )
    )
    record = json.loads(out.read_text())
    trained = json.loads((trained_llama / "lamina_results.json").read_text())
    assert record["examples"]["blocks"] == 6
    assert record["metrics"]["loss"] == pytest.approx(trained["metrics"]["loss"], rel=0.5)
    assert record["speeds"]["generation"]["new_tokens"] == 4 and record["speeds"]["generation"]["tokens_per_second"] > 0
    rows = record["depths"]
    assert [r["layers"] for r in rows] == [4, 2] and rows[0]["metrics"] == record["metrics"]
    assert rows[1]["metrics"]["loss"] > rows[0]["metrics"]["loss"]
    assert rows[1]["generation_speedup"] > 0


def test_bad_input(tiny_llama, trained_llama, corpus, tmp_path, tiny_bert_with_tokenizer):
    _one_line_error(
        runner.invoke(app, ["finetune", str(tiny_llama), "--task", "causal-lm", "-o", str(tmp_path / "a")]), "--corpus"
    )
    _one_line_error(
        runner.invoke(
            app,
            [
                "eval",
                str(tiny_llama),
                "--task",
                "causal-lm",
                "--corpus",
                str(corpus),
                "--max-length",
                "200",
                "--no-speed",
            ],
        ),
        "beyond the model's 64 positions",
    )
    _one_line_error(
        runner.invoke(
            app, ["eval", str(tiny_bert_with_tokenizer), "--task", "causal-lm", "--corpus", str(corpus), "--no-speed"]
        ),
        "not a decoder",
    )
    # a decoder student with another tokenizer cannot learn the teacher's token distributions
    other = tmp_path / "other"
    tok = transformers.AutoTokenizer.from_pretrained(tiny_bert_with_tokenizer)
    save_with_tokenizer(make_llama(len(tok), max_position_embeddings=64, **SMALL_LLAMA), tok, other)
    _one_line_error(
        runner.invoke(
            app,
            [
                "distill",
                "--task",
                "causal-lm",
                "--corpus",
                str(corpus),
                "--teacher",
                str(trained_llama),
                "--student",
                str(other),
                "-o",
                str(tmp_path / "b"),
                "--max-length",
                "32",
                "--max-steps",
                "1",
            ],
        ),
        "different vocabularies",
    )
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_generation_is_timed_by_the_one_timing_helper(monkeypatch):
    import lamina.eval.timing as timing

    calls = []
    real = timing._timed
    monkeypatch.setattr(
        timing, "_timed", lambda fn, warmup, repeats: calls.append((warmup, repeats)) or real(fn, warmup, repeats)
    )
    model = make_llama(50, **SMALL_LLAMA).train()
    r = timing.measure_generation(model, prompt_len=4, new_tokens=3, warmup=1, repeats=3)
    assert calls == [(1, 3)] and model.training  # through _timed; the training flag is restored
    assert r["seconds_min"] <= r["seconds_per_call"] <= r["seconds_max"]
    assert r["tokens_per_second"] == pytest.approx(3 / r["seconds_per_call"])
