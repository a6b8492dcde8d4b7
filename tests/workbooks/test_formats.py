from __future__ import annotations

from perfcycle.workbooks.formats import header_mismatch


def test_a_header_mismatch_names_the_characters_nobody_can_see() -> None:
    assert header_mismatch("C", "项目\u200b名称", "项目名称") == (
        "C 列的列名「项目名称」含有不可见字符 U+200B，应为「项目名称」：请删除该字符或重新输入列名"
    )
    assert header_mismatch("A", "\ufeff部门编码\u2060", "部门编码").startswith(
        "A 列的列名「部门编码」含有不可见字符 U+FEFF、U+2060，"
    )


def test_a_header_mismatch_without_invisible_characters_is_worded_as_before() -> None:
    assert header_mismatch("B", "部门名", "部门名称") == "B 列的列名「部门名」不符合格式，应为「部门名称」"
