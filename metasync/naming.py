"""What a photo's file name says: which sidecar belongs to it (`photo.jpg.xmp` for darktable and digiKam,
`photo.xmp` for Lightroom and ACR), and the day a messenger copy was received."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

RAW_EXTENSIONS = frozenset({".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf", ".pef", ".srw"})


# WhatsApp's names for what it receives: IMG-20240605-WA0012.jpg, VID-20240605-WA0003.mp4, and copies saved again
# ("IMG-20240605-WA0012 (1).jpg", "-WA12"); other messengers' look-alikes ("PXL_...") carry a capture time instead.
_MESSENGER = re.compile(r"^(?:IMG|VID|PTT|AUD|STK|DOC)-(\d{4})(\d{2})(\d{2})-WA\d+\b", re.IGNORECASE)


def received_day(name: str) -> str | None:
    """The day ("2024-06-05") a messenger copy named `name` was received, or None for any other name."""
    m = _MESSENGER.match(name)
    if m is None:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    except ValueError:
        return None


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
