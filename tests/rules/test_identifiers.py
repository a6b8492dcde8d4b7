from __future__ import annotations

import pytest

from perfcycle.rules.identifiers import CODE_MAX_LENGTH, code_problem, invisible_chars, is_code, without_invisible


@pytest.mark.parametrize("code", ["D01", "101", "P101", "LS2022-101-01", "a_b", "v1.2", "9", "A" * CODE_MAX_LENGTH])
def test_well_formed_codes(code: str) -> None:
    assert is_code(code)
    assert code_problem(code) is None


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("../../x", "含有路径分隔符「/」"),
        ("a/b", "含有路径分隔符「/」"),
        ("..\\x", "含有路径分隔符「\\」"),
        ("a..b", "含有「..」"),
        ("..", "含有「..」"),
        (".hidden", "不能以「.」开头"),
        ("-rf", "不能以「-」开头"),
        ("_x", "不能以「_」开头"),
        ("D01.", "不能以「.」结尾"),
        ("D 01", "中有空格、换行或制表符"),
        ("D\u300001", "中有空格、换行或制表符"),
        ("D01\n", "中有空格、换行或制表符"),
        ("Ｄ01", "含有全角字符「Ｄ」，请用半角输入"),
        ("D０1", "含有全角字符「０」，请用半角输入"),
        ("教育01", "含有不允许的字符「教」"),
        ("D01:", "含有不允许的字符「:」"),
        ("", "为空"),
        ("A" * (CODE_MAX_LENGTH + 1), f"过长（{CODE_MAX_LENGTH + 1} 个字符，最多 {CODE_MAX_LENGTH} 个）"),
    ],
)
def test_each_malformed_code_is_refused_naming_why(code: str, why: str) -> None:
    reason = code_problem(code)
    assert reason is not None and not is_code(code)
    assert reason == f"编码「{code}」{why}（编码只能由英文字母、数字和 - _ . 组成，以字母或数字开头）"


@pytest.mark.parametrize(
    ("code", "shown", "points"),
    [
        ("D01\u200b", "D01", "U+200B"),
        ("\ufeffD01", "D01", "U+FEFF"),
        ("D\u200d0\u20601", "D01", "U+200D、U+2060"),
        ("D0\u00ad1", "D01", "U+00AD"),
        ("D01\x01", "D01", "U+0001"),
        ("D01\u3164", "D01", "U+3164"),
        ("D01\ufe0f", "D01", "U+FE0F"),
        ("../x\u200b", "../x", "U+200B"),  # the invisible character is what a person cannot find: named first
    ],
)
def test_invisible_characters_are_named_by_code_point(code: str, shown: str, points: str) -> None:
    reason = code_problem(code)
    assert reason is not None
    assert reason.startswith(f"编码「{shown}」含有不可见字符 {points}，请删除后重新输入")


def test_invisible_chars_lists_each_once_in_order_and_leaves_visible_text() -> None:
    assert invisible_chars("项目\u200b名称\u200b\ufeff") == ["U+200B", "U+FEFF"]
    assert invisible_chars("项目名称 （万元）\t") == []  # whitespace shows as space: not invisible
    assert without_invisible("项目\u200b名\u2060称") == "项目名称"
