"""Every template reads only what its typed context provides — top-level names, attributes of nested
models and of loop variables alike — and every picture it places is a chart of its context."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

import jinja2
import pytest
from jinja2 import nodes
from pydantic import BaseModel

from perfcycle.documents import TEMPLATES
from perfcycle.documents.charts import Chart
from perfcycle.documents.renderer import environment, image_refs, template_variables
from perfcycle.settings import get_settings

SPECIAL_NAMES = {"loop"}


def _strip_optional(tp: Any) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else None
    return tp


def _item_type(tp: Any) -> Any:
    tp = _strip_optional(tp)
    return get_args(tp)[0] if get_origin(tp) is list and get_args(tp) else None


def _model(tp: Any) -> type[BaseModel] | None:
    tp = _strip_optional(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


class _Checker:
    """Walks a template's syntax tree, typing names from the context model and loop variables."""

    def __init__(self, context: type[BaseModel]) -> None:
        self.context = context
        self.problems: list[str] = []

    def type_of(self, node: nodes.Node, scope: dict[str, Any]) -> Any:
        if isinstance(node, nodes.Name):
            if node.name in scope:
                return scope[node.name]
            field = self.context.model_fields.get(node.name)
            return field.annotation if field is not None else None
        if isinstance(node, nodes.Getattr):
            if isinstance(node.node, nodes.Name) and node.node.name in SPECIAL_NAMES:
                return None
            model = _model(self.type_of(node.node, scope))
            if model is None:
                return None
            if node.attr in model.model_fields:
                return model.model_fields[node.attr].annotation
            if isinstance(getattr(model, node.attr, None), property):
                return None
            self.problems.append(f"{model.__name__} has no field {node.attr!r}")
            return None
        return None

    def visit(self, node: nodes.Node, scope: dict[str, Any]) -> None:
        if isinstance(node, nodes.For):
            self.visit(node.iter, scope)
            inner = dict(scope)
            if isinstance(node.target, nodes.Name):
                inner[node.target.name] = _item_type(self.type_of(node.iter, scope))
            for child in (*node.body, *([node.test] if node.test is not None else [])):
                self.visit(child, inner)
            for child in node.else_:
                self.visit(child, scope)
            return
        if isinstance(node, nodes.Getattr):
            self.type_of(node, scope)
        for child in node.iter_child_nodes():
            self.visit(child, scope)


def _parse(template_name: str) -> nodes.Template:
    env = environment()
    assert env.loader is not None
    source, _filename, _uptodate = env.loader.get_source(env, template_name)
    return env.parse(source)


@pytest.mark.parametrize("template_name", sorted(TEMPLATES))
def test_template_names_and_attributes_exist_in_the_context(template_name: str) -> None:
    context = TEMPLATES[template_name]
    assert template_variables(template_name) <= set(context.model_fields)
    checker = _Checker(context)
    checker.visit(_parse(template_name), {})
    assert checker.problems == []


@pytest.mark.parametrize("template_name", sorted(TEMPLATES))
def test_template_pictures_are_charts_of_the_context(template_name: str) -> None:
    context = TEMPLATES[template_name]
    for ref in image_refs(template_name):
        assert ref in context.model_fields, ref
        assert _model(context.model_fields[ref].annotation) is Chart, ref


def test_every_document_template_is_registered_with_its_context() -> None:
    files = {p.name for p in get_settings().templates_dir.glob("*.md.j2")}
    assert files == set(TEMPLATES)


def test_the_checker_catches_a_misspelt_nested_attribute() -> None:
    """The check itself: a loop variable's unknown attribute and an unknown top-level name both fail."""

    class Row(BaseModel):
        name: str

    class Ctx(BaseModel):
        rows: list[Row]
        chart: Chart | None

    env = jinja2.Environment()
    good = env.parse("{% for r in rows %}{{ r.name }}{{ loop.index }}{% endfor %}{{ chart.caption }}")
    bad = env.parse("{% for r in rows %}{{ r.nmae }}{% endfor %}{{ chart.captoin }}")
    checker = _Checker(Ctx)
    checker.visit(good, {})
    assert checker.problems == []
    checker.visit(bad, {})
    assert checker.problems == ["Row has no field 'nmae'", "Chart has no field 'captoin'"]
