"""A new district sets itself up: `perfcycle init` writes its first policy file, validated like any other.

The file holds the district's name, its 发文机关, its approvers and its calendar; the rules' numbers start from
the national rules and this system's defaults (report_templates/policy.yaml.j2). What the command is not told
(the approvers, the 附注 contact) is written as a value marked 待填写, which the district replaces; the 公文
frame (机关代字, 抄送, 印发机关) starts from the district's name.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from perfcycle.policy import (
    ISSUER_CODE_SUFFIX,
    PLACEHOLDER,
    Policy,
    PolicyError,
    code_prefix,
    default_issuer,
    parse_policy,
)

TEMPLATE = "policy.yaml.j2"
COORDINATORS_PLACEHOLDER = f"{PLACEHOLDER}：绩效科审批人"
LEADERS_PLACEHOLDER = f"{PLACEHOLDER}：分管领导"
CONTACT_PLACEHOLDER = f"{PLACEHOLDER}：联系人"
_SEPARATORS = re.compile(r"[,，、;；\s]+")


class PolicyScaffold(BaseModel):
    """What the policy template reads: each value already spelt as YAML (a quoted scalar, a list, null)."""

    year: int
    district_text: str
    district: str
    issuer: str
    cost_pilot: str
    coordinators: str
    leaders: str
    coordinators_missing: bool
    leaders_missing: bool
    contact: str
    contact_missing: bool
    printer: str
    code_prefix: str


@dataclass(frozen=True)
class NewPolicy:
    """The policy file written, as validated, and where it still holds values to fill in."""

    path: Path
    policy: Policy
    placeholders: list[str]


def split_names(values: Iterable[str] | None) -> list[str]:
    """Names given as repeated options or in one option separated by commas or 顿号, in order, once each."""
    names = [name for value in values or () for name in _SEPARATORS.split(value) if name]
    return list(dict.fromkeys(names))


def _yaml(value: str) -> str:
    """A double-quoted YAML scalar (JSON's string syntax is YAML's), so no name can break the file."""
    return json.dumps(value, ensure_ascii=False)


def policy_text(
    district: str,
    year: int,
    *,
    issuer: str | None = None,
    coordinators: Iterable[str] = (),
    leaders: Iterable[str] = (),
    cost_pilot: str | None = None,
) -> str:
    """The text of a new district's policy file for `year`."""
    from perfcycle.documents.renderer import render_text

    district = district.strip()
    level1, level2 = list(coordinators), list(leaders)
    signer = (issuer or "").strip() or default_issuer(district)
    scaffold = PolicyScaffold(
        year=year,
        district_text=district,
        district=_yaml(district),
        issuer=_yaml(signer),
        contact=_yaml(level1[0] if level1 else CONTACT_PLACEHOLDER),
        contact_missing=not level1,
        printer=_yaml(f"{signer}办公室"),
        code_prefix=code_prefix(district) + ISSUER_CODE_SUFFIX,
        cost_pilot=_yaml(cost_pilot.strip()) if cost_pilot and cost_pilot.strip() else "null",
        coordinators="[" + ", ".join(_yaml(n) for n in level1 or [COORDINATORS_PLACEHOLDER]) + "]",
        leaders="[" + ", ".join(_yaml(n) for n in level2 or [LEADERS_PLACEHOLDER]) + "]",
        coordinators_missing=not level1,
        leaders_missing=not level2,
    )
    return render_text(TEMPLATE, scaffold)


def write_policy(
    folder: Path,
    district: str,
    year: int,
    *,
    issuer: str | None = None,
    coordinators: Iterable[str] = (),
    leaders: Iterable[str] = (),
    cost_pilot: str | None = None,
    force: bool = False,
) -> NewPolicy:
    """Write `<folder>/<year>.yaml` for a new district once it validates; an existing file is kept unless `force`."""
    if not district.strip():
        raise PolicyError("请用 --district 给出区县名称，例如 --district 青山区")
    level1, level2 = list(coordinators), list(leaders)
    both = sorted(set(level1) & set(level2))
    if both:
        raise PolicyError(f"{'、'.join(both)} 不能既是第1级审批人又是第2级审批人（同一人不能两级都签）")
    path = folder / f"{year}.yaml"
    if path.exists() and not force:
        raise PolicyError(f"{path} 已存在，未改动；要重新生成请加 --force")
    text = policy_text(district, year, issuer=issuer, coordinators=level1, leaders=level2, cost_pilot=cost_pilot)
    policy = parse_policy(path, text.encode("utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    part.write_text(text, encoding="utf-8")
    os.replace(part, path)
    return NewPolicy(path=path, policy=policy, placeholders=policy.placeholders())
