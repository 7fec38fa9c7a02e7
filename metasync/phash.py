"""The only pixel decoder: perceptual hashes (imagehash pHash, 64 bit) and cheap content fingerprints.

Hashing runs in worker processes, one per core. JPEGs are decoded in draft mode (DCT scaling, up to 1/8) so a
24 MP photo is never decoded at full size, HEICs from an embedded thumbnail when one is large enough, raw files
from the preview JPEG exif.py extracts.
A file that cannot be decoded yields an error string, never an exception out of a batch.
"""
from __future__ import annotations

import hashlib
import io
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import imagehash
import pillow_heif
from PIL import Image

log = logging.getLogger(__name__)

pillow_heif.register_heif_opener()

HASH_SIZE = 8  # 8x8 DCT bits = 64-bit hash
DRAFT_SIZE = HASH_SIZE * 4 * 4  # pHash resizes to 32x32; decode a little larger than that
CHUNK = 1 << 16  # content_hash reads the first and the last 64 KiB
IN_PROCESS_BELOW = 12  # fewer files than this are hashed in process (a pool costs ~0.5 s to start)

# EXIF orientation -> the transpose that makes the image upright (as PIL.ImageOps.exif_transpose does)
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class FileHash:
    """What hashing one file gave: its pHash (None when undecodable), content fingerprint, and why not."""

    path: str
    phash: int | None
    content_hash: str | None
    error: str | None = None


def content_hash(path: Path | str) -> str:
    """sha256 of the size, the first and the last 64 KiB, hex: cheap, and stable when a file is moved."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        h.update(str(size).encode() + b"\0")
        h.update(f.read(CHUNK))
        if size > CHUNK:
            f.seek(max(CHUNK, size - CHUNK))
            h.update(f.read(CHUNK))
    return h.hexdigest()


def phash_image(img: Image.Image, orientation: int | None = None) -> int:
    """64-bit pHash of an opened image, upright (EXIF orientation applied) so rotated copies hash alike."""
    img.draft("L", (DRAFT_SIZE, DRAFT_SIZE))  # JPEG: DCT scaling; HEIC: an embedded thumbnail; others: no-op
    if orientation is None:
        orientation = img.getexif().get(0x0112, 1)
    img = img.convert("L")  # decodes; raises on truncated / corrupt data
    if orientation in _UPRIGHT:
        img = img.transpose(_UPRIGHT[orientation])
    return int(str(imagehash.phash(img, hash_size=HASH_SIZE)), 16)


def phash_file(path: Path | str) -> int:
    with Image.open(path) as img:
        return phash_image(img)


def phash_bytes(data: bytes, orientation: int = 1) -> int:
    """pHash of an in-memory image (a raw file's embedded preview), with the raw file's orientation."""
    with Image.open(io.BytesIO(data)) as img:
        return phash_image(img, orientation)


def hash_file(path: str) -> FileHash:
    """pHash and content fingerprint of one file; every failure becomes an error string (worker entry point)."""
    try:
        fingerprint = content_hash(path)
    except OSError as exc:
        return FileHash(path, None, None, f"cannot read file: {exc.strerror or exc}")
    try:
        return FileHash(path, phash_file(path), fingerprint)
    except Exception as exc:  # noqa: BLE001 - decoders raise anything (OSError, SyntaxError, ValueError, ...)
        return FileHash(path, None, fingerprint, f"cannot decode image: {describe(exc)}")


def hash_preview(path: str, preview: tuple[bytes, int] | None) -> FileHash:
    """A raw file's hashes: pHash of its embedded preview (bytes, orientation) if it has a decodable one."""
    try:
        fingerprint = content_hash(path)
    except OSError as exc:
        return FileHash(path, None, None, f"cannot read file: {exc.strerror or exc}")
    if preview is None:
        log.info("%s: raw file without an embedded preview; no visual hash", path)
        return FileHash(path, None, fingerprint)
    try:
        return FileHash(path, phash_bytes(*preview), fingerprint)
    except Exception as exc:  # noqa: BLE001 - as in hash_file
        # the raw data itself may be fine (we never decode it): keep the photo, without a visual hash
        log.warning("%s: cannot decode the embedded preview (%s); no visual hash", path, describe(exc))
        return FileHash(path, None, fingerprint)


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, Image.UnidentifiedImageError):
        return "not a recognised image format"
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def hashing(paths: Iterable[str], workers: int | None = None) -> Iterator[Iterator[FileHash]]:
    """Hash `paths` in worker processes; yields an iterator of FileHash in input order.

    The pool starts (and begins hashing) on entry, so callers can do other work (ExifTool reads) meanwhile.
    """
    paths = list(paths)
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(paths) < IN_PROCESS_BELOW:
        yield map(hash_file, paths)
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context())
    try:
        yield _in_order(pool.map(hash_file, paths, chunksize=max(1, min(32, len(paths) // (workers * 8)))), paths)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _in_order(results: Iterator[FileHash], paths: list[str]) -> Iterator[FileHash]:
    """Pool results, finishing in process if the pool dies (a worker killed by the OOM killer, say)."""
    done = 0
    try:
        for r in results:
            yield r
            done += 1
    except BrokenProcessPool as exc:
        log.warning("hashing workers failed (%s); hashing the remaining %d files in process", exc, len(paths) - done)
        yield from map(hash_file, paths[done:])


def _context() -> multiprocessing.context.BaseContext:
    """forkserver where available: a fork of a threaded process (the bridge) can deadlock; spawn elsewhere."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__, "scipy.fftpack"])  # imagehash imports scipy lazily: ~1 s a worker
        return ctx
    return multiprocessing.get_context("spawn")


def thumbnail_image(source: Path | str | bytes, size: int = 256, orientation: int | None = None) -> Image.Image:
    """A small upright RGB image of an image file, or of a raw file's preview bytes (with the raw's orientation);
    JPEGs decode in draft mode, never at full size."""
    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
        if img.format == "JPEG":
            img.draft("RGB", (size, size))
        if orientation is None:
            orientation = img.getexif().get(0x0112, 1)
        img = img.convert("RGB")
    if orientation in _UPRIGHT:
        img = img.transpose(_UPRIGHT[orientation])
    img.thumbnail((size, size))
    return img


def thumbnail_jpeg(source: Path | str | bytes, size: int = 256, orientation: int | None = None,
                   quality: int = 80) -> bytes:
    """The bridge's thumbnails: thumbnail_image as a small JPEG."""
    out = io.BytesIO()
    thumbnail_image(source, size, orientation).save(out, "JPEG", quality=quality)
    return out.getvalue()
