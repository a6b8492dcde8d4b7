"""Text as a SpreadsheetML cell stores it, so that Excel shows exactly the text that was written.

Excel reads `_xHHHH_` in cell text as the character U+HHHH (ECMA-376 Part 1, 22.9.2.19 ST_Xstring): a record
holding `_x0041_` would show as "A". The standard's escape is to write the `_` of such a sequence as
`_x005F_`; the characters XML cannot hold (C0 controls but tab and line breaks) are written as their own
`_xHHHH_`, which is what Excel wrote for them in the first place.
"""

from __future__ import annotations

import re

_ESCAPE_LIKE = re.compile(r"_(?=[xX][0-9A-Fa-f]{4}_)")  # `_X…_` too: harmless if Excel reads it as text
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def cell_text(value: str) -> str:
    """`value` written so that Excel shows it as it is."""
    if "_x" in value or "_X" in value:
        value = _ESCAPE_LIKE.sub("_x005F_", value)
    if _UNWRITABLE.search(value):
        value = _UNWRITABLE.sub(lambda ch: f"_x{ord(ch[0]):04X}_", value)
    return value
