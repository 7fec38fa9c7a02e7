"""`metasync suggest PATH... [--root DIR] [--db FILE] [--json]`: scan, then suggest groups with their confidence."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..diff import meter
from ..engine import Engine
from ..progress import drawing, make_progress
from ._common import add_common, emit_json, settings_from


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("suggest", help="scan folders and suggest groups of photos that can share metadata")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="photo folder or file")
    p.add_argument("--ai", choices=["ollama"], default=None,
                   help="also ask a local vision model (Ollama, settings ai_url/ai_model) about doubtful groups")
    p.add_argument("--allow-remote-ai", action="store_true", default=None,
                   help="allow an AI server that is not on this machine: photos of doubtful groups are sent there")
    p.add_argument("--root", action="append", type=Path, default=None, metavar="DIR",
                   help="the whole library, scanned (incrementally) so that PATH can borrow from any photo in it "
                        "(repeatable; default: library_roots in the config file, else PATH itself)")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args, ai=args.ai, allow_remote_ai=args.allow_remote_ai)
    with drawing(make_progress(enabled=not args.json)) as progress, Engine(settings) as engine:
        groups = engine.suggest(args.paths, progress=progress, roots=args.root)
    if args.json:
        emit_json(groups)
    else:
        print(render(groups))
    return 0


def render(groups: list[dict[str, Any]], max_reasons: int = 3) -> str:
    if not groups:
        return "No groups to suggest: no photo here can get anything from a nearby one."
    lines = []
    for g in groups:
        roles = [f["role"] for f in g["files"]]
        lines.append(f"Group {g['id']}  {meter(g['confidence'])}  {len(roles)} photos ({roles.count('source')} "
                     f"sources), {g['changes']} changes" + (f", {g['conflicts']} conflicts" if g.get("conflicts") else ""))
        lines += [f"  {'source' if f['role'] == 'source' else 'target'}  {f['path']}" for f in g["files"]]
        lines += [f"    {r}" for r in g.get("reasons", [])[:max_reasons]]
    lines.append("\nmetasync preview GROUP_ID shows what a group would change.")
    return "\n".join(lines)
