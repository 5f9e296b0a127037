"""engine.class_names: labels files in every accepted form, and the dataset/model mismatch."""

from __future__ import annotations

import json

import pytest

from engine.class_names import ClassNames, display_name, read_labels_file, resolve
from engine.errors import BadInputError


def test_labels_file_lines_list_and_imagenet_index(tmp_path) -> None:
    lines = tmp_path / "labels.txt"
    lines.write_text("cat\n\n dog \nbird\n", "utf-8")
    assert read_labels_file(lines) == ("cat", "dog", "bird")
    listed = tmp_path / "labels.json"
    listed.write_text(json.dumps(["a", "b"]), "utf-8")
    assert read_labels_file(listed) == ("a", "b")
    index = tmp_path / "imagenet_class_index.json"  # Keras' format: {"0": ["n01440764", "tench"], ...}
    index.write_text(json.dumps({"1": ["n01443537", "goldfish"], "0": ["n01440764", "tench"], "3": "shark"}), "utf-8")
    assert read_labels_file(index) == ("tench", "goldfish", "", "shark")


@pytest.mark.parametrize("content", ['{"x": "cat"}', "[1, 2", "{}", '{"0": "a", "-1": "b"}'])
def test_bad_labels_files_are_one_line_errors(tmp_path, content) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, "utf-8")
    with pytest.raises(BadInputError, match="bad.json"):
        read_labels_file(path)


def test_labels_file_wins_then_matching_dataset_then_indices() -> None:
    from_file = resolve(3, ("x", "y", "z"), ("cat", "dog", "bird"))
    assert from_file.source == "labels file" and from_file.name(1) == "dog" and not from_file.mismatch
    assert resolve(3, ("x", "y", "z")).names == ("x", "y", "z")
    numeric = resolve(10, ("0", "1", "2"))  # digits 0-2 of a 10-class model: indices line up
    assert numeric.source == "dataset" and numeric.name(1) == "1" and numeric.name(7) == "class 7"
    folders = resolve(1000, ("cat", "dog", "bird", "fish", "owl"))
    assert folders.source == "" and folders.name(0) == "class 0"
    assert "5 classes" in folders.mismatch and "1000 outputs" in folders.mismatch
    short = resolve(4, (), ("a", "b"))
    assert short.names == ("a", "b", "", "") and "2 classes" in short.mismatch


def test_labels_and_display_names() -> None:
    names = ClassNames(("0", "cat"), "dataset")
    assert names.label(1) == "1 (cat)" and names.label(0) == "class 0" and names.label(5) == "class 5"
    assert display_name("cat/001.png", "cat") == "001.png"
    assert display_name("cat/001.png", "dog") == "cat/001.png" and display_name("case 7", "7") == "case 7"
