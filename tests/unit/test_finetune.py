"""Fine-tuning a tiny model on 64 SST-2-like examples: loss, outputs, eval, resume, bad input."""

from __future__ import annotations

import json

import pytest
import transformers
from transformers import TrainerCallback
from typer.testing import CliRunner

from lamina.cli import app
from lamina.errors import LaminaError
from lamina.workflows.finetune import FinetuneConfig, run_finetune

runner = CliRunner()


def config(model, data_dir, out, **kw):
    base = dict(
        model=str(model),
        task="sst2",
        output=str(out),
        data_dir=data_dir,
        epochs=4,
        lr=2e-3,
        batch_size=16,
        max_length=32,
        eval_steps=4,
        logging_steps=2,
        seed=1,
        progress=False,
    )
    return FinetuneConfig(**{**base, **kw})


def test_finetune_learns_saves_and_eval_reproduces(tiny_bert_with_tokenizer, sst_like, tmp_path):
    out = tmp_path / "ft"
    record = run_finetune(config(tiny_bert_with_tokenizer, sst_like, out))
    tr = record["training"]
    assert tr["train_loss_last"] < tr["train_loss_first"]
    assert tr["train_examples"] == 64 and tr["global_steps"] == 16
    saved = json.loads((out / "lamina_results.json").read_text())
    assert set(saved) >= {"kind", "command", "config", "metrics", "sizes", "versions", "seed", "wall_seconds"}
    assert saved["kind"] == "finetune" and saved["seed"] == 1 and 0 <= saved["metrics"]["accuracy"] <= 1
    assert not (tmp_path / "ft.work").exists() and not (out / "training_args.bin").exists()
    assert (out / "logs").is_dir() and "Scores" in (out / "README.md").read_text()

    model = transformers.AutoModelForSequenceClassification.from_pretrained(out)  # vanilla reload
    assert model.config.id2label == {0: "negative", 1: "positive"}

    result = runner.invoke(
        app,
        [
            "eval",
            str(out),
            "--task",
            "sst2",
            "--data-dir",
            sst_like,
            "--max-length",
            "32",
            "--no-speed",
            "--json",
            str(tmp_path / "eval.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    ev = json.loads((tmp_path / "eval.json").read_text())
    assert ev["metrics"]["accuracy"] == pytest.approx(saved["metrics"]["accuracy"])
    assert ev["sizes"]["parameters"] == saved["sizes"]["parameters"] and ev["sizes"]["bytes"] > 0

    result = runner.invoke(app, ["report", str(tmp_path), "-o", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| ft | finetune |" in md and "| eval | eval |" in md and "accuracy" in md
    assert (tmp_path / "rep" / "report.csv").read_text().startswith("run,kind,model,task")


class CrashAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise RuntimeError("simulated crash")


def test_interrupted_run_resumes_and_finishes(tiny_bert_with_tokenizer, sst_like, tmp_path):
    out = tmp_path / "r"
    cfg = config(tiny_bert_with_tokenizer, sst_like, out, max_steps=8, eval_steps=3, epochs=1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_finetune(cfg, callbacks=[CrashAt(5)])
    work = tmp_path / "r.work"
    assert not out.exists(), "an interrupted run must not leave a complete-looking output"
    assert sorted(p.name for p in work.glob("checkpoint-*")) == ["checkpoint-3"]
    with pytest.raises(LaminaError, match="--resume to continue"):
        run_finetune(cfg)
    before = sorted(p.relative_to(work) for p in work.rglob("*"))
    for change, says in (({"lr": 1e-3}, "lr 0.001 (was "), ({"seed": 7}, "seed 7 (was 1)")):
        with pytest.raises(LaminaError, match="other settings than the interrupted run's") as err:
            run_finetune(cfg.model_copy(update={"resume": True, **change}))
        assert says in str(err.value), str(err.value)
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before, "a refused resume leaves OUT.work alone"
    record = run_finetune(cfg.model_copy(update={"resume": True, "logging_steps": 1}))  # how it logs is free
    assert record["training"]["resumed_from"] == "checkpoint-3"
    assert record["training"]["global_steps"] == 8
    assert out.is_dir() and not work.exists()


def test_resume_without_checkpoint_is_an_error(tiny_bert_with_tokenizer, sst_like, tmp_path):
    with pytest.raises(LaminaError, match="nothing to resume"):
        run_finetune(config(tiny_bert_with_tokenizer, sst_like, tmp_path / "x", resume=True))


def _one_line_error(result, match):
    assert result.exit_code != 0
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and match in err[0], result.stderr


def test_max_length_beyond_positions(tiny_bert_with_tokenizer, sst_like, tmp_path):
    out = tmp_path / "o"
    result = runner.invoke(
        app,
        [
            "finetune",
            str(tiny_bert_with_tokenizer),
            "--task",
            "sst2",
            "--data-dir",
            sst_like,
            "-o",
            str(out),
            "--max-length",
            "4096",
        ],
    )
    _one_line_error(result, "beyond the model's 512 positions")
    assert not out.exists() and not (tmp_path / "o.work").exists()


def test_cli_bad_input_one_line(tiny_bert_with_tokenizer, sst_like, tmp_path):
    _one_line_error(
        runner.invoke(app, ["finetune", "--task", "nope", "-o", str(tmp_path / "a")]), "unknown task 'nope'"
    )
    _one_line_error(
        runner.invoke(
            app,
            [
                "finetune",
                "--task",
                "custom",
                "--train-file",
                str(tmp_path / "none.csv"),
                "--validation-file",
                str(tmp_path / "none.csv"),
                "-o",
                str(tmp_path / "b"),
            ],
        ),
        "file not found",
    )
    _one_line_error(
        runner.invoke(
            app, ["finetune", "--task", "sst2", "--data-dir", sst_like, "-o", str(tmp_path / "c"), "--batch-size", "0"]
        ),
        "--batch-size",
    )
    _one_line_error(
        runner.invoke(app, ["eval", "minilm-l6", "--task", "sst2", "--data-dir", sst_like, "--no-speed"]),
        "no trained classification head",
    )
    _one_line_error(
        runner.invoke(app, ["eval", str(tiny_bert_with_tokenizer), "--task", "bbc-news", "--no-speed"]),
        "predicts 2 labels but task 'bbc-news' has 5",
    )


@pytest.fixture(scope="module")
def tiny_gpt2_with_tokenizer(tmp_path_factory, minilm_path):
    """A tiny GPT-2 LM (no classification head yet) with the MiniLM tokenizer."""
    import torch

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    tok = transformers.AutoTokenizer.from_pretrained(minilm_path)
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=tok.vocab_size, n_embd=32, n_head=4, n_layer=3, n_positions=64)
    transformers.GPT2LMHeadModel(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_finetune_a_pruned_model_and_a_decoder(tiny_bert_with_tokenizer, tiny_gpt2_with_tokenizer, sst_like, tmp_path):
    pruned = tmp_path / "pruned"
    result = runner.invoke(
        app, ["prune", str(tiny_bert_with_tokenizer), "-o", str(pruned), "--drop", "2", "--no-speed"]
    )
    assert result.exit_code == 0, result.output
    for name, source in (("bert2", pruned), ("gpt2", tiny_gpt2_with_tokenizer)):
        out = tmp_path / name
        record = run_finetune(config(source, sst_like, out, max_steps=3, eval_steps=3))
        assert record["training"]["global_steps"] == 3
        model = transformers.AutoModelForSequenceClassification.from_pretrained(out)
        assert model.config.num_labels == 2 and model.config.pad_token_id is not None
    assert transformers.AutoConfig.from_pretrained(tmp_path / "bert2").num_hidden_layers == 2
