"""`metasync serve [--root DIR...] [--db] [--host 127.0.0.1] [--port 8765]`: the bridge and dashboard on waitress."""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from ..errors import ConfigError
from ._common import add_common, settings_from

DEFAULT_PORT = 8765
THREADS = 4


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the local bridge for the host plugins and the web dashboard")
    add_common(p, json_flag=False)
    p.add_argument("--root", type=Path, action="append", default=None, metavar="DIR",
                   help="a library folder the bridge may read and write (repeatable; default: the config's)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow --host to be a non-loopback address (anyone who can reach it and has the token "
                        "can change your photos' metadata)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from waitress.server import create_server

    from ..bridge import close_app, create_app
    from ..bridge.security import is_loopback

    host = args.host.strip("[]")
    remote = not is_loopback(host)
    if remote and not args.allow_remote:
        raise ConfigError(f"refusing to listen on {args.host}: only loopback by default; "
                          "add --allow-remote if you really want the bridge reachable from the network")
    settings = settings_from(args)
    if args.root:
        settings = settings.with_(library_roots=tuple(r.expanduser().resolve() for r in args.root))
    if not settings.library_roots:
        raise ConfigError("no library folder: pass --root DIR (or set library_roots in the config file)")
    missing = [str(r) for r in settings.library_roots if not Path(r).is_dir()]
    if missing:
        raise ConfigError(f"library folder(s) not found: {', '.join(missing)}")
    app = create_app(settings, extra_hosts=[args.host.lower()] if remote else ())
    server = create_server(app, host=host, port=args.port, threads=THREADS, ident="metasync")
    signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop closes ExifTool and the index too
    try:
        shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else f"[{host}]" if ":" in host else host
        if remote:
            print(f"metasync: WARNING: listening on {args.host}, reachable from other machines", file=sys.stderr)
        print(f"metasync dashboard: http://{shown}:{server.effective_port}/?token={app.extensions['metasync'].token}",
              flush=True)
        print(f"library: {', '.join(str(r) for r in settings.library_roots)}   (Ctrl-C stops)", flush=True)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        close_app(app)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
