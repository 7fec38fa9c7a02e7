"""Options and helpers shared by the subcommands."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..config import Settings, default_db_path


def add_common(p: argparse.ArgumentParser, json_flag: bool = True) -> None:
    p.add_argument("--db", type=Path, default=None, help="index database (default: $METASYNC_DB or the user data dir)")
    p.add_argument("--config", type=Path, default=None, help="settings TOML file")
    if json_flag:
        p.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def settings_from(args: argparse.Namespace, **overrides: Any) -> Settings:
    return Settings.load(getattr(args, "config", None), db_path=args.db or default_db_path(), **overrides)


def emit_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=None, default=str)
    sys.stdout.write("\n")
