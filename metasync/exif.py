"""The only owner of ExifTool: one persistent `-stay_open` process per run, batched reads and writes."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any, Iterable

import exiftool
from exiftool.exceptions import ExifToolException

from .errors import ExifReadError, ExifToolMissingError, MetasyncError

log = logging.getLogger(__name__)

BATCH = 200


class ExifTool:
    """A lazily started ExifToolHelper with `-G -n` (group names, numeric values) and execute checks on."""

    def __init__(self, executable: str | None = None) -> None:
        exe = executable or shutil.which("exiftool")
        if not exe:
            raise ExifToolMissingError(
                "ExifTool is not installed: Debian/Ubuntu 'sudo apt-get install libimage-exiftool-perl', "
                "macOS 'brew install exiftool', Windows: https://exiftool.org")
        self._helper = exiftool.ExifToolHelper(executable=exe, common_args=["-G", "-n"], check_execute=True)
        self.starts = 0  # how many times a process was started (tests assert 0 on unchanged rescans)

    def _running(self) -> exiftool.ExifToolHelper:
        if not self._helper.running:
            self._helper.run()
            self.starts += 1
        return self._helper

    def close(self) -> None:
        if self._helper.running:
            self._helper.terminate()

    def __enter__(self) -> "ExifTool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def version(self) -> str:
        return str(self._running().version)

    def read_raw(self, paths: Iterable[Path]) -> dict[str, dict[str, Any] | ExifReadError]:
        """Raw `-G -n` tag dicts keyed by the path string; a file ExifTool rejects maps to its error."""
        paths = [str(p) for p in paths]
        out: dict[str, dict[str, Any] | ExifReadError] = {}
        helper = self._running()
        for i in range(0, len(paths), BATCH):
            batch = paths[i:i + BATCH]
            try:
                for d in helper.get_metadata(batch):
                    out[d["SourceFile"]] = d
            except (ExifToolException, ValueError) as exc:
                # one bad file fails the batch: retry one by one to isolate it
                for p in batch:
                    try:
                        out[p] = helper.get_metadata(p)[0]
                    except (ExifToolException, ValueError) as one:
                        out[p] = ExifReadError(p, _first_line(one) or _first_line(exc))
        return out

    def write_tags(self, path: Path, tags: dict[str, Any], extra: Iterable[str] = ("-overwrite_original",)) -> None:
        """Write tags into one file (used by the demo generator and by `--write-original`)."""
        try:
            self._running().set_tags(str(path), tags, params=list(extra))
        except ExifToolException as exc:
            raise MetasyncError(f"ExifTool could not write {path}: {_first_line(exc)}") from exc

    def execute(self, *args: str) -> str:
        """Run one raw ExifTool command in the persistent process (e.g. extracting a raw preview)."""
        try:
            return self._running().execute(*args)
        except ExifToolException as exc:
            raise MetasyncError(f"ExifTool failed: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "stderr", "") or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
