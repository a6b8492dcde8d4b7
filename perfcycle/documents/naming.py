"""Safe file names for generated documents: names come from records (department and project names),
so they are cleaned before they touch the file system and every path is kept inside the output folder."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

FALLBACK_NAME = "未命名"
MAX_NAME_BYTES = 240  # ext4/NTFS allow 255 bytes per name; keep room for temp-file prefixes
_ILLEGAL = re.compile(r'[<>:"/\\|?*]')
_WHITESPACE = re.compile(r"\s+")
_UNDERSCORES = re.compile(r"_{2,}")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    text = _ILLEGAL.sub("_", text)
    text = text.replace("..", "_")
    text = _WHITESPACE.sub(" ", text)
    text = _UNDERSCORES.sub("_", text)
    return text.strip(" ._")


def _clean_suffix(suffix: str) -> str:
    body = _clean(suffix).replace(" ", "")
    return f".{body}" if body else ""


def _fit(stem: str, max_chars: int, max_bytes: int) -> str:
    stem = stem[: max(max_chars, 0)]
    while len(stem.encode("utf-8")) > max_bytes:
        stem = stem[:-1]
    return stem.rstrip(" .")


def safe_filename(name: str, suffix: str = "", max_len: int = 100) -> str:
    """A file name made from `name` (any text) plus `suffix` (".docx" or "docx"), safe on Linux and Windows.

    Path separators, "..", control characters and characters illegal on Windows are replaced, whitespace
    collapses to one space, leading/trailing dots and spaces go, and the name is cut (by characters, and
    to at most 240 bytes of UTF-8) so that the whole result, suffix included, fits `max_len`. Never empty.
    """
    clean_suffix = _clean_suffix(suffix)
    max_len = max(max_len, len(clean_suffix) + 1)
    room_chars = max_len - len(clean_suffix)
    room_bytes = MAX_NAME_BYTES - len(clean_suffix.encode("utf-8"))
    stem = _fit(_clean(name), room_chars, room_bytes)
    if not stem:
        stem = _fit(FALLBACK_NAME, room_chars, room_bytes) or "_"
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem = _fit(f"_{stem}", room_chars, room_bytes)
    return f"{stem}{clean_suffix}"


def is_whole(name: str, suffix: str = "", max_len: int = 100) -> bool:
    """Whether `safe_filename(name, suffix, max_len)` keeps all of the (cleaned) name, i.e. did not cut it."""
    stem = safe_filename(name, suffix, max_len)
    clean_suffix = _clean_suffix(suffix)
    return stem[: len(stem) - len(clean_suffix)] == _clean(name)


def safe_path(out_dir: Path, *parts: str) -> Path:
    """`out_dir / part1 / part2 …`, guaranteed to lie inside `out_dir` (symlinks resolved).

    A part may hold several folders ("02-绩效运行监控/Q1"); every segment is cleaned by `safe_filename`,
    while empty, "." and ".." segments are dropped. Raises ValueError when nothing is left or when the
    resolved result would still lie outside `out_dir`.
    """
    segments = [
        safe_filename(segment)
        for part in parts
        for segment in re.split(r"[/\\]", part)
        if segment.strip() not in ("", ".", "..")
    ]
    if not segments:
        raise ValueError(f"safe_path needs a non-empty path part: {parts!r}")
    base = out_dir.resolve()
    candidate = base.joinpath(*segments).resolve()
    if candidate == base or not candidate.is_relative_to(base):
        raise ValueError(f"路径越出输出目录: {parts!r}")
    return candidate


def inside(folder: Path, *names: str) -> Path:
    """`folder / name / …` with each name taken as it is (a code, a received file's name), never cleaned: a name
    that is not one plain path component, or a result whose folders resolve (symlinks followed) outside `folder`,
    raises ValueError. For names that must be kept exactly; `safe_path` cleans names made from free text."""
    for name in names:
        if name.strip() in ("", ".", "..") or any(ch in name for ch in "/\\\0"):
            raise ValueError(f"不是单独的文件名: {name!r}")
    base = folder.resolve()
    path = base.joinpath(*names)
    if not path.parent.resolve().is_relative_to(base):
        raise ValueError(f"路径越出目录 {base}: {'/'.join(names)!r}")
    return path
