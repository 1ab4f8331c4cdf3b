"""Every property of the served /openapi.json has a description (issue 23: every result field's meaning
reaches the document a client generates its code and reads its docs from).

The walk covers the whole document: the component schemas, and any schema written inline in a path
(parameters, request bodies, answers), at any depth (nested objects, array items, ``anyOf`` branches).

A property that is only a ``$ref`` gets no pass from the referenced schema's description: that one
says what the type is (``JobStatus``: the states a job can be in), not what the field means in the
document that holds it (the job's state now; a series' frequency), so each property carries its own.

The subschemas of ``if``/``then``/``else``/``not`` are skipped: they constrain properties declared (and
described) beside them (a weekly request's ``horizon`` bounds), they declare none.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

# Keywords whose subschemas only constrain properties declared elsewhere in the same schema.
CONDITIONS = frozenset({"if", "then", "else", "not"})


@pytest.fixture(params=["keys", "no-keys"])
def spec(request, make_web_app) -> dict:
    keys = ("openapi-descriptions-key",) if request.param == "keys" else ()
    response = make_web_app(api_keys=keys).test_client().get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def undescribed(node: Any, where: str) -> Iterator[str]:
    """The JSON paths of the properties under ``node`` that have no non-empty description."""
    if isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            if not (isinstance(prop, dict) and str(prop.get("description", "")).strip()):
                yield f"{where}.properties.{name}"
        for key, value in node.items():
            if key not in CONDITIONS:
                yield from undescribed(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from undescribed(value, f"{where}[{i}]")


def test_every_property_in_the_document_has_a_description(spec):
    missing = list(undescribed(spec, "$"))
    assert not missing, f"{len(missing)} properties without a description:\n" + "\n".join(missing)


def test_the_walk_sees_nested_and_referenced_properties():
    doc = {
        "components": {"schemas": {"A": {"properties": {
            "ok": {"$ref": "#/components/schemas/B", "description": "said"},
            "bare_ref": {"$ref": "#/components/schemas/B"},
            "items": {"type": "array", "items": {"properties": {"inner": {"type": "string"}}}},
        }, "allOf": [{"if": {"properties": {"f": {"const": "week"}}}, "then": {"properties": {"h": {}}}}]}}},
    }
    assert sorted(undescribed(doc, "$")) == [
        "$.components.schemas.A.properties.bare_ref",
        "$.components.schemas.A.properties.items",
        "$.components.schemas.A.properties.items.items.properties.inner",
    ]
