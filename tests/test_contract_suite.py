"""One contract suite run over every registered component."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bytenite_runtime import registry
from bytenite_runtime.components import Assembler, Partitioner

README = Path(__file__).resolve().parents[1] / "README.md"
COMPONENTS = [
    (kind, name) for kind in ("partitioner", "assembler") for name in registry.names(kind)
]


def _readme_row(name: str, section: str) -> str:
    text = README.read_text()
    body = text[text.index(f"### {section}") :]
    row = re.search(rf"^\| `{re.escape(name)}` \|.*$", body, re.MULTILINE)
    assert row, f"README has no row for {name} under {section}"
    return row.group(0)


@pytest.mark.parametrize(("kind", "name"), COMPONENTS)
def test_component_is_a_frozen_params_model_with_its_registry_name(kind: str, name: str) -> None:
    """Every built-in is registered under its own kebab-case name and subclasses the right base."""
    cls = registry.get(kind, name)  # type: ignore[arg-type]
    assert cls.name == name
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", name)
    assert issubclass(cls, Partitioner if kind == "partitioner" else Assembler)
    assert cls.model_config.get("frozen") is True
    assert cls.summary and "\n" not in cls.summary


@pytest.mark.parametrize(("kind", "name"), COMPONENTS)
def test_component_rejects_unknown_keys(kind: str, name: str) -> None:
    """A typo in a param name fails loudly instead of being ignored."""
    cls = registry.get(kind, name)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="definitely_not_a_param"):
        cls.model_validate({"definitely_not_a_param": 1})


NUMERIC = [
    (kind, name, field)
    for kind, name in COMPONENTS
    for field, info in registry.get(kind, name).model_fields.items()  # type: ignore[arg-type]
    if info.annotation in (int, float, int | None, float | None)
]


def test_the_numeric_params_are_found() -> None:
    """The suite below covers the built-ins' numeric params (sizes, counts, qualities)."""
    found = {(name, field) for _, name, field in NUMERIC}
    assert {("row", "rows_per_chunk"), ("tile", "quality"), ("time-chunk", "segment_seconds"),
            ("zipper", "level"), ("mosaic", "workers")} <= found  # fmt: skip


@pytest.mark.parametrize(("kind", "name", "field"), NUMERIC)
@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_not_taken_for_a_number(kind: str, name: str, field: str, value: bool) -> None:
    """A true or false given for a numeric param is an error naming it, not read as 1 or 0
    the way pydantic's lax mode would."""
    cls = registry.get(kind, name)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as exc:
        cls.model_validate({field: value})
    [error] = [e for e in exc.value.errors() if e["loc"] == (field,)]
    assert error["msg"] == f"Value error, must be a number, not {str(value).lower()}"


@pytest.mark.parametrize(("kind", "name"), COMPONENTS)
def test_every_param_is_described_and_in_the_readme(kind: str, name: str) -> None:
    """Each param has a description (for generated docs) and appears in the README's row."""
    cls = registry.get(kind, name)  # type: ignore[arg-type]
    row = _readme_row(name, "Partitioners" if kind == "partitioner" else "Assemblers")
    for field_name, field in cls.model_fields.items():
        assert field.description, f"{name}.{field_name} has no description"
        assert f"`{field_name}`" in row, f"README row of {name} does not mention {field_name}"
    cls.model_json_schema()


@pytest.mark.parametrize("kind", ["partitioner", "assembler"])
def test_readme_lists_only_registered_components(kind: str) -> None:
    """The README's component tables name exactly what the registry holds."""
    text = README.read_text()
    section = "Partitioners" if kind == "partitioner" else "Assemblers"
    body = text[text.index(f"### {section}") :].split("\n### ")[0].split("\n## ")[0]
    listed = re.findall(r"^\| `([a-z-]+)` \|", body, re.MULTILINE)
    assert sorted(listed) == registry.names(kind)  # type: ignore[arg-type]
