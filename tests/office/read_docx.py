"""Read a Word document with python-docx (PyPI), independently of the Rust
writer, and print what a person would find in it as JSON: each paragraph's
style and text (numbered ones marked), the tables' cells, the page header
and footer, and every tracked insertion and deletion with its author.
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
section = d.sections[0]
print(json.dumps({
    "paragraphs": paragraphs,
    "tables": tables,
    "header": [p.text for p in section.header.paragraphs],
    "footer_fields": [i.text for i in section.footer._element.iter(qn("w:instrText"))],
    "changes": changes,
}))
