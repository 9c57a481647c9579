"""Trainer YAML files (readers.yamlfile)."""

from __future__ import annotations

import pytest

from lrguard.errors import InputError
from lrguard.readers.yamlfile import load_yaml_mapping


def test_mapping(tmp_path):
    p = tmp_path / "opt.yaml"
    p.write_text("epochs: 300\nhyp:\n  lr0: 0.01\nresume: false\n")
    assert load_yaml_mapping(p) == {"epochs": 300, "hyp": {"lr0": 0.01}, "resume": False}


def test_empty_file_is_empty_mapping(tmp_path):
    p = tmp_path / "args.yaml"
    p.write_text("")
    assert load_yaml_mapping(p) == {}


def test_bad_yaml_names_file_and_line(tmp_path):
    p = tmp_path / "opt.yaml"
    p.write_text("epochs: 300\nhyp:\n  lr0: 0.01\n lrf: [0.01\n")
    with pytest.raises(InputError) as info:
        load_yaml_mapping(p)
    msg = str(info.value)
    assert "\n" not in msg and str(p) in msg and "does not parse" in msg and "line" in msg


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_non_mapping(tmp_path, text):
    p = tmp_path / "args.yaml"
    p.write_text(text)
    with pytest.raises(InputError, match="expected a YAML mapping"):
        load_yaml_mapping(p)


def test_python_tags_are_not_executed(tmp_path):
    p = tmp_path / "opt.yaml"
    p.write_text("x: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(InputError):
        load_yaml_mapping(p)


def test_not_utf8_and_missing(tmp_path):
    p = tmp_path / "opt.yaml"
    p.write_bytes(b"epochs: \xff\xfe\n")
    with pytest.raises(InputError, match="UTF-8"):
        load_yaml_mapping(p)
    with pytest.raises(InputError, match="not found"):
        load_yaml_mapping(tmp_path / "nope.yaml")


def test_directory_is_input_error(tmp_path):
    d = tmp_path / "opt.yaml"
    d.mkdir()
    with pytest.raises(InputError):
        load_yaml_mapping(d)
