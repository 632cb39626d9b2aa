"""Faults that used to slip through: ragged TSV/CSV rows, broken model folders, a
half-written checkpoint, and the temporary folder of a killed teacher-cache build."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import transformers
from typer.testing import CliRunner

from lamina.cli import app
from lamina.errors import LaminaError
from lamina.workflows.finetune import FinetuneConfig, run_finetune

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_error_line(result, *parts, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for part in parts:
        assert str(part) in err[0], (part, err[0])
    return err[0]


# --- 1. GLUE TSV rows with the wrong number of fields -------------------------------------


def _sst_folder(tmp_path, body: str) -> Path:
    folder = tmp_path / "glue" / "SST-2"
    folder.mkdir(parents=True)
    (folder / "train.tsv").write_text("sentence\tlabel\n" + body)
    (folder / "dev.tsv").write_text("sentence\tlabel\na fine film\t1\na dull one\t0\n")
    return folder.parent


@pytest.mark.parametrize(
    "bad_row,found", [('a good "film"\tfor all\t1\n', "has 3 tab-separated fields"), ("no label at all\n", "has 1")]
)
def test_glue_row_with_wrong_field_count_is_refused(tmp_path, bad_row, found):
    from lamina.data.glue import read_glue_examples

    root = _sst_folder(tmp_path, "a fine film\t1\na dull one\t0\n" + bad_row + "great\t1\n")
    path = root / "SST-2" / "train.tsv"
    with pytest.raises(LaminaError) as err:
        read_glue_examples("sst2", "train", root)
    msg = str(err.value)
    assert msg.startswith(f"{path}: line 4 ") and found in msg and "expected 2 (as in the header)" in msg, msg


def test_glue_headerless_cola_and_quotes(tmp_path):
    from lamina.data.glue import read_glue_examples

    folder = tmp_path / "CoLA"
    folder.mkdir()
    (folder / "train.tsv").write_text('gj04\t1\t\tHe said "hi" to her.\ngj04\t0\t*\tHer said "\tto.\n')
    with pytest.raises(LaminaError, match=r"train.tsv: line 2 has 5 tab-separated fields, expected 4 \(as on line 1\)"):
        read_glue_examples("cola", "train", tmp_path)
    # quotes are text, a trailing blank line is no row, no final newline is fine
    (folder / "train.tsv").write_text('gj04\t1\t\tHe said "hi\n\ngj04\t0\t*\tok "" .')
    with pytest.raises(LaminaError, match="line 2 is empty, expected 4"):
        read_glue_examples("cola", "train", tmp_path)
    (folder / "train.tsv").write_text('gj04\t1\t\tHe said "hi.\ngj04\t0\t*\tok "" .\n\n')
    _, rows = read_glue_examples("cola", "train", tmp_path)
    assert [r[0][0] for r in rows] == ['He said "hi.', 'ok "" .'] and [r[1] for r in rows] == ["1", "0"]


GLUE_SPLITS = {
    "sst2": ("train", "dev"),
    "mrpc": ("train", "dev"),
    "rte": ("train", "dev"),
    "cola": ("train", "dev"),
    "stsb": ("train", "dev"),
    "qnli": ("dev",),
}


def test_every_real_glue_folder_still_reads(data_dir):
    from lamina.data.glue import read_glue_examples

    for task, splits in GLUE_SPLITS.items():
        for split in splits:
            _, rows = read_glue_examples(task, split, data_dir)
            assert rows and all(label not in (None, "") for _, label, _ in rows), (task, split)


# --- 2. custom CSV/TSV rows with the wrong number of fields --------------------------------


def test_ragged_csv_row_is_refused_not_read_as_a_new_class(tmp_path, tiny_bert_with_tokenizer):
    from lamina.data.records import read_records

    train = tmp_path / "train.csv"
    train.write_text('text,label\n"a fine, warm film",pos\none, two,pos,extra\nawful,neg\n')
    with pytest.raises(LaminaError) as err:
        read_records(train)
    msg = str(err.value)
    assert msg.startswith(f"{train}: line 3 has 4 comma-separated fields, expected 2"), msg
    out = tmp_path / "o"
    result = run(
        "finetune",
        tiny_bert_with_tokenizer,
        "--task",
        "custom",
        "--train-file",
        train,
        "--validation-file",
        train,
        "-o",
        out,
    )
    one_error_line(result, train, "line 3", "4 comma-separated fields")
    assert not out.exists() and not (tmp_path / "o.work").exists()

    train.write_text('text,label\n"two\nlines",pos\ntoo few\n')  # a quoted field spans lines 2-3
    with pytest.raises(LaminaError, match=r"train.csv: line 4 has 1 comma-separated fields, expected 2"):
        read_records(train)
    train.write_text('text,label\n"one, two",pos\n\nawful,neg\n')
    assert read_records(train) == [{"text": "one, two", "label": "pos"}, {"text": "awful", "label": "neg"}]

    tsv = tmp_path / "t.tsv"
    tsv.write_text("text\tlabel\nfine\tpos\nbad\tneg\textra\n")
    with pytest.raises(LaminaError, match=r"t.tsv: line 3 has 3 tab-separated fields, expected 2"):
        read_records(tsv)


# --- 3. broken model folders ---------------------------------------------------------------


def _copy_model(src: Path, tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(src, folder)
    return folder


def _truncate(folder):
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return weights, "truncated"


def _garbage(folder):
    (folder / "model.safetensors").write_bytes(b"<html>404 not found</html>")
    return folder / "model.safetensors", "corrupt"


def _bad_json(folder):
    (folder / "config.json").write_text('{"model_type": "bert", "hidden_size": 32,')
    return folder / "config.json", "not valid JSON"


def _unknown_type(folder):
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "model_type": "bertish"}))
    return folder / "config.json", 'unknown model_type "bertish"'


@pytest.mark.parametrize("breaker", [_truncate, _garbage, _bad_json, _unknown_type])
def test_broken_model_folder_is_one_error_naming_the_file(breaker, tiny_bert_with_tokenizer, sst_like, tmp_path):
    folder = _copy_model(tiny_bert_with_tokenizer, tmp_path, "m")
    path, what = breaker(folder)
    out = tmp_path / "o"
    for result in (
        run("eval", folder, "--task", "sst2", "--data-dir", sst_like, "--no-speed"),
        run("prune", folder, "-o", out, "--drop", "1", "--no-speed"),
    ):
        line = one_error_line(result, path, what)
        assert "hub" not in line and "bundled alias" not in line
        if breaker is _unknown_type:
            assert "supported architectures: " in line and "bert" in line and "llama" in line
    assert not out.exists()


def test_known_but_unsupported_architecture_still_says_so(tmp_path):
    folder = tmp_path / "deberta"  # an architecture transformers knows and lamina does not
    transformers.DebertaV2Config(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, vocab_size=50
    ).save_pretrained(folder)
    one_error_line(
        run("prune", folder, "-o", tmp_path / "o", "--drop", "1"), "unsupported architecture 'deberta-v2'; supported:"
    )


def test_load_tokenizer(tiny_bert_with_tokenizer, tmp_path):
    from lamina.models.loading import load_tokenizer

    assert load_tokenizer(str(tiny_bert_with_tokenizer))("a fine film")["input_ids"]
    with pytest.raises(LaminaError, match="model not found"):
        load_tokenizer(str(tmp_path / "no" / "such"))


# --- 4. resume past a half-written checkpoint ----------------------------------------------


def _run_cfg(output, **kw):
    """A run's config as prepare_work_dir reads it: output, resume, overwrite and one setting."""
    from lamina.config import Settings

    class RunCfg(Settings):
        output: str
        resume: bool = False
        overwrite: bool = False
        lr: float = 1.0

    return RunCfg(output=str(output), **kw)


def _complete_checkpoint(path: Path) -> Path:
    path.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "trainer_state.json"):
        (path / name).write_text("{}")
    return path


def test_last_checkpoint_skips_an_incomplete_one(tmp_path):
    from lamina.training.workdir import last_checkpoint, prepare_work_dir

    work = tmp_path / "run.work"
    good = _complete_checkpoint(work / "checkpoint-2")
    (work / "checkpoint-4").mkdir()
    (work / "checkpoint-4" / "config.json").write_text("{}")
    (work / "checkpoint-10").mkdir()
    (work / "checkpoint-10" / "model.safetensors").write_text("{}")  # weights but no trainer_state.json
    assert last_checkpoint(work) == good
    with pytest.raises(LaminaError, match=r"add --resume to continue it \(from checkpoint-2\)"):
        prepare_work_dir(_run_cfg(tmp_path / "run"))
    (work / "run_settings.json").write_text('{"lr": 1.0}')  # what the interrupted run recorded
    logs = []
    assert prepare_work_dir(_run_cfg(tmp_path / "run", resume=True), log=logs.append) == (work, good)
    assert len(logs) == 2 and "checkpoint-4" in logs[0] and "no model weights" in logs[0]
    assert "checkpoint-10" in logs[1] and "no trainer_state.json" in logs[1]


def test_only_incomplete_checkpoints_is_nothing_to_resume(tmp_path):
    from lamina.training.workdir import last_checkpoint, prepare_work_dir

    work = tmp_path / "run.work"
    (work / "checkpoint-4").mkdir(parents=True)
    (work / "checkpoint-4" / "config.json").write_text("{}")
    assert last_checkpoint(work) is None
    with pytest.raises(LaminaError) as err:
        prepare_work_dir(_run_cfg(tmp_path / "run"))
    msg = str(err.value)
    assert "nothing can be resumed" in msg and "checkpoint-4 is incomplete" in msg and "--overwrite" in msg, msg
    assert "--resume" not in msg
    with pytest.raises(LaminaError, match="nothing to resume: no complete checkpoint in .*checkpoint-4"):
        prepare_work_dir(_run_cfg(tmp_path / "run", resume=True))
    assert (work / "checkpoint-4" / "config.json").is_file(), "a refused run leaves the work folder alone"


def test_resume_with_other_settings_is_refused_and_leaves_the_work_folder(tmp_path):
    from lamina.training.workdir import begin_work, prepare_work_dir

    cfg = _run_cfg(tmp_path / "run")
    work, ckpt = prepare_work_dir(cfg)
    assert ckpt is None and not work.exists(), "nothing is written before training starts"
    begin_work(work, cfg)
    assert json.loads((work / "run_settings.json").read_text()) == {"lr": 1.0}
    _complete_checkpoint(work / "checkpoint-2")
    (work / "checkpoint-3").mkdir()  # half-written: removed only by a resume that goes ahead
    before = sorted(p.relative_to(work) for p in work.rglob("*"))
    with pytest.raises(LaminaError, match=r"other settings than the interrupted run's: lr 2\.0 \(was 1\.0\)"):
        prepare_work_dir(_run_cfg(tmp_path / "run", resume=True, lr=2.0))
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before
    assert prepare_work_dir(_run_cfg(tmp_path / "run", resume=True))[1].name == "checkpoint-2"
    assert not (work / "checkpoint-3").exists()


def test_finetune_resumes_from_the_last_complete_checkpoint(tiny_bert_with_tokenizer, sst_like, tmp_path, capsys):
    from transformers import TrainerCallback

    class CrashAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                raise RuntimeError("simulated crash")

    out = tmp_path / "r"
    cfg = FinetuneConfig(
        model=str(tiny_bert_with_tokenizer),
        task="sst2",
        output=str(out),
        data_dir=sst_like,
        epochs=1,
        max_steps=6,
        lr=2e-3,
        batch_size=16,
        max_length=32,
        eval_steps=2,
        logging_steps=2,
        seed=1,
        progress=False,
    )
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_finetune(cfg, callbacks=[CrashAt()])
    work = tmp_path / "r.work"
    assert sorted(p.name for p in work.glob("checkpoint-*")) == ["checkpoint-2"]
    half = work / "checkpoint-4"  # what kill -9 leaves while the Trainer writes checkpoint-4
    half.mkdir()
    shutil.copy(work / "checkpoint-2" / "config.json", half / "config.json")
    capsys.readouterr()
    record = run_finetune(cfg.model_copy(update={"resume": True}))
    assert record["training"]["resumed_from"] == "checkpoint-2"
    assert record["training"]["global_steps"] == 6
    printed = capsys.readouterr().out
    assert "skipping incomplete checkpoint" in printed and "checkpoint-4" in printed, printed
    assert out.is_dir() and not work.exists()


# --- 5. a killed teacher-cache build ------------------------------------------------------

_TEACHER = """
import torch, transformers, datasets
torch.manual_seed(0)
teacher = transformers.BertForSequenceClassification(transformers.BertConfig(
    vocab_size=120, hidden_size=32, num_attention_heads=4, intermediate_size=64, num_hidden_layers=2)).eval()
data = datasets.Dataset.from_dict({"input_ids": [[1 + i % 50, 2, 3 + i % 7, 4] for i in range(40)]})
"""


def _plain_collator(rows):
    import torch

    return {"input_ids": torch.tensor([r["input_ids"] for r in rows])}


_CHILD = (
    _TEACHER
    + """
import sys, time
from pathlib import Path
from lamina.distillation.cache import TeacherCache
from lamina.losses.base import Needs
calls = []
def collator(rows):
    calls.append(1)
    if len(calls) == 2:  # one batch written: wait here to be killed
        Path(sys.argv[2]).write_text("filling")
        time.sleep(600)
    return {"input_ids": torch.tensor([r["input_ids"] for r in rows])}
TeacherCache.build_or_open(teacher, data, collator, root=Path(sys.argv[1]), needs=Needs(teacher_logits=True),
                           max_length=8, dtype="float32", batch_size=8, log=print)
"""
)

_TEMP = re.compile(r"\.[0-9a-f]{24}[-.]")


def _temps(root: Path) -> list[Path]:
    return [p for p in root.iterdir() if _TEMP.match(p.name)]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9")
def test_killed_cache_build_leaves_nothing_behind(tmp_path):
    from lamina.distillation.cache import TeacherCache
    from lamina.losses.base import Needs

    root, marker = tmp_path / "cache", tmp_path / "marker"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(root), str(marker)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.time() + 180
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "the child build never started"
            time.sleep(0.2)
        (partial,) = _temps(root)
        assert (partial / "logits.npy").is_file()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()
    assert partial.is_dir(), "kill -9 leaves the partial folder"

    scope: dict = {}
    exec(_TEACHER, scope)  # the same teacher and data: the same entry
    logs = []
    cache = TeacherCache.build_or_open(
        scope["teacher"],
        scope["data"],
        _plain_collator,
        root=root,
        needs=Needs(teacher_logits=True),
        max_length=8,
        dtype="float32",
        batch_size=8,
        log=logs.append,
    )
    assert not partial.exists() and _temps(root) == []
    assert any(str(partial) in m and "interrupted build" in m for m in logs), logs
    assert cache.logits.shape == (40, 2) and (cache.folder / "meta.json").is_file()


def test_cache_sweep_spares_live_builds_and_foreign_folders(tmp_path):
    from lamina.distillation.cache import STALE_UNLOCKED_S, _new_temp, clean_stale

    root = tmp_path / "cache"
    root.mkdir()
    key = "ab" * 12
    tmp, owner = _new_temp(root, key)  # a live build: its lock is held
    (tmp / "logits.npy").write_bytes(b"x")
    (root / key).mkdir()  # its entry, no meta.json yet
    later = time.time() + 2 * STALE_UNLOCKED_S
    try:
        assert clean_stale(root, log=lambda m: None, now=later) == []
        assert tmp.is_dir() and (root / key).is_dir()
    finally:
        owner.close()  # the builder dies
    assert set(clean_stale(root, log=lambda m: None, now=later)) == {tmp, root / key}

    legacy = root / f".{'cd' * 12}-abc123"  # an older lamina's partial folder: no owner to ask
    legacy.mkdir()
    (legacy / "cls_2.npy").write_bytes(b"x")
    foreign = root / ("ef" * 12)  # a look-alike folder holding something else
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    done = root / ("01" * 12)  # a complete entry plus an output its meta.json does not list
    done.mkdir()
    (done / "meta.json").write_text(json.dumps({"logits": True, "cls": [], "tokens": []}))
    (done / "logits.npy").write_bytes(b"x")
    (done / "cls_3.npy").write_bytes(b"x")
    assert clean_stale(root, log=lambda m: None) == []  # all of it changed just now
    removed = clean_stale(root, log=lambda m: None, now=later)
    assert set(removed) == {legacy, done / "cls_3.npy"}
    assert (foreign / "notes.txt").is_file() and (done / "logits.npy").is_file() and (done / "meta.json").is_file()


def test_cache_build_cleans_up_after_itself(tmp_path):
    from lamina.distillation.cache import TeacherCache
    from lamina.losses.base import Needs

    scope: dict = {}
    exec(_TEACHER, scope)
    root = tmp_path / "cache"
    TeacherCache.build_or_open(
        scope["teacher"],
        scope["data"],
        _plain_collator,
        root=root,
        needs=Needs(teacher_logits=True),
        max_length=8,
        dtype="float32",
        log=lambda m: None,
    )
    assert _temps(root) == [] and len(list(root.iterdir())) == 1


def test_write_json_is_whole_or_absent_and_writes_through_links(tmp_path, monkeypatch):
    """A record or round.json killed mid-write must not be read as written: the text goes to a
    temporary file, then one rename; a link (--json /dev/stdout) is written through, not replaced."""
    from lamina.io import write_json

    path = tmp_path / "round.json"
    write_json(path, {"round": 0})
    real = Path.write_text

    def killed(self, text, *args, **kwargs):
        real(self, text[:5], *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", killed)
    with pytest.raises(KeyboardInterrupt):
        write_json(path, {"round": 1})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"round": 0}  # the old file is whole
    target, link = tmp_path / "target.json", tmp_path / "link.json"
    target.write_text("{}")
    link.symlink_to(target)
    write_json(link, {"a": 1})
    assert link.is_symlink() and json.loads(target.read_text()) == {"a": 1}
