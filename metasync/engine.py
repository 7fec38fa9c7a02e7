"""The one facade the CLI, the bridge and the plugins' requests go through, and the one composition root.

The Engine builds (or is given) every resource: the index, ExifTool, the lookups planning needs. Each method is a
composition of the stage functions (scan, detect, plan, write), which receive only the collaborators they use; a
front end never reaches past the Engine, so the CLI and the bridge cannot drift apart.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .config import Settings
from .index import Index

if TYPE_CHECKING:
    from .lookups import Lookups
    from .models import Group, Photo, Plan
    from .scan.exif import ExifTool

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
_PLAN_BATCH = 500  # groups planned together between two progress reports


class Engine:
    def __init__(self, settings: Settings, index: Index | None = None, exif: ExifTool | None = None,
                 lookups: Lookups | None = None) -> None:
        """Resources not given are built from `settings` when first needed: an unchanged rescan never starts
        ExifTool, a scan reads no gazetteer. A given ExifTool is the caller's to close."""
        self.settings = settings
        self.index = index or Index(settings.db_path)
        self.thumbnail_dir = self.index.data_dir / "thumbs"  # fixed: the bridge reads it without holding the engine
        self._exif = exif
        self._owns_exif = exif is None
        self._lookups = lookups

    def close(self) -> None:
        if self._exif is not None and self._owns_exif:
            self._exif.close()
            self._exif = None
        self.index.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _exiftool(self) -> ExifTool:
        if self._exif is None:
            from .scan.exif import ExifTool

            self._exif = ExifTool()
        return self._exif

    @property
    def lookups(self) -> Lookups:
        """Towns, time zones and GPS track log points for planning (TrackError names an unreadable log)."""
        if self._lookups is None:
            from .lookups import Lookups

            self._lookups = Lookups.from_settings(self.settings)
        return self._lookups

    # -- files ----------------------------------------------------------------------------------------------
    def scan(self, paths: list[Path], progress: Progress | None = None) -> dict[str, Any]:
        from .scan.walk import scan_library

        return scan_library(self.index, self._exiftool(), [Path(p) for p in paths], progress=progress).to_dict()

    def show(self, path: Path | str) -> dict[str, Any]:
        """One indexed photo: its canonical fields plus "path" and "phash" (16 hex digits, or None)."""
        photo = self.index.photo_by_path(str(Path(path).expanduser().resolve()))
        return {"path": photo.path, **photo.meta.to_dict(),
                "phash": f"{photo.phash:016x}" if photo.phash is not None else None}

    def previews(self, paths: list[str]) -> dict[str, tuple[bytes, int] | None]:
        """Raw files' embedded previews and their orientation (None: the file has none)."""
        return self._exiftool().read_previews(paths)

    def exiftool_version(self) -> str:
        return self._exiftool().version

    # -- apply / revert / history ---------------------------------------------------------------------------
    def apply(self, group_id: int, min_confidence: float = 0.0, include_conflicts: bool = False,
              overrides: list[dict[str, Any]] | None = None, host: str | None = None,
              write_original: bool = False) -> dict[str, Any]:
        """Plan the group (after storing overrides) and write it: {"group","applied","skipped","sidecars","files"}."""
        from .write.apply import apply_group

        return apply_group(self.index, self._exiftool(), self.settings, group_id, self.plan, overrides=overrides,
                           min_confidence=min_confidence, include_conflicts=include_conflicts, host=host,
                           write_original=write_original)

    def revert(self, group_id: int) -> dict[str, Any]:
        """Undo the group's latest apply: {"group","restored","removed","skipped","files"}."""
        from .write.apply import revert_group

        return revert_group(self.index, group_id)

    def history(self, path: Path | str) -> list[dict[str, Any]]:
        """Every committed version of one photo's files, oldest first."""
        from .errors import LockedError
        from .write.apply import recover
        from .write.journal import file_history

        try:
            recover(self.index, wait_s=0.0)
        except LockedError:
            pass  # a writer is at work (it recovers before writing); committed history is readable meanwhile
        return file_history(self.index, str(Path(path).expanduser().resolve()))

    def recover(self) -> dict[str, Any]:
        """Roll back what a process that died mid-write left half done."""
        from .write.apply import recover

        return recover(self.index)

    # -- scene analysis -------------------------------------------------------------------------------------
    def refine(self, groups: list[Group], photos_by_id: dict[int, Photo] | None = None) -> list[Group]:
        """Detected groups -> scene-checked groups: confidence raised or lowered, groups that mix events split;
        the opt-in AI analyzer (settings.ai) only for the ambiguous band. Results cached in the index."""
        from .detect.scene import refine

        if photos_by_id is None:
            photos_by_id = self.index.photos_by_id({m.photo_id for g in groups for m in g.members})
        return refine(groups, photos_by_id, self.settings, cache=self.index)

    # -- sync groups ----------------------------------------------------------------------------------------
    def suggest(self, paths: list[Path], progress: Progress | None = None,
                roots: list[Path] | None = None) -> list[dict[str, Any]]:
        """Scan `roots` (default settings.library_roots, else `paths`), re-detect the whole library's events (an
        event spans folders: phone and camera photos usually live apart), update the pending automatic groups, and
        return those touching `paths`: [{"id","confidence","band","files","changes","conflicts","reasons"}].
        Groups with nothing to change are not suggested.

        A suggestion keeps its id while it stays the same event (a plugin may hold it across rescans), and an
        unchanged library answers from the stored groups without detecting again."""
        from . import groups as g
        from .detect.clock import suggest_time_shifts
        from .detect.events import detect_groups
        from .detect.place import place_groups
        from .plan import plan_groups
        from .plan.time_shift import with_clock_corrections

        index, settings = self.index, self.settings
        wanted_paths = [g.resolve(p) for p in paths]
        self.scan([Path(g.resolve(p)) for p in (roots or list(settings.library_roots) or wanted_paths)], progress)
        wanted = g.photos_under(index, wanted_paths)
        if index.state(g.DETECTED) == g.detected_on(index, settings):
            return g.stored(index, settings, self.lookups, wanted) if wanted else []
        photos = index.photos()
        originals = {p.id: p for p in photos}
        # 1. cameras whose clock is off become time-shift groups; events are found with corrected times
        shifts, photos, doubts = suggest_time_shifts(photos, settings)
        by_id = {p.id: p for p in photos}
        _report(progress, "detect", 0, 1)
        # 2. events, 3. checked on their images
        events = detect_groups(photos, settings)
        events = g.capped(events, self.refine(events, by_id))
        _report(progress, "detect", 1, 1)
        # 4. GPS from logs, place names and offsets for the photos no event holds
        grouped = {m.photo_id for e in events for m in e.members}
        places = place_groups(photos, grouped, settings, self.lookups)
        # 5. the ids of the previous suggestions that are the same groups
        previous = [p for p in index.groups(status="pending") if not p.user_created]
        groups = g.keep_ids([*events, *shifts, *places], previous)
        # 6. plan, 7. store the groups that change something
        kept: set[int] = set()
        out = []
        for k in range(0, len(groups), _PLAN_BATCH):
            _report(progress, "plan", k, len(groups))
            batch = groups[k:k + _PLAN_BATCH]
            plans = plan_groups(batch, by_id, settings, self.lookups, as_shot=originals, doubts=doubts)
            for group, plan in zip(batch, plans):
                plan = with_clock_corrections(plan, group, originals, by_id, shifts)
                if not plan.changes:
                    continue
                gid = index.save_group(group)
                kept.add(gid)
                if any(m.photo_id in wanted for m in group.members):
                    out.append(g.summary(group, gid, plan))
        index.delete_groups(p.id for p in previous if p.id not in kept)
        _report(progress, "plan", len(groups), len(groups))
        g.store_clock_doubts(index, doubts)
        index.set_state(g.DETECTED, g.detected_on(index, settings))
        log.info("suggested %d groups (%d detected)", len(out), len(groups))
        return sorted(out, key=lambda s: s["id"])

    def create_group(self, files: list[str], sources: list[str] | None = None,
                     options: dict[str, Any] | None = None) -> int:
        """A user's group of indexed files; sources as given, else by source priority. Returns its id."""
        from .groups import create_group

        return create_group(self.index, files, sources=sources, options=options)

    def list_groups(self) -> list[dict[str, Any]]:
        from .groups import list_groups

        return list_groups(self.index, self.settings, self.lookups)

    def plan(self, group_id: int) -> Plan:
        from .groups import plan

        return plan(self.index, self.settings, self.lookups, group_id)

    def preview(self, group_id: int) -> dict[str, Any]:
        """{"group","status","changes","conflicts"} plus confidence, band, kind, reasons, options, files."""
        from .groups import preview

        return preview(self.index, self.settings, self.lookups, group_id)

    def set_override(self, group_id: int, path: Path | str, field: str, value: Any) -> None:
        from .groups import set_override

        set_override(self.index, group_id, path, field, value)

    def delete_group(self, group_id: int) -> None:
        self.index.delete_group(group_id)


def _report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress:
        progress(stage, done, total)
