"""lamina pretrain (MLM from scratch), MLM distillation (seed 002's loss) and prune-on-demand eval."""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from conftest import assert_one_line_error, write_patterned_corpus
from typer.testing import CliRunner

from lamina.cli import app
from lamina.losses import LossContext, TeacherView, get_loss
from lamina.losses.functional import soft_target_kd

runner = CliRunner()
_one_line_error = assert_one_line_error


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_patterned_corpus(tmp_path_factory.mktemp("corpus"), lines=200, strides=4)


@pytest.fixture(scope="module")
def tiny_mlm(tmp_path_factory, corpus, minilm_path):
    out = tmp_path_factory.mktemp("pretrain") / "mlm"
    result = runner.invoke(
        app,
        [
            "pretrain",
            "--corpus",
            str(corpus),
            "--tokenizer",
            str(minilm_path),
            "-o",
            str(out),
            "--num-layers",
            "4",
            "--hidden-size",
            "32",
            "--num-heads",
            "2",
            "--max-length",
            "32",
            "--batch-size",
            "8",
            "--epochs",
            "6",
            "--lr",
            "3e-3",
            "--logging-steps",
            "5",
            "--layerdrop",
            "0.1",
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    return out


def test_tiny_pretrain_lowers_the_loss_and_loads_with_vanilla_transformers(tiny_mlm):
    record = json.loads((tiny_mlm / "lamina_results.json").read_text())
    tr = record["training"]
    assert tr["train_loss_last"] < tr["train_loss_first"] - 1.0, tr
    assert record["metrics"]["loss"] < 8.0  # uniform over 30,522 tokens would be 10.3
    assert record["pretrain"]["train_blocks"] > 20 and record["pretrain"]["eval_blocks"] >= 1
    assert tr["loss_curve"] and tr["loss_curve"][0][0] == 1
    model = transformers.AutoModelForMaskedLM.from_pretrained(tiny_mlm)
    assert type(model).__name__ == "BertForMaskedLM" and model.config.num_hidden_layers == 4
    card = (tiny_mlm / "README.md").read_text()
    assert "LayerDrop" in card and "perplexity" in card


def test_mlm_distillation_with_seed_002_loss_runs_end_to_end(tiny_mlm, corpus, tmp_path):
    out = tmp_path / "student"
    result = runner.invoke(
        app,
        [
            "distill",
            "--task",
            "mlm",
            "--corpus",
            str(corpus),
            "--teacher",
            str(tiny_mlm),
            "-o",
            str(out),
            "--student-from-teacher",
            "alternate",
            "--keep",
            "2",
            "--loss",
            "kd=5,mlm=2,cosine=1",
            "--max-length",
            "32",
            "--batch-size",
            "8",
            "--max-steps",
            "6",
            "--lr",
            "1e-3",
            "--logging-steps",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    record = json.loads((out / "lamina_results.json").read_text())
    assert set(record["metrics"]) == {"loss", "perplexity"}
    assert record["distill"]["cache"].startswith("off: masking")
    assert record["distill"]["student_init"].startswith("teacher layers [0, 2]")
    assert record["training"]["global_steps"] == 6
    model = transformers.AutoModelForMaskedLM.from_pretrained(out)
    assert model.config.num_hidden_layers == 2


def test_eval_depths_scores_every_depth_without_retraining(tiny_mlm, corpus, tmp_path):
    out = tmp_path / "depths.json"
    result = runner.invoke(
        app,
        [
            "eval",
            str(tiny_mlm),
            "--task",
            "mlm",
            "--corpus",
            str(corpus),
            "--max-length",
            "32",
            "--depths",
            "4,2",
            "--no-speed",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    record = json.loads(out.read_text())
    rows = record["depths"]
    assert [r["layers"] for r in rows] == [4, 2]
    assert rows[1]["kept_layers"] == [0, 2]
    assert rows[0]["metrics"] == record["metrics"]
    assert rows[1]["parameters"] < rows[0]["parameters"]
    assert rows[1]["metrics"]["loss"] != rows[0]["metrics"]["loss"]
    trained = json.loads((tiny_mlm / "lamina_results.json").read_text())
    assert record["metrics"]["loss"] == pytest.approx(trained["metrics"]["loss"], rel=0.2)


def test_kd_on_token_logits_counts_real_tokens_only():
    s = torch.tensor([[[1.0, 0.0], [0.0, 2.0]], [[0.5, 0.5], [9.0, -9.0]]])
    t = torch.tensor([[[0.0, 1.0], [1.0, 1.0]], [[2.0, 0.0], [-9.0, 9.0]]])
    mask = torch.tensor([[1, 1], [1, 0]])
    ctx = LossContext(
        student_logits=s, labels=None, attention_mask=mask, teachers=[TeacherView(logits=t)], temperature=2.0
    )
    expected = soft_target_kd(s[mask.bool()], t[mask.bool()], 2.0)
    assert get_loss("kd")(ctx) == pytest.approx(float(expected))
    t2 = t.clone()
    t2[1, 1] = torch.tensor([5.0, -5.0])  # the padded position does not count
    ctx.teachers = [TeacherView(logits=t2)]
    assert get_loss("kd")(ctx) == pytest.approx(float(expected))


def test_kd_masked_counts_masked_positions_only():
    s = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]], [[0.5, 0.5], [9.0, -9.0], [0.0, 0.0]]])
    t = torch.tensor([[[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]], [[2.0, 0.0], [-9.0, 9.0], [1.0, 0.0]]])
    labels = torch.tensor([[-100, 7, -100], [3, -100, -100]])  # masked: (0, 1) and (1, 0)
    ctx = LossContext(
        student_logits=s,
        labels=labels,
        attention_mask=torch.ones(2, 3, dtype=torch.long),
        teachers=[TeacherView(logits=t)],
        temperature=2.0,
    )
    expected = soft_target_kd(torch.stack([s[0, 1], s[1, 0]]), torch.stack([t[0, 1], t[1, 0]]), 2.0)
    assert float(expected) > 0.1
    assert get_loss("kd_masked")(ctx) == pytest.approx(float(expected))
    assert get_loss("kd")(ctx) != pytest.approx(float(expected))  # kd reads every real token
    t2 = t.clone()
    t2[1, 1] = torch.tensor([5.0, -5.0])  # an unmasked position does not count
    ctx.teachers = [TeacherView(logits=t2)]
    assert get_loss("kd_masked")(ctx) == pytest.approx(float(expected))
    ctx.labels = torch.full((2, 3), -100)  # nothing masked: zero, still differentiable
    s.requires_grad_(True)
    zero = get_loss("kd_masked")(ctx)
    zero.backward()
    assert zero.detach().item() == 0.0 and s.grad is not None


def test_bad_input(tmp_path, corpus, tiny_mlm):
    _one_line_error(
        runner.invoke(app, ["pretrain", "--corpus", str(tmp_path / "nope.txt"), "-o", str(tmp_path / "a")]),
        "corpus file not found",
    )
    _one_line_error(
        runner.invoke(
            app,
            ["pretrain", "--corpus", str(corpus), "-o", str(tmp_path / "b"), "--hidden-size", "30", "--num-heads", "4"],
        ),
        "not divisible",
    )
    _one_line_error(
        runner.invoke(
            app,
            [
                "distill",
                "--task",
                "mlm",
                "--teacher",
                str(tiny_mlm),
                "-o",
                str(tmp_path / "c"),
                "--student-from-teacher",
                "alternate",
                "--keep",
                "2",
            ],
        ),
        "--corpus",
    )
    _one_line_error(runner.invoke(app, ["eval", str(tiny_mlm), "--task", "mlm"]), "--corpus")
    _one_line_error(
        runner.invoke(
            app, ["eval", str(tiny_mlm), "--task", "mlm", "--corpus", str(corpus), "--depths", "9", "--no-speed"]
        ),
        "has 4 layers",
    )
    _one_line_error(
        runner.invoke(
            app,
            [
                "distill",
                "--task",
                "bbc-news",
                "--teacher",
                str(tiny_mlm),
                "-o",
                str(tmp_path / "d"),
                "--loss",
                "kd_masked",
            ],
        ),
        "for masked-LM distillation",
    )
    assert not (tmp_path / "d").exists()
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_mlm_perplexity_is_token_weighted_over_the_masked_tokens_and_the_same_in_lamina_eval(
    tiny_mlm, corpus, tmp_path
):
    """The masked-token count varies per block: the loss is total NLL / masked tokens over the dev blocks, the same
    for any batch size, at training time (a distilled student) and in `lamina eval` of the saved model."""
    from transformers import default_data_collator

    from lamina.data.corpus import masked_eval_blocks
    from lamina.eval.scoring import token_loss

    out = tmp_path / "student"
    result = runner.invoke(
        app,
        [
            "distill",
            "--task",
            "mlm",
            "--corpus",
            str(corpus),
            "--eval-corpus",
            str(corpus),
            "--teacher",
            str(tiny_mlm),
            "-o",
            str(out),
            "--student-from-teacher",
            "alternate",
            "--keep",
            "2",
            "--max-length",
            "32",
            "--batch-size",
            "8",
            "--eval-batch-size",
            "5",
            "--max-steps",
            "2",
            "--lr",
            "1e-3",
            "--max-eval-samples",
            "13",
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    trained = json.loads((out / "lamina_results.json").read_text())["metrics"]
    scored = tmp_path / "eval.json"
    result = runner.invoke(
        app,
        [
            "eval",
            str(out),
            "--task",
            "mlm",
            "--corpus",
            str(corpus),
            "--max-length",
            "32",
            "--max-samples",
            "13",
            "--batch-size",
            "3",
            "--no-speed",
            "--json",
            str(scored),
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert json.loads(scored.read_text())["metrics"]["loss"] == pytest.approx(trained["loss"], rel=1e-5)

    model = transformers.AutoModelForMaskedLM.from_pretrained(out).eval()
    tok = transformers.AutoTokenizer.from_pretrained(out)
    blocks = masked_eval_blocks([str(corpus)], tok, 32, max_blocks=13, seed=42)  # both commands' default seed
    nll, tokens, per_block = 0.0, 0, []
    with torch.no_grad():
        for row in blocks:
            labels = torch.tensor([row["labels"]])
            n = int(labels.ne(-100).sum())
            if n:
                loss = model(input_ids=torch.tensor([row["input_ids"]]), labels=labels).loss.item()
                nll, tokens = nll + loss * n, tokens + n
                per_block.append(loss)
    assert len({sum(1 for x in r if x != -100) for r in blocks["labels"]}) > 1  # the counts do vary
    for bs in (1, 3, 8):
        got = token_loss(model, blocks, default_data_collator, batch_size=bs, shift=False)
        assert got["loss"] == pytest.approx(nll / tokens, rel=1e-5)
        assert got["loss"] == pytest.approx(trained["loss"], rel=1e-5)
    assert abs(sum(per_block) / len(per_block) - nll / tokens) > 1e-4  # a mean of block means is another number


def test_pretrain_resume_with_another_shape_is_refused(corpus, minilm_path, tmp_path):
    out = tmp_path / "p"
    args = [
        "pretrain",
        "--corpus",
        str(corpus),
        "--tokenizer",
        str(minilm_path),
        "-o",
        str(out),
        "--num-layers",
        "2",
        "--hidden-size",
        "16",
        "--num-heads",
        "2",
        "--max-length",
        "32",
        "--batch-size",
        "8",
        "--max-steps",
        "2",
        "--eval-steps",
        "1",
        "--keep-checkpoints",
        "--no-progress",
    ]
    assert runner.invoke(app, args).exit_code == 0
    work = tmp_path / "p.work"
    import shutil

    shutil.rmtree(out)  # as if the run had stopped after its checkpoints
    before = sorted(p.relative_to(work) for p in work.rglob("*"))
    _one_line_error(runner.invoke(app, [*args, "--resume", "--num-layers", "3"]), "num_layers 3 (was 2)")
    _one_line_error(runner.invoke(app, [*args, "--resume", "--mlm-probability", "0.3"]), "mlm_probability 0.3")
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before and not out.exists()
    # a work folder left by a lamina from before the renames holds the old names: read as the new ones
    settings = json.loads((work / "run_settings.json").read_text())
    old = {"num_layers": "layers", "hidden_size": "hidden", "num_heads": "heads", "intermediate_size": "intermediate"}
    (work / "run_settings.json").write_text(json.dumps({old.get(k, k): v for k, v in settings.items()}))
    _one_line_error(
        runner.invoke(app, [*args, "--resume", "--num-layers", "3"]),
        "settings than the interrupted run's: num_layers 3 (was 2) (resume",
    )  # that one only
