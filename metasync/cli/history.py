"""`metasync history FILE [--json]`: every version of a photo's sidecar: when, which group, old -> new."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..engine import Engine
from ._common import add_common, emit_json, settings_from


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("history", help="list the versions metasync wrote for one photo")
    p.add_argument("file", type=Path, metavar="FILE")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with Engine(settings_from(args)) as engine:
        versions = engine.history(args.file)
    if args.json:
        emit_json(versions)
    else:
        print(render(versions) if versions else f"no versions recorded for {args.file}")
    return 0


def _short(value: Any) -> str:
    if value is None or value == []:
        return "(none)"
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def render(versions: list[dict[str, Any]]) -> str:
    lines = []
    for v in versions:
        lines.append(f"{v['when']}  {v['kind']:<10} group {v['group']}  {v['file']}")
        for name, change in v["changes"].items():
            lines.append(f"    {name}: {_short(change.get('old'))} -> {_short(change.get('new'))}")
    return "\n".join(lines)
