"""Settings are a value: defaults in code, optionally a TOML file, passed explicitly to every stage."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError


def user_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "metasync"


def user_config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "metasync"


def default_cache_dir() -> Path:
    env = os.environ.get("METASYNC_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")) / "metasync"


def default_db_path() -> Path:
    env = os.environ.get("METASYNC_DB")
    return Path(env) if env else user_data_dir() / "index.db"


@dataclass(frozen=True)
class Settings:
    # proximity: when two photos count as near in time, place and picture
    time_window_s: float = 1800.0
    gps_radius_m: float = 500.0
    phash_similar: int = 10
    phash_same_shot: int = 4
    # plan rules
    time_fix_min_s: float = 300.0
    conflict_gps_m: float = 1000.0
    # time & place
    max_interp_gap_s: float = 1800.0
    max_extrap_s: float = 300.0
    max_gps_error_m: float = 100.0  # a position continued beyond a track's end is written up to this error radius
    max_speed_mps: float = 70.0
    clock_search_s: float = 43200.0  # camera-vs-phone clock matches are sought this far apart
    gpx_logs: tuple[Path, ...] = ()  # GPS track logs whose points join the photos' own fixes
    # sidecars: "ext" -> photo.jpg.xmp, "base" -> photo.xmp
    sidecar_naming: str = "ext"
    # scene analysis
    ai: str | None = None
    ai_url: str = "http://127.0.0.1:11434"
    ai_model: str = "llava"
    allow_remote_ai: bool = False
    ai_band: tuple[float, float] = (0.5, 0.9)
    # where things live
    db_path: Path = field(default_factory=default_db_path)
    cache_dir: Path = field(default_factory=default_cache_dir)  # what can be rebuilt: the gazetteer read from its dataset
    library_roots: tuple[Path, ...] = ()

    def with_(self, **values: Any) -> "Settings":
        return replace(self, **values)

    @classmethod
    def load(cls, path: Path | None = None, **overrides: Any) -> "Settings":
        """Defaults, then the TOML file (unknown keys rejected by name), then explicit overrides."""
        values: dict[str, Any] = {}
        if path is not None:
            try:
                data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"cannot read config {path}: {exc}") from exc
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(data) - known)
            if unknown:
                raise ConfigError(f"unknown setting(s) in {path}: {', '.join(unknown)}")
            defaults = cls()
            for name, value in data.items():
                _check_type(name, value, getattr(defaults, name), path)
            values.update(data)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name in ("db_path", "cache_dir"):
            if name in values:
                values[name] = Path(values[name])
        if "library_roots" in values:
            values["library_roots"] = tuple(Path(p) for p in values["library_roots"])
        if "gpx_logs" in values:
            values["gpx_logs"] = tuple(Path(p) for p in values["gpx_logs"])
        if "ai_band" in values:
            values["ai_band"] = tuple(values["ai_band"])
        return cls(**values)


_PATH_LISTS = ("gpx_logs", "library_roots")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)  # TOML's true is no number


def _check_type(name: str, value: Any, default: Any, path: Path) -> None:
    """A setting of the wrong type is refused by name (a string where a list belongs would become one path per
    letter)."""
    def bad(wanted: str) -> ConfigError:
        return ConfigError(f"setting {name} in {path} must be {wanted}, not {value!r}")

    if name in _PATH_LISTS:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad('a list of paths, e.g. ["walk.gpx"]')
    elif name == "ai_band":
        if not isinstance(value, list) or len(value) != 2 or not all(_is_number(v) for v in value):
            raise bad("a list of two numbers, e.g. [0.5, 0.9]")
    elif isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
    elif isinstance(default, int):
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad("a whole number")
    elif isinstance(default, float):
        if not _is_number(value):
            raise bad("a number")
    elif not isinstance(value, str):  # strings, paths, and ai (a name or absent)
        raise bad("a string")
