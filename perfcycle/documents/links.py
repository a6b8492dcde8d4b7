"""How artifacts and pages name a generated document: a link where the output folder is served over HTTP,
else its path as text."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote


def document_reference(path: str | Path, out_dir: str | Path, base_url: str) -> tuple[str, str | None]:
    """How an artifact names a generated document: its file name, and the address a browser elsewhere opens
    (the output folder served at `base_url`, PERFCYCLE_DOCUMENTS_URL) — None without one: a file:// link
    would open an empty tab on any other machine, so the path is stated as text instead."""
    document = Path(path)
    if not base_url:
        return document.name, None
    try:
        relative = document.resolve().relative_to(Path(out_dir).resolve())
    except ValueError:
        return document.name, None
    return document.name, f"{base_url.rstrip('/')}/{quote(relative.as_posix())}"


def document_line(path: str | Path, out_dir: str | Path, base_url: str) -> str:
    """One Markdown list item for a document: a link when the output folder is served, else its path as text."""
    name, url = document_reference(path, out_dir, base_url)
    return f"- [{name}]({url})" if url else f"- {name}：`{Path(path).as_posix()}`"
