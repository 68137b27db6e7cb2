"""The structural diff that dry runs show and applies act on."""

from __future__ import annotations

from tools.diff import Change, diff


def test_equal_values_have_no_diff() -> None:
    value = {"routes": [{"name": "a", "percent": 100}], "size": "Small"}
    assert diff(value, {**value}) == []


def test_changed_leaves_are_reported_by_path() -> None:
    before = {"served_entities": [{"workload_size": "Small", "scale": True}], "x": 1}
    after = {"served_entities": [{"workload_size": "Large", "scale": True}], "x": 1}
    assert diff(before, after) == [
        Change(path="served_entities.0.workload_size", before="Small", after="Large")
    ]


def test_added_and_removed_items_and_keys() -> None:
    changes = diff({"routes": [1], "old": "a"}, {"routes": [1, 2], "new": "b"})
    assert changes == [
        Change(path="routes.1", before=None, after=2),
        Change(path="old", before="a", after=None),
        Change(path="new", before=None, after="b"),
    ]


def test_a_change_of_type_is_a_change() -> None:
    assert diff({"v": 1}, {"v": True}) == [Change(path="v", before=1, after=True)]
    assert diff(None, {"exists": True}) == [Change(path="$", before=None, after={"exists": True})]
