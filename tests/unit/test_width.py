"""Width pruning (FFN neurons, heads, hidden channels) on tiny models of every supported architecture:
vanilla reload, identity when nothing goes, equality with hand-sliced weights, importance that finds
planted dead units, the KV cache after reload, and bad requests refused in one line."""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from conftest import TINY, assert_one_line_error, auto_class, make_tiny, random_batches
from typer.testing import CliRunner

from lamina.cli import app
from lamina.errors import LaminaError
from lamina.importance import get_importance
from lamina.models.width import WidthPlan, check_width_request, plan_from_scores, prune_width, width_spec

runner = CliRunner()


def _out(model, batch):
    with torch.no_grad():
        o = model.eval()(**batch)
    return o.logits if hasattr(o, "logits") else o.last_hidden_state


def _layers(model) -> int:
    from lamina.models.adapters import get_adapter

    return get_adapter(model).num_layers(model.config)


# every shape each tiny architecture can express: FFN always; heads and hidden where the config can say so
SHAPES = {
    "bert": dict(ffn=40, heads=2, hidden=16),
    "roberta": dict(ffn=40, heads=2, hidden=16),
    "distilbert": dict(ffn=40, heads=2, hidden=16),
    "gpt2": dict(ffn=40, heads=2, hidden=16),
    "llama": dict(ffn=40, heads=2, hidden=24),
    "qwen2": dict(ffn=40, heads=2, hidden=24),
    "mistral": dict(ffn=40, heads=2, hidden=24),
    "electra": dict(ffn=40),
    "mpnet": dict(ffn=40),
}


def test_every_architecture_has_a_width_shape():
    assert set(SHAPES) == set(TINY)


def test_keeping_every_unit_changes_nothing(arch):
    model = make_tiny(arch)
    spec = width_spec(model)
    n, c = _layers(model), model.config
    plan = WidthPlan(ffn=[list(range(spec.ffn(c)))] * n)
    if "heads" in SHAPES[arch]:
        plan.heads = [list(range(spec.heads(c)))] * n
        plan.kv_heads = [list(range(spec.kv_heads(c)))] * n if spec.kv_heads_field else None
        plan.hidden = list(range(spec.hidden(c)))
    batch = random_batches(n=1)[0]
    assert float((_out(model, batch) - _out(prune_width(model, plan), batch)).abs().max()) <= 1e-6


def test_a_width_pruned_model_reloads_with_vanilla_transformers(arch, tmp_path):
    model = make_tiny(arch)
    scores = get_importance("magnitude").scores(model)
    plan = plan_from_scores(scores, model.config, **SHAPES[arch])
    pruned = prune_width(model, plan)
    pruned.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    spec = width_spec(model)
    assert config[spec.ffn_field] == SHAPES[arch]["ffn"]
    if "heads" in SHAPES[arch]:
        assert config[spec.heads_field] == SHAPES[arch]["heads"] and config[spec.hidden_field] == SHAPES[arch]["hidden"]
    reloaded = auto_class(arch).from_pretrained(tmp_path)
    batch = random_batches(n=1)[0]
    assert float((_out(pruned, batch) - _out(reloaded, batch)).abs().max()) <= 1e-6
    assert sum(p.numel() for p in reloaded.parameters()) < sum(p.numel() for p in model.parameters())


def test_bert_ffn_and_heads_by_hand():
    """Hand-picked FFN neurons of a tiny BERT, against a model whose weights were sliced by hand."""
    model = make_tiny("bert")
    keep_ffn = [[0, 3, 5, 9, 10, 20, 33, 63]] * 4
    pruned = prune_width(model, WidthPlan(ffn=keep_ffn))
    config = transformers.BertConfig(**{**model.config.to_dict(), "intermediate_size": 8})
    by_hand = transformers.BertForSequenceClassification(config).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    idx = torch.tensor(keep_ffn[0])
    for i in range(4):
        p = f"bert.encoder.layer.{i}."
        state[p + "intermediate.dense.weight"] = state[p + "intermediate.dense.weight"][idx]
        state[p + "intermediate.dense.bias"] = state[p + "intermediate.dense.bias"][idx]
        state[p + "output.dense.weight"] = state[p + "output.dense.weight"][:, idx]
    by_hand.load_state_dict(state)
    batch = random_batches(n=1)[0]
    assert torch.allclose(_out(pruned, batch), _out(by_hand, batch), atol=1e-6)


def test_llama_grouped_query_heads_by_hand():
    """Keep key/value group 1 (query heads 2 and 3) of every layer of a tiny Llama (4 heads, 2 groups)."""
    model = make_tiny("llama")
    n = _layers(model)
    pruned = prune_width(model, WidthPlan(heads=[[2, 3]] * n, kv_heads=[[1]] * n))
    assert pruned.config.num_attention_heads == 2 and pruned.config.num_key_value_heads == 1
    assert pruned.config.head_dim == 8  # kept explicit: 32 / 2 would be 16
    by_hand = transformers.LlamaForCausalLM(pruned.config).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    q, kv = torch.arange(16, 32), torch.arange(8, 16)  # heads 2-3 of head size 8; kv head 1
    for i in range(n):
        p = f"model.layers.{i}.self_attn."
        state[p + "q_proj.weight"] = state[p + "q_proj.weight"][q]
        state[p + "k_proj.weight"] = state[p + "k_proj.weight"][kv]
        state[p + "v_proj.weight"] = state[p + "v_proj.weight"][kv]
        state[p + "o_proj.weight"] = state[p + "o_proj.weight"][:, q]
    by_hand.load_state_dict(state)
    batch = random_batches(n=1)[0]
    assert torch.allclose(_out(pruned, batch), _out(by_hand, batch), atol=1e-6)


@pytest.mark.parametrize("arch", ["bert", "llama"])
def test_activation_importance_ranks_planted_dead_units_last(arch):
    model = make_tiny(arch)
    dead_neurons, dead_head = [3, 7], 2
    with torch.no_grad():
        if arch == "bert":
            layer = model.bert.encoder.layer[0]
            for w in (layer.intermediate.dense.weight, layer.intermediate.dense.bias):
                w[dead_neurons] = 0.0
            layer.attention.self.value.weight[dead_head * 8 : (dead_head + 1) * 8] = 0.0
            layer.attention.self.value.bias[dead_head * 8 : (dead_head + 1) * 8] = 0.0
        else:
            mlp = model.model.layers[0].mlp
            mlp.up_proj.weight[dead_neurons] = 0.0
            # head 2 of 4 reads key/value head 1: zero its queries' output through o_proj's columns instead
            model.model.layers[0].self_attn.o_proj.weight[:, dead_head * 8 : (dead_head + 1) * 8] = 0.0
    scores = get_importance("activation").scores(model, random_batches(n=2))
    ffn = scores["ffn"][0]
    assert set(torch.argsort(ffn)[:2].tolist()) == set(dead_neurons)
    if arch == "bert":
        assert int(torch.argmin(scores["heads"][0])) == dead_head
    assert float(ffn[dead_neurons].max()) == 0.0


def test_a_width_pruned_decoder_generates_the_same_with_and_without_the_cache(tmp_path):
    model = make_tiny("llama")
    plan = plan_from_scores(get_importance("magnitude").scores(model), model.config, ffn=40, heads=2, hidden=24)
    prune_width(model, plan).save_pretrained(tmp_path)
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    ids = torch.tensor([[5, 9, 11, 3]])
    kw = dict(max_new_tokens=8, do_sample=False, pad_token_id=0)
    assert torch.equal(reloaded.generate(ids, use_cache=True, **kw), reloaded.generate(ids, use_cache=False, **kw))


@pytest.mark.parametrize(
    "arch, request_, says",
    [
        ("bert", dict(ffn=0), "--ffn 0"),
        ("bert", dict(ffn=65), "has 64 FFN neurons"),
        ("bert", dict(heads=2), "--heads H needs --hidden H × 8"),
        ("bert", dict(hidden=20), "--heads H needs --hidden H × 8"),
        ("llama", dict(heads=3), "must be a multiple of 2"),
        ("mpnet", dict(heads=2, hidden=16), "relative-position bias"),
        ("electra", dict(hidden=16), "embedding_size"),
    ],
)
def test_impossible_widths_are_refused(arch, request_, says):
    with pytest.raises(LaminaError, match=says.replace("×", "×").replace("(", r"\(")):
        check_width_request(make_tiny(arch).config, **request_)


def test_prune_command_width_end_to_end_and_refusals(tiny_bert_with_tokenizer, tmp_path):
    out = tmp_path / "w"
    result = runner.invoke(
        app,
        [
            "prune",
            str(tiny_bert_with_tokenizer),
            "-o",
            str(out),
            "--drop",
            "1",
            "--ffn",
            "16",
            "--heads",
            "2",
            "--hidden",
            "16",
            "--calib-samples",
            "16",
            "--max-length",
            "16",
            "--no-speed",
        ],
    )
    assert result.exit_code == 0, result.output + (result.stderr or "")
    record = json.loads((out / "lamina_results.json").read_text())
    assert record["width"]["after"] == {"ffn": 16, "heads": 2, "kv_heads": 2, "hidden": 16}
    assert record["width"]["importance"] == "activation" and record["width"]["calibration"]["samples"] == 16
    card = (out / "README.md").read_text()
    assert "A layer- and width-pruned copy" in card and "FFN 64 → 16, heads 4 → 2, hidden 32 → 16" in card
    model = transformers.AutoModelForSequenceClassification.from_pretrained(out)
    assert (
        model.config.num_hidden_layers,
        model.config.intermediate_size,
        model.config.num_attention_heads,
        model.config.hidden_size,
    ) == (3, 16, 2, 16)
    for args, says in (
        (["--ffn", "0"], "--ffn: must be 1 or more"),
        (["--ffn", "65"], "has 64 FFN neurons"),
        (["--heads", "3"], "--heads H needs --hidden H × 8"),
        (["--importance", "nope"], "unknown importance criterion 'nope'"),
        ([], "say what goes"),
    ):
        bad = tmp_path / "bad"
        assert_one_line_error(
            runner.invoke(app, ["prune", str(tiny_bert_with_tokenizer), "-o", str(bad), "--no-speed", *args]),
            says,
            code=2,
        )
        assert not bad.exists()


def test_distill_a_student_cut_from_the_teacher_by_depth_and_width(tiny_teacher, sst_like, tmp_path):
    """--student-from-teacher with --ffn/--heads/--hidden: a narrower student whose hidden states reach the
    teacher's through the learned projection (hidden_mse), trained and saved as a vanilla folder."""
    out = tmp_path / "s"
    result = runner.invoke(
        app,
        [
            "distill",
            "--teacher",
            str(tiny_teacher),
            "--task",
            "sst2",
            "--data-dir",
            sst_like,
            "-o",
            str(out),
            "--student-from-teacher",
            "top",
            "--keep",
            "2",
            "--ffn",
            "16",
            "--heads",
            "2",
            "--hidden",
            "16",
            "--loss",
            "kd=1,hidden_mse=1",
            "--max-steps",
            "4",
            "--batch-size",
            "16",
            "--max-length",
            "32",
            "--no-progress",
            "--no-cache",
        ],
    )
    assert result.exit_code == 0, result.output + (result.stderr or "")
    record = json.loads((out / "lamina_results.json").read_text())
    assert record["distill"]["projections"] == [0]  # the 16-wide student reaches the 32-wide teacher
    model = transformers.AutoModelForSequenceClassification.from_pretrained(out)
    assert (
        model.config.num_hidden_layers,
        model.config.intermediate_size,
        model.config.num_attention_heads,
        model.config.hidden_size,
    ) == (2, 16, 2, 16)
    assert "narrowed by activation importance" in json.dumps(record)
    bad = runner.invoke(
        app,
        [
            "distill",
            "--teacher",
            str(tiny_teacher),
            "--task",
            "sst2",
            "--data-dir",
            sst_like,
            "-o",
            str(tmp_path / "b"),
            "--student-config",
            "{}",
            "--ffn",
            "16",
        ],
    )
    assert_one_line_error(bad, "shape a student cut from the teacher", code=2)


def test_width_summary_reads_planted_scores():
    from lamina.importance.summary import top_half_share, width_summary

    assert top_half_share(torch.ones(8)) == pytest.approx(0.5)
    assert top_half_share(torch.tensor([4.0, 0.0, 0.0, 0.0])) == pytest.approx(1.0)
    summary = width_summary(
        {
            "ffn": [torch.ones(6), torch.tensor([3.0, 1, 0, 0])],
            "heads": [torch.tensor([2.0, 1.0, 4.0]), torch.zeros(3)],  # layer 1: no head scores
            "hidden": torch.tensor([1.0, 1.0, 2.0, 0.0]),
        }
    )
    first, second = summary["rows"]
    assert first["ffn_top_half"] == pytest.approx(0.5) and second["ffn_top_half"] == pytest.approx(1.0)
    assert first["weakest_head"] == 1 and first["head_relative"] == pytest.approx([0.5, 0.25, 1.0])
    assert all(v != v for v in second["head_relative"])  # no scores: nan, not a division by zero
    assert summary["hidden"] == {"channels": 4, "hidden_top_half": pytest.approx(0.75)}


def test_inspect_width_finds_a_planted_dead_head_and_refuses_an_unknown_criterion(tiny_bert_with_tokenizer, tmp_path):
    folder = tmp_path / "dead"
    model = transformers.AutoModelForSequenceClassification.from_pretrained(tiny_bert_with_tokenizer)
    with torch.no_grad():  # head 1 of layer 0 outputs nothing (8 = head size of the tiny BERT)
        for w in (
            model.bert.encoder.layer[0].attention.self.value.weight,
            model.bert.encoder.layer[0].attention.self.value.bias,
        ):
            w[8:16] = 0.0
    model.save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(tiny_bert_with_tokenizer).save_pretrained(folder)
    calib = tmp_path / "calib.txt"
    calib.write_text("\n".join(f"the cat number {i} sat on a mat" for i in range(12)))
    out = tmp_path / "t.json"
    result = runner.invoke(
        app, ["inspect", str(folder), "--width", "--calib-data", str(calib), "--max-length", "16", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    width = json.loads(out.read_text())["width"]
    assert width["importance"] == "activation" and len(width["rows"]) == 4
    assert width["rows"][0]["weakest_head"] == 1 and width["rows"][0]["weakest_head_relative"] == 0.0
    assert width["hidden"]["channels"] == 32
    assert "widths ranked by activation importance" in result.output
    assert_one_line_error(
        runner.invoke(app, ["inspect", str(folder), "--width", "--importance", "nope"]),
        "unknown importance criterion 'nope'",
        code=2,
    )
