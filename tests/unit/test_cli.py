"""The CLI on a tiny model: a working prune, and bad input as one clear error line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import transformers
from conftest import assert_one_line_error
from typer.testing import CliRunner

from lamina.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_prune_explicit_writes_a_vanilla_folder_with_a_card(tiny_bert_with_tokenizer, tmp_path):
    out = tmp_path / "pruned"
    result = run("prune", tiny_bert_with_tokenizer, "-o", out, "--keep-layers", "0,2", "--no-speed")
    assert result.exit_code == 0, result.output
    model = transformers.AutoModelForSequenceClassification.from_pretrained(out)
    assert model.config.num_hidden_layers == 2
    card = (out / "README.md").read_text()
    assert "Kept layers" in card and "[0, 2]" in card and "explicit" in card and str(tiny_bert_with_tokenizer) in card
    info = json.loads((out / "lamina_results.json").read_text())
    assert info["prune"]["kept_layers"] == [0, 2] and info["sizes"]["parameters"] < info["sizes"]["parameters_before"]
    assert not list(tmp_path.glob(".pruned.partial-*")), "no temporary folder left behind"


def test_prune_contribution_with_a_text_file(tiny_bert_with_tokenizer, tmp_path):
    calib = tmp_path / "calib.txt"
    calib.write_text("a fine movie .\nthe plot was dull and long\n\nan unexpected delight\n")
    out = tmp_path / "c"
    result = run(
        "prune",
        tiny_bert_with_tokenizer,
        "-o",
        out,
        "--strategy",
        "contribution",
        "--drop",
        "1",
        "--calib-data",
        calib,
        "--speed",
    )
    assert result.exit_code == 0, result.output
    info = json.loads((out / "lamina_results.json").read_text())
    cos = info["prune"]["layer_scores"]["contribution_cosine"]
    assert info["prune"]["dropped_layers"] == [max(range(4), key=lambda i: (cos[i], i))]
    assert info["prune"]["calibration"]["samples"] == 3
    assert info["speeds"]["speedup"] > 0


def test_inspect_json(tiny_bert_with_tokenizer, tmp_path):
    calib = tmp_path / "calib.jsonl"
    calib.write_text(
        '{"sentence1": "a man eats", "sentence2": "someone is eating"}\n{"sentence1": "hi", "sentence2": "yo"}\n'
    )
    result = run("inspect", tiny_bert_with_tokenizer, "--calib-data", calib, "--json", tmp_path / "t.json")
    assert result.exit_code == 0, result.output
    table = json.loads((tmp_path / "t.json").read_text())
    assert len(table["rows"]) == 4 and table["calibration"]["samples"] == 2
    assert "contribution" in result.stdout


@pytest.fixture
def unsupported_model(tmp_path) -> Path:
    folder = tmp_path / "deberta"  # an architecture transformers knows and lamina does not
    transformers.DebertaV2Config(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, vocab_size=50
    ).save_pretrained(folder)
    return folder


def test_unknown_model_path(tmp_path):
    assert_one_line_error(run("prune", "./no/such/model", "-o", tmp_path / "o", "--drop", "1"), "model not found")


def test_folder_without_config(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run("inspect", tmp_path / "empty"), "no config.json")


def test_unsupported_architecture(unsupported_model, tmp_path):
    assert_one_line_error(
        run("prune", unsupported_model, "-o", tmp_path / "o", "--drop", "1"),
        "unsupported architecture 'deberta-v2'; supported:",
    )


@pytest.mark.parametrize(
    "args,match",
    [
        (["--drop", "4"], "cannot drop 4 layers"),
        (["--drop", "9"], "cannot drop 9 layers"),
        (["--drop", "-1"], "0 or more"),
        (["--keep", "0"], "cannot keep 0"),
        (["--keep-layers", "0,7"], "out of range"),
        (["--keep-layers", "0,x"], "--keep-layers: comma-separated integers"),
        (["--strategy", "middle", "--drop", "1"], "unknown strategy 'middle'"),
        (["--strategy", "top", "--keep-layers", "0,1"], "goes with --strategy explicit"),
        ([], "say what goes: --drop K"),
    ],
)
def test_impossible_requests(tiny_bert_with_tokenizer, tmp_path, args, match):
    out = tmp_path / "o"
    assert_one_line_error(run("prune", tiny_bert_with_tokenizer, "-o", out, "--no-speed", *args), match)
    assert not out.exists()


def test_empty_calibration_file(tiny_bert_with_tokenizer, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    out = tmp_path / "o"
    result = run(
        "prune", tiny_bert_with_tokenizer, "-o", out, "-s", "contribution", "--drop", "1", "--calib-data", empty
    )
    assert_one_line_error(result, "holds no text")
    assert not out.exists()


def test_missing_calibration_source(tiny_bert_with_tokenizer):
    assert_one_line_error(run("inspect", tiny_bert_with_tokenizer, "--calib-data", "nowhere.txt"), "neither a file nor")


def test_non_utf8_calibration(tiny_bert_with_tokenizer, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"caf\xe9 au lait\n")
    assert_one_line_error(run("inspect", tiny_bert_with_tokenizer, "--calib-data", bad), "not valid UTF-8")


def test_existing_output_is_not_overwritten(tiny_bert_with_tokenizer, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert_one_line_error(run("prune", tiny_bert_with_tokenizer, "-o", out, "--drop", "1"), "already exists")
    assert (out / "keep.txt").read_text() == "mine"


def test_failure_midway_leaves_no_output(tiny_bert_with_tokenizer, tmp_path, monkeypatch):
    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(transformers.PreTrainedModel, "save_pretrained", boom)
    out = tmp_path / "o"
    result = run("prune", tiny_bert_with_tokenizer, "-o", out, "--drop", "1", "--no-speed")
    assert_one_line_error(result, "disk full")
    assert not out.exists() and not list(tmp_path.glob(".o.partial-*"))


def test_gpt2_without_tokenizer_calibration_is_explained(tmp_path):
    folder = tmp_path / "g"
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(
        transformers.GPT2Config(n_embd=16, n_head=2, n_layer=2, vocab_size=50)
    ).save_pretrained(folder)
    calib = tmp_path / "c.txt"
    calib.write_text("hello\n")
    assert_one_line_error(run("inspect", folder, "--calib-data", calib), "no tokenizer")


def test_strategies_command_lists_all():
    result = run("strategies")
    assert result.exit_code == 0
    for name in ("top", "bottom", "alternate", "symmetric", "explicit", "contribution", "angular"):
        assert name in result.stdout


def test_models_list_says_what_is_ready(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMINA_CACHE", str(tmp_path))
    result = run("models", "list")
    assert result.exit_code == 0
    assert "minilm-l6" in result.stdout and "ready:" in result.stdout
    assert "mpnet-base" in result.stdout and "smollm2-135m" in result.stdout


def test_missing_bundled_package_names_the_install_command(monkeypatch):
    import importlib.metadata

    from lamina.models import bundled

    def not_found(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(bundled.importlib.metadata, "distribution", not_found)
    monkeypatch.setenv("LAMINA_CACHE", "/nonexistent-lamina-cache")
    assert "lamina models install mpnet-base" in bundled.status("mpnet-base")
    assert_one_line_error(run("inspect", "mpnet-base"), "lamina models install mpnet-base")


def test_unreachable_hub_id_is_one_line(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at import time
    assert_one_line_error(
        run("inspect", "no-such-org/no-such-model"), "could not load model 'no-such-org/no-such-model'"
    )
