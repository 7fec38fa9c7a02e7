"""A small real library for the apply/revert tests: Pillow JPEGs, an index, one group, a hand-built plan."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metasync.config import Settings
from metasync.engine import Engine
from metasync.models import FieldChange, Group, GroupMember, Metadata, Photo, Plan
from metasync.scan.exif import ExifTool
from metasync.write.apply import apply_plan
from support.photos import make_canon_swatch

TARGET_VALUES = {
    "gps_latitude": 48.858370,
    "gps_longitude": 2.294481,
    "city": "Paris",
    "country": "France",
    "tags": ("eiffel tower", "trip"),
}


@dataclass
class Library:
    engine: Engine
    exif: ExifTool
    group: Group
    source: str
    targets: list[str]

    def apply_plan(self, group: Group, plan: Plan, **kw: Any) -> dict[str, Any]:
        """The write stage on its own, with a hand-built plan."""
        return apply_plan(self.engine.index, self.exif, self.engine.settings, group, plan, **kw)

    def plan(self, values: dict | None = None, **change_kw) -> Plan:
        values = values or TARGET_VALUES
        return Plan(self.group.id, tuple(
            FieldChange(path=t, field=f, old=None, new=v, source=self.source, reason="same event, 2 min apart",
                        confidence=change_kw.get("confidence", 0.95), conflict=change_kw.get("conflict", False))
            for t in self.targets for f, v in values.items()))

    def refresh_group(self) -> Group:
        self.group = self.engine.index.group(self.group.id)
        return self.group

    def close(self) -> None:
        self.engine.close()


def new_engine(db_path: Path, exif: ExifTool) -> Engine:
    """An engine on the shared ExifTool (the exiftool fixture in conftest.py), which closing it leaves running."""
    return Engine(Settings(db_path=db_path), exif=exif)


def read_tags(exif: ExifTool, path: Path, *tags: str) -> list[Any]:
    """What ExifTool reads (-n) from a file for the given group:tag names (None when absent)."""
    raw = exif.read_raw([path])[str(path)]
    return [raw.get(t) for t in tags]


def build_library(root: Path, db_path: Path, exif: ExifTool, n_targets: int = 2) -> Library:
    """One source photo with GPS and place, `n_targets` photos without; indexed and grouped."""
    root.mkdir(parents=True, exist_ok=True)
    paths = [make_canon_swatch(root / f"IMG_{i:04d}.jpg", 10 * i).resolve() for i in range(n_targets + 1)]
    engine = new_engine(db_path, exif)
    base = Metadata(datetime_original="2024-05-12T14:03:07", make="Canon", model="Canon EOS R5")
    rows = []
    for i, p in enumerate(paths):
        meta = base.with_values(**TARGET_VALUES) if i == 0 else base
        rows.append((Photo(id=0, path=str(p), meta=meta, size=p.stat().st_size, mtime_ns=p.stat().st_mtime_ns,
                           content_hash=hashlib.sha256(p.read_bytes()).hexdigest()), None, None))
    engine.index.upsert_photos(rows)
    ids = {ph.path: ph.id for ph in engine.index.photos()}
    gid = engine.index.save_group(Group(id=None, members=tuple(
        GroupMember(photo_id=ids[str(p)], path=str(p), is_source=(i == 0)) for i, p in enumerate(paths))))
    return Library(engine, exif, engine.index.group(gid), str(paths[0]), [str(p) for p in paths[1:]])


def tree_state(root: Path) -> dict[str, str]:
    """Every file under root (relative name -> sha256), to compare a folder before and after."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if "metasync-tmp" in p.name]
