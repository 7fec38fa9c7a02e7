"""`metasync show FILE [--db FILE] [--json]`: one indexed photo's canonical fields."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..engine import Engine
from ._common import add_common, emit_json, settings_from


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("show", help="print one indexed photo's metadata")
    p.add_argument("file", type=Path, metavar="FILE")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with Engine(settings_from(args)) as engine:
        fields = engine.show(args.file)
    if args.json:
        emit_json(fields)
    else:
        print(render(fields))
    return 0


def render(fields: dict[str, Any]) -> str:
    """Only the fields that are present; an absent field is absent, not "None"."""
    width = max(len(k) for k in fields)
    lines = []
    for key, value in fields.items():
        if value is None or value == []:
            continue
        shown = ", ".join(value) if isinstance(value, list) else value
        lines.append(f"{key:<{width}}  {shown}")
    return "\n".join(lines)
