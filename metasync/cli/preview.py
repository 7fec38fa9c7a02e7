"""`metasync preview GROUP_ID [--db FILE] [--json]`: what applying a group would change, field by field."""
from __future__ import annotations

import argparse
import sys

from ..diff import render_preview
from ..engine import Engine
from ._common import add_common, emit_json, settings_from


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("preview", help="show a group's planned changes (+ added, - removed, = unchanged)")
    p.add_argument("group_id", type=int, metavar="GROUP_ID")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with Engine(settings_from(args)) as engine:
        preview = engine.preview(args.group_id)
    if args.json:
        emit_json(preview)
    else:
        print(render_preview(preview, color=sys.stdout.isatty()))
    return 0
