"""The bridge's own refusals and the one handler that turns every error into `{"error": {code, message}}`."""
from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from ..errors import MetasyncError

log = logging.getLogger(__name__)


class TokenError(MetasyncError):
    """The X-Metasync-Token header is missing or wrong."""

    code = "unauthorized"
    status = 401


class ForbiddenHostError(MetasyncError):
    """The Host header names another site: a DNS-rebinding attempt or a misconfigured proxy."""

    code = "forbidden_host"
    status = 403


class ForbiddenOriginError(MetasyncError):
    """A browser write from a page that is not the dashboard."""

    code = "forbidden_origin"
    status = 403


def error_response(code: str, message: str, status: int) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


def register_error_handlers(app: Flask) -> None:
    """Map our exception tree, HTTP errors and anything unexpected to the one JSON error shape."""

    @app.errorhandler(MetasyncError)
    def _ours(exc: MetasyncError):
        if exc.status >= 500:
            log.error("%s: %s", type(exc).__name__, exc)
        return error_response(exc.code, str(exc), exc.status)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(code, exc.description or exc.name, exc.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unexpected error in the bridge")
        return error_response("internal", f"internal error: {type(exc).__name__}: {exc}", 500)
