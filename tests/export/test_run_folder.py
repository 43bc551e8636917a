"""Bad inputs are errors that name the folder, file or field."""

from __future__ import annotations

import json
import shutil

import pytest

from export.cli import main
from export.errors import FormatError, RunFolderError
from export.formats import FORMATS, parse_formats
from export.run_folder import load_run


def test_loads_a_real_run(tiny_run):
    run = load_run(tiny_run)
    assert run.name == "tiny" and run.labels == ["square", "disc"] and run.input["width"] == 64


@pytest.mark.parametrize("text, expected", [
    ("float32", ["float32"]),
    ("float32,int8", ["float32", "int8"]),
    (" int8 , float32,int8", ["int8", "float32"]),
])
def test_parse_formats(text, expected):
    assert [f.name for f in parse_formats(text)] == expected


@pytest.mark.parametrize("text", ["fp32", "float32,int4", "", " , "])
def test_unknown_format_lists_valid_ones(text):
    with pytest.raises(FormatError) as err:
        parse_formats(text)
    for name in FORMATS:
        assert name in str(err.value)


def test_format_table_rows_are_unique_files():
    suffixes = [f.suffix for f in FORMATS.values()]
    assert len(set(suffixes)) == len(suffixes)
    assert all(s.endswith(".tflite") for s in suffixes)


def test_folder_that_does_not_exist(tmp_path):
    with pytest.raises(RunFolderError, match="nope"):
        load_run(tmp_path / "nope")


@pytest.mark.parametrize("remove, named", [("run.json", "run.json"), ("model.keras", "model.keras")])
def test_folder_missing_a_file(tmp_path, tiny_run, remove, named):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    (copy / remove).unlink()
    with pytest.raises(RunFolderError) as err:
        load_run(copy)
    assert str(copy) in str(err.value) and named in str(err.value)


@pytest.mark.parametrize("path, field", [
    (("labels",), "'labels'"),
    (("decode",), "'decode'"),
    (("input", "std"), "'input.std'"),
    (("input", "width"), "'input.width'"),
    (("data", "train"), "'data.train'"),
])
def test_run_json_missing_field_is_named(tmp_path, tiny_run, path, field):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    spec = json.loads((copy / "run.json").read_text())
    parent = spec
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    (copy / "run.json").write_text(json.dumps(spec))
    with pytest.raises(RunFolderError, match=f"missing field {field}"):
        load_run(copy)


@pytest.mark.parametrize("key, value, message", [
    ("width", "64", "'input.width' is '64'; expected a JSON int"),
    ("std", [255.0, 0.0, 255.0], "std of 0"),
    ("mean", [0.0, 0.0], "expected 3 numbers"),
])
def test_run_json_bad_input_values(tmp_path, tiny_run, key, value, message):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    spec = json.loads((copy / "run.json").read_text())
    spec["input"][key] = value
    (copy / "run.json").write_text(json.dumps(spec))
    with pytest.raises(RunFolderError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_run(copy)


def test_cli_reports_errors_as_one_line(tmp_path, tiny_run, capsys):
    assert main([str(tmp_path), "--formats", "float32"]) == 2
    assert "missing run.json and model.keras" in capsys.readouterr().err
    assert main([str(tiny_run), "--formats", "float32,bogus"]) == 2
    err = capsys.readouterr().err
    assert "'bogus'" in err and "float32, float16, dynamic, int8" in err
