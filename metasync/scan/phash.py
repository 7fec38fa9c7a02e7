"""The only pixel decoder: perceptual hashes (imagehash pHash, 64 bit), scene pixel features, content fingerprints.

Hashing runs in worker processes, one per core. JPEGs are decoded in draft mode (DCT scaling, up to 1/8) so a
24 MP photo is never decoded at full size, HEICs from an embedded thumbnail when one is large enough, raw files
from the preview JPEG exif.py extracts. Each photo is decoded once: the pHash and the scene analysis's pixel
features (pixels.py) come from the same small decode, so scene analysis after a scan decodes nothing again.
A file that cannot be decoded yields an error string, never an exception out of a batch.
"""
from __future__ import annotations

import hashlib
import io
import logging
import multiprocessing
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import imagehash
import numpy as np
import pillow_heif
from PIL import Image

from .pixels import SIZE as SCENE_SIZE
from .pixels import pixel_features

log = logging.getLogger(__name__)

pillow_heif.register_heif_opener()

HASH_SIZE = 8  # 8x8 DCT bits = 64-bit hash
DETAIL_SIZE = 16  # 16x16 DCT bits: a finer hash that tells a copy's original from look-alike shots of one view
DRAFT_SIZE = SCENE_SIZE  # one decode serves both: pHash resizes to 32x32, scene features use a 96 px thumbnail
CHUNK = 1 << 16  # content_hash reads the first and the last 64 KiB
IN_PROCESS_BELOW = 12  # fewer files than this are hashed in process (a pool costs ~0.5 s to start)
IN_FLIGHT = 8  # batches queued per worker: enough to keep workers busy, few enough to keep memory flat

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
    """What hashing one file gave: its pHash (None when undecodable), content fingerprint, and why not; and the
    scene pixel features and the detail hash of the same decode (pixels.pixel_features), None when there was
    none."""

    path: str
    phash: int | None
    content_hash: str | None
    error: str | None = None
    scene: dict[str, Any] | None = None
    detail_hash: int | None = None  # 256-bit pHash of the same decode (see DETAIL_SIZE)
    lightness: float | None = None  # the scene features' mean lightness (Photo.lightness)


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


def _decode(img: Image.Image, size: int, orientation: int | None) -> tuple[Image.Image, int]:
    """Decode an opened image once, no smaller than `size` a side where the format can skip pixels (JPEG: DCT
    scaling; HEIC: an embedded thumbnail; others: in full); with its EXIF orientation unless given."""
    img.draft("RGB", (size, size))
    if orientation is None:
        orientation = img.getexif().get(0x0112, 1)
    img.load()  # raises on truncated / corrupt data
    return img, orientation


def _upright(img: Image.Image, orientation: int) -> Image.Image:
    return img.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else img


def _phash(decoded: Image.Image, orientation: int, size: int = HASH_SIZE) -> int:
    """pHash of a decoded image, upright (EXIF orientation applied) so rotated copies hash alike."""
    return _phash_grey(_grey(decoded, orientation), size)


def _grey(decoded: Image.Image, orientation: int) -> Image.Image:
    return _upright(decoded.convert("L"), orientation)


def _phash_grey(grey: Image.Image, size: int) -> int:
    return int(str(imagehash.phash(grey, hash_size=size)), 16)


def _thumbnail(decoded: Image.Image, size: int, orientation: int) -> Image.Image:
    """A new upright RGB image no larger than `size` a side; `decoded` is left as it was."""
    thumb = _upright(decoded.convert("RGB"), orientation)
    thumb.thumbnail((size, size))
    return thumb


def phash_image(img: Image.Image, orientation: int | None = None) -> int:
    """64-bit pHash of an opened image, decoded as the scan decodes it."""
    return _phash(*_decode(img, DRAFT_SIZE, orientation))


def phash_file(path: Path | str) -> int:
    with Image.open(path) as img:
        return phash_image(img)


def _hash_and_features(source: Path | str | bytes,
                       orientation: int | None = None) -> tuple[int, int, dict[str, Any] | None]:
    """pHash, detail hash and scene pixel features from one decode: the features are those scene.py computes from
    thumbnail_image(source, pixels.SIZE), since both decode alike (DRAFT_SIZE is pixels.SIZE)."""
    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
        decoded, orientation = _decode(img, DRAFT_SIZE, orientation)
        grey = _grey(decoded, orientation)  # one upright greyscale image for both hashes
        phash, detail = _phash_grey(grey, HASH_SIZE), _phash_grey(grey, DETAIL_SIZE)
        try:
            features = pixel_features(np.asarray(_thumbnail(decoded, SCENE_SIZE, orientation)))
        except ValueError as exc:  # an image mode without an RGB conversion: keep the pHash, scene.py will log it
            log.info("%s: no scene features (%s)", source if isinstance(source, (str, Path)) else "preview", exc)
            features = None
    return phash, detail, features


def _hashed(path: str, fingerprint: str, phash: int, detail: int, features: dict[str, Any] | None) -> FileHash:
    return FileHash(path, phash, fingerprint, scene=features, detail_hash=detail,
                    lightness=features["brightness"] if features else None)


def hash_file(path: str) -> FileHash:
    """pHash, scene features and content fingerprint of one file; every failure becomes an error string (worker
    entry point)."""
    try:
        fingerprint = content_hash(path)
    except OSError as exc:
        return FileHash(path, None, None, f"cannot read file: {exc.strerror or exc}")
    try:
        return _hashed(path, fingerprint, *_hash_and_features(path))
    except Exception as exc:  # noqa: BLE001 - decoders raise anything (OSError, SyntaxError, ValueError, ...)
        return FileHash(path, None, fingerprint, f"cannot decode image: {describe(exc)}")


def hash_files(paths: list[str]) -> list[FileHash]:
    """One batch for a worker."""
    return [hash_file(p) for p in paths]


def hash_preview(path: str, preview: tuple[bytes, int] | None) -> FileHash:
    """A raw file's hashes: pHash and scene features of its embedded preview (bytes, orientation) if it has a
    decodable one."""
    try:
        fingerprint = content_hash(path)
    except OSError as exc:
        return FileHash(path, None, None, f"cannot read file: {exc.strerror or exc}")
    if preview is None:
        log.info("%s: raw file without an embedded preview; no visual hash", path)
        return FileHash(path, None, fingerprint)
    try:
        return _hashed(path, fingerprint, *_hash_and_features(*preview))
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

    The pool starts (and begins hashing) on entry, so callers can do other work (ExifTool reads) meanwhile. It
    runs at most IN_FLIGHT batches per worker ahead of what the caller has taken, so results waiting for a slower
    caller (each holds its scene features) take the same memory at any library size.
    """
    paths = list(paths)
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(paths) < IN_PROCESS_BELOW:
        yield map(hash_file, paths)
        return
    size = max(1, min(32, len(paths) // (workers * 8)))
    batches = (paths[i:i + size] for i in range(0, len(paths), size))
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context())
    try:
        pending = deque(pool.submit(hash_files, b) for _, b in zip(range(workers * IN_FLIGHT), batches))
        yield _in_order(pool, pending, batches, paths)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _in_order(pool: ProcessPoolExecutor, pending: deque[Future[list[FileHash]]], batches: Iterator[list[str]],
              paths: list[str]) -> Iterator[FileHash]:
    """Results batch by batch, a new batch submitted for each one taken; finished in process if the pool dies
    (a worker killed by the OOM killer, say)."""
    done = 0
    try:
        while pending:
            for r in pending.popleft().result():
                yield r
                done += 1
            batch = next(batches, None)
            if batch is not None:
                pending.append(pool.submit(hash_files, batch))
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
    JPEGs decode in draft mode and HEICs from an embedded thumbnail, never at full size."""
    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
        decoded, orientation = _decode(img, size, orientation)
        return _thumbnail(decoded, size, orientation)


def thumbnail_jpeg(source: Path | str | bytes, size: int = 256, orientation: int | None = None,
                   quality: int = 80) -> bytes:
    """The bridge's thumbnails: thumbnail_image as a small JPEG."""
    out = io.BytesIO()
    thumbnail_image(source, size, orientation).save(out, "JPEG", quality=quality)
    return out.getvalue()
