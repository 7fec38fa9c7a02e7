"""The local bridge: a Flask app over the Engine for the host plugins and the web dashboard."""
from __future__ import annotations

import logging
from typing import Iterable

from flask import Flask, Response, request

from ..config import Settings
from ..engine import Engine
from .api import api
from .dashboard import dashboard
from .errors import register_error_handlers
from .security import LOOPBACK_HOSTS, TOKEN_HEADER, check_host, check_origin, check_token, load_or_create_token
from .state import Bridge, bridge

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1 << 20  # JSON bodies are small: a group of a few thousand paths fits easily
BACKGROUND_ABOVE = 200  # files in a folder above which auto-detect answers with a job
OPEN_PATHS = frozenset({"/api/health", "/"})  # "/" checks the token in the query itself

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def create_app(settings: Settings, engine: Engine | None = None, *, token: str | None = None,
               extra_hosts: Iterable[str] = (), background_above: int = BACKGROUND_ABOVE) -> Flask:
    """The bridge app. Without `engine` it opens one (and closes it in `close_app`); without `token` it reads
    or creates the per-user token file. `extra_hosts`: Host names accepted besides loopback (--host)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.json.sort_keys = False
    app.extensions["metasync"] = Bridge(
        settings=settings, engine=engine or Engine(settings), token=token or load_or_create_token(),
        allowed_hosts=frozenset(LOOPBACK_HOSTS | {h.lower() for h in extra_hosts}),
        background_above=background_above, owns_engine=engine is None)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(dashboard)
    register_error_handlers(app)
    app.before_request(_guard)
    app.after_request(_headers)
    return app


def close_app(app: Flask) -> None:
    """Stop the job worker and close the engine the app opened."""
    app.extensions["metasync"].close()


def _guard() -> None:
    """Every request: Host first (DNS rebinding), then Origin for writes, then the token."""
    b = bridge()
    check_host(request, b.allowed_hosts)
    check_origin(request)
    if request.path in OPEN_PATHS or request.path.startswith("/static/"):
        return
    check_token(request.headers.get(TOKEN_HEADER), b.token)


def _headers(resp: Response) -> Response:
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Frame-Options"] = "DENY"
    if resp.mimetype in {"application/json", "text/html"}:
        resp.headers["Cache-Control"] = "no-store"
    return resp


__all__ = ["create_app", "close_app"]
