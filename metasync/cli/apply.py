"""`metasync apply GROUP_ID [--min-confidence X] [--include-conflicts] [--json]`: write a group's plan to sidecars."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..write.apply import CONFLICTING
from ._common import add_common, emit_json, settings_from

HOSTS = ("darktable", "digikam", "lightroom")
# the engine's skip reasons name no flag (plugin dialogs show them too); here the flag that changes the outcome
FLAG_HINTS = {CONFLICTING: " (--include-conflicts writes the most likely value)"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("apply", help="write a group's changes into XMP sidecars (journaled, revertible)")
    p.add_argument("group", type=int, metavar="GROUP_ID")
    p.add_argument("--min-confidence", type=float, default=0.0, metavar="X",
                   help="skip changes below this confidence (0..1)")
    p.add_argument("--include-conflicts", action="store_true",
                   help="also write changes whose sources disagree (the most likely value)")
    p.add_argument("--host", choices=HOSTS, default=None, help="name new sidecars the way this program does")
    p.add_argument("--write-original", action="store_true",
                   help="also write into the image files (for hosts that ignore sidecars); revertible")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with Engine(settings_from(args)) as engine:
        result = engine.apply(args.group, min_confidence=args.min_confidence,
                              include_conflicts=args.include_conflicts, host=args.host,
                              write_original=args.write_original)
    if args.json:
        emit_json({k: result[k] for k in ("group", "applied", "skipped", "sidecars")})
    else:
        print(render(result))
    return 0


def render(result: dict[str, Any]) -> str:
    lines = [f"group {result['group']}: applied {result['applied']} change(s), "
             f"{len(result['sidecars'])} sidecar(s) written"]
    lines += [f"  {s}" for s in result["sidecars"]]
    if result["skipped"]:
        lines.append(f"skipped {len(result['skipped'])} change(s):")
        lines += [f"  {Path(s['path']).name} {s['field']}: {s['reason']}{FLAG_HINTS.get(s['reason'], '')}"
                  for s in result["skipped"]]
    if result["applied"]:
        lines.append(f"undo with: metasync revert {result['group']}")
    return "\n".join(lines)
