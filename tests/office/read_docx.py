"""Read a Word document with python-docx (PyPI), independently of the Rust
writer, and print what a person would find in it as JSON: each paragraph's
style and text (numbered ones marked), the tables' cells, the page header
and footer, every tracked insertion and deletion with its author, and
every picture with its name, alt text, size on the page and its image's
own size in pixels (read from the PNG's header).
Used by tests/it/docx.rs.

usage: read_docx.py FILE.docx
"""

import json
import sys

from docx import Document
from docx.oxml.ns import qn

d = Document(sys.argv[1])
body = d.element.body
paragraphs = []
for p in d.paragraphs:
    numbered = p._p.pPr is not None and p._p.pPr.numPr is not None
    # python-docx's p.text leaves out tracked insertions: read every w:t
    text = "".join(t.text or "" for t in p._p.iter(qn("w:t")))
    paragraphs.append({"style": p.style.name if p.style is not None else None, "text": text, "numbered": numbered})
tables = [[[c.text for c in row.cells] for row in t.rows] for t in d.tables]
changes = []
for kind in ("ins", "del"):
    for e in body.iter(qn(f"w:{kind}")):
        tag = "w:t" if kind == "ins" else "w:delText"
        changes.append({
            "kind": kind,
            "author": e.get(qn("w:author")),
            "text": "".join(t.text or "" for t in e.iter(qn(tag))),
        })
pictures = []
for inline in body.iter(qn("wp:inline")):
    pr = inline.find(qn("wp:docPr"))
    extent = inline.find(qn("wp:extent"))
    blip = next(inline.iter(qn("a:blip")))
    part = d.part.related_parts[blip.get(qn("r:embed"))]
    blob = part.blob
    assert blob[:8] == b"\x89PNG\r\n\x1a\n", f"{part.partname} is not a PNG"
    pictures.append({
        "id": pr.get("id"),
        "name": pr.get("name"),
        "descr": pr.get("descr"),
        "cx": int(extent.get("cx")),
        "cy": int(extent.get("cy")),
        "png": [int.from_bytes(blob[16:20], "big"), int.from_bytes(blob[20:24], "big")],
        "part": str(part.partname),
    })
section = d.sections[0]
print(json.dumps({
    "paragraphs": paragraphs,
    "tables": tables,
    "header": [p.text for p in section.header.paragraphs],
    "footer_fields": [i.text for i in section.footer._element.iter(qn("w:instrText"))],
    "changes": changes,
    "pictures": pictures,
}))
