"""`metasync revert GROUP_ID [--json]`: give back exactly what the group's last apply replaced."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from ..engine import Engine
from ._common import add_common, emit_json, settings_from


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("revert", help="undo a group's last apply (sidecars restored byte for byte)")
    p.add_argument("group", type=int, metavar="GROUP_ID")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with Engine(settings_from(args)) as engine:
        result = engine.revert(args.group)
    for s in result.get("skipped", ()):
        print(f"metasync: left as it is: {s['path']}: {s['reason']}", file=sys.stderr)
    if args.json:
        emit_json({k: result[k] for k in ("group", "restored", "removed")})
    else:
        print(render(result))
    return 0


def render(result: dict[str, Any]) -> str:
    lines = [f"group {result['group']}: {len(result['restored'])} sidecar(s) restored, "
             f"{len(result['removed'])} removed"]
    lines += [f"  restored {p}" for p in result["restored"]]
    lines += [f"  removed  {p}" for p in result["removed"]]
    return "\n".join(lines)
