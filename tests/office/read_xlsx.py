"""Read an Excel workbook with openpyxl, independently of the Rust writer, and
print what a person would find in it as JSON: the sheets and whether they
are hidden, the tables on the Return sheet, its header row, every data
validation (type, formulas, cells, input message) and the columns of the
Lists sheet. Used by tests/it/office.rs."""

import json
import sys

from openpyxl import load_workbook

wb = load_workbook(sys.argv[1])
ret = wb["Return"]
out = {
    "sheets": [{"name": ws.title, "state": ws.sheet_state} for ws in wb.worksheets],
    "tables": {t.name: {"ref": t.ref, "columns": [c.name for c in t.tableColumns]} for t in ret.tables.values()},
    "headers": [c.value for c in ret[1]],
    "validations": [
        {
            "type": dv.type,
            "formula1": dv.formula1,
            "formula2": dv.formula2,
            "sqref": str(dv.sqref),
            "prompt_title": dv.promptTitle,
            "prompt": dv.prompt,
            "show_input": bool(dv.showInputMessage),
        }
        for dv in ret.data_validations.dataValidation
    ],
    "lists": [],
}
if "Lists" in wb.sheetnames:
    for col in wb["Lists"].iter_cols(values_only=True):
        values = [v for v in col if v is not None]
        if values:
            out["lists"].append({"header": values[0], "values": [str(v) for v in values[1:]]})
print(json.dumps(out))
