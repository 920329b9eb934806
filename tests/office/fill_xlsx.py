"""Fill an Excel return template as a person would in Excel, with openpyxl
(independently of the Rust reader): numbers typed as numbers, dates as dates
with a date format, true/false as booleans, text as text; the return's table
grown to cover the rows. Used by tests/it/office.rs.

usage: fill_xlsx.py TEMPLATE.xlsx ROWS.json OUT.xlsx
ROWS.json: {"columns": [...], "rows": [[[kind, value] | null, ...], ...]}
with kind one of int, bool, date (YYYY-MM-DD), text.
"""

import datetime
import json
import sys

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

template, rows_file, out = sys.argv[1:4]
with open(rows_file, encoding="utf-8") as f:
    spec = json.load(f)
wb = load_workbook(template)
ws = wb["Return"]
header = [c.value for c in ws[1]]
where = [header.index(name) + 1 for name in spec["columns"]]
for r, row in enumerate(spec["rows"], start=2):
    for col, cell in zip(where, row):
        if cell is None:
            continue
        kind, value = cell
        target = ws.cell(row=r, column=col)
        if kind == "int":
            target.value = int(value)
        elif kind == "bool":
            target.value = bool(value)
        elif kind == "date":
            target.value = datetime.date.fromisoformat(value)
            target.number_format = "yyyy-mm-dd"
        else:
            target.value = str(value)
table = next(iter(ws.tables.values()))
last = len(spec["rows"]) + 1
end_row = int("".join(ch for ch in table.ref.split(":")[1] if ch.isdigit()))
if last > end_row:
    table.ref = f"A1:{get_column_letter(len(header))}{last}"
wb.save(out)
print("null")
