"""Codes are identifiers: what a department, project or policy code may be, and why a given text is not one.

A code names files (`<部门编码>.xlsx` in the submissions folder), keys every cross-reference and is typed by
people into Excel and the command line, so it is kept to what no file system, shell or eye can misread:

- ASCII letters `A–Z a–z`, digits `0–9` and the three signs `-` `_` `.`;
- it starts with a letter or a digit, does not end with `.`, and holds no `..`;
- at most `CODE_MAX_LENGTH` characters.

So no path separator, no whitespace, no control or invisible character, no full-width look-alike. The
reasons name the offending character, invisible ones by their code point ("含有不可见字符 U+200B"), so
that a person can find what they cannot see.
"""

from __future__ import annotations

import re
import unicodedata

CODE_MAX_LENGTH = 64
CODE_RULE = "编码只能由英文字母、数字和 - _ . 组成，以字母或数字开头"
_CODE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]|\.(?!\.))*")
_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
_SEPARATORS = "/\\"
# Characters that show nothing although they are not format characters (Unicode's default-ignorable ones).
_BLANK_LETTERS = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0")
_BLANK_RANGES = ((0x180B, 0x180F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))


def _invisible(ch: str) -> bool:
    if ch in _BLANK_LETTERS or any(low <= ord(ch) <= high for low, high in _BLANK_RANGES):
        return True
    category = unicodedata.category(ch)
    return category == "Cf" or (category == "Cc" and not ch.isspace())


def code_point(ch: str) -> str:
    """A character as a person can look it up: U+200B."""
    return f"U+{ord(ch):04X}"


def invisible_chars(text: str) -> list[str]:
    """The code points of the characters of `text` that show nothing (format and control characters, fillers),
    each once, in order of appearance."""
    return list(dict.fromkeys(code_point(ch) for ch in text if _invisible(ch)))


def without_invisible(text: str) -> str:
    """`text` as a person sees it: without the characters `invisible_chars` names."""
    return "".join(ch for ch in text if not _invisible(ch))


def is_code(text: str) -> bool:
    """Whether `text` is a well-formed code."""
    return code_problem(text) is None


def code_problem(text: str) -> str | None:
    """Why `text` is not a well-formed code (a sentence naming the offending character), or None when it is."""
    if len(text) <= CODE_MAX_LENGTH and _CODE.fullmatch(text) and not text.endswith("."):
        return None
    shown = without_invisible(text)
    return f"编码「{shown}」{_why(text)}（{CODE_RULE}）"


def _why(text: str) -> str:
    if not text:
        return "为空"
    hidden = invisible_chars(text)
    if hidden:
        return f"含有不可见字符 {'、'.join(hidden)}，请删除后重新输入"
    if any(ch.isspace() for ch in text):
        return "中有空格、换行或制表符"
    separator = next((ch for ch in text if ch in _SEPARATORS), None)
    if separator is not None:
        return f"含有路径分隔符「{separator}」"
    if ".." in text:
        return "含有「..」"
    other = next((ch for ch in text if ch not in _ALLOWED), None)
    if other is not None:
        if unicodedata.east_asian_width(other) == "F":
            return f"含有全角字符「{other}」，请用半角输入"
        return f"含有不允许的字符「{other}」"
    if not text[0].isalnum():
        return f"不能以「{text[0]}」开头"
    if text.endswith("."):
        return "不能以「.」结尾"
    return f"过长（{len(text)} 个字符，最多 {CODE_MAX_LENGTH} 个）"
