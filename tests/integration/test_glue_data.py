"""Every GLUE reader on the real files returns the official row counts and label balance
(numbers from ../shared/data/MANIFEST.md)."""

from __future__ import annotations

from collections import Counter

import pytest
from typer.testing import CliRunner

from lamina.cli import app
from lamina.tasks import get_task

pytestmark = pytest.mark.integration

# task: {split: (rows, {label name: count} or None)}
EXPECTED = {
    "sst2": {
        "train": (67_349, {"positive": 37_569, "negative": 29_780}),
        "dev": (872, {"positive": 444, "negative": 428}),
    },
    "cola": {
        "train": (8_551, {"acceptable": 6_023, "unacceptable": 2_528}),
        "dev": (1_043, {"acceptable": 721, "unacceptable": 322}),
    },
    "mrpc": {
        "train": (3_668, {"equivalent": 2_474, "not_equivalent": 1_194}),
        "dev": (408, {"equivalent": 279, "not_equivalent": 129}),
    },
    "rte": {
        "train": (2_490, {"entailment": 1_249, "not_entailment": 1_241}),
        "dev": (277, {"entailment": 146, "not_entailment": 131}),
    },
    "stsb": {"train": (5_749, None), "dev": (1_500, None)},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_official_counts_and_labels(name, data_dir):
    task = get_task(name)
    data = task.load(str(data_dir))
    for split, (rows, balance) in EXPECTED[name].items():
        ds = data[split]
        assert len(ds) == rows, (name, split)
        labels = list(ds["label"])
        if balance is None:
            assert min(labels) >= 0.0 and max(labels) <= 5.0
        else:
            assert {task.labels[k]: v for k, v in Counter(labels).items()} == balance
        assert all(isinstance(t, str) and t.strip() for t in ds["text"][:200])
        if "text_pair" in ds.column_names:
            assert all(isinstance(t, str) and t.strip() for t in ds["text_pair"][:200])


def test_qnli_dev_only(data_dir):
    from lamina.data.glue import read_glue_examples

    _, rows = read_glue_examples("qnli", "dev", str(data_dir))
    assert len(rows) == 5_463
    assert Counter(label for _, label, _ in rows) == {"entailment": 2_702, "not_entailment": 2_761}


def test_mrpc_bom_does_not_leak_into_text(data_dir):
    first = get_task("mrpc").load(str(data_dir))["train"][0]
    assert not first["text"].startswith("\ufeff") and first["label"] == 1


def test_data_command_on_sst2(data_dir):
    result = CliRunner().invoke(app, ["data", "sst2", "--data-dir", str(data_dir)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "67,349" in result.stdout and "positive 444" in result.stdout and "negative 428" in result.stdout
