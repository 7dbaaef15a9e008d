"""The OpenAPI document and the routes agree, both ways."""

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
