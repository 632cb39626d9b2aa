"""The Python API (lamina.api): every command as a function made from its Config, the same validation and
errors as the CLI, a config object or keywords, a Result with the record; prune keeps a model in memory."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest

import lamina
from lamina.workflows import WORKFLOWS


def test_every_command_that_runs_a_job_is_a_function_with_its_settings_as_keywords():
    from lamina import api

    assert {"prune", "finetune", "distill", "evaluate", "export", "lottery", "lifelong"} <= set(api.names())
    assert "serve" not in api.names() and "evaluate" in dir(lamina) and "describe_data" in api.names()
    import importlib.util

    assert not [n for n in api.names() if importlib.util.find_spec(f"lamina.{n}")]  # no name hides a submodule
    for name in api.names():
        fn = getattr(lamina, name)
        cfg = WORKFLOWS.get(api.command_of(name)).Config
        params = inspect.signature(fn).parameters
        assert set(params) - {"config"} == set(cfg.model_fields), name
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for n, p in params.items() if n != "config")
        for field_name, f in cfg.model_fields.items():  # the docstring comes from the same descriptions
            assert f"{field_name} (" in fn.__doc__ and (f.description or "")[:40] in fn.__doc__


def test_import_lamina_is_light_and_submodules_still_import():
    code = (
        "import sys, lamina; import lamina.config; from lamina import errors; "
        "print('torch' in sys.modules, 'lamina.workflows' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        lamina.nope  # noqa: B018


def test_bad_settings_raise_the_one_line_error_naming_the_keyword(tmp_path):
    with pytest.raises(lamina.LaminaError, match=r"^lamina.finetune\(\): max_length: must be 2 or more, not -1$"):
        lamina.finetune(model="minilm-l6", output=str(tmp_path / "o"), max_length=-1)
    with pytest.raises(lamina.LaminaError, match=r"^lamina.finetune\(\): output is required"):
        lamina.finetune(model="minilm-l6")
    with pytest.raises(lamina.LaminaError, match="unknown setting \\(did you mean max_length"):
        lamina.evaluate(model="minilm-l6", max_lenght=12)
    with pytest.raises(TypeError, match="expected a EvalConfig"):
        lamina.evaluate(WORKFLOWS.get("finetune").Config(output=str(tmp_path / "o")))
    assert not (tmp_path / "o").exists()


def test_evaluate_takes_keywords_or_a_config_and_returns_the_record(tiny_teacher, sst_like, tmp_path):
    result = lamina.evaluate(
        model=str(tiny_teacher),
        task="sst2",
        data_dir=sst_like,
        max_length=32,
        speed=False,
        json_path=str(tmp_path / "r.json"),
    )
    assert result.record["kind"] == "eval" and 0.0 <= result.metrics["accuracy"] <= 1.0
    assert json.loads((tmp_path / "r.json").read_text())["metrics"] == result.metrics
    again = lamina.evaluate(result.config, max_samples=8)  # the config object, one setting changed
    assert again.config.max_samples == 8 and again.config.task == "sst2" and again.record["examples"]["dev"] == 8


def test_prune_takes_a_model_object_and_returns_the_pruned_model_in_memory(tiny_bert_with_tokenizer, tmp_path):
    import torch
    import transformers

    model = transformers.AutoModelForSequenceClassification.from_pretrained(tiny_bert_with_tokenizer)
    tok = transformers.AutoTokenizer.from_pretrained(tiny_bert_with_tokenizer)
    result = lamina.prune(model, keep=2, strategy="top", speed=False)
    assert result.output is None and not list(tmp_path.iterdir())
    assert result.model.config.num_hidden_layers == 2 and model.config.num_hidden_layers == 4  # the input is kept
    assert (
        result.record["prune"]["kept_layers"] == [0, 1]
        and result.record["sizes"]["parameters"] < result.record["sizes"]["parameters_before"]
    )
    batch = tok(["a cat"], return_tensors="pt")
    with torch.no_grad():
        assert result.model(**batch).logits.shape == (1, 2)
    # with a tokenizer (calibration text) and an output folder, as the command does
    out = tmp_path / "p"
    written = lamina.prune(
        model,
        tokenizer=tok,
        keep=2,
        strategy="contribution",
        calib_samples=8,
        max_length=16,
        speed=False,
        output=str(out),
    )
    assert written.output == out and written.load().config.num_hidden_layers == 2
    assert (out / "lamina_results.json").is_file() and (out / "README.md").is_file()
    with pytest.raises(lamina.LaminaError, match="keep"):
        lamina.prune(model, keep=0)
    with pytest.raises(TypeError, match="PruneConfig or a transformers model"):
        lamina.prune(3.5)
    by_name = lamina.prune(
        str(tiny_bert_with_tokenizer), drop=1, strategy="top", speed=False, output=str(tmp_path / "n")
    )  # the command's positional argument first
    assert by_name.config.model == str(tiny_bert_with_tokenizer) and by_name.load().config.num_hidden_layers == 3
    assert "tokenizer=tok" in lamina.prune.__doc__
