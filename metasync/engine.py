"""The one facade the CLI, the bridge and the plugins' requests go through.

Each method is a thin composition of the stage modules (scan, detect, plan, apply, history); a front end
never reaches past it, so the CLI and the bridge cannot drift apart.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

from .config import Settings
from .index import Index
from .models import GroupKind

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class Engine:
    def __init__(self, settings: Settings, index: Index | None = None) -> None:
        self.settings = settings
        self.index = index or Index(settings.db_path)
        self._exif = None  # started lazily: an unchanged rescan never starts ExifTool

    def close(self) -> None:
        if self._exif is not None:
            self._exif.close()
            self._exif = None
        self.index.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def exif(self):  # -> exif.ExifTool
        if self._exif is None:
            from .scan.exif import ExifTool

            self._exif = ExifTool()
        return self._exif

    # -- index: scan and show ---------------------------------------------------------------------
    def scan(self, paths: list[Path], progress: Progress | None = None) -> dict[str, Any]:
        from .scan.walk import scan_library

        return scan_library(self, [Path(p) for p in paths], progress=progress).to_dict()

    def show(self, path: Path | str) -> dict[str, Any]:
        """One indexed photo: its canonical fields plus "path" and "phash" (16 hex digits, or None)."""
        photo = self.index.photo_by_path(str(Path(path).expanduser().resolve()))
        return {"path": photo.path, **photo.meta.to_dict(),
                "phash": f"{photo.phash:016x}" if photo.phash is not None else None}

    # -- apply / revert / history ----------------------------------------------------------------------------
    def apply(self, group_id: int, min_confidence: float = 0.0, include_conflicts: bool = False,
              overrides: list[dict[str, Any]] | None = None, host: str | None = None,
              write_original: bool = False) -> dict[str, Any]:
        """Plan the group (after storing overrides) and write it: {"group","applied","skipped","sidecars","files"}."""
        from .write.apply import apply_group

        return apply_group(self, group_id, overrides=overrides, min_confidence=min_confidence,
                           include_conflicts=include_conflicts, host=host, write_original=write_original)

    def revert(self, group_id: int) -> dict[str, Any]:
        """Undo the group's latest apply: {"group","restored","removed","skipped","files"}."""
        from .write.apply import revert_group

        return revert_group(self, group_id)

    def history(self, path: Path | str) -> list[dict[str, Any]]:
        """Every committed version of one photo's files, oldest first."""
        from .errors import LockedError
        from .write.apply import recover
        from .write.journal import file_history

        try:
            recover(self, wait_s=0.0)
        except LockedError:
            pass  # a writer is at work (it recovers before writing); committed history is readable meanwhile
        return file_history(self.index, str(Path(path).expanduser().resolve()))

    def recover(self) -> dict[str, Any]:
        """Roll back what a process that died mid-write left half done."""
        from .write.apply import recover

        return recover(self)

    # -- scene analysis ----------------------------------------------------------------------------------------
    def refine(self, groups: list[Any], photos_by_id: dict[int, Any] | None = None) -> list[Any]:
        """Detected groups -> scene-checked groups: confidence raised or lowered, groups that mix events split;
        the opt-in AI analyzer (settings.ai) only for the ambiguous band. Results cached in the index."""
        from .detect.scene import refine

        if photos_by_id is None:
            photos_by_id = self.index.photos_by_id({m.photo_id for g in groups for m in g.members})
        return refine(groups, photos_by_id, self.settings, cache=self.index)

    # -- sync groups -------------------------------------------------------------------------------------------
    def suggest(self, paths: list[Path], progress: Progress | None = None,
                roots: list[Path] | None = None) -> list[dict[str, Any]]:
        """Scan `roots` (default settings.library_roots, else `paths`), detect events, update the pending automatic
        groups: [{"id","confidence","band","files","changes","conflicts","reasons"}] for the groups touching
        `paths`."""
        from .groups import suggest

        return suggest(self, paths, progress=progress, roots=roots or list(self.settings.library_roots) or None)

    def create_group(self, files: list[str], sources: list[str] | None = None,
                     options: dict[str, Any] | None = None) -> int:
        """A user's group of indexed files; sources as given, else by source priority. Returns its id."""
        from .groups import create_group

        return create_group(self, files, sources=sources, options=options)

    def list_groups(self) -> list[dict[str, Any]]:
        from .groups import list_groups

        return list_groups(self)

    def plan(self, group_id: int):  # -> models.Plan
        from .groups import plan

        return plan(self, group_id)

    def preview(self, group_id: int) -> dict[str, Any]:
        """{"group","status","changes","conflicts"} plus confidence, band, kind, reasons, options, files."""
        from .groups import preview

        return preview(self, group_id)

    def set_override(self, group_id: int, path: Path | str, field: str, value: Any) -> None:
        from .groups import set_override

        set_override(self, group_id, path, field, value)

    def delete_group(self, group_id: int) -> None:
        self.index.delete_group(group_id)

    # -- time and place ----------------------------------------------------------------------------------------
    @functools.cached_property
    def track_logs(self) -> list[Any]:  # -> list[track.Fix]
        """The points of the GPX logs in settings.gpx_logs, read once (TrackError names an unreadable log)."""
        from .track import load_logs

        return load_logs(self.settings.gpx_logs)

    def suggest_places(self, paths: list[Path]) -> list[dict[str, Any]]:
        """Place groups (GPS from the GPX logs, offline place names, zone offsets) for the indexed photos under
        `paths` that no pending group already covers as a target, sources of event groups included: [{"id", "kind",
        "files", "changes", "reasons"}]. Run after suggest (which covers photos in no event group itself)."""
        from .detect.place import place_groups
        from .plan import plan_group

        photos = self.index.photos(under=[str(Path(p).expanduser().resolve()) for p in paths])
        pending = self.index.groups(status="pending")
        covered = {m.photo_id for g in pending if g.kind != GroupKind.TIME_SHIFT for m in g.targets}
        by_id = {p.id: p for p in photos}
        out = []
        for group in place_groups(photos, covered, self.settings, self.track_logs):
            plan = plan_group(group, by_id, self.settings, logs=self.track_logs)
            if plan.changes:
                gid = self.index.save_group(group)
                out.append({"id": gid, "kind": group.kind, "files": [m.path for m in group.members],
                            "changes": len(plan.changes), "reasons": list(group.reasons)})
        return out
