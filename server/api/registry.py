"""Declaring API operations once: the route, its models and its documentation together.

Usage in an area module::

    api = ApiRouter("cases")

    @api.route("GET", "/cases/{case_id}", name="api_case", summary="One case",
               response=CaseOut)
    async def get_case(request: web.Request) -> web.StreamResponse: ...

and ``server.routes`` lists ``api`` in the route table (modules add no routes themselves).

Request bodies are read with ``server.web.http.read_json(request, Model)`` using the same model
given as ``body=``; query parameters with ``query=`` are documented from the model's fields.
A body that is not JSON (an uploaded PDF) is declared by its media type with ``upload=``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from pydantic import BaseModel

API_PREFIX = "/api/v1"
ApiHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # relative to API_PREFIX
    handler: ApiHandler
    name: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    response_list: bool = False
    status: int = 200
    public: bool = False
    content_type: str = "application/json"
    errors: tuple[int, ...] = ()
    upload: str | None = None  # media type of a raw (non-JSON) request body


OPERATIONS = web.AppKey("api_operations", list[Operation])


@dataclass
class ApiRouter:
    tag: str
    operations: list[Operation] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        name: str,
        summary: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        response_list: bool = False,
        status: int = 200,
        public: bool = False,
        content_type: str = "application/json",
        errors: tuple[int, ...] = (),
        upload: str | None = None,
    ) -> Callable[[ApiHandler], ApiHandler]:
        def decorate(handler: ApiHandler) -> ApiHandler:
            self.operations.append(
                Operation(
                    method.upper(),
                    path,
                    handler,
                    name,
                    summary,
                    self.tag,
                    body,
                    query,
                    response,
                    response_list,
                    status,
                    public,
                    content_type,
                    errors,
                    upload,
                )
            )
            return handler

        return decorate
