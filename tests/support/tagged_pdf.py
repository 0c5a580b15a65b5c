"""Read a tagged PDF's structure tree the way assistive technology does.

``pypdf`` walks the tree (element types, attributes, alternative text, which page an element
starts on); poppler's ``pdfinfo -struct-text`` gives the text inside each element, which pypdf
cannot map from marked content. Elements come out in reading order, depth first.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject

PDFINFO = shutil.which("pdfinfo") or "/usr/bin/pdfinfo"


@dataclass
class Element:
    """One structure element: its type without the slash (``H1``, ``Table``, ``TD``)."""

    type: str
    page: int | None
    attributes: dict[str, Any]
    alt: str | None
    id: str | None
    children: list[Element] = field(default_factory=list)
    text: str = ""

    def iter(self, *types: str):
        """This element and its descendants in reading order, optionally of some types only."""
        if not types or self.type in types:
            yield self
        for child in self.children:
            yield from child.iter(*types)


@dataclass
class TaggedPdf:
    catalog: DictionaryObject
    info: dict[str, Any]
    xmp: str
    root: Element  # the Document element

    def all(self, *types: str) -> list[Element]:
        return list(self.root.iter(*types))


def read(path: Path) -> TaggedPdf:
    reader = PdfReader(path)
    catalog = reader.trailer["/Root"]
    pages = {page.indirect_reference.idnum: n for n, page in enumerate(reader.pages, start=1)}
    assert "/StructTreeRoot" in catalog, "not a tagged PDF: it has no structure tree"
    tree = catalog["/StructTreeRoot"]
    documents = [_element(kid.get_object(), pages) for kid in tree["/K"]]
    assert len(documents) == 1 and documents[0].type == "Document"
    _add_text(documents[0], _struct_text(path))
    metadata = catalog.get("/Metadata")
    xmp = metadata.get_object().get_data().decode() if metadata is not None else ""
    return TaggedPdf(catalog, dict(reader.metadata or {}), xmp, documents[0])


def _element(node: DictionaryObject, pages: dict[int, int]) -> Element:
    page_ref = node.raw_get("/Pg") if "/Pg" in node else None
    attributes = node.get("/A")
    element = Element(
        type=str(node["/S"]).lstrip("/"),
        page=pages.get(page_ref.idnum) if page_ref is not None else None,
        attributes=dict(attributes.get_object()) if attributes is not None else {},
        alt=str(node["/Alt"]) if "/Alt" in node else None,
        id=str(node["/ID"]) if "/ID" in node else None,
    )
    kids = node.get("/K")
    if kids is not None:
        kids = kids.get_object()
        for kid in kids if isinstance(kids, ArrayObject) else [kids]:
            kid = kid.get_object()
            # Numbers are marked content, OBJR dictionaries annotations: only elements recurse.
            if isinstance(kid, DictionaryObject) and "/S" in kid:
                element.children.append(_element(kid, pages))
    return element


_LINE = re.compile(r"^(?P<indent> *)(?P<body>.*)$")


def _struct_text(path: Path) -> list[tuple[int, str, str]]:
    """(depth, type, text) for each element in ``pdfinfo -struct-text``'s outline, in order."""
    output = subprocess.run(
        [PDFINFO, "-struct-text", str(path)], check=True, capture_output=True, timeout=60
    ).stdout.decode("utf-8", "replace")
    rows: list[tuple[int, str, list[str]]] = []
    stack: list[tuple[int, list[str]]] = []
    for line in output.splitlines():
        match = _LINE.match(line)
        indent, body = len(match["indent"]), match["body"]
        if not body or body.startswith("/") or body.startswith("Object "):
            continue  # attributes and annotation references
        if body.startswith('"'):
            text = body[1:-1] if body.endswith('"') else body[1:]
            for depth, texts in stack:
                if depth < indent:
                    texts.append(text)
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        texts: list[str] = []
        stack.append((indent, texts))
        rows.append((indent, body.split()[0].rstrip(":"), texts))
    return [(depth, kind, " ".join(texts)) for depth, kind, texts in rows]


def _add_text(root: Element, rows: list[tuple[int, str, str]]) -> None:
    # Both walks are depth first over the same tree: pair them up, checking the types agree.
    elements = list(root.iter())
    assert [e.type for e in elements] == [kind for _, kind, _ in rows], "trees differ"
    for element, (_, _, text) in zip(elements, rows, strict=True):
        element.text = text
