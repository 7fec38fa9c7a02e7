"""Which sidecar file belongs to a photo: `photo.jpg.xmp` (darktable, digiKam) or `photo.xmp` (Lightroom, ACR)."""
from __future__ import annotations

from pathlib import Path

RAW_EXTENSIONS = frozenset({".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf", ".pef", ".srw"})


def sidecar_candidates(photo: Path) -> list[Path]:
    """Names a host may have used, in the order we look for them (existing one wins)."""
    photo = Path(photo)
    names = [photo.name + ".xmp", photo.name + ".XMP", photo.stem + ".xmp", photo.stem + ".XMP"]
    return [photo.with_name(n) for n in dict.fromkeys(names)]


def find_existing_sidecar(photo: Path) -> Path | None:
    for cand in sidecar_candidates(photo):
        if cand.is_file():
            return cand
    return None


def sidecar_path_for(photo: Path, naming: str = "ext", host: str | None = None) -> Path:
    """The sidecar to write: the existing one, else Lightroom's `photo.xmp` for raws, else the configured style.

    Never yields a second sidecar for a photo that already has one.
    """
    existing = find_existing_sidecar(photo)
    if existing is not None:
        return existing
    photo = Path(photo)
    if naming == "base" or (host == "lightroom" and photo.suffix.lower() in RAW_EXTENSIONS):
        return photo.with_name(photo.stem + ".xmp")
    return photo.with_name(photo.name + ".xmp")
