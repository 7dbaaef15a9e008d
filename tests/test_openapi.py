"""The OpenAPI document and the routes agree, both ways, and no two models share a name."""

from __future__ import annotations

import re

from server.api.registry import API_PREFIX


def _routes(app):
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and path.startswith(API_PREFIX) and route.method not in ("HEAD", "OPTIONS"):
            found.add((route.method.lower(), re.sub(r"{(\w+):[^}]*}", r"{\1}", path)))
    return found


async def test_document_matches_routes(client):
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == _routes(client.app)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["responses"], f"{method} {path} documents no response"
            for ref in re.findall(
                r'"\$ref": "#/components/schemas/(\w+)"', str(op).replace("'", '"')
            ):
                assert ref in doc["components"]["schemas"], ref


def test_no_two_models_share_a_schema_name(app):
    """Two models of one name would overwrite each other's component (the booking's invites
    once pointed at the session's invite model, so real answers failed validation)."""
    from server.api.openapi import document_models

    models = document_models(app)
    assert models
    by_name: dict[str, set[str]] = {}
    for model in models:
        by_name.setdefault(model.__name__, set()).add(f"{model.__module__}.{model.__qualname__}")
    assert {n: q for n, q in by_name.items() if len(q) > 1} == {}


def test_a_collision_is_refused_when_the_document_is_built(app):
    from pydantic import BaseModel

    from server.api.openapi import SchemaNameCollision, build_document
    from server.api.registry import OPERATIONS, Operation

    async def handler(request):  # never called
        raise AssertionError

    def twin(module: str) -> type[BaseModel]:
        return type("Twin", (BaseModel,), {"__module__": module, "__annotations__": {"x": int}})

    ops = app[OPERATIONS]
    app[OPERATIONS] = [
        *ops,
        Operation("GET", "/twin/a", handler, "twin_a", "A", "t", response=twin("one")),
        Operation("GET", "/twin/b", handler, "twin_b", "B", "t", response=twin("two")),
    ]
    try:
        build_document(app)
    except SchemaNameCollision as exc:
        assert "Twin" in str(exc)
    else:
        raise AssertionError("a collision was not refused")
    finally:
        app[OPERATIONS] = ops


def test_booking_invites_are_documented_as_the_booking_sends_them(app):
    from server.api.openapi import build_document

    doc = build_document(app)
    schemas = doc["components"]["schemas"]
    booking = next(k for k in schemas if k.startswith("BookingOut"))
    ref = schemas[booking]["properties"]["invites"]["items"]["$ref"].rsplit("/", 1)[1]
    assert set(schemas[ref]["properties"]) == {
        "party_id",
        "party_name",
        "url",
        "token",
        "revoked",
    }


def test_local_start_means_one_thing_in_every_schema(app):
    from server.api.openapi import build_document

    schemas = build_document(app)["components"]["schemas"]
    fields = [
        (name, field, props[field])
        for name, schema in schemas.items()
        for props in [schema.get("properties", {})]
        for field in ("local_start", "local_end")
        if field in props
    ]
    assert {name.split("-")[0] for name, _, _ in fields} >= {"BookingOut", "SlotOut"}, fields
    assert all("YYYY-MM-DD HH:MM" in prop["description"] for _, _, prop in fields), fields


def test_path_ids_are_documented_as_ids(app):
    from server.api.openapi import build_document

    doc = build_document(app)
    ids = [
        p["schema"]
        for ops in doc["paths"].values()
        for op in ops.values()
        for p in op.get("parameters", [])
        if p["in"] == "path" and p["name"].endswith("_id")
    ]
    assert ids
    assert all(s == {"type": "integer", "minimum": 1, "maximum": 2_147_483_647} for s in ids), ids
