"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 document, built from the declared operations.

The document must be true, since clients and ``tests/test_schemathesis.py`` validate real
answers against it:

- every model is one component, in the mode it travels in (bodies and query strings as
  validated, answers as serialized), all from one pydantic pass so nested models are shared;
- two models of one name are refused when the document is built (``SchemaNameCollision``):
  components are keyed by name, so one would silently stand for the other;
- path ids are integers in the id column's range; other path parameters follow the route;
- every error status an operation can answer is listed, each with the error model's body.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from server.api.registry import API_PREFIX, OPERATIONS, ApiRouter, Operation
from server.bounds import MAX_ROW_ID

api = ApiRouter("meta")

_REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"{(\w+)(?::([^{}]*(?:{[^{}]*}[^{}]*)*))?}")
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
ERROR_SCHEMA: dict[str, Any] = {
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
Mode = Literal["validation", "serialization"]


class SchemaNameCollision(RuntimeError):
    """Two different models share a name, so one component would stand for both."""


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _uses(op: Operation) -> list[tuple[type[BaseModel], Mode]]:
    found: list[tuple[type[BaseModel], Mode]] = []
    for model in (op.body, op.query):
        if model is not None:
            found.append((model, "validation"))
    if op.response is not None:
        found.append((op.response, "serialization"))
    return found


def document_models(app: web.Application) -> list[type[BaseModel]]:
    """Every model the document names, nested ones included; refuses a name used twice."""
    by_name: dict[str, type[BaseModel]] = {}
    todo = [model for op in app.get(OPERATIONS, []) for model, _mode in _uses(op)]
    while todo:
        model = todo.pop()
        other = by_name.setdefault(model.__name__, model)
        if other is not model:
            raise SchemaNameCollision(
                f"{model.__module__}.{model.__qualname__} and "
                f"{other.__module__}.{other.__qualname__} are both named {model.__name__!r}"
            )
        if model.__name__ == "Error":
            raise SchemaNameCollision(f"{model.__module__}.Error hides the error model")
        for field in model.model_fields.values():
            todo.extend(m for m in _models_in(field.annotation) if m not in by_name.values())
    return list(by_name.values())


def _path_schema(name: str, pattern: str) -> dict[str, Any]:
    if pattern == r"\d+" or (not pattern and name.endswith("_id")):
        # The routes turn ids beyond the column's range into 404s, never database errors.
        return {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}
    choice = re.fullmatch(r"\(([\w|]+)\)", pattern)
    if choice:
        return {"type": "string", "enum": choice.group(1).split("|")}
    return {"type": "string", "pattern": f"^(?:{pattern})$" if pattern else "^[^/]+$"}


def _operation(
    op: Operation, refs: dict[tuple[type[BaseModel], Mode], Any], defs: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.name, "summary": op.summary, "tags": [op.tag]}
    params = [
        {"name": name, "in": "path", "required": True, "schema": _path_schema(name, pattern)}
        for name, pattern in _PARAM.findall(op.path)
    ]
    codes = set(op.errors)
    if params:
        codes.add(404)  # the path names nothing there is (or nothing the caller may see)
    if op.query is not None:
        codes.add(422)
        ref = refs[op.query, "validation"]["$ref"].rsplit("/", 1)[1]
        query = defs[ref]
        for fname, finfo in op.query.model_fields.items():
            key = finfo.alias or fname
            params.append(
                {
                    "name": key,
                    "in": "query",
                    "required": finfo.is_required(),
                    "description": finfo.description or "",
                    "schema": query["properties"][key],
                }
            )
    if params:
        out["parameters"] = params
    if op.body is not None:
        codes |= {400, 413, 415, 422}  # malformed JSON, too large, not JSON, invalid
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[op.body, "validation"]}},
        }
    if op.upload is not None:
        codes |= {400, 413, 415}  # empty, too large, another type
        out["requestBody"] = {
            "required": True,
            "content": {op.upload: {"schema": {"type": "string", "format": "binary"}}},
        }
    ok: dict[str, Any] = {"description": "OK"}
    if op.response is not None:
        ref = refs[op.response, "serialization"]
        schema = {"type": "array", "items": ref} if op.response_list else ref
        ok["content"] = {op.content_type: {"schema": schema}}
    elif op.content_type != "application/json" and op.status != 204:
        # A file route may answer with one of several types ("application/pdf, image/png").
        types = [t.strip() for t in op.content_type.split(",")]
        ok["content"] = {t: {"schema": {"type": "string"}} for t in types}
    responses: dict[str, Any] = {str(op.status): ok}
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
    document_models(app)  # refuses a name used twice before pydantic can merge them
    ops: list[Operation] = app.get(OPERATIONS, [])
    uses = list(dict.fromkeys(use for op in ops for use in _uses(op)))
    schema: dict[str, Any] = {}
    refs: dict[tuple[type[BaseModel], Mode], Any] = {}
    if uses:
        found, schema = models_json_schema(uses, ref_template=_REF)
        refs = {use: found[use] for use in uses}
    defs: dict[str, Any] = schema.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        path = _PARAM.sub(r"{\1}", API_PREFIX + op.path)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op, refs, defs)
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
            "schemas": {"Error": ERROR_SCHEMA, **dict(sorted(defs.items()))},
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
