"""phash.py: draft-mode pHash, worker pool, raw previews, content fingerprints, broken files."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from PIL import Image
from support.photos import make_bad_files, scene_image

from metasync.scan.phash import (
    IN_FLIGHT,
    IN_PROCESS_BELOW,
    content_hash,
    hash_file,
    hash_preview,
    hashing,
    phash_file,
    phash_image,
)


def hamming(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


def test_large_jpeg_is_decoded_in_draft_mode(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    scene_image(3, (2400, 1800)).save(big, quality=90)
    with Image.open(big) as img:
        h = phash_image(img)
        assert img.size[0] <= 2400 // 4  # DCT-scaled decode, not 2400 px wide
    with Image.open(big) as full:
        full.load()  # decoded at full size: draft() no longer applies
        assert full.size == (2400, 1800)
        assert hamming(h, phash_image(full)) <= 6  # and the draft hash is still the same picture


def test_similar_scenes_close_different_scenes_far(tmp_path: Path) -> None:
    scene_image(5).save(tmp_path / "a.jpg")
    scene_image(5, shift=3).save(tmp_path / "b.jpg")
    scene_image(11).save(tmp_path / "c.jpg")
    a, b, c = (phash_file(tmp_path / n) for n in ("a.jpg", "b.jpg", "c.jpg"))
    assert hamming(a, b) <= 10 < hamming(a, c)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    upright = scene_image(7, (160, 120))
    upright.save(tmp_path / "upright.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated; a viewer turns it 90° clockwise
    upright.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "rotated.jpg", exif=exif)
    assert hamming(phash_file(tmp_path / "upright.jpg"), phash_file(tmp_path / "rotated.jpg")) <= 6


def test_content_hash_follows_content_not_name(tmp_path: Path) -> None:
    a = tmp_path / "a.bin"
    a.write_bytes(b"x" * 200_000)
    moved = Path(shutil.copy(a, tmp_path / "moved.bin"))
    assert content_hash(a) == content_hash(moved)
    a.write_bytes(b"x" * 199_999 + b"y")  # only the tail changed
    assert content_hash(a) != content_hash(moved)
    small = tmp_path / "small.bin"
    small.write_bytes(b"abc")
    assert len(content_hash(small)) == 64


def test_broken_files_give_errors_in_order_through_the_pool(tmp_path: Path) -> None:
    bad = make_bad_files(tmp_path / "bad")
    good = []
    for i in range(IN_PROCESS_BELOW):  # enough files to use worker processes
        p = tmp_path / f"ok{i}.jpg"
        scene_image(i).save(p)
        good.append(str(p))
    paths = good[:6] + [str(p) for p in bad.values()] + [str(tmp_path / "missing.jpg")] + good[6:]
    with hashing(paths, workers=2) as results:
        out = list(results)
    assert [r.path for r in out] == paths
    by_path = {r.path: r for r in out}
    for p in good:
        assert by_path[p].phash is not None and by_path[p].error is None and by_path[p].content_hash
        assert by_path[p] == hash_file(p) and by_path[p].scene  # the workers' scene features, as in process
    for p in bad.values():
        assert by_path[str(p)].phash is None and by_path[str(p)].error and by_path[str(p)].scene is None, p
    assert "cannot read" in by_path[str(tmp_path / "missing.jpg")].error
    assert "truncated" in by_path[str(bad["truncated"])].error.lower()


def test_heic_and_raw_preview(corpus: Path) -> None:
    heic = hash_file(str(corpus / "images" / "IMG_7943.HEIC"))
    assert heic.error is None and heic.phash is not None
    from metasync.scan.exif import ExifTool

    dng = str(corpus / "images" / "canon_eos_6d.dng")
    with ExifTool() as et:
        preview = et.read_previews([dng])[dng]
    h = hash_preview(dng, preview)
    assert h.phash is not None and h.error is None and h.content_hash == content_hash(dng)
    assert h.scene and len(h.scene["histogram"]) == 144  # scene features of the preview, too
    no_preview = hash_preview(str(corpus / "images" / "nikon_d70_stripped.nef"), None)
    assert no_preview.phash is None and no_preview.error is None  # metadata-only raw stays a photo


def test_heic_is_hashed_from_its_embedded_thumbnail(tmp_path: Path) -> None:
    scene_image(4, (800, 600)).save(tmp_path / "photo.heic", quality=60, thumbnails=[200])  # via pillow_heif
    with Image.open(tmp_path / "photo.heic") as img:
        h = phash_image(img)
        assert img.size == (200, 150)  # the thumbnail was decoded, not the 800 px image
    with Image.open(tmp_path / "photo.heic") as full:
        full.load()
        assert hamming(h, phash_image(full)) <= 6


def test_more_results_than_batches_in_flight_come_back_in_order(tmp_path: Path) -> None:
    """The pool runs a bounded number of batches ahead of the caller: a library many times that size still
    comes back complete and in order, while the caller works between results (as the scan's ExifTool reads do)."""
    paths = []
    for i in range(4):
        p = tmp_path / f"s{i}.jpg"
        scene_image(30 + i, (64, 48)).save(p)
        paths.append(str(p))
    paths = paths * ((2 * IN_FLIGHT + 4) * 32 // 4)  # more batches (of up to 32) than 2 workers keep in flight
    with hashing(paths, workers=2) as results:
        out = []
        for r in results:
            out.append(r)
            if len(out) % 50 == 0:
                time.sleep(0.05)
    assert [r.path for r in out] == paths
    assert all(r.scene == out[i % 4].scene and r.phash == out[i % 4].phash for i, r in enumerate(out))
