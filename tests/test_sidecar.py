"""sidecar.py: merge into every real sidecar of the corpus without clobbering, read back with ExifTool, undo, and
refuse hostile input without a traceback or a memory blow-up."""
from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from metasync.errors import SidecarError
from metasync.fields import FIELDS
from metasync.models import CANONICAL_FIELDS
from metasync.scan.exif import ExifTool
from metasync.timeutil import parse_local
from metasync.write.sidecar import (
    METASYNC_NS,
    NAMESPACES,
    Provenance,
    merge_values,
    parse_sidecar,
    read_provenance,
    read_values,
    remove_values,
)

# Every sidecar of the corpus (MANIFEST.md); test_corpus_list_is_complete keeps this in step with the folder.
WELL_FORMED = [
    "sidecars/darktable/0000-nop.xmp",
    "sidecars/darktable/0004-masks.xmp",
    "sidecars/darktable/0033-blending-modes-uniform.xmp",
    "sidecars/darktable/0103-almost-all.xmp",
    "sidecars/darktable/0175-agx.xmp",
    "sidecars/darktable/_27A1417.CR2.xmp",
    "sidecars/digikam/20240107_110258.jpg.xmp",
    "sidecars/digikam/20240121_102400.JPG.xmp",
    "sidecars/digikam/20240128_105420.mp4.xmp",
    "sidecars/digikam/digikam-example.xmp",
    "sidecars/lightroom/flatxmp.xmp",
    "sidecars/lightroom/testimagedesc1.xmp",
    "sidecars/other/_27A1434.JPG.xmp",
    "sidecars/other/canon_eos_6d.xmp",
    "sidecars/other/exiftool_XMP.xmp",
    "sidecars/other/exiftool_XMP6_xmp-xmpmeta.xmp",
    "sidecars/other/exiv2_xmpsdk_bare-rdf.xmp",
    "sidecars/other/immich_2000_utf16le.xmp",
    "sidecars/other/immich_iso-value-array.xmp",
    "sidecars/other/photoprism_apple-test-2.xmp",
    "sidecars/other/photoprism_fstop-favorite.xmp",
    "sidecars/other/photoprism_ladybug_exiftool-crs.xmp",
    "sidecars/other/photoprism_photoshop.xmp",
]
MALFORMED = {
    "sidecars/other/exiftool_XMP2_nodeID.xmp": "not well-formed XML at line 1",
    "sidecars/other/exiv2_issue_851_poc_fuzzed.xmp": "NUL bytes",
    "sidecars/other/exiv2_utf8bom_garbage.xmp": "not well-formed XML at line 1",
}

VALUES = {
    "datetime_original": "2024-05-12T14:03:07.120",
    "offset_time": "+02:00",
    "gps_latitude": 48.137154,
    "gps_longitude": -11.575,
    "gps_altitude": -12.5,
    "make": "Canon",
    "model": "Canon EOS 5D Mark IV",
    "serial_number": "0123456789",
    "lens_model": "EF24-105mm f/4L IS USM",
    "iso": 200.0,
    "f_number": 2.8,
    "exposure_time": 0.004,
    "focal_length": 50.0,
    "city": "München",
    "state": "Bayern",
    "country": "Deutschland",
    "country_code": "DE",
    "tags": ["Oktoberfest & friends", "trip <2024>"],
}
PROV = Provenance(group_id=7, operation_id=42, applied_at="2026-11-28T02:00:00+00:00",
                  sources=(("gps_latitude", "/photos/day1/IMG_0001.jpg", "sha256:9f86d081884c7d65"),
                           ("tags", "/photos/day1/IMG_0002.jpg", None)),
                  fields=tuple(VALUES))

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_TAG_LISTS = (f"{{{NAMESPACES['dc']}}}subject", "{http://ns.adobe.com/lightroom/1.0/}hierarchicalSubject",
              "{http://www.digikam.org/ns/1.0/}TagsList")
OWNED = {f"{{{NAMESPACES[p.split(':')[0]]}}}{p.split(':')[1]}"
         for spec in FIELDS.values() for p in spec.xmp_props} | {
    f"{{{NAMESPACES['exif']}}}GPSLatitudeRef", f"{{{NAMESPACES['exif']}}}GPSLongitudeRef", *_TAG_LISTS}


def packet(body: str, extra_ns: str = "") -> bytes:
    """A small Adobe-style packet around one Description body (attributes first, then elements)."""
    return (f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            f'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">\n'
            f' <rdf:RDF xmlns:rdf="{_RDF}">\n'
            f'  <rdf:Description rdf:about="" {extra_ns}{body}\n'
            f'  </rdf:Description>\n'
            f' </rdf:RDF>\n'
            f'</x:xmpmeta>\n<?xpacket end="w"?>').encode("utf-8")


def foreign_part(data: bytes) -> bytes:
    """Canonical XML of everything we do not own: our Description, our properties and tag lists taken out,
    inter-element whitespace ignored (insignificant in RDF)."""
    doc = parse_sidecar(data)
    for desc in doc.descriptions():
        if desc.nsmap.get("metasync") == METASYNC_NS and desc.getparent().nsmap.get("metasync") != METASYNC_NS:
            desc.getparent().remove(desc)
            continue
        for name in [a for a in desc.attrib if a in OWNED]:
            del desc.attrib[name]
        for el in [e for e in desc if e.tag in OWNED]:
            desc.remove(el)
    for el in doc.root.iter():
        if len(el) and el.text is not None and not el.text.strip():
            el.text = None
        if el.tail is not None and not el.tail.strip():
            el.tail = None
    return etree.tostring(doc.root, method="c14n", with_comments=True)


def tag_lists(data: bytes) -> dict[str, tuple[str, list[str]]]:
    """Each tag list present: its container (Bag/Seq) and its items."""
    doc = parse_sidecar(data)
    out = {}
    for desc in doc.descriptions():
        for el in desc:
            if el.tag in _TAG_LISTS:
                box = next(iter(el), None)
                out[el.tag] = (etree.QName(box).localname if box is not None else "",
                               [(li.text or "").strip() for li in (box if box is not None else [])])
    return out


def expected_values() -> dict:
    want = dict(VALUES, datetime_original=VALUES["datetime_original"] + VALUES["offset_time"])
    return want


def assert_values(got: dict, want: dict, tags_superset: bool = True) -> None:
    for field, value in want.items():
        if field == "tags":
            assert set(value) <= set(got["tags"]) if tags_superset else got["tags"] == list(value)
        elif isinstance(value, float):
            assert got[field] == pytest.approx(value, rel=1e-9, abs=1e-9), field
        else:
            assert got[field] == value, field


def exiftool_xmp(et: ExifTool, path: Path) -> dict:
    """What ExifTool reads from exactly the namespaces we write (a foreign video:DateTimeOriginal may not shadow)."""
    groups = ("exif", "tiff", "exifEX", "aux", "photoshop", "iptcCore", "dc")
    return json.loads(et.execute("-j", "-n", *[f"-XMP-{g}:all" for g in groups], str(path)))[0]


def assert_exiftool_reads(tags: dict, values: dict) -> None:
    assert tags["XMP:GPSLatitude"] == pytest.approx(values["gps_latitude"], abs=1e-7)
    assert tags["XMP:GPSLongitude"] == pytest.approx(values["gps_longitude"], abs=1e-7)
    sign = -1 if tags["XMP:GPSAltitudeRef"] == 1 else 1
    assert sign * tags["XMP:GPSAltitude"] == pytest.approx(values["gps_altitude"])
    want_time = parse_local(values["datetime_original"] + values.get("offset_time", ""))
    assert parse_local(tags["XMP:DateTimeOriginal"]) == want_time
    assert parse_local(tags["XMP:DateCreated"]) == want_time
    assert (tags["XMP:Make"], tags["XMP:Model"]) == (values["make"], values["model"])
    assert str(tags["XMP:SerialNumber"]) == values["serial_number"]
    assert tags["XMP:LensModel"] == tags["XMP:Lens"] == values["lens_model"]
    assert tags["XMP:ISO"] == values["iso"]
    for tag, field in (("FNumber", "f_number"), ("ExposureTime", "exposure_time"), ("FocalLength", "focal_length")):
        assert tags[f"XMP:{tag}"] == pytest.approx(values[field]), tag
    assert (tags["XMP:City"], tags["XMP:State"], tags["XMP:Country"], tags["XMP:CountryCode"]) == (
        values["city"], values["state"], values["country"], values["country_code"])
    subject = tags["XMP:Subject"] if isinstance(tags["XMP:Subject"], list) else [tags["XMP:Subject"]]
    assert set(values["tags"]) <= set(subject)


# -- the corpus ----------------------------------------------------------------------------------------------------
def test_corpus_list_is_complete(corpus: Path) -> None:
    found = {str(p.relative_to(corpus)) for p in (corpus / "sidecars").rglob("*.xmp")}
    assert found == set(WELL_FORMED) | set(MALFORMED)


@pytest.mark.parametrize("rel", WELL_FORMED)
def test_merge_into_corpus_sidecar_keeps_everything_else(corpus: Path, rel: str, tmp_path: Path,
                                                         exiftool: ExifTool) -> None:
    original = (corpus / rel).read_bytes()
    merged = merge_values(original, VALUES, PROV)

    assert foreign_part(merged) == foreign_part(original), "everything we do not own survives, same in meaning"
    before_doc, after_doc = parse_sidecar(original), parse_sidecar(merged)
    assert (after_doc.prologue, after_doc.epilogue) == (before_doc.prologue, before_doc.epilogue), \
        "xpacket wrapper and padding kept verbatim"
    before_lists, after_lists = tag_lists(original), tag_lists(merged)
    for tag, (box, items) in before_lists.items():
        assert after_lists[tag][0] == box, "a host's Bag/Seq stays what it was"
        assert after_lists[tag][1][:len(items)] == items, "tags are only ever added"
    assert set(after_lists) - set(before_lists) <= {_TAG_LISTS[0]}, "host tag lists are never created"

    assert_values(read_values(merged), expected_values())
    assert read_provenance(merged) == PROV
    assert merge_values(merged, VALUES, PROV) == merged, "idempotent: same values twice, same bytes"

    out = tmp_path / Path(rel).name
    out.write_bytes(merged)
    assert_exiftool_reads(exiftool_xmp(exiftool, out), VALUES)


@pytest.mark.parametrize("rel", WELL_FORMED)
def test_remove_after_merge_gives_back_the_original_meaning(corpus: Path, rel: str) -> None:
    original = (corpus / rel).read_bytes()
    before = read_values(original)
    merged = merge_values(original, VALUES, PROV)

    back = remove_values(merged, VALUES, {f: before.get(f) for f in VALUES})

    assert back is not None
    assert foreign_part(back) == foreign_part(original)
    assert tag_lists(back) == tag_lists(original)
    assert read_provenance(back) is None and METASYNC_NS.encode() not in back
    got = read_values(back)
    assert got.keys() == before.keys()
    assert_values(got, before, tags_superset=False)


# Written by Exiv2 (darktable, digiKam) or Adobe's XMP toolkit: parse + serialise gives back the very same bytes,
# so a merge changes only the lines of what we own (ExifTool's single quotes and one-line layouts do get re-laid).
BYTE_EXACT = [rel for rel in WELL_FORMED if rel in {
    "sidecars/darktable/0004-masks.xmp", "sidecars/darktable/0033-blending-modes-uniform.xmp",
    "sidecars/darktable/0103-almost-all.xmp", "sidecars/darktable/0175-agx.xmp",
    "sidecars/darktable/_27A1417.CR2.xmp", "sidecars/digikam/20240107_110258.jpg.xmp",
    "sidecars/digikam/20240121_102400.JPG.xmp", "sidecars/digikam/20240128_105420.mp4.xmp",
    "sidecars/digikam/digikam-example.xmp", "sidecars/lightroom/flatxmp.xmp", "sidecars/other/_27A1434.JPG.xmp",
    "sidecars/other/immich_iso-value-array.xmp", "sidecars/other/photoprism_fstop-favorite.xmp"}]


@pytest.mark.parametrize("rel", BYTE_EXACT)
def test_host_layouts_reserialise_byte_for_byte(corpus: Path, rel: str) -> None:
    data = (corpus / rel).read_bytes()
    assert parse_sidecar(data).to_bytes() == data


@pytest.mark.parametrize("rel", sorted(MALFORMED))
def test_malformed_corpus_sidecars_are_refused_with_a_reason(corpus: Path, rel: str) -> None:
    data = (corpus / rel).read_bytes()
    for call in (lambda: parse_sidecar(data), lambda: merge_values(data, VALUES, PROV),
                 lambda: remove_values(data, ["city"], {}), lambda: read_values(data)):
        with pytest.raises(SidecarError, match=MALFORMED[rel]):
            call()


EXIV2_LAYOUTS = ["sidecars/darktable/0175-agx.xmp", "sidecars/digikam/digikam-example.xmp",
                 "sidecars/lightroom/flatxmp.xmp", "sidecars/other/photoprism_ladybug_exiftool-crs.xmp",
                 "sidecars/other/immich_2000_utf16le.xmp", None]


@pytest.mark.parametrize("rel", EXIV2_LAYOUTS)
def test_a_host_rewrite_with_exiv2_keeps_our_values_and_stays_revertable(corpus: Path, rel: str | None,
                                                                          tmp_path: Path) -> None:
    """darktable and digiKam rewrite sidecars through Exiv2 (everything in one Description, simple values as
    attributes): Exiv2 reads what we wrote, and after its rewrite we still find our values, our provenance and
    our bookkeeping, and revert keeps the host's edit."""
    exiv2 = pytest.importorskip("exiv2")
    original = (corpus / rel).read_bytes() if rel else None
    path = tmp_path / "photo.jpg.xmp"
    path.write_bytes(merge_values(original, VALUES, PROV))

    image = exiv2.ImageFactory.open(str(path))
    image.readMetadata()
    xmp = image.xmpData()
    assert xmp["Xmp.exif.GPSLatitude"].toString() == "48,8.22924000N"
    assert xmp["Xmp.photoshop.City"].toString() == "München"
    assert xmp["Xmp.metasync.group"].toString() == "7"
    xmp["Xmp.xmp.Rating"] = "5"  # the user rates the photo in the host
    image.writeMetadata()
    rewritten = path.read_bytes()

    assert_values(read_values(rewritten), expected_values())
    assert read_provenance(rewritten) == PROV
    before = read_values(original) if original else {}
    back = remove_values(rewritten, VALUES, {f: before.get(f) for f in VALUES})
    assert back is not None, "the host's rating is in it now"
    assert METASYNC_NS.encode() not in back
    got = read_values(back)
    assert got.keys() == before.keys()
    assert_values(got, before, tags_superset=False)
    assert b'Rating="5"' in back, "the host's edit survives"


def test_utf16_sidecar_is_decoded_and_written_back_as_utf8(corpus: Path) -> None:
    original = (corpus / "sidecars/other/immich_2000_utf16le.xmp").read_bytes()
    assert original[:2] == b"\xff\xfe"
    merged = merge_values(original, {"city": "Köln"}, PROV)
    assert merged.startswith('<?xpacket begin="\ufeff"'.encode("utf-8"))
    assert "xmp:CreatorTool=\"Adobe Photoshop Lightroom 4.1 (Macintosh)\"" in merged.decode("utf-8")
    assert read_values(merged)["city"] == "Köln"


# -- new sidecars, forms and layouts -------------------------------------------------------------------------------
def test_new_sidecar_has_a_full_skeleton_and_reads_back(tmp_path: Path, exiftool: ExifTool) -> None:
    data = merge_values(None, VALUES, PROV)
    text = data.decode("utf-8")
    assert text.startswith('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n<x:xmpmeta')
    assert 'x:xmptk="metasync XMP 1.0"' in text and text.rstrip().endswith('<?xpacket end="w"?>')
    assert_values(read_values(data), expected_values(), tags_superset=False)
    path = tmp_path / "new.jpg.xmp"
    path.write_bytes(data)
    tags = exiftool.read_raw([path])[str(path)]  # the plain `-G -n` read metasync itself uses
    assert tags["XMP:GPSLatitude"] == pytest.approx(VALUES["gps_latitude"], abs=1e-7)
    assert tags["XMP:City"] == "München" and tags["XMP:Subject"] == VALUES["tags"]
    assert_exiftool_reads(exiftool_xmp(exiftool, path), VALUES)


def test_remove_everything_from_our_own_sidecar_means_delete_it() -> None:
    data = merge_values(None, VALUES, PROV)
    assert remove_values(data, VALUES, {}) is None


def test_a_source_path_xml_cannot_hold_is_escaped_in_the_provenance() -> None:
    prov = Provenance(1, 1, "2026-11-28T02:00:00+00:00", (("city", "/photos/caf\udce9\x01.jpg", None),), ("city",))
    data = merge_values(None, {"city": "Paris"}, prov)
    assert read_provenance(data).sources == (("city", "/photos/caf\\udce9\\u0001.jpg", None),)


def test_partial_removal_keeps_provenance_of_the_remaining_fields() -> None:
    data = merge_values(None, VALUES, PROV)
    rest = remove_values(data, (f for f in ("gps_latitude", "gps_longitude")), {})  # any iterable
    prov = read_provenance(rest)
    assert "gps_latitude" not in read_values(rest) and read_values(rest)["city"] == "München"
    assert prov.fields == tuple(f for f in VALUES if f not in ("gps_latitude", "gps_longitude"))
    assert prov.sources == (("tags", "/photos/day1/IMG_0002.jpg", None),)


def test_two_groups_reverted_in_turn_leave_nothing_behind() -> None:
    """Group 1 creates the sidecar with a city, group 2 adds GPS; revert 2, then 1: the file goes."""
    first = merge_values(None, {"city": "Paris"}, Provenance(1, 1, "2026-11-28T01:00:00+00:00", (), ("city",)))
    second = merge_values(first, {"gps_latitude": 48.85837},
                          Provenance(2, 2, "2026-11-28T02:00:00+00:00", (), ("gps_latitude",)))
    after_two = remove_values(second, ["gps_latitude"], {})
    assert read_values(after_two) == {"city": "Paris"} and read_provenance(after_two) is None
    assert remove_values(after_two, ["city"], {}) is None


def test_revert_after_a_host_edit_keeps_the_edit() -> None:
    """We created the sidecar; darktable then added its history and a tag; revert keeps both, drops ours."""
    prov = Provenance(1, 2, "2026-11-28T02:00:00+00:00", (), ("city", "tags"))
    ours = merge_values(None, {"city": "Paris", "tags": ["trip"]}, prov)
    host = ours.replace(b"<rdf:li>trip</rdf:li>", b"<rdf:li>trip</rdf:li><rdf:li>by hand</rdf:li>", 1).replace(
        b" </rdf:RDF>",
        b'  <rdf:Description rdf:about="" xmlns:darktable="http://darktable.sf.net/" darktable:history_end="1">'
        b'<darktable:history><rdf:Seq><rdf:li darktable:operation="exposure"/></rdf:Seq></darktable:history>'
        b"</rdf:Description>\n </rdf:RDF>")
    back = remove_values(host, ["city", "tags"], {"city": None, "tags": None})
    assert back is not None
    assert read_values(back) == {"tags": ["by hand"]}
    assert b'darktable:operation="exposure"' in back and METASYNC_NS.encode() not in back


def test_property_in_attribute_form_is_replaced_in_place() -> None:
    data = packet('xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:City="Old" '
                  'photoshop:Country="Keep">')
    merged = merge_values(data, {"city": "New"}, PROV)
    desc = parse_sidecar(merged).descriptions()[1]
    assert desc.get(f"{{{NAMESPACES['photoshop']}}}City") == "New"
    assert merged.count(b"City") == 1 and read_values(merged)["country"] == "Keep"


def test_property_under_another_prefix_is_replaced_in_place_and_duplicates_go() -> None:
    data = packet('xmlns:ps="http://ns.adobe.com/photoshop/1.0/">\n   <ps:City>Old</ps:City>'
                  '\n   <ps:City>Older</ps:City>\n   <ps:Headline>Keep</ps:Headline>')
    merged = merge_values(data, {"city": "New"}, PROV).decode("utf-8")
    assert "<ps:City>New</ps:City>" in merged and merged.count("City>") == 2
    assert "<ps:Headline>Keep</ps:Headline>" in merged


def test_decimal_gps_with_ref_becomes_the_xmp_form() -> None:
    data = packet('xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="52.5250816" '
                  'exif:GPSLatitudeRef="N" exif:GPSLongitude="13.3694" exif:GPSLongitudeRef="E">')
    assert read_values(data)["gps_latitude"] == pytest.approx(52.5250816)
    merged = merge_values(data, {"gps_latitude": -33.8688, "gps_longitude": 151.2093}, PROV)
    assert b"GPSLatitudeRef" not in merged and b"GPSLongitudeRef" not in merged
    assert b'exif:GPSLatitude="33,52.12800000S"' in merged
    assert read_values(merged)["gps_latitude"] == pytest.approx(-33.8688)


def test_tags_are_a_union_and_host_lists_only_grow_where_present() -> None:
    data = packet('xmlns:dc="http://purl.org/dc/elements/1.1/">\n   <dc:subject>\n    <rdf:Seq>\n'
                  '     <rdf:li>old</rdf:li>\n    </rdf:Seq>\n   </dc:subject>')
    merged = merge_values(data, {"tags": ["new", "old"]}, PROV)
    assert tag_lists(merged) == {_TAG_LISTS[0]: ("Seq", ["old", "new"])}
    assert b"   <dc:subject>\n    <rdf:Seq>\n     <rdf:li>old</rdf:li>\n     <rdf:li>new</rdf:li>\n" in merged
    assert read_values(merge_values(merged, {"tags": ["other"]}, PROV))["tags"] == ["old", "new", "other"]


def test_revert_takes_out_of_each_tag_list_only_what_we_added_to_it() -> None:
    data = packet('xmlns:lr="http://ns.adobe.com/lightroom/1.0/">\n   <lr:hierarchicalSubject>\n    <rdf:Bag>\n'
                  '     <rdf:li>lake</rdf:li>\n    </rdf:Bag>\n   </lr:hierarchicalSubject>')
    merged = merge_values(data, {"tags": ["lake", "boat"]}, PROV)
    assert tag_lists(merged)["{http://ns.adobe.com/lightroom/1.0/}hierarchicalSubject"][1] == ["lake", "boat"]
    back = remove_values(merged, ["tags"], {"tags": None})
    assert tag_lists(back) == tag_lists(data), "lake was the host's in hierarchicalSubject, only ours in dc:subject"


def test_offset_time_lives_in_the_capture_time() -> None:
    data = packet('xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:DateTimeOriginal="2007:09:11 13:53:33">')
    merged = merge_values(data, {"offset_time": "-05:00"}, PROV)
    assert read_values(merged)["datetime_original"] == "2007-09-11T13:53:33-05:00"
    assert read_values(merged)["offset_time"] == "-05:00"
    back = remove_values(merged, ["offset_time"], {"offset_time": None})
    assert read_values(back)["datetime_original"] == "2007-09-11T13:53:33"
    with pytest.raises(SidecarError, match="together with a capture time"):
        merge_values(None, {"offset_time": "+02:00"}, PROV)


def test_a_single_tag_given_as_text_is_one_tag() -> None:
    assert read_values(merge_values(None, {"tags": "lake"}, PROV))["tags"] == ["lake"]


def test_none_deletes_a_field_wherever_it_is() -> None:
    data = packet('xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:City="Old" '
                  'photoshop:State="Keep">')
    merged = merge_values(data, {"city": None}, PROV)
    assert read_values(merged) == {"state": "Keep"}


def test_a_capture_time_that_is_no_date_is_skipped_for_the_next_one() -> None:
    data = packet('xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
                  'exif:DateTimeOriginal="ne led 28 10:54:20 2024" photoshop:DateCreated="2024-01-28T10:54:20">')
    assert read_values(data) == {"datetime_original": "2024-01-28T10:54:20"}


def test_utc_capture_time_reads_as_offset_zero() -> None:
    data = packet('xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:DateCreated="2024-05-12T12:03:07Z">')
    assert read_values(data) == {"datetime_original": "2024-05-12T12:03:07Z", "offset_time": "+00:00"}


_XML_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff",
                                   min_codepoint=0x20), min_size=1, max_size=30).map(str.strip).filter(bool)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(city=_XML_TEXT, model=_XML_TEXT, tags=st.lists(_XML_TEXT, min_size=1, max_size=4, unique=True),
       lat=st.floats(-90, 90), lon=st.floats(-180, 180), alt=st.floats(-500, 9000),
       f_number=st.floats(0.5, 64), iso=st.integers(1, 409600))
def test_any_values_read_back_and_merge_is_idempotent(city, model, tags, lat, lon, alt, f_number, iso) -> None:
    values = {"city": city, "model": model, "tags": tags, "gps_latitude": lat, "gps_longitude": lon,
              "gps_altitude": alt, "f_number": f_number, "iso": iso}
    prov = Provenance(1, 1, "2026-11-28T02:00:00+00:00", (), tuple(values))
    data = merge_values(None, values, prov)
    got = read_values(data)
    assert (got["city"], got["model"], got["tags"], got["iso"]) == (city, model, tags, iso)
    assert got["gps_latitude"] == pytest.approx(lat, abs=1e-9)
    assert got["gps_longitude"] == pytest.approx(lon, abs=1e-9)
    assert got["gps_altitude"] == pytest.approx(alt, abs=1e-4)
    assert got["f_number"] == pytest.approx(f_number, rel=1e-6)
    assert merge_values(data, values, prov) == data
    assert remove_values(data, values, {}) is None


@pytest.mark.parametrize(("values", "reason"), [
    ({"gps_latitude": 91.0}, "outside -90..90"),
    ({"make": "Can\x01on"}, "control characters"),
    ({"city": "bad \ufffe char"}, "control characters"),
    ({"datetime_original": "yesterday"}, "not an ISO 8601"),
    ({"iso": 0}, "not a positive number"),
    ({"f_number": "f/2.8"}, "not a number"),
    ({"gps_altitude": float("inf")}, "not a finite number"),
    ({"gps_latitude": float("nan")}, "not a finite number"),
    ({"offset_time": "2h"}, "not an offset"),
    ({"rating": 5}, "unknown metadata fields: rating"),
])
def test_values_xmp_cannot_hold_are_refused(values: dict, reason: str) -> None:
    with pytest.raises(SidecarError, match=reason):
        merge_values(None, values, PROV)


def test_the_field_table_holds_every_metadata_field_in_order() -> None:
    assert tuple(FIELDS) == CANONICAL_FIELDS


def test_every_field_is_written_to_the_properties_of_the_field_table() -> None:
    for field, spec in FIELDS.items():
        if field in ("tags", "offset_time"):
            continue
        assert tuple(spec.to_xmp(VALUES[field])) == spec.xmp_props


# -- hostile input ---------------------------------------------------------------------------------------------
_XMP_OPEN = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{_RDF}"><rdf:Description rdf:about="" '
             'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:format>')
_XMP_CLOSE = "</dc:format></rdf:Description></rdf:RDF></x:xmpmeta>"
BILLION_LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE x:xmpmeta [\n <!ENTITY lol "lol">\n'
                  + "".join(f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
                            for i in range(1, 10))
                  + "]>\n" + _XMP_OPEN + "&lol9;" + _XMP_CLOSE).encode()
XXE = ('<?xml version="1.0"?>\n<!DOCTYPE x:xmpmeta [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
       + _XMP_OPEN + "&xxe;" + _XMP_CLOSE).encode()
EXTERNAL_DTD = ('<?xml version="1.0"?>\n<!DOCTYPE x:xmpmeta SYSTEM "http://127.0.0.1:9/evil.dtd">\n'
                + _XMP_OPEN + "x" + _XMP_CLOSE).encode()


@pytest.mark.parametrize(("data", "reason"), [
    pytest.param(BILLION_LAUGHS, "DOCTYPE", id="billion-laughs"),
    pytest.param(XXE, "DOCTYPE", id="xxe-etc-passwd"),
    pytest.param(EXTERNAL_DTD, "DOCTYPE", id="external-dtd"),
    pytest.param(bytes(range(1, 256)) * 64, "not UTF-8 text", id="binary-junk"),
    pytest.param(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "NUL", id="png-header"),
    pytest.param(packet("").replace(b"<rdf:Description", b"<rdf:Desc\x00ription"), "NUL", id="nul-inside"),
    pytest.param(b"", "empty", id="empty"),
    pytest.param(b"   \n", "empty", id="whitespace"),
    pytest.param(b"<html><body>not xmp</body></html>", "no rdf:RDF", id="not-xmp"),
    pytest.param(b"<?xml version='1.0'?>\n<x:xmpmeta xmlns:x='adobe:ns:meta/'>\n<rdf:RDF>\n", "line 3",
                 id="unbound-prefix"),
    pytest.param(packet("").replace(b"</rdf:Description>", b"</rdf:Descr>"), "not well-formed XML at line 5",
                 id="mismatched-tag"),
    pytest.param(packet(">" + "<a>" * 5000 + "</a>" * 5000), "Excessive depth", id="deep-nesting"),
])
def test_hostile_or_broken_input_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(SidecarError, match=reason) as info:
        parse_sidecar(data)
    assert "root:" not in str(info.value)
    with pytest.raises(SidecarError):
        merge_values(data, {"city": "x"}, PROV)


def test_fifty_megabytes_are_refused_before_parsing_without_memory_blow_up() -> None:
    huge = packet(" " * (50 * 2**20))
    tracemalloc.start()
    try:
        with pytest.raises(SidecarError, match="over the 16777216 byte limit"):
            merge_values(huge, {"city": "x"}, PROV)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20, f"refusing a 50 MB sidecar allocated {peak} bytes"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-8"])
def test_boms_are_honoured(encoding: str) -> None:
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-8": b"\xef\xbb\xbf"}[encoding]
    data = bom + packet('xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:City="Zürich">'
                        ).decode().encode(encoding)
    assert read_values(data)["city"] == "Zürich"
    assert read_values(merge_values(data, {"state": "ZH"}, PROV)) == {"city": "Zürich", "state": "ZH"}


# -- golden examples (sidecar/examples) ------------------------------------------------------------------------
EXAMPLES = Path(__file__).resolve().parent.parent / "sidecar" / "examples"
GOLDEN_VALUES = {"gps_latitude": 47.376887, "gps_longitude": 8.541694, "gps_altitude": 408.0,
                 "city": "Zürich", "country": "Switzerland", "country_code": "CH", "tags": ["holiday", "lake"]}
GOLDEN_PROV = Provenance(group_id=3, operation_id=11, applied_at="2026-11-28T02:30:00+00:00",
                         sources=tuple((f, "/photos/2026-07/IMG_2041.jpg", "sha256:5e884898da280471")
                                       for f in GOLDEN_VALUES), fields=tuple(GOLDEN_VALUES))


@pytest.mark.parametrize("name", ["darktable", "digikam", "lightroom"])
def test_golden_examples_regenerate_to_the_same_bytes(name: str) -> None:
    before = (EXAMPLES / f"{name}.before.xmp").read_bytes()
    after = merge_values(before, GOLDEN_VALUES, GOLDEN_PROV)
    if os.environ.get("METASYNC_REGEN_GOLDEN"):
        (EXAMPLES / f"{name}.after.xmp").write_bytes(after)
    assert after == (EXAMPLES / f"{name}.after.xmp").read_bytes()
    assert foreign_part(after) == foreign_part(before)
