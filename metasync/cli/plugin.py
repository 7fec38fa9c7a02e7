"""`metasync plugin install darktable|lightroom|digikam [--dest DIR]`."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..plugins import HOSTS, install
from ._common import emit_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugin", help="install a host integration")
    psub = p.add_subparsers(dest="plugin_command", required=True)
    inst = psub.add_parser("install", help="copy a plugin to the host's standard place")
    inst.add_argument("host", choices=HOSTS)
    inst.add_argument("--dest", type=Path, default=None, help="install here instead of the host's standard place")
    inst.add_argument("--json", action="store_true")
    inst.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    done = install(args.host, args.dest)
    if args.json:
        emit_json({"host": done.host, "dest": str(done.dest), "files": [str(f) for f in done.files],
                   "next": done.next_steps})
    else:
        print(f"Installed the {done.host} integration into {done.dest}")
        print(done.next_steps)
    return 0
