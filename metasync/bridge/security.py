"""The bridge's checks, all in one `before_request`: Host (DNS rebinding), Origin (cross-site writes),
the per-user token, and library roots for every path a request names."""
from __future__ import annotations

import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import Iterable

from flask import Request

from ..config import user_config_dir
from ..errors import ConfigError, OutsideLibraryError
from .errors import ForbiddenHostError, ForbiddenOriginError, TokenError

log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Metasync-Token"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token_path() -> Path:
    return user_config_dir() / "token"


def load_or_create_token(path: Path | None = None) -> str:
    """The per-user token: read it, or create it on first start with mode 0600 (never group/world readable)."""
    path = path or token_path()
    try:
        token = path.read_text(encoding="utf-8").strip()
        if token:
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)  # tighten a token file someone loosened
            return token
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot read the bridge token {path}: {exc}") from exc
    token = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(token + "\n")
        os.chmod(path, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot write the bridge token {path}: {exc}") from exc
    log.info("created the bridge token in %s", path)
    return token


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host in {"::1"} or host.startswith("127.")


def host_name(host_header: str) -> str:
    """'127.0.0.1:8765' -> '127.0.0.1', '[::1]:80' -> '[::1]'."""
    host_header = host_header.strip().lower()
    if host_header.startswith("["):
        return host_header.split("]", 1)[0] + "]"
    return host_header.rsplit(":", 1)[0] if ":" in host_header else host_header


def check_host(request: Request, allowed: Iterable[str]) -> None:
    name = host_name(request.headers.get("Host", ""))
    if name not in allowed:
        raise ForbiddenHostError(f"Host {name or '(none)'!r} is not served here; use http://127.0.0.1")


def check_origin(request: Request) -> None:
    """A browser write must come from the dashboard's own origin (no CORS: other sites get nothing)."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/").lower() != f"{request.scheme}://{request.host}".lower():
        raise ForbiddenOriginError(f"cross-origin write from {origin!r} refused")
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in {"same-origin", "none"}:
        raise ForbiddenOriginError("cross-site write refused")


def check_token(supplied: str | None, expected: str) -> None:
    if not supplied:
        raise TokenError(f"missing {TOKEN_HEADER} header: use the token from {token_path()}")
    if not hmac.compare_digest(supplied.encode(), expected.encode()):
        raise TokenError(f"wrong {TOKEN_HEADER}: use the token from {token_path()}")


def resolve_in_roots(raw: str, roots: Iterable[Path]) -> str:
    """The real path (symlinks followed) of `raw`, if it lies inside one of the library roots; else 403."""
    if not isinstance(raw, str) or not raw or "\x00" in raw:
        raise OutsideLibraryError(f"not a usable path: {raw!r}")
    real = os.path.realpath(raw)
    for root in roots:
        real_root = os.path.realpath(root)
        if real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep):
            return real
    raise OutsideLibraryError(f"{raw} is outside the library roots")
