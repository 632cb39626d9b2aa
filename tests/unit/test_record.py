"""The results record is typed: a common model (lamina.results.Record) plus one section per kind
(the command's ``Section``), validated when written, read back typed, old records still read."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import pytest

from lamina.results import (
    RESULTS_FILE,
    InvalidRecord,
    LineageEntry,
    Record,
    RecordPart,
    Sizes,
    Versions,
    as_record,
    check_record,
    finish_record,
    is_record,
    new_record,
    read_record,
    record_kind,
    write_record,
)
from lamina.workflows import WORKFLOWS
from lamina.workflows.prune import PruneSection

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def _prune_record() -> dict:
    record = new_record("prune", model="some/model", config={"strategy": "top", "drop": 2, "keep": None}, seed=None)
    record["sizes"] = {
        "layers_before": 6,
        "layers": 4,
        "parameters_before": 100,
        "parameters": 80,
        "bytes_before": None,
        "bytes": 320,
    }
    record["prune"] = {
        "source_path": "/models/m",
        "architecture": "BertModel",
        "model_type": "bert",
        "kept_layers": [0, 1, 2, 3],
        "dropped_layers": [4, 5],
        "calibration": None,
        "layer_scores": None,
    }
    return finish_record(record)


def test_a_typed_record_round_trips(tmp_path):
    record = _prune_record()
    path = write_record(tmp_path / RESULTS_FILE, record)
    assert json.loads(path.read_text()) == json.loads(json.dumps(record)), "written as it was made"
    typed = read_record(path)
    assert isinstance(typed, Record) and typed.kind == "prune" and typed.model == "some/model"
    assert isinstance(typed.sizes, Sizes) and typed.sizes.layers == 4 and typed.sizes.layers_before == 6
    assert isinstance(typed.versions, Versions) and typed.versions.lamina and typed.versions.torch
    assert isinstance(typed.lineage[0], LineageEntry) and typed.lineage[0].kind == "prune"
    assert typed.lineage[0].kept_layers == [0, 1, 2, 3] and typed.wall_seconds is not None
    section = typed.section()
    assert isinstance(section, PruneSection) and section.dropped_layers == [4, 5]
    assert typed.data() == json.loads(path.read_text())
    again = tmp_path / "again.json"
    write_record(again, typed.data())  # what is read is written again unchanged
    assert again.read_text() == path.read_text()


@pytest.mark.parametrize(
    "change, complaint",
    [
        (lambda r: r["prune"].update(kept_layers="0,1,2,3"), "kept_layers"),  # a wrong type in the section
        (lambda r: r["prune"].update(kept="typo"), "unknown key"),  # a key its model does not name
        (lambda r: r["sizes"].update(layers=4.5), "layers"),  # a wrong type in the common part
        (lambda r: r.update(speedups={}), "speedups"),  # a top-level key no model names
        (lambda r: r.pop("versions"), "missing versions"),  # not made by new_record
        (lambda r: r.update(_t0=1.0), "_t0"),  # not finished by finish_record
    ],
)
def test_a_record_that_does_not_fit_is_refused_when_written(tmp_path, change, complaint):
    record = _prune_record()
    change(record)
    with pytest.raises(InvalidRecord, match=complaint) as raised:
        write_record(tmp_path / RESULTS_FILE, record)
    assert "'prune' results record does not fit" in str(raised.value)
    assert not (tmp_path / RESULTS_FILE).exists(), "nothing is written"


def test_a_section_needs_the_fields_its_model_requires():
    record = _prune_record()
    del record["prune"]["kept_layers"]
    with pytest.raises(InvalidRecord, match="kept_layers"):
        check_record(record)


def test_an_old_record_with_unknown_keys_is_still_read(tmp_path):
    old = {
        "kind": "prune",
        "command": "lamina prune m",
        "model": "m",
        "config": {"strategy": "top"},
        "metrics": {},
        "sizes": {"layers": 3, "layers_before": 6, "disk_mb": 12.5},
        "speeds": None,
        "versions": {"lamina": "0.1.0", "torch": "2.0", "transformers": "4.30", "python": "3.10"},
        "prune": {
            "kept_layers": [0, 1, 2],
            "dropped_layers": [3, 4, 5],
            "source_path": "m",
            "architecture": "BertModel",
            "model_type": "bert",
            "old_field": 1,
        },
        "retired_key": {"anything": [1, 2]},
    }
    path = tmp_path / RESULTS_FILE
    path.write_text(json.dumps(old))
    typed = read_record(path)
    assert typed.sizes.layers == 3 and typed.speeds == {} and typed.lineage is None and typed.seed is None
    assert typed.retired_key == {"anything": [1, 2]} and typed.sizes.disk_mb == 12.5
    assert typed.section().kept_layers == [0, 1, 2] and typed.data() == old
    with pytest.raises(InvalidRecord):  # read, yes; but no record to write as it is
        check_record(old)
    # a kind no longer registered reads too (its section untyped)
    gone = {**old, "kind": "retired-kind"}
    assert as_record(gone).section() is None and record_kind(gone).Section is None


def test_a_file_that_is_no_record_is_refused_by_read_record(tmp_path):
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "kindless.json").write_text('{"command": "x"}')
    for name in ("list.json", "bad.json", "kindless.json"):
        with pytest.raises(InvalidRecord):
            read_record(tmp_path / name)


def _assigned_keys(source: str) -> set[str]:
    """The constant keys of every ``record["KEY"] = ...`` (or ``record.setdefault("KEY", ...)``) in ``source``."""
    keys = set()
    for node in ast.walk(ast.parse(source)):
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, (ast.AugAssign, ast.AnnAssign))
            else []
        )
        for t in targets:
            if (
                isinstance(t, ast.Subscript)
                and isinstance(t.value, ast.Name)
                and t.value.id == "record"
                and isinstance(t.slice, ast.Constant)
            ):
                keys.add(t.slice.value)
            if isinstance(t, ast.Tuple):
                targets.extend(t.elts)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "setdefault"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "record"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            keys.add(node.args[0].value)
    return keys


def test_every_workflow_that_writes_a_section_has_a_model_for_it():
    import lamina.lifelong_learning.record

    common = set(Record.model_fields)
    sources = {name: inspect.getsource(inspect.getmodule(entry)) for name, entry in WORKFLOWS.entries.items()}
    sources["lifelong"] += inspect.getsource(lamina.lifelong_learning.record)  # (its fill_record writes its keys)
    for name, entry in WORKFLOWS.entries.items():
        own = _assigned_keys(sources[name]) - common
        allowed = set(entry.TopLevel.model_fields) if entry.TopLevel is not None else set()
        key = entry.section_key or name
        if entry.Section is not None:
            assert issubclass(entry.Section, RecordPart), f"{name}: its Section is a RecordPart"
            allowed.add(key)
        assert own <= allowed, f"{name} writes {sorted(own - allowed)} with no model (Section / TopLevel)"
    sections = {n for n, e in WORKFLOWS.entries.items() if e.Section is not None}
    assert {"prune", "distill", "export", "lottery", "pretrain", "generate-targets"} <= sections


def test_every_shared_key_a_scorer_or_helper_writes_is_in_the_common_model():
    root = Path(inspect.getfile(Record)).parent
    workflows = {Path(inspect.getfile(e)).resolve() for e in WORKFLOWS.entries.values()}
    for path in root.rglob("*.py"):
        if path.resolve() in workflows or path.name == "record.py" and path.parent.name == "lifelong_learning":
            continue
        extra = _assigned_keys(path.read_text(encoding="utf-8")) - set(Record.model_fields)
        assert not extra, f"{path.relative_to(root)} writes {sorted(extra)} that no model of the record names"


@pytest.mark.skipif(not RESULTS.is_dir(), reason="the committed benchmark records")
def test_every_committed_record_reads_typed_and_fits_its_models():
    """The records lamina report reads from benchmarks/results: each reads typed with its section,
    and fits the models as written today, but for the lineage the oldest predate."""
    seen = 0
    for path in sorted(RESULTS.rglob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if not is_record(data) or "versions" not in data:  # (inspect tables, cost summaries)
            continue
        seen += 1
        typed = read_record(path)
        typed.section()
        check_record(data if "lineage" in data else {**data, "lineage": []})
    assert seen > 300
