"""XMP sidecars as bytes: hardened parsing, merging our values without clobbering, provenance, removal.

This is metasync's only XMP writer, and it never touches the file system: apply/revert (the journal) read and
write the files and call these functions. Layout rules (the format is specified in sidecar/README.md):

- A property we own is replaced where it already is (attribute or element form, whatever prefix the file binds
  to its namespace). Properties that do not exist yet, and our provenance, go into one rdf:Description of our
  own, inserted as the first child of rdf:RDF and declaring the prefixes we use.
- Everything else is kept as it was: other Descriptions, unknown namespaces, comments, the <?xpacket?> wrapper
  and its padding (kept verbatim as text), attribute order and prefixes.
- Output is always UTF-8 (an input in UTF-16/32 is re-encoded; its XML declaration and xpacket begin mark are
  fixed to match).
"""
from __future__ import annotations

import codecs
import logging
import re
import xml.etree.ElementTree as std_et
from dataclasses import dataclass
from typing import Any, Iterable, Mapping
from xml.parsers import expat

import defusedxml.ElementTree as defused_et
from defusedxml import DTDForbidden
from lxml import etree

from ..errors import SidecarError
from ..fields import FIELDS, NOT_XML_CHAR, first_text
from ..models import CANONICAL_FIELDS
from ..timeutil import parse_local, split_offset

log = logging.getLogger(__name__)

MAX_SIDECAR_BYTES = 16 * 1024 * 1024  # real sidecars are < 100 KB; darktable's biggest stacks < 1 MB
METASYNC_NS = "http://ns.metasync.dev/1.0/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XMPMETA_NS = "adobe:ns:meta/"
TOOLKIT = "metasync XMP 1.0"
XPACKET_ID = "W5M0MpCehiHzreSzNTczkc9d"

# Prefixes as we write them; existing files may bind other prefixes to the same URIs (xap: for xmp:, ...).
NAMESPACES: dict[str, str] = {
    "exif": "http://ns.adobe.com/exif/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "exifEX": "http://cipa.jp/exif/1.0/",
    "aux": "http://ns.adobe.com/exif/1.0/aux/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "Iptc4xmpCore": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "metasync": METASYNC_NS,
}
# Tag lists of hosts that we extend (union) only when the file already has them.
_LR_NS = "http://ns.adobe.com/lightroom/1.0/"
_DIGIKAM_NS = "http://www.digikam.org/ns/1.0/"
_TAG_LISTS_IF_PRESENT = (f"{{{_LR_NS}}}hierarchicalSubject", f"{{{_DIGIKAM_NS}}}TagsList")
# Tag list -> the property of ours recording which of its items we added (so revert takes out only those).
_ADDED_TAGS = dict(zip((f"{{{NAMESPACES['dc']}}}subject", *_TAG_LISTS_IF_PRESENT),
                       ("addedTags", "addedHierarchicalSubjects", "addedTagsList")))

_DESC = f"{{{RDF_NS}}}Description"
_LI = f"{{{RDF_NS}}}li"
_CONTAINERS = {f"{{{RDF_NS}}}{k}" for k in ("Bag", "Seq", "Alt")}
_RDF_ATTRS = {f"{{{RDF_NS}}}{k}" for k in ("about", "ID", "nodeID", "parseType", "resource")}
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

_TIME = FIELDS["datetime_original"]


def _clark(prop: str) -> str:
    prefix, local = prop.split(":", 1)
    return f"{{{NAMESPACES[prefix]}}}{local}"


def _ms(local: str) -> str:
    return f"{{{METASYNC_NS}}}{local}"


# Our property order (the field table's): createdProperties is listed in it, so output is deterministic.
_PROP_ORDER = [p for f in FIELDS.values() for p in f.xmp_props]


def _prop_rank(prop: str) -> tuple[int, str]:
    return (_PROP_ORDER.index(prop) if prop in _PROP_ORDER else len(_PROP_ORDER), prop)


@dataclass(frozen=True)
class Provenance:
    """Who wrote what into a sidecar: stored in our namespace (sidecar/README.md)."""

    group_id: int
    operation_id: int
    applied_at: str  # ISO 8601
    sources: tuple[tuple[str, str, str | None], ...]  # (field, source path, source content hash)
    fields: tuple[str, ...]  # canonical fields we own now in this sidecar


# ---------------------------------------------------------------------------------------------------------------
# Parsing


@dataclass
class XmpDoc:
    """A parsed packet: the root element tree plus the text around it (xpacket PIs, padding) kept verbatim."""

    root: etree._Element
    rdf: etree._Element  # the rdf:RDF element (the root itself in a bare packet)
    prologue: str
    epilogue: str
    newline: str = "\n"  # the parser turns CRLF into LF; files written with CRLF (Windows) get it back

    def descriptions(self) -> list[etree._Element]:
        return [c for c in self.rdf if c.tag == _DESC]

    def to_bytes(self) -> bytes:
        body = etree.tostring(self.root, encoding="unicode", with_tail=False)
        body = _layout_start_tags(body).replace("\n", self.newline)
        return (self.prologue + body + self.epilogue).encode("utf-8")


# lxml writes every start tag on one line. Exiv2 (darktable, digiKam), Adobe (Lightroom) and ExifTool put the
# namespaces and attributes of a Description, of a struct and of darktable's history items one per line; we lay
# such tags out the same way so that a merged sidecar still reads (and diffs) like the host's own. Whitespace
# inside a start tag carries no meaning. lxml escapes '<', '>' and '"' in attribute values, so the patterns
# below cannot mis-split; comments are left alone. Tags other than a Description that declare namespaces
# (x:xmpmeta) stay on one line.
_LINE_START_TAG = re.compile(r'(?m)^([ \t]*)<([\w.-]+(?::[\w.-]+)?)((?:\s+[\w.:-]+="[^"]*")+)\s*(/?)>')
_ATTR = re.compile(r'\s+([\w.:-]+="[^"]*")')
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def _layout_start_tags(body: str) -> str:
    comments = [c.span() for c in _COMMENT.finditer(body)]

    def layout(m: re.Match[str]) -> str:
        indent, name, attrs, close = m.group(1), m.group(2), _ATTR.findall(m.group(3)), m.group(4)
        ns = [a for a in attrs if a.startswith("xmlns")]
        is_description = name.split(":")[-1] == "Description"
        in_comment = any(start < m.start() < end for start, end in comments)
        if len(attrs) < 2 or (ns and not is_description) or in_comment:
            return m.group(0)
        unit = _unit(indent)
        about = [a for a in attrs if is_description and a.split("=", 1)[0].endswith(":about")][:1]
        rest = [a for a in attrs if a not in about and a not in ns]
        return (f"{indent}<{name}" + "".join(f" {a}" for a in about)
                + "".join(f"\n{indent}{unit * 2}{a}" for a in ns)
                + "".join(f"\n{indent}{unit}{a}" for a in rest) + f"{close}>")
    return _LINE_START_TAG.sub(layout, body)


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_XML_DECL_ENC = re.compile(r"""\A(<\?xml[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2""")
_XPACKET_BEGIN = re.compile(r"""(<\?xpacket\s+begin\s*=\s*)(["'])[^"']*\2""")


def _decode(data: bytes) -> tuple[str, bool]:
    """Bytes to text by BOM (UTF-8 default); returns (text, was_utf8)."""
    if len(data) > MAX_SIDECAR_BYTES:
        raise SidecarError(f"XMP sidecar is {len(data)} bytes, over the {MAX_SIDECAR_BYTES} byte limit: refused")
    encoding, start = "utf-8", 0
    for bom, enc in _BOMS:
        if data.startswith(bom):
            encoding, start = enc, len(bom)
            break
    else:
        if data[:2] == b"<\x00":
            encoding = "utf-16-le"
        elif data[:2] == b"\x00<":
            encoding = "utf-16-be"
    if encoding == "utf-8" and b"\x00" in data:
        raise SidecarError("XMP sidecar contains NUL bytes: binary data, not an XMP packet")
    try:
        text = data[start:].decode(encoding)
    except UnicodeDecodeError as exc:
        raise SidecarError(f"XMP sidecar is not {encoding.upper()} text (undecodable byte at offset "
                           f"{exc.start + start}): not an XMP packet") from None
    if "\x00" in text:
        raise SidecarError("XMP sidecar contains NUL characters: binary data, not an XMP packet")
    if not text.strip():
        raise SidecarError("XMP sidecar is empty")
    return text, encoding == "utf-8"


class _RootSpan:
    """Parser target that builds nothing and notes where the root element starts and ends (byte offsets)."""

    def __init__(self, raw: bytes) -> None:
        self.raw, self.depth, self.span = raw, 0, (0, len(raw))
        self.expat: Any = None

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if self.depth == 0:
            self.first = self.expat.CurrentByteIndex
        self.depth += 1

    def end(self, tag: str) -> None:
        self.depth -= 1
        if self.depth == 0:
            at = self.expat.CurrentByteIndex  # at "</" of the end tag, or just past "/>" of an empty root
            self.span = (self.first, self.raw.index(b">", at) + 1 if self.raw.startswith(b"</", at) else at)

    def close(self) -> tuple[int, int]:
        return self.span


def _check_safe(raw: bytes) -> tuple[int, int]:
    """Refuse DTDs (entity expansion, external entities) and say where a packet is not well-formed.

    Returns the byte span of the root element, so the text around it (xpacket wrapper, padding) is kept verbatim.
    """
    target = _RootSpan(raw)
    parser = defused_et.DefusedXMLParser(target=target, forbid_dtd=True)  # entities exist only in a DTD
    target.expat = parser.parser
    try:
        parser.feed(raw)
        return parser.close()
    except DTDForbidden:
        raise SidecarError("XMP sidecar has a DOCTYPE; XMP never needs one and it can carry entity-expansion or "
                           "external-entity attacks: refused") from None
    except std_et.ParseError as exc:
        line, col = exc.position
        raise SidecarError(f"XMP sidecar is not well-formed XML at line {line}, column {col + 1}: "
                           f"{expat.ErrorString(exc.code)}") from None


def _parser() -> etree.XMLParser:
    """A fresh parser per call: lxml parsers must not be shared between threads (the bridge has several)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_blank_text=False, remove_comments=False, remove_pis=False)


def parse_sidecar(data: bytes) -> XmpDoc:
    """Parse an XMP packet, hardened: size cap, encodings by BOM, no DTD/entities; SidecarError says why not."""
    text, was_utf8 = _decode(data)
    text = _XML_DECL_ENC.sub(r"\1\2UTF-8\2", text, count=1)
    if not was_utf8:
        text = _XPACKET_BEGIN.sub("\\1\\2\ufeff\\2", text, count=1)
    raw = text.encode("utf-8")
    first, last = _check_safe(raw)
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as exc:  # well-formed (expat said so) but beyond libxml2's limits, e.g. depth
        raise SidecarError(f"XMP sidecar is refused at line {exc.lineno}: {exc.msg}") from None
    rdf = root if root.tag == f"{{{RDF_NS}}}RDF" else root.find(f".//{{{RDF_NS}}}RDF")
    if rdf is None:
        raise SidecarError("XMP sidecar has no rdf:RDF element: not an XMP packet")
    # kept verbatim but for leading whitespace: meaningless, and ExifTool does not recognise such a packet
    newline = "\r\n" if b"\r\n" in raw[first:last] else "\n"
    return XmpDoc(root, rdf, raw[:first].decode("utf-8").lstrip(), raw[last:].decode("utf-8"), newline)


# ---------------------------------------------------------------------------------------------------------------
# Generic property access (prefix- and form-agnostic)


@dataclass
class _Occ:
    desc: etree._Element
    elem: etree._Element | None  # None: attribute form on desc


def _occurrences(doc: XmpDoc, clark: str) -> list[_Occ]:
    out: list[_Occ] = []
    for desc in doc.descriptions():
        if clark in desc.attrib:
            out.append(_Occ(desc, None))
        out.extend(_Occ(desc, el) for el in desc if el.tag == clark)
    return out


def _li_texts(elem: etree._Element) -> list[str]:
    for child in elem:
        if child.tag in _CONTAINERS:
            return [(li.text or "").strip() for li in child if li.tag == _LI]
    return []


def _occ_value(occ: _Occ, clark: str) -> str | list[str] | None:
    if occ.elem is None:
        return occ.desc.get(clark)
    el = occ.elem
    if any(c.tag in _CONTAINERS for c in el):
        return _li_texts(el)
    if el.get(f"{{{RDF_NS}}}resource") is not None:
        return el.get(f"{{{RDF_NS}}}resource")
    value = el.find(f"{{{RDF_NS}}}value")
    if value is not None:
        return (value.text or "").strip()
    return (el.text or "").strip()


def _get(doc: XmpDoc, clark: str) -> str | list[str] | None:
    occ = _occurrences(doc, clark)
    return _occ_value(occ[0], clark) if occ else None


def _indent_before(el: etree._Element) -> str:
    prev = el.getprevious()
    ws = prev.tail if prev is not None else el.getparent().text
    return ws.rsplit("\n", 1)[-1] if ws and not ws.strip() else ""


def _unit(indent: str) -> str:
    return "\t" if indent.startswith("\t") else " "


def _remove(el: etree._Element) -> None:
    """Remove an element (its tail goes with it in lxml) keeping the closing-tag indentation of the parent."""
    parent = el.getparent()
    if el.getnext() is None:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = el.tail
        else:
            parent.text = el.tail
    parent.remove(el)


def _place(desc: etree._Element, el: etree._Element) -> None:
    """Put a new property into a Description: before our provenance if there is any, else last; indented."""
    children = [c for c in desc if isinstance(c.tag, str)]
    anchor = next((c for c in children if c.tag.startswith(f"{{{METASYNC_NS}}}")), None)
    if anchor is not None and not el.tag.startswith(f"{{{METASYNC_NS}}}"):
        el.tail = anchor.getprevious().tail if anchor.getprevious() is not None else desc.text
        anchor.addprevious(el)
    else:
        _append(desc, el)


def _append(parent: etree._Element, el: etree._Element) -> None:
    """Append a child with the indentation of its siblings (one level deeper than the parent if it has none)."""
    if len(parent):
        last = parent[-1]
        el.tail = last.tail
        last.tail = last.getprevious().tail if last.getprevious() is not None else parent.text
    else:
        indent = _indent_before(parent)
        parent.text = "\n" + indent + _unit(indent)
        el.tail = "\n" + indent
    parent.append(el)


def _fill(el: etree._Element, value: str | list[str] | list[dict[str, str]], container: str) -> None:
    """Set a property element's content: text, or an rdf container of lis (strings or structs), indented."""
    for child in list(el):
        el.remove(child)
    for key in list(el.attrib):
        del el.attrib[key]
    el.text = None
    if isinstance(value, str):
        el.text = value
        return
    box = etree.SubElement(el, f"{{{RDF_NS}}}{container}")
    for item in value:
        li = etree.SubElement(box, _LI)
        if isinstance(item, str):
            li.text = item
        else:
            li.set(f"{{{RDF_NS}}}parseType", "Resource")
            for key, text in item.items():
                etree.SubElement(li, _ms(key)).text = text
    indent = _indent_before(el)
    etree.indent(el, space=_unit(indent), level=len(indent))


def _set(doc: XmpDoc, clark: str, value: str | list | None, container: str = "Seq") -> bool:
    """Set (or with None delete) a property wherever it is; a new one goes into our Description.

    Returns True when the property did not exist before (we created it).
    """
    occ = _occurrences(doc, clark)
    for extra in occ[1:] if value is not None else occ:
        if extra.elem is None:
            del extra.desc.attrib[clark]
        else:
            _remove(extra.elem)
    if value is None:
        return False
    if not occ:
        el = etree.Element(clark)
        _place(_our_description(doc), el)
        _fill(el, value, container)
        return True
    first = occ[0]
    if first.elem is not None:
        _fill(first.elem, value, container)
    elif isinstance(value, str):
        first.desc.set(clark, value)
    else:  # an array written as an attribute by some tool: move it into element form in the same place
        del first.desc.attrib[clark]
        el = etree.Element(clark)
        _place(first.desc, el)
        _fill(el, value, container)
    return False


def _our_description(doc: XmpDoc) -> etree._Element:
    """The Description that holds our new properties: one declaring all our prefixes, else a new first one."""
    wanted = set(NAMESPACES.values())
    for desc in doc.descriptions():
        if _is_ours(desc) and wanted <= set(desc.nsmap.values()):
            return desc
    rdf = doc.rdf
    about = next((d.get(f"{{{RDF_NS}}}about") for d in doc.descriptions()
                  if d.get(f"{{{RDF_NS}}}about") is not None), "")
    desc = etree.SubElement(rdf, _DESC, nsmap=dict(NAMESPACES))
    desc.set(f"{{{RDF_NS}}}about", about)
    rdf.remove(desc)
    has_children = any(isinstance(c.tag, str) for c in rdf)
    ws = rdf.text if rdf.text and not rdf.text.strip() else ""
    if has_children or not ws:
        desc.tail = rdf.text
    else:  # empty rdf:RDF: its text is the closing-tag indentation
        indent = ws.rsplit("\n", 1)[-1]
        desc.tail = ws
        rdf.text = "\n" + indent + _unit(indent)
    rdf.insert(0, desc)
    return desc


def _is_ours(desc: etree._Element) -> bool:
    """A Description we added: it declares our namespace itself (not inherited from rdf:RDF)."""
    return desc.nsmap.get("metasync") == METASYNC_NS and desc.getparent().nsmap.get("metasync") != METASYNC_NS


def _has_properties(desc: etree._Element, but_ours: bool = False) -> bool:
    """Whether a Description holds any property (with but_ours: any that is not metasync's own)."""
    def counts(name: str) -> bool:
        return not (but_ours and name.startswith(f"{{{METASYNC_NS}}}"))
    return any(k not in _RDF_ATTRS and k != _XML_LANG and counts(k) for k in desc.attrib) or \
        any(isinstance(c.tag, str) and counts(c.tag) for c in desc)


# ---------------------------------------------------------------------------------------------------------------
# Canonical values (each field's XMP codec is in the field table)


def read_values(data: bytes | XmpDoc) -> dict[str, Any]:
    """The canonical values present in a sidecar (absent fields are left out; tags present even when empty)."""
    doc = data if isinstance(data, XmpDoc) else parse_sidecar(data)
    values = {name: f.from_xmp(lambda prop: _get(doc, _clark(prop))) for name, f in FIELDS.items()}
    return {name: value for name, value in values.items() if value is not None}


# ---------------------------------------------------------------------------------------------------------------
# Provenance


def _struct(li: etree._Element) -> dict[str, str]:
    """Fields of a struct li in either layout (rdf:parseType="Resource" or a nested rdf:Description)."""
    node = li.find(_DESC) if li.find(_DESC) is not None else li
    out = {etree.QName(k).localname: v for k, v in node.attrib.items() if k.startswith(f"{{{METASYNC_NS}}}")}
    for child in node:
        if isinstance(child.tag, str) and child.tag.startswith(f"{{{METASYNC_NS}}}"):
            out[etree.QName(child).localname] = (child.text or "").strip()
    return out


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def read_provenance(data: bytes | XmpDoc) -> Provenance | None:
    """Our provenance record, or None when the sidecar has none (or only a damaged one)."""
    doc = data if isinstance(data, XmpDoc) else parse_sidecar(data)
    group = first_text(_get(doc, _ms("group")))
    if group is None:
        return None
    sources: list[tuple[str, str, str | None]] = []
    for occ in _occurrences(doc, _ms("sources"))[:1]:
        for box in (occ.elem if occ.elem is not None else []):
            for li in (box if box.tag in _CONTAINERS else []):
                s = _struct(li)
                if "field" in s and "path" in s:
                    sources.append((s["field"], s["path"], s.get("hash") or None))
    try:
        return Provenance(
            group_id=int(group),
            operation_id=int(first_text(_get(doc, _ms("operation"))) or 0),
            applied_at=first_text(_get(doc, _ms("appliedAt"))) or "",
            sources=tuple(sources),
            fields=tuple(_as_list(_get(doc, _ms("fields")))),
        )
    except ValueError:
        log.warning("ignoring a damaged metasync provenance record")
        return None


@dataclass
class _Bookkeeping:
    """What remove_values needs beyond Provenance: properties we created, tags we added, packet we created."""

    created_props: set[str]
    added_tags: dict[str, list[str]]  # tag list (Clark name) -> items we added to it
    created_sidecar: bool

    @classmethod
    def read(cls, doc: XmpDoc) -> "_Bookkeeping":
        return cls(set(_as_list(_get(doc, _ms("createdProperties")))),
                   {lst: _as_list(_get(doc, _ms(name))) for lst, name in _ADDED_TAGS.items()},
                   first_text(_get(doc, _ms("createdSidecar"))) == "True")


_PROVENANCE_PROPS = ("group", "operation", "appliedAt", "fields", "sources",
                     "createdProperties", *_ADDED_TAGS.values(), "createdSidecar")


def _escape(text: str) -> str:
    """A path as XML can hold it: characters XML cannot carry (undecodable file-name bytes) become \\uXXXX."""
    return NOT_XML_CHAR.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _write_provenance(doc: XmpDoc, prov: Provenance | None, book: _Bookkeeping) -> None:
    """Write (or with None remove) the provenance; the bookkeeping stays while anything of ours is left."""
    values: dict[str, Any] = dict.fromkeys(_PROVENANCE_PROPS)
    if prov is not None:
        values.update({
            "group": str(prov.group_id), "operation": str(prov.operation_id), "appliedAt": prov.applied_at,
            "fields": list(prov.fields) or None,
            "sources": [{"field": f, "path": _escape(p), **({"hash": h} if h else {})}
                        for f, p, h in prov.sources] or None,
        })
    if prov is not None or book.created_props or any(book.added_tags.values()):
        values.update({
            "createdProperties": sorted(book.created_props, key=_prop_rank) or None,
            **{name: book.added_tags.get(lst) or None for lst, name in _ADDED_TAGS.items()},
            "createdSidecar": "True" if book.created_sidecar else None,
        })
    for name in _PROVENANCE_PROPS:
        container = "Seq" if name == "sources" else "Bag"
        _set(doc, _ms(name), values[name], container)


# ---------------------------------------------------------------------------------------------------------------
# Merge and removal


_NEW_PACKET = (f'<?xpacket begin="\ufeff" id="{XPACKET_ID}"?>\n'
               f'<x:xmpmeta xmlns:x="{XMPMETA_NS}" x:xmptk="{TOOLKIT}">\n'
               f' <rdf:RDF xmlns:rdf="{RDF_NS}">\n'
               f' </rdf:RDF>\n'
               f'</x:xmpmeta>\n'
               f'<?xpacket end="w"?>\n')


def _tag_union(doc: XmpDoc, tags: str | Iterable[str], book: _Bookkeeping) -> None:
    """dc:subject gets every tag (created as a Bag if absent); host tag lists get them only where present."""
    wanted = FIELDS["tags"].to_xmp(tags)["dc:subject"]
    for clark in _ADDED_TAGS:
        occ = _occurrences(doc, clark)
        if not occ and clark not in _TAG_LISTS_IF_PRESENT and wanted:
            _set(doc, clark, wanted, "Bag")
            book.created_props.add("dc:subject")
            added = wanted
        elif occ:
            added = _append_items(doc, occ[0], clark, wanted)
        else:
            continue
        known = book.added_tags.setdefault(clark, [])
        known += [t for t in added if t not in known]


def _append_items(doc: XmpDoc, occ: _Occ, clark: str, items: list[str]) -> list[str]:
    """Append the missing items to an array property in place (keeping its Bag/Seq); returns those added."""
    current = _as_list(_occ_value(occ, clark))
    missing = [t for t in items if t not in current]
    box = next((c for c in occ.elem if c.tag in _CONTAINERS), None) if occ.elem is not None else None
    if box is None:  # text or attribute form: rebuild as a Bag holding the old and the new items
        if missing:
            _set(doc, clark, current + missing, "Bag")
        return missing
    for tag in missing:
        li = etree.Element(_LI)
        li.text = tag
        _append(box, li)
    return missing


def _remove_tags(doc: XmpDoc, keep: set[str], book: _Bookkeeping) -> None:
    """Take the items we added out of each tag list, except those in `keep` (the previous tags)."""
    for clark, added in book.added_tags.items():
        drop = set(added) - keep
        for occ in _occurrences(doc, clark):
            for box in (c for c in occ.elem if c.tag in _CONTAINERS) if occ.elem is not None else ():
                for li in [li for li in box if li.tag == _LI and (li.text or "").strip() in drop]:
                    _remove(li)
    book.added_tags = {}
    if "dc:subject" in book.created_props and not _as_list(_get(doc, _clark("dc:subject"))):
        _set(doc, _clark("dc:subject"), None)
    book.created_props.discard("dc:subject")  # what is left in it is the host's now


def _set_offset(doc: XmpDoc, offset: str | None) -> bool:
    """Put an offset into the datetime properties that exist (XMP has no OffsetTimeOriginal); False if none."""
    found = False
    for prop in _TIME.xmp_props:
        for occ in _occurrences(doc, _clark(prop)):
            current = _occ_value(occ, _clark(prop))
            if isinstance(current, str) and parse_local(current) is not None:
                _set(doc, _clark(prop), _TIME.to_xmp(split_offset(current)[0], offset)[prop])
                found = True
                break
    return found


def _write_field(doc: XmpDoc, field: str, value: Any, book: _Bookkeeping, offset: str | None) -> None:
    """Write a field's properties; one that did not exist before is recorded as created by us."""
    for extra in FIELDS[field].also_owned:
        _set(doc, _clark(extra), None)
    for prop, text in FIELDS[field].to_xmp(value, offset).items():
        if _set(doc, _clark(prop), text, "Seq"):
            book.created_props.add(prop)


def _restore_field(doc: XmpDoc, field: str, previous: Any, book: _Bookkeeping, offset: str | None) -> None:
    """Take a field out: properties we created go; older ones get `previous` back in place (None: they go).

    A property a host deleted since stays deleted.
    """
    for extra in FIELDS[field].also_owned:
        _set(doc, _clark(extra), None)
    encoded = FIELDS[field].to_xmp(previous, offset) if previous is not None else {}
    for prop in FIELDS[field].xmp_props:
        if prop in book.created_props or prop not in encoded:
            _set(doc, _clark(prop), None)
        elif _occurrences(doc, _clark(prop)):
            _set(doc, _clark(prop), encoded[prop], "Seq")
        book.created_props.discard(prop)


def merge_values(existing: bytes | None, values: Mapping[str, Any], provenance: Provenance) -> bytes:
    """Write canonical values (field -> value; None removes the field) and our provenance into a sidecar.

    Everything we do not own in `existing` is kept; `existing=None` starts a new packet. Deterministic:
    merging the same values twice gives the same bytes. Raises SidecarError for a malformed sidecar or a
    value XMP cannot hold.
    """
    unknown = set(values) - set(CANONICAL_FIELDS)
    if unknown:
        raise SidecarError(f"unknown metadata fields: {', '.join(sorted(unknown))}")
    doc = parse_sidecar(existing if existing is not None else _NEW_PACKET.encode("utf-8"))
    book = _Bookkeeping.read(doc)
    book.created_sidecar = book.created_sidecar or existing is None
    offset = FIELDS["offset_time"].checked(values["offset_time"]) if values.get("offset_time") is not None else None
    for field in CANONICAL_FIELDS:
        if field not in values:
            continue
        value = values[field]
        if field == "tags":
            _tag_union(doc, value or (), book)
        elif field == "offset_time":
            if "datetime_original" not in values and not _set_offset(doc, offset) and offset is not None:
                raise SidecarError("offset_time can only be written together with a capture time: XMP has no "
                                   "separate offset tag, it lives inside exif:DateTimeOriginal")
        elif value is None:
            _restore_field(doc, field, None, book, None)
        else:
            _write_field(doc, field, value, book, offset)
    _write_provenance(doc, provenance, book)
    return doc.to_bytes()


def remove_values(current: bytes, fields: Iterable[str], restore: Mapping[str, Any]) -> bytes | None:
    """Take our fields out of a sidecar a host may have changed since, putting back the previous values.

    For each field: a property we created is deleted; one that existed before us gets `restore[field]` back in
    place (None = absent: deleted). Tags we added are taken out of every tag list (unless `restore` has them);
    tags added by anyone else stay. The provenance loses these fields (and goes when none remain). Returns None
    when what is left is an empty packet that we created (the caller then deletes the file).
    """
    doc = parse_sidecar(current)
    book = _Bookkeeping.read(doc)
    prov = read_provenance(doc)
    wanted = set(fields)
    fields = [f for f in CANONICAL_FIELDS if f in wanted]
    offset = (FIELDS["offset_time"].checked(restore["offset_time"])
              if "offset_time" in fields and restore.get("offset_time") is not None else None)
    for field in fields:
        value = restore.get(field)
        if field == "tags":
            _remove_tags(doc, set(_as_list(value)), book)
        elif field == "offset_time":
            if "datetime_original" not in fields:
                _set_offset(doc, FIELDS["offset_time"].checked(value) if value is not None else None)
        else:
            _restore_field(doc, field, value, book, offset)
    remaining = None
    if prov is not None:
        left = tuple(f for f in prov.fields if f not in fields)
        if left:
            remaining = Provenance(prov.group_id, prov.operation_id, prov.applied_at,
                                   tuple(s for s in prov.sources if s[0] in left), left)
    _write_provenance(doc, remaining, book)
    if book.created_sidecar and remaining is None and \
            not any(_has_properties(d, but_ours=True) for d in doc.descriptions()):
        return None
    for desc in doc.descriptions():
        if _is_ours(desc):
            if not _has_properties(desc):
                _remove(desc)
            elif remaining is None:  # a host's data lives on in our Description: drop our unused prefixes
                etree.cleanup_namespaces(desc)
    return doc.to_bytes()
