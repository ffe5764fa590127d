"""tools/same_results.py, the before/after check of results, tells equal files from unequal."""

from tools import same_results


def test_equal_outputs_have_no_differences():
    outputs = {"a.yaml/results.json": b'{"x": 1}', "b.yaml/report.md": b"# b"}
    assert same_results.differences(outputs, dict(outputs)) == []


def test_a_changed_byte_is_named_with_its_offset():
    before = {"a.yaml/results.json": b'{"x": 1}'}
    after = {"a.yaml/results.json": b'{"x": 2}'}
    assert same_results.differences(before, after) == ["a.yaml/results.json: differs from byte 6"]


def test_a_truncated_or_missing_file_differs():
    before = {"a.yaml/results.json": b"abc", "b.yaml/results.json": b"x"}
    after = {"a.yaml/results.json": b"ab"}
    assert same_results.differences(before, after) == [
        "a.yaml/results.json: differs from byte 2",
        "b.yaml/results.json: only on one side",
    ]


def test_every_config_is_swept():
    names = same_results.configs()
    assert "quickstart.yaml" in names and len(names) >= 6
