"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 document, built from the declared operations."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from server.api.registry import API_PREFIX, OPERATIONS, ApiRouter, Operation

api = ApiRouter("meta")

_REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    400: "Bad request",
    401: "Not logged in",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Body too large",
    415: "Wrong content type",
    422: "Invalid input",
    429: "Too many requests",
}


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF)
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": _REF.format(model=model.__name__)}


def _operation(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.name, "summary": op.summary, "tags": [op.tag]}
    params = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in re.findall(r"{(\w+)(?::[^}]*)?}", op.path)
    ]
    if op.query is not None:
        for fname, finfo in op.query.model_fields.items():
            params.append(
                {
                    "name": finfo.alias or fname,
                    "in": "query",
                    "required": finfo.is_required(),
                    "description": finfo.description or "",
                    "schema": op.query.model_json_schema()["properties"][finfo.alias or fname],
                }
            )
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(op.body, components)}},
        }
    ok: dict[str, Any] = {"description": "OK"}
    if op.response is not None:
        ref = _schema(op.response, components)
        schema = {"type": "array", "items": ref} if op.response_list else ref
        ok["content"] = {op.content_type: {"schema": schema}}
    elif op.content_type != "application/json":
        ok["content"] = {op.content_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(op.status): ok}
    codes = set(op.errors) | {400, 422} if op.body else set(op.errors)
    if not op.public:
        codes |= {401, 403}
        out["security"] = [{"bearer": []}, {"cookie": []}]
    else:
        out["security"] = []
    for code in sorted(codes):
        responses[str(code)] = {
            "description": _STATUS_TEXT.get(code, "Error"),
            "content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}},
        }
    out["responses"] = responses
    return out


def build_document(app: web.Application) -> dict[str, Any]:
    components: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "details": {},
                    },
                }
            },
        }
    }
    paths: dict[str, dict[str, Any]] = {}
    for op in app.get(OPERATIONS, []):
        path = re.sub(r"{(\w+):[^}]*}", r"{\1}", API_PREFIX + op.path)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "courtlink API",
            "version": "1",
            "description": "Docket, online reception, scheduling, sessions, recordings, "
            "agreements and reports of the litigation–mediation center.",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "POST /api/v1/auth/token",
                },
                "cookie": {"type": "apiKey", "in": "cookie", "name": "cl_session"},
            },
        },
    }


@api.route("GET", "/openapi.json", name="api_openapi", summary="This document", public=True)
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(build_document(request.app))
