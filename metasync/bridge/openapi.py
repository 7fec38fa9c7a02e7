"""OpenAPI 3 description built from the routes themselves: each API view is declared with `operation(...)`,
which registers the Flask rule and its OpenAPI entry together, so the document cannot drift from the code."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint

from .. import __version__
from .security import TOKEN_HEADER

ERROR_STATUSES = {400: "bad request", 401: "missing or wrong token", 403: "forbidden (host, origin or path)",
                  404: "not found", 409: "conflict", 413: "request too large", 422: "cannot process"}


def obj(properties: dict[str, Any] | None = None, required: tuple[str, ...] = (), **extra: Any) -> dict:
    out: dict[str, Any] = {"type": "object", "properties": properties or {}, **extra}
    if required:
        out["required"] = list(required)
    return out


def arr(items: dict[str, Any], **kw: Any) -> dict:
    return {"type": "array", "items": items, **kw}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


STR = {"type": "string"}
PATH = {"type": "string", "minLength": 1, "description": "a file or folder inside the library roots"}
NUM = {"type": "number"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
ANY: dict[str, Any] = {}
NULLABLE_STR = {"type": "string", "nullable": True}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": obj({"error": obj({"code": STR, "message": STR}, ("code", "message"))}, ("error",)),
    "Health": obj({"status": STR, "version": STR, "exiftool": NULLABLE_STR, "library_roots": arr(STR)},
                  ("status", "version", "library_roots")),
    "Member": obj({"path": STR, "role": STR}),
    "Change": obj({"path": STR, "field": STR, "old": ANY, "new": ANY, "source": NULLABLE_STR, "reason": STR,
                   "confidence": NUM, "conflict": BOOL}),
    "GroupSummary": obj({"id": INT, "status": STR, "confidence": NUM, "band": STR, "kind": STR,
                         "user_created": BOOL, "sources": ANY, "targets": ANY, "changes": ANY,
                         "updated_at": NULLABLE_STR}, ("id",)),
    "GroupList": obj({"groups": arr(ref("GroupSummary"))}, ("groups",)),
    "GroupDetail": obj({"id": INT, "status": STR, "confidence": NUM, "band": STR, "kind": STR,
                        "user_created": BOOL, "reasons": arr(STR), "options": obj(),
                        "changes": arr(ref("Change")), "conflicts": arr(ref("Change")),
                        "files": obj(description="path -> {role, metadata}")}, ("id", "changes")),
    "Suggestion": obj({"id": INT, "confidence": NUM, "band": STR, "files": arr(ref("Member")),
                       "changes": ANY, "reasons": ANY}, ("id",)),
    "SuggestionList": obj({"suggestions": arr(ref("Suggestion"))}, ("suggestions",)),
    "ApplyResult": obj({"group": INT, "applied": ANY, "skipped": ANY, "sidecars": ANY, "files": obj()}),
    "RevertResult": obj({"group": INT, "restored": ANY, "removed": ANY, "files": ANY}),
    "Deleted": obj({"deleted": INT}, ("deleted",)),
    "Job": obj({"id": STR, "kind": STR, "status": {"type": "string", "enum": ["queued", "running", "done",
                                                                             "failed"]},
                "stage": STR, "done": INT, "total": INT, "result": ANY, "error": ANY},
               ("id", "status", "done", "total")),
    "JobAccepted": obj({"job": ref("Job")}, ("job",)),
    "AutoDetectResult": obj({"suggestions": arr(ref("Suggestion"))}, ("suggestions",)),
    "History": obj({"path": STR, "current": obj(), "history": arr(obj())}, ("path", "history")),
    "Listing": obj({"dir": NULLABLE_STR, "parent": NULLABLE_STR,
                    "folders": arr(obj({"name": STR, "path": STR})),
                    "photos": arr(obj({"name": STR, "path": STR}))}, ("folders", "photos")),
    "CreateGroup": obj({"files": arr(PATH, minItems=1), "sources": arr(PATH), "options": obj()}, ("files",)),
    "ApplyRequest": obj({"min_confidence": {"type": "number", "minimum": 0, "maximum": 1},
                         "include_conflicts": BOOL, "host": NULLABLE_STR,
                         "overrides": arr(obj({"path": PATH, "field": STR, "value": ANY},
                                              ("path", "field", "value")),
                                          description="values replacing the planned ones")}),
    "AutoDetectRequest": obj({"path": PATH, "background": BOOL}, ("path",)),
}


@dataclass(frozen=True)
class Operation:
    method: str
    rule: str  # the Flask rule, e.g. /metadata-sync/groups/<int:group_id>
    summary: str
    response: dict[str, Any]
    status: int = 200
    query: tuple[tuple[str, dict[str, Any], bool], ...] = ()  # (name, schema, required)
    body: dict[str, Any] | None = None
    body_required: bool = False
    errors: tuple[int, ...] = ()
    auth: bool = True
    media: str = "application/json"
    extra_responses: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)


class Api:
    """A blueprint whose views are declared together with their OpenAPI operation."""

    def __init__(self, name: str, import_name: str, url_prefix: str) -> None:
        self.blueprint = Blueprint(name, import_name, url_prefix=url_prefix)
        self.prefix = url_prefix
        self.operations: list[Operation] = []

    def operation(self, method: str, rule: str, summary: str, response: dict[str, Any] | str, **kw: Any
                  ) -> Callable[[Callable], Callable]:
        op = Operation(method.upper(), rule, summary, ref(response) if isinstance(response, str) else response,
                       **kw)

        def register(view: Callable) -> Callable:
            self.operations.append(op)
            self.blueprint.add_url_rule(rule, view_func=view, methods=[op.method],
                                        endpoint=f"{view.__name__}_{op.method.lower()}")
            return view

        return register

    def document(self) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            path, params = _openapi_path(self.prefix + op.rule)
            params += [{"name": n, "in": "query", "required": req, "schema": s} for n, s, req in op.query]
            responses: dict[str, Any] = {
                str(op.status): {"description": op.summary, "content": {op.media: {"schema": op.response}}}}
            for status, (desc, schema) in op.extra_responses.items():
                responses[str(status)] = {"description": desc, "content": {"application/json": {"schema": schema}}}
            errors = set(op.errors) | ({401, 403} if op.auth else {403})
            if op.body is not None:
                errors |= {400, 413}
            for status in sorted(errors):
                responses[str(status)] = {"description": ERROR_STATUSES[status],
                                          "content": {"application/json": {"schema": ref("Error")}}}
            entry: dict[str, Any] = {"summary": op.summary, "operationId": f"{op.method.lower()}{_camel(path)}",
                                     "responses": responses}
            if params:
                entry["parameters"] = params
            if op.body is not None:
                entry["requestBody"] = {"required": op.body_required,
                                        "content": {"application/json": {"schema": op.body}}}
            if not op.auth:
                entry["security"] = []
            paths.setdefault(path, {})[op.method.lower()] = entry
        return {
            "openapi": "3.0.3",
            "info": {"title": "metasync bridge", "version": __version__,
                     "description": "Local API of metasync: suggest, preview, apply and revert metadata sync "
                                    "groups. Listens on 127.0.0.1 only; every request but /api/health needs the "
                                    f"per-user token in the {TOKEN_HEADER} header."},
            "servers": [{"url": "/"}],
            "security": [{"token": []}],
            "paths": paths,
            "components": {"schemas": SCHEMAS,
                           "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": TOKEN_HEADER}}},
        }


_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for conv, name in _CONVERTER.findall(rule):
        schema = {"type": "integer", "minimum": 1} if conv == "int" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule), params


def _camel(path: str) -> str:
    return "".join(p.strip("{}").title().replace("-", "").replace("_", "") for p in path.split("/") if p)
