"""The dashboard page: server-rendered with the token embedded, only for a request that already carries it
(the URL `metasync serve` prints), so another local user cannot read the token from the page."""
from __future__ import annotations

import hmac

from flask import Blueprint, render_template, request

from .. import __version__
from .security import token_path
from .state import bridge

dashboard = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/static")


@dashboard.get("/")
def page():
    b = bridge()
    supplied = request.args.get("token", "")
    if not supplied or not hmac.compare_digest(supplied.encode(), b.token.encode()):
        return render_template("locked.html", token_file=str(token_path())), 401
    return render_template("dashboard.html", token=b.token, version=__version__,
                           roots=[str(r) for r in b.settings.library_roots])
