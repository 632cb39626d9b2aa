"""lamina lifelong (LAMOL, L2KD) on a tiny random Llama with a BPE tokenizer and two synthetic
text-to-text tasks that conflict: given two letters, ``copy`` answers the first, ``next`` the
letter after the second, with the same question; only the task token tells them apart."""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from conftest import LETTERS, assert_one_line_error
from typer.testing import CliRunner

from lamina.cli import app
from lamina.lifelong_learning.format import add_task_tokens, encode_rows
from lamina.lifelong_learning.replay import parse_pseudo, sample_pseudo
from lamina.lifelong_learning.tasks import TextTask, drop_shared_contexts

runner = CliRunner()
FAST = [
    "--lr",
    "5e-3",
    "--batch-size",
    "16",
    "--max-length",
    "12",
    "--max-answer-tokens",
    "3",
    "--no-progress",
    "--logging-steps",
    "20",
]


def _ok(result):
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return result


def _record(folder):
    return json.loads((folder / "lamina_results.json").read_text())


@pytest.fixture(scope="module")
def setup(lifelong_setup):
    """The two task files and a 2-layer random Llama (width 64) with a BPE tokenizer (conftest)."""
    return lifelong_setup


@pytest.fixture(scope="module")
def runs(setup, tmp_path_factory):
    """copy → next with finetune and with lamol (same seed, same settings)."""
    folder, files = setup
    out = tmp_path_factory.mktemp("runs")
    for method in ("finetune", "lamol"):
        _ok(
            runner.invoke(
                app,
                [
                    "lifelong",
                    str(folder / "model"),
                    "--tasks",
                    "copy,next",
                    *files,
                    "--method",
                    method,
                    "-o",
                    str(out / method),
                    "--epochs",
                    "10",
                    "--pseudo-rate",
                    "1",
                    *FAST,
                ],
            )
        )
    return out


def test_finetune_forgets_the_first_task_and_lamol_forgets_less(runs):
    ft, lamol = _record(runs / "finetune"), _record(runs / "lamol")
    for r in (ft, lamol):
        assert r["matrix"]["tasks"] == ["copy", "next"] and r["matrix"]["trained"] == ["copy", "next"]
        assert r["matrix"]["scores"][0][0] >= 0.8, r["matrix"]  # task 1 learnt
    after_ft, after_lamol = ft["matrix"]["scores"][1][0], lamol["matrix"]["scores"][1][0]
    assert after_ft < ft["matrix"]["scores"][0][0] - 0.5, ft["matrix"]  # finetune forgets task 1
    assert after_lamol > after_ft + 0.3, (lamol["matrix"], ft["matrix"])  # replay keeps most of it
    assert lamol["forgetting"]["copy"] < ft["forgetting"]["copy"]
    assert ft["metrics"]["average"] == pytest.approx(100 * sum(ft["matrix"]["scores"][1]) / 2)  # accuracy x100
    pseudo = lamol["stages"][1]["pseudo"]
    assert pseudo["asked"] == 180 and pseudo["kept"] + pseudo["dropped"] == 180 and pseudo["kept"] > 18, pseudo
    assert "pseudo" not in ft["stages"][1]  # finetune: no replay
    card = (runs / "lamol" / "README.md").read_text().splitlines()
    assert sum(line.startswith(("| copy |", "| next |")) for line in card) == 2  # a matrix row per stage
    reloaded = transformers.AutoTokenizer.from_pretrained(runs / "lamol")  # a plain HF folder with the task tokens
    assert reloaded.convert_tokens_to_ids("__copy__") != reloaded.unk_token_id
    transformers.AutoModelForCausalLM.from_pretrained(runs / "lamol")
    assert not (runs / "lamol.work").exists()


def test_pseudo_examples_carry_their_task_token_and_parse_or_are_dropped(setup, runs):
    model = transformers.AutoModelForCausalLM.from_pretrained(runs / "lamol")
    tok = transformers.AutoTokenizer.from_pretrained(runs / "lamol")
    tokens = add_task_tokens(model, tok, ["copy", "next"])  # already there: the same ids, nothing added
    assert len(tok) == model.get_input_embeddings().weight.shape[0]
    torch.manual_seed(0)
    rows, stats = sample_pseudo(model, tok, tokens, ["copy", "next"], 21, max_length=12, batch_size=16, top_k=20)
    assert stats["per_task"]["copy"]["asked"] == 11 and stats["per_task"]["next"]["asked"] == 10
    assert stats["kept"] == len(rows) and stats["kept"] + stats["dropped"] == 21 and rows, (
        stats["why_dropped"],
        stats["dropped_examples"],
    )
    assert sum(stats["why_dropped"].values()) == stats["dropped"]
    assert len(stats["dropped_examples"]) == min(3, stats["dropped"])
    for task in ("copy", "next"):
        mine = [r for r in rows if r["task"] == task]
        assert mine and all(r["answer"] and set(r) == {"context", "question", "answer", "task"} for r in mine), mine
        encoded = encode_rows(mine, task, tok, tokens, max_length=12, max_answer=3)
        assert all(e["input_ids"][0] == tokens.tasks[task] for e in encoded)
    copy, q, a, eos = tokens.tasks["copy"], tokens.question, tokens.answer, tokens.eos
    x, y = (ids[0] for ids in tok(["k", "m"], add_special_tokens=False)["input_ids"])
    assert parse_pseudo([x, q, y, a, x, eos], "copy", tokens, tok) == {
        "context": "k",
        "question": "m",
        "answer": "k",
        "task": "copy",
    }
    for broken in (
        [x, q, y, a, x],  # no end of sequence
        [x, y, a, x, eos],  # no question separator
        [x, q, y, a, x, a, y, eos],  # two answers
        [x, a, y, q, x, eos],  # answer before question
        [x, q, copy, a, x, eos],  # a task token inside
        [x, q, y, a, eos],
    ):  # an empty answer
        assert parse_pseudo(broken, "copy", tokens, tok) is None, broken


def test_the_matrix_has_a_row_per_stage_and_a_column_per_task_seen(setup, tmp_path):
    folder, files = setup
    out = tmp_path / "ft3"  # finetune may revisit a task: copy → next → copy
    result = _ok(
        runner.invoke(
            app,
            [
                "lifelong",
                str(folder / "model"),
                "--tasks",
                "copy,next",
                "--tasks",
                "copy",
                *files,
                "--method",
                "finetune",
                "-o",
                str(out),
                "--max-steps",
                "3",
                *FAST,
            ],
        )
    )
    m = _record(out)["matrix"]
    assert m["trained"] == ["copy", "next", "copy"] and m["tasks"] == ["copy", "next"]
    assert [len(row) for row in m["scores"]] == [1, 2, 2]
    # a stage of 3 steps logs every step (not only the first, as --logging-steps 50 would)
    curves = [s["training"]["loss_curve"] for s in _record(out)["stages"]]
    assert [[step for step, _ in c] for c in curves] == [[1, 2, 3]] * 3
    assert all(s["training"]["train_loss_last"] == c[-1][1] for s, c in zip(_record(out)["stages"], curves))
    assert "after task" in result.stdout and "final average" in result.stdout


def test_l2kd_methods_train_per_task_teachers_once_and_reuse_them_from_the_teacher_dir(setup, tmp_path):
    folder, files = setup
    teachers = tmp_path / "teachers"
    args = [
        "lifelong",
        str(folder / "model"),
        "--tasks",
        "copy,next",
        *files,
        "--max-steps",
        "4",
        "--max-train-samples",
        "40",
        "--teacher-dir",
        str(teachers),
        "--teacher-split",
        *FAST,
    ]
    for i, method in enumerate(("word-kd", "seq-kd-soft", "seq-kd")):
        record = _record(_run([*args, "--method", method], tmp_path / method))
        assert {t["reused"] for t in record["teachers"].values()} == {i > 0}, method  # trained once, then reused
        assert len(list(teachers.glob("*/teacher.json"))) == 2
        split = record["teacher_split"]["copy"]
        assert split["teacher_correct"] + split["teacher_wrong"] == record["tasks"]["copy"]["dev_examples"]
        assert "teacher_accuracy" in record["metrics"]
        stage = record["stages"][1]
        assert stage["training"]["steps"] == 4 and stage["pseudo"]["asked"] == 8
        assert ("teacher_answers_empty" in stage) == method.startswith("seq")
        assert stage["training"]["examples"] == 40 + stage["pseudo"]["kept"]


def _run(args, out):
    _ok(runner.invoke(app, [*args, "-o", str(out)]))
    return out


def test_bad_input_is_one_error_line_and_writes_nothing(setup, tmp_path):
    folder, files = setup
    (tmp_path / "noanswer.tsv").write_text("context\tquestion\tlabel\na b\twhich\ta\n")
    model = str(folder / "model")
    cases = {
        "the task sequence is empty": ["--tasks", ""],
        "give the task sequence with --tasks": [],
        "--pseudo-rate: must be 0 or more": ["--tasks", "copy,next", "--pseudo-rate", "-0.1"],
        "task 'copy' appears twice": ["--tasks", "copy,next,copy", "--method", "lamol"],
        "no 'answer' column": ["--tasks", "bad", "--text-file", f"bad={tmp_path / 'noanswer.tsv'}"],
        "unknown task 'nope'": ["--tasks", "nope"],
    }
    for i, (match, args) in enumerate(cases.items()):
        out = tmp_path / f"out{i}"
        assert_one_line_error(runner.invoke(app, ["lifelong", model, *files, *args, "-o", str(out)]), match)
        assert not out.exists() and not (tmp_path / f"out{i}.work").exists()


def test_an_interrupted_run_resumes_after_its_last_finished_task(setup, tmp_path, monkeypatch):
    import lamina.workflows.lifelong as lifelong

    folder, files = setup
    out = tmp_path / "r"
    args = [
        "lifelong",
        str(folder / "model"),
        "--tasks",
        "copy,next",
        *files,
        "--method",
        "lamol",
        "--max-steps",
        "2",
        "-o",
        str(out),
        *FAST,
    ]
    real, calls = lifelong.train_stage, []

    def second_stage_fails(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(lifelong, "train_stage", second_stage_fails)
    stopped = runner.invoke(app, args)
    assert stopped.exit_code == 130 and "interrupted" in stopped.stderr, stopped.output
    assert not out.exists() and (tmp_path / "r.work" / "checkpoint-1" / "trainer_state.json").is_file()
    work = tmp_path / "r.work"
    before = sorted(p.relative_to(work) for p in work.rglob("*"))
    changed = {
        "tasks ['next', 'copy'] (was ['copy', 'next'])": ("copy,next", "next,copy"),
        "method 'finetune' (was 'lamol')": ("lamol", "finetune"),
    }
    for says, (was, now) in changed.items():
        again = [now if a == was else a for a in args]
        assert_one_line_error(runner.invoke(app, [*again, "--resume"]), says)
        assert sorted(p.relative_to(work) for p in work.rglob("*")) == before and len(calls) == 2
    result = _ok(runner.invoke(app, [*args, "--resume"]))
    assert "resuming after task 1 of 2" in result.output and len(calls) == 3  # only the second task trained again
    record = _record(out)
    assert [len(row) for row in record["matrix"]["scores"]] == [1, 2] and not (tmp_path / "r.work").exists()


def test_new_tokens_start_at_their_words_embedding(setup):
    folder, _ = setup
    model = transformers.AutoModelForCausalLM.from_pretrained(folder / "model")
    tok = transformers.AutoTokenizer.from_pretrained(folder / "model")
    tokens = add_task_tokens(model, tok, ["copy", "next"])
    emb = model.get_input_embeddings().weight
    for token_id, word in ((tokens.question, " question"), (tokens.answer, " answer"), (tokens.tasks["next"], " next")):
        pieces = tok(word, add_special_tokens=False)["input_ids"]
        assert torch.allclose(emb[token_id], emb[pieces].mean(0)), word
    assert not torch.allclose(emb[tokens.question], emb[tokens.answer])
    with torch.no_grad():
        emb[tokens.question] += 1.0  # as if learnt
    learnt = emb[tokens.question].clone()
    assert add_task_tokens(model, tok, ["copy", "next"]) == tokens  # already there: the same ids, kept as they are
    assert torch.equal(model.get_input_embeddings().weight[tokens.question], learnt)


def test_a_prompt_does_not_give_away_the_length_of_its_answer(setup):
    folder, _ = setup
    model = transformers.AutoModelForCausalLM.from_pretrained(folder / "model")
    tok = transformers.AutoTokenizer.from_pretrained(folder / "model")
    tokens = add_task_tokens(model, tok, ["copy"])
    long = " ".join(LETTERS * 3)  # longer than --max-length: cut
    rows = [
        {"context": long, "question": "which", "answer": "a"},
        {"context": long, "question": "which", "answer": "a b c"},
    ]
    short, longer = encode_rows(rows, "copy", tok, tokens, max_length=20, max_answer=4)
    assert short["prompt"] == longer["prompt"]  # cut against the answer budget, not the gold answer
    assert len(longer["input_ids"]) <= 20 and longer["input_ids"][: len(longer["prompt"])] == longer["prompt"]


def test_training_rows_that_hold_another_tasks_dev_example_are_dropped():
    def rows(*pairs):
        return [{"context": c, "question": "q", "answer": a} for c, a in pairs]

    news = TextTask(
        "news",
        "accuracy",
        rows(("Title one\nbody one", "tech"), ("Title two\nbody  two", "tech"), ("Title 3\nbody three", "sport")),
        rows(("Title four\nbody four", "tech")),
    )
    head = TextTask(
        "head",
        "bleu",
        rows(("body four", "Title four"), ("body five", "Title five")),
        rows(("body two", "Title two"), ("body three", "Title three")),
    )
    drop_shared_contexts({"news": news, "head": head})
    # "Title two / body two" holds head's dev example, input and headline; "Title 3" is not the headline
    assert [r["context"] for r in news.train] == ["Title one\nbody one", "Title 3\nbody three"] and news.held_out == 1
    assert len(head.train) == 2 and head.held_out == 0  # a news dev article's text without its topic: no leak
    same = TextTask("same", "accuracy", rows(("a b", "a")), rows(("a b", "c")))
    other = TextTask("other", "accuracy", rows(("a b", "c")), rows(("a b", "a")))
    drop_shared_contexts({"same": same, "other": other})
    assert same.held_out == other.held_out == 0  # the same input for two tasks is not a leak


def test_the_teacher_key_holds_every_setting_a_teacher_depends_on(tmp_path):
    from lamina.lifelong_learning.teachers import teacher_digest, teacher_key
    from lamina.workflows.lifelong import LifelongConfig

    rows = [{"context": "a b", "question": "which", "answer": "a"}] * 4
    task = TextTask("sst2", "accuracy", rows, rows[:2], source={"task": "sst2"})
    cfg = LifelongConfig(model="some-model", tasks=["sst2"], output=str(tmp_path / "out"))

    def digest(**changes):
        return teacher_digest(teacher_key(cfg.model_copy(update=changes), task, "/models/some-model"))

    base = digest()
    # what the teacher computes: precision, batching, training settings, the task set (its token ids)
    for changes in (
        {"bf16": True},
        {"group_by_length": not cfg.group_by_length},
        {"lr": cfg.lr * 2},
        {"seed": cfg.seed + 1},
        {"max_answer_tokens": 7},
        {"tasks": ["sst2", "cola"]},
    ):
        assert digest(**changes) != base, changes
    # how the run talks or where it writes, and how the student (not the teacher) learns
    for changes in (
        {"logging_steps": 7},
        {"eval_batch_size": 3},
        {"output": str(tmp_path / "other")},
        {"method": "seq-kd"},
        {"pseudo_rate": 1.0},
        {"temperature": 4.0},
        {"top_k": 3},
        {"teacher_dir": str(tmp_path / "t")},
        {"teacher_split": True},
        {"tasks": ["sst2", "sst2"]},
    ):
        assert digest(**changes) == base, changes
    other = TextTask("sst2", "accuracy", rows, rows[:2], source={"files": ["/data/x.jsonl"]})
    assert teacher_digest(teacher_key(cfg, other, "/models/some-model")) != base  # another data set
    assert teacher_digest(teacher_key(cfg, task, "/models/another")) != base  # another starting model


def test_a_teacher_is_trained_again_for_another_group_by_length_but_not_for_another_logging_steps(setup, tmp_path):
    folder, files = setup
    args = [
        "lifelong",
        str(folder / "model"),
        "--tasks",
        "copy",
        *files,
        "--method",
        "word-kd",
        "--max-steps",
        "2",
        "--max-train-samples",
        "16",
        "--max-eval-samples",
        "8",
        "--teacher-dir",
        str(tmp_path / "teachers"),
        *FAST,
    ]
    reused = {}
    for name, extra in (("first", []), ("logging", ["--logging-steps", "7"]), ("grouping", ["--no-group-by-length"])):
        reused[name] = _record(_run([*args, *extra], tmp_path / name))["teachers"]["copy"]["reused"]
    assert reused == {"first": False, "logging": True, "grouping": False}
    assert len(list((tmp_path / "teachers").glob("*/teacher.json"))) == 2
