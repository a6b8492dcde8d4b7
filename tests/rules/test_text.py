"""Record text on one line: every kind of line break is one space, nothing else changes."""

from __future__ import annotations

import pytest

from perfcycle.rules.text import one_line


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("区教育局", "区教育局"),
        ("a  b", "a  b"),  # spaces inside a line are the record's own
        ("a\nb", "a b"),
        ("a \r\n  b", "a b"),
        ("a\u2028b\u2029c\x85d", "a b c d"),
        ("a\vb\fc", "a b c"),
        ("a\n\n\nb", "a b"),
        (12.5, "12.5"),
    ],
)
def test_one_line(value: object, expected: str) -> None:
    assert one_line(value) == expected
