"""`metasync scan PATH... [--db FILE] [--json]`: index photo folders, incrementally."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..progress import drawing, make_progress
from ._common import add_common, emit_json, settings_from


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("scan", help="index photos under folders (only new or changed files are read)")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="photo folder or file")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with drawing(make_progress(enabled=not args.json)) as progress, Engine(settings_from(args)) as engine:
        summary = engine.scan(args.paths, progress=progress)
    if args.json:
        emit_json(summary)
    else:
        print(render(summary))
    return 0


def render(s: dict[str, Any]) -> str:
    lines = [
        f"{s['photos']} photos indexed: {s['new']} new, {s['changed']} changed, {s['unchanged']} unchanged, "
        f"{s['removed']} removed",
        f"{s['with_gps']} with GPS, {s['with_datetime']} with capture time",
    ]
    if s["errors"]:
        lines.append(f"{len(s['errors'])} could not be read:")
        lines += [f"  {e['path']}: {e['error']}" for e in s["errors"]]
    return "\n".join(lines)
