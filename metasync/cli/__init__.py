"""The `metasync` command: one module per subcommand in this package, each with `register(subparsers)`.

A subcommand module sets `func(args) -> int` as the parser default. Errors of our own, and the system's (a
folder that cannot be made, a database that cannot be read), become one line on stderr and exit code 1; a closed
pipe on stdout ends quietly.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sqlite3
import sys

from .. import __version__
from ..errors import GroupNotFoundError, MetasyncError, NotIndexedError, RemoteAIRefusedError

# Errors name no flag or command (the bridge shows the same messages in plugin dialogs); the command line adds its own.
CLI_HINTS = {RemoteAIRefusedError: "or pass --allow-remote-ai for this run",
              NotIndexedError: "'metasync scan FOLDER' indexes it",
              GroupNotFoundError: "'metasync group list' lists the groups"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metasync", description="Fill in missing photo metadata from nearby photos.")
    parser.add_argument("--version", action="version", version=f"metasync {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        importlib.import_module(f"{__name__}.{mod.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="metasync: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MetasyncError as exc:
        hint = next((h for kind, h in CLI_HINTS.items() if isinstance(exc, kind)), None)
        print(f"metasync: {exc}" + (f"; {hint}" if hint else ""), file=sys.stderr)
        return 1
    except BrokenPipeError:  # `metasync suggest ... --json | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0
    except (OSError, sqlite3.Error) as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"metasync: {getattr(exc, 'strerror', None) or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("metasync: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
