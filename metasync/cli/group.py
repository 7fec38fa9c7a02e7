"""`metasync group create|override|list|delete`: sync groups made and corrected by hand."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..diff import meter
from ..engine import Engine
from ..errors import InvalidRequestError
from ._common import add_common, emit_json, settings_from


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("group", help="create, correct, list or delete sync groups by hand")
    sub = p.add_subparsers(dest="group_command", metavar="ACTION", required=True)

    c = sub.add_parser("create", help="group indexed files; --source marks the ones to copy from")
    c.add_argument("files", nargs="+", type=Path, metavar="FILE")
    c.add_argument("--source", action="append", type=Path, default=[], metavar="FILE",
                   help="a source file (repeatable); without it sources are chosen by priority")
    c.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                   help="group option, e.g. copy_camera=true")
    add_common(c)
    c.set_defaults(func=run_create)

    o = sub.add_parser("override", help="set one field of one file of a group by hand (wins over the plan)")
    o.add_argument("group_id", type=int, metavar="GROUP_ID")
    o.add_argument("file", type=Path, metavar="FILE")
    o.add_argument("field", metavar="FIELD", help="canonical field, e.g. gps_latitude, city, tags")
    o.add_argument("value", metavar="VALUE", help="the value (tags: comma-separated)")
    add_common(o)
    o.set_defaults(func=run_override)

    ls = sub.add_parser("list", help="all groups with status, confidence and planned changes")
    add_common(ls)
    ls.set_defaults(func=run_list)

    d = sub.add_parser("delete", help="forget a group (changes already applied stay)")
    d.add_argument("group_id", type=int, metavar="GROUP_ID")
    add_common(d)
    d.set_defaults(func=run_delete)


def _options(pairs: list[str]) -> dict[str, object]:
    out = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise InvalidRequestError(f"--option needs NAME=VALUE, not {pair!r}")
        try:
            out[name] = json.loads(raw)
        except json.JSONDecodeError:
            out[name] = raw
    return out


def run_create(args: argparse.Namespace) -> int:
    with Engine(settings_from(args)) as engine:
        gid = engine.create_group([str(f) for f in args.files], sources=[str(s) for s in args.source] or None,
                                  options=_options(args.option) or None)
    if args.json:
        emit_json({"id": gid})
    else:
        print(f"Created group {gid}. metasync preview {gid} shows what it would change.")
    return 0


def run_override(args: argparse.Namespace) -> int:
    with Engine(settings_from(args)) as engine:
        engine.set_override(args.group_id, args.file, args.field, args.value)
    if args.json:
        emit_json({"group": args.group_id, "path": str(args.file), "field": args.field, "value": args.value})
    else:
        print(f"Group {args.group_id}: {args.field} of {args.file} set by hand.")
    return 0


def run_list(args: argparse.Namespace) -> int:
    with Engine(settings_from(args)) as engine:
        groups = engine.list_groups()
    if args.json:
        emit_json(groups)
        return 0
    for g in groups:
        who = "by hand" if g["user_created"] else "auto"
        print(f"Group {g['id']}  {meter(g['confidence'])}  {g['status']}, {g['kind']} ({who}): "
              f"{len(g['sources'])} sources, {len(g['targets'])} targets, {g['changes']} changes")
    if not groups:
        print("No groups yet: metasync suggest PATH finds some.")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    with Engine(settings_from(args)) as engine:
        engine.delete_group(args.group_id)
    if args.json:
        emit_json({"deleted": args.group_id})
    else:
        print(f"Deleted group {args.group_id}.")
    return 0
