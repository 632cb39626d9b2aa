"""Task loading from custom files and from a GLUE-format folder, and its bad input."""

from __future__ import annotations

import json

import pytest

from lamina.errors import LaminaError
from lamina.tasks import get_task


def write(path, text, encoding="utf-8"):
    path.write_text(text, encoding=encoding)
    return path


def test_custom_csv_labels_inferred_sorted(tmp_path):
    train = write(tmp_path / "t.csv", 'text,y\n"good, really",pos\nbad,neg\nfine,pos\n')
    dev = write(tmp_path / "d.csv", "text,y\nok,pos\nawful,neg\n")
    task = get_task("custom", train_file=train, validation_file=dev, label_column="y")
    assert task.labels == ("neg", "pos") and task.metrics == ("accuracy", "macro_f1")
    data = task.load()
    assert data["train"]["text"][0] == "good, really" and list(data["train"]["label"]) == [1, 0, 1]
    assert list(data["dev"]["label"]) == [1, 0]


def test_custom_jsonl_pairs_and_tsv_regression(tmp_path):
    rows = [{"a": "x", "b": "y", "label": "same"}, {"a": "p", "b": "q", "label": "diff"}]
    train = write(tmp_path / "t.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    task = get_task("custom", train_file=train, validation_file=train, text_columns=["a", "b"])
    assert task.load()["dev"].column_names == ["text", "text_pair", "label"]
    tsv = write(tmp_path / "r.tsv", 'sentence\tscore\nsaid "hi"\t0.5\nyes\t4\n')
    reg = get_task(
        "custom", train_file=tsv, validation_file=tsv, text_columns=["sentence"], label_column="score", regression=True
    )
    assert reg.is_regression and list(reg.load()["train"]["label"]) == [0.5, 4.0]


@pytest.mark.parametrize(
    "content,kwargs,match",
    [
        (None, {}, "file not found"),
        ("", {}, "is empty"),
        ("text,label\nhello,a\n", {"label_column": "y"}, "missing column(s) ['y']"),
        ("text,label\nhello,a\n", {}, "fewer than two distinct labels"),
    ],
)
def test_custom_bad_train_files(tmp_path, content, kwargs, match):
    train = tmp_path / "t.csv"
    if content is not None:
        write(train, content)
    with pytest.raises(
        LaminaError, match=match.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")
    ):
        get_task("custom", train_file=train, validation_file=train, **kwargs)


def test_custom_validation_label_outside_the_set(tmp_path):
    train = write(tmp_path / "t.csv", "text,label\na,x\nb,y\n")
    dev = write(tmp_path / "d.csv", "text,label\nc,z\n")
    with pytest.raises(LaminaError, match="example 1: label 'z' is not one of"):
        get_task("custom", train_file=train, validation_file=dev).load()


def test_non_utf8_file(tmp_path):
    train = tmp_path / "t.csv"
    train.write_bytes(b"text,label\ncaf\xe9,a\nb,b\n")
    with pytest.raises(LaminaError, match="not valid UTF-8"):
        get_task("custom", train_file=train, validation_file=train)


def test_unknown_task():
    with pytest.raises(
        LaminaError, match="unknown task 'sst3'; available: bbc-headline, bbc-news, causal-lm, cola, custom"
    ):
        get_task("sst3")


def test_glue_folder_label_outside_the_set_names_the_line(tmp_path):
    folder = tmp_path / "SST-2"
    folder.mkdir()
    write(folder / "train.tsv", "sentence\tlabel\ngood\t1\nodd\t2\n")
    write(folder / "dev.tsv", "sentence\tlabel\nfine\t1\n")
    with pytest.raises(LaminaError, match=r"train.tsv: line 3: label '2' is not one of \['0', '1'\]"):
        get_task("sst2").load(str(tmp_path))


def test_glue_quotes_are_not_csv_quoting(tmp_path):
    folder = tmp_path / "glue" / "SST-2"  # the parent of glue/ works too
    folder.mkdir(parents=True)
    write(folder / "train.tsv", 'sentence\tlabel\n" a quoted start\t1\nplain "mid" quote\t0\n')
    write(folder / "dev.tsv", "sentence\tlabel\nx\t0\n")
    data = get_task("sst2").load(str(tmp_path))
    assert list(data["train"]["text"]) == ['" a quoted start', 'plain "mid" quote']


def test_missing_glue_folder(tmp_path):
    with pytest.raises(LaminaError, match="no RTE/ folder"):
        get_task("rte").load(str(tmp_path))


def test_bbc_news_split_is_stratified_and_fixed():
    task = get_task("bbc-news")
    a, b = task.load(), task.load()
    assert len(a["train"]) == 1671 and len(a["dev"]) == 418  # 2,089 distinct articles of the package's 2,225
    assert not set(a["train"]["text"]) & set(a["dev"]["text"])  # no article on both sides
    assert list(a["dev"]["label"]) == list(b["dev"]["label"])
    from collections import Counter

    dev, train = Counter(a["dev"]["label"]), Counter(a["train"]["label"])
    for k in range(5):
        assert abs(dev[k] / 418 - train[k] / 1671) < 0.01
