"""--task causal-lm: LM fine-tuning, logit KD from a full decoder into one built from its layers
(still generating with the KV cache after a vanilla reload), prune-on-demand eval with
generation speed, and its bad inputs."""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from typer.testing import CliRunner

from lamina.cli import app
from lamina.data.bpe import train_bpe
from lamina.losses import LossContext, get_loss
from lamina.losses.functional import causal_lm

runner = CliRunner()
WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "to", "park", "red", "blue", "house", "tree"]


def _ok(result):
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return result


def _one_line_error(result, match):
    assert result.exit_code == 2, result.output
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and match in err[0], result.stderr


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    g = torch.Generator().manual_seed(0)
    lines = []
    for i in range(240):  # patterned text: learnable, so the LM loss can fall
        k = int(torch.randint(0, 3, (1,), generator=g))
        lines.append(" ".join(WORDS[(i + j * (k + 1)) % len(WORDS)] for j in range(8)) + " .")
    path = tmp_path_factory.mktemp("corpus") / "lines.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory, corpus):
    """A 4-layer random Llama with a BPE tokenizer trained on the corpus, as an HF folder."""
    folder = tmp_path_factory.mktemp("llama")
    tok = train_bpe(corpus.read_text().splitlines(), vocab_size=320, max_length=64)
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=len(tok), hidden_size=32, num_attention_heads=4, num_key_value_heads=2,
                                      intermediate_size=64, num_hidden_layers=4, max_position_embeddings=64,
                                      pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                                      eos_token_id=tok.eos_token_id)
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def trained_llama(tmp_path_factory, tiny_llama, corpus):
    out = tmp_path_factory.mktemp("ft") / "lm"
    _ok(runner.invoke(app, ["finetune", str(tiny_llama), "--task", "causal-lm", "--corpus", str(corpus), "-o", str(out),
                            "--max-length", "32", "--batch-size", "8", "--epochs", "4", "--lr", "3e-3",
                            "--logging-steps", "5", "--no-progress"]))
    return out


def _greedy(model, use_cache):
    ids = torch.tensor([[5, 17, 42, 8]])
    return model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=8, min_new_tokens=8,
                          do_sample=False, use_cache=use_cache, pad_token_id=0)


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
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=50, hidden_size=16, num_attention_heads=2, num_key_value_heads=1, intermediate_size=32,
        num_hidden_layers=2)).eval()
    ids = torch.randint(0, 50, (2, 9), generator=torch.Generator().manual_seed(1))
    out = model(input_ids=ids, labels=ids)
    assert float(causal_lm(out.logits, ids)) == pytest.approx(float(out.loss), rel=1e-5)
    ctx = LossContext(student_logits=out.logits, labels=ids, attention_mask=torch.ones_like(ids), teachers=[],
                      shift_labels=True)
    assert float(get_loss("ce")(ctx)) == pytest.approx(float(out.loss), rel=1e-5)
    ctx.shift_labels = False  # unshifted it is another (wrong for a decoder) number
    assert float(get_loss("ce")(ctx)) != pytest.approx(float(out.loss), rel=1e-3)


def test_distill_causal_lm_student_from_teacher_layers_generates_with_the_cache(trained_llama, corpus, tmp_path):
    out = tmp_path / "student"
    _ok(runner.invoke(app, ["distill", "--task", "causal-lm", "--corpus", str(corpus), "--teacher", str(trained_llama),
                            "-o", str(out), "--student-from-teacher", "contribution", "--keep", "2", "--alpha", "0.5",
                            "--max-length", "32", "--batch-size", "8", "--max-steps", "12", "--lr", "2e-3",
                            "--logging-steps", "2", "--no-progress"]))
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
    _ok(runner.invoke(app, ["eval", str(trained_llama), "--task", "causal-lm", "--corpus", str(corpus),
                            "--max-length", "32", "--max-samples", "6", "--depths", "4,2", "--speed-batch-sizes", "1",
                            "--speed-seq-len", "8", "--json", str(out)]))
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
    _one_line_error(runner.invoke(app, ["finetune", str(tiny_llama), "--task", "causal-lm", "-o", str(tmp_path / "a")]),
                    "--corpus")
    _one_line_error(runner.invoke(app, ["eval", str(tiny_llama), "--task", "causal-lm", "--corpus", str(corpus),
                                        "--max-length", "200", "--no-speed"]), "beyond the model's 64 positions")
    _one_line_error(runner.invoke(app, ["eval", str(tiny_bert_with_tokenizer), "--task", "causal-lm", "--corpus",
                                        str(corpus), "--no-speed"]), "not a decoder")
    # a decoder student with another tokenizer cannot learn the teacher's token distributions
    other = tmp_path / "other"
    tok = transformers.AutoTokenizer.from_pretrained(tiny_bert_with_tokenizer)
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=len(tok), hidden_size=16, num_attention_heads=2, num_key_value_heads=1, intermediate_size=32,
        num_hidden_layers=2, max_position_embeddings=64)).save_pretrained(other)
    tok.save_pretrained(other)
    _one_line_error(runner.invoke(app, ["distill", "--task", "causal-lm", "--corpus", str(corpus), "--teacher",
                                        str(trained_llama), "--student", str(other), "-o", str(tmp_path / "b"),
                                        "--max-length", "32", "--max-steps", "1"]), "different vocabularies")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
