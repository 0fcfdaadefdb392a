"""REFI-QDA files, so coding goes on in NVivo, ATLAS.ti, MAXQDA, QualCoder or Taguette: the
codebook (.qdc) and the project (.qdpx, a zip of project.qde and the note texts under Sources/),
written with a streaming XML writer (a project of 100,000 notes is never held in memory), and a
hardened reader for .qdc codebooks (defusedxml: no DTDs, no entities, so no XML bombs)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesImpl

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from labs.errors import Invalid

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
PROJECT_NS = "urn:QDA-XML:project:1.0"
MAX_CODEBOOK_BYTES = 2 * 1024 * 1024
MAX_CODES = 5000
MAX_DEPTH = 32
# XML 1.0 allows no control characters but tab, newline and carriage return.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_RGB = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


def xml_text(value: Any) -> str:
    return _NOT_XML.sub("", str(value))


def color6(value: str) -> str:
    """#abc -> #aabbcc, lower case."""
    value = value.lower()
    return "#" + "".join(c * 2 for c in value[1:]) if len(value) == 4 else value


@dataclass
class CodeNode:
    """A code as written or read: nested children, memo references when written."""

    name: str
    description: str = ""
    color: str | None = None
    guid: str = ""
    children: list[CodeNode] = field(default_factory=list)
    note_refs: list[str] = field(default_factory=list)


class Writer:
    """Elements and text onto a binary stream, in the default namespace of the root."""

    def __init__(self, out: IO[bytes]) -> None:
        self.xml = XMLGenerator(out, encoding="utf-8", short_empty_elements=True)
        self.xml.startDocument()

    def start(self, tag: str, /, **attrs: Any) -> None:
        self.xml.startElement(tag, AttributesImpl({k: xml_text(v) for k, v in attrs.items() if v is not None}))

    def end(self, tag: str) -> None:
        self.xml.endElement(tag)

    def empty(self, tag: str, /, **attrs: Any) -> None:
        self.start(tag, **attrs)
        self.end(tag)

    def text(self, tag: str, value: str, /, **attrs: Any) -> None:
        self.start(tag, **attrs)
        self.xml.characters(xml_text(value))
        self.end(tag)

    def codes(self, codes: Iterable[CodeNode]) -> None:
        self.start("Codes")
        for code in codes:
            self._code(code)
        self.end("Codes")

    def _code(self, code: CodeNode) -> None:
        self.start("Code", guid=code.guid, name=code.name, isCodable="true", color=code.color)
        if code.description:
            self.text("Description", code.description)
        for ref in code.note_refs:
            self.empty("NoteRef", targetGUID=ref)
        for child in code.children:
            self._code(child)
        self.end("Code")

    def close(self) -> None:
        self.xml.endDocument()


def write_codebook(out: IO[bytes], codes: list[CodeNode], origin: str) -> None:
    """A REFI-QDA codebook (.qdc)."""
    w = Writer(out)
    w.start("CodeBook", xmlns=CODEBOOK_NS, origin=origin)
    w.codes(codes)
    w.end("CodeBook")
    w.close()


# --- reading a codebook --------------------------------------------------------------------


def _not_refi() -> Invalid:
    return Invalid(
        "This is not a REFI-QDA codebook: a .qdc file holds a CodeBook element with Codes "
        "(namespace urn:QDA-XML:codebook:1.0).",
        {"file": "Not a REFI-QDA codebook (.qdc)."},
    )


def read_codebook(data: bytes) -> list[CodeNode]:
    """The codes of a .qdc file, nested. Malformed XML, DTDs and entities (XML bombs), another
    kind of XML, and codes without names are refused with a clear message."""
    if not data.strip():
        raise Invalid("The file is empty.", {"file": "Choose a .qdc file."})
    if len(data) > MAX_CODEBOOK_BYTES:
        raise Invalid(
            "A codebook file is at most %(n)s MB.", {"file": "At most %(n)s MB."}, n=MAX_CODEBOOK_BYTES // 2**20
        )
    try:
        root = safe_xml.fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise Invalid(
            "The file declares a DTD or entities, which a codebook never needs; it was not read.",
            {"file": "DTDs and entities are not accepted."},
        )
    except ParseError as e:
        raise Invalid(
            "The file is not well-formed XML (%(problem)s).", {"file": "Not well-formed XML."}, problem=str(e)
        )
    if root.tag != f"{{{CODEBOOK_NS}}}CodeBook":
        raise _not_refi()
    codes = root.find(f"{{{CODEBOOK_NS}}}Codes")
    if codes is None:
        raise _not_refi()
    found = [0]
    result = [_read_code(el, found, 1) for el in codes.findall(f"{{{CODEBOOK_NS}}}Code")]
    if not result:
        raise Invalid("The codebook holds no codes.", {"file": "No codes in this file."})
    return result


def _read_code(el: Element, found: list[int], depth: int) -> CodeNode:
    found[0] += 1
    if found[0] > MAX_CODES or depth > MAX_DEPTH:
        raise Invalid(
            "A codebook may hold at most %(n)s codes, nested at most %(depth)s deep.",
            {"file": "Too many codes or too deep."},
            n=MAX_CODES,
            depth=MAX_DEPTH,
        )
    name = (el.get("name") or "").strip()
    if not name:
        raise Invalid("A code in the file has no name.", {"file": "Every code needs a name."})
    color = (el.get("color") or "").strip()
    description = el.find(f"{{{CODEBOOK_NS}}}Description")
    return CodeNode(
        name=name,
        description=(description.text or "").strip() if description is not None else "",
        color=color6(color) if _RGB.fullmatch(color) else None,
        guid=el.get("guid") or "",
        children=[_read_code(child, found, depth + 1) for child in el.findall(f"{{{CODEBOOK_NS}}}Code")],
    )
