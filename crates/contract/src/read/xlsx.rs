//! Excel workbooks (`.xlsx`) as returns.
//!
//! The return is the workbook's named table when it has one (the templates'
//! `Return_{dataset}`; a table whose name starts with `Return` first), else
//! the first sheet, whose first non-empty row is the header. Every cell
//! becomes the text a CSV export of it would hold — whole numbers without a
//! decimal point, dates (numbers with a date format) as `YYYY-MM-DD`,
//! formulas as the value Excel last calculated — so the validator reads a
//! workbook exactly as it reads CSV, and both convert to the same canonical
//! Parquet. Blank rows are skipped; findings carry the cell as Excel shows it
//! (`Return!C7`) through the [`Layout`].
//!
//! calamine reads the cells, streamed one at a time: a sheet is never laid
//! out as a dense grid, so a stray cell at `XFD1048576` costs one cell, not a
//! billion. The table's place (its `ref`) is read from the table part itself,
//! for the same reason.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Cursor, Read};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use calamine::{Data, Reader, Xlsx};
use futures::stream::{self, StreamExt};

use super::{Format, Opened};
use crate::finding::{Finding, RuleCode};

/// Rows per batch.
const BATCH_ROWS: usize = 8192;
/// Cells a sheet may hold (values, not formatting) before it is refused:
/// far above any return (a 1,048,576-row sheet of 15 columns is 16 million).
const MAX_CELLS: usize = 40_000_000;
/// Bytes of one table part read to find its name and place.
const MAX_TABLE_PART: u64 = 1 << 20;

/// Where each value of a workbook return sits on its sheet, to name cells in
/// findings.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The sheet, as its tab shows it.
    pub sheet: String,
    /// The table read, when the return was a named table.
    pub table: Option<String>,
    /// The sheet row (1-based) of the header.
    header_row: u32,
    /// Column name → sheet column (0-based).
    columns: HashMap<String, u32>,
    /// The sheet row (1-based) of each data row; blank rows are not data rows.
    rows: Vec<u32>,
}

impl Layout {
    /// The place of a finding as a person finds it in Excel: `Return!C7` for
    /// a row and column, `Return!A7:F7` for a whole row, the header cell for
    /// a column.
    pub fn place(&self, row: Option<u64>, column: Option<&str>) -> Option<String> {
        let sheet = sheet_ref(&self.sheet);
        let col = column.and_then(|c| self.columns.get(c)).copied();
        match (row, col) {
            (Some(r), Some(c)) => {
                let excel = *self.rows.get(usize::try_from(r.checked_sub(1)?).ok()?)?;
                Some(format!("{sheet}!{}{excel}", column_letters(c)))
            }
            (Some(r), None) => {
                let excel = *self.rows.get(usize::try_from(r.checked_sub(1)?).ok()?)?;
                let first = self.columns.values().min()?;
                let last = self.columns.values().max()?;
                Some(format!("{sheet}!{}{excel}:{}{excel}", column_letters(*first), column_letters(*last)))
            }
            (None, Some(c)) => Some(format!("{sheet}!{}{}", column_letters(c), self.header_row)),
            (None, None) => None,
        }
    }
}

/// `A`, `Z`, `AA`, `XFD` for 0-based column numbers.
pub fn column_letters(col: u32) -> String {
    let mut n = col as u64 + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        out.push(b'A' + rem);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A sheet name as Excel writes it in a reference: quoted when it has
/// anything but letters, digits and `_`.
fn sheet_ref(sheet: &str) -> String {
    if !sheet.is_empty() && sheet.chars().all(|c| c.is_alphanumeric() || c == '_') {
        sheet.to_string()
    } else {
        format!("'{}'", sheet.replace('\'', "''"))
    }
}

fn corrupt(message: impl Into<String>) -> Finding {
    Finding::new(RuleCode::CorruptFile, message)
}

/// Open a workbook held in memory.
pub fn open_xlsx(bytes: Bytes) -> Result<Opened, Finding> {
    // calamine asserts on some malformed parts; a hostile file must give a
    // finding, never take the process down.
    match std::panic::catch_unwind(move || read_workbook(bytes)) {
        Ok(result) => result,
        Err(_) => Err(corrupt(
            "the workbook is damaged and cannot be read; open it in Excel or LibreOffice, save it as .xlsx again and resubmit",
        )),
    }
}

/// A table part: its name, its place and whether it has a header row.
struct TablePart {
    name: String,
    start: (u32, u32),
    end: (u32, u32),
    header_rows: u32,
}

fn read_workbook(bytes: Bytes) -> Result<Opened, Finding> {
    let tables = table_parts(&bytes);
    let mut book = Xlsx::new(Cursor::new(bytes)).map_err(|e| {
        corrupt(format!(
            "not readable as an Excel workbook ({e}); save it from Excel as \"Excel Workbook (.xlsx)\" and resubmit"
        ))
    })?;
    book.load_tables().map_err(|e| corrupt(format!("the workbook's tables cannot be read: {e}")))?;
    let sheets = book.sheet_names();
    // The return's table: one named Return…, else the first table, on the sheet that holds it.
    let mut chosen: Option<(String, &TablePart)> = None;
    for prefer_return in [true, false] {
        for sheet in &sheets {
            let mut names: Vec<String> = book.table_names_in_sheet(sheet).into_iter().cloned().collect();
            names.sort();
            for name in names {
                if prefer_return && !name.to_ascii_lowercase().starts_with("return") {
                    continue;
                }
                if let Some(part) = tables.iter().find(|t| t.name == name) {
                    chosen.get_or_insert((sheet.clone(), part));
                }
            }
        }
    }
    let sheet = match &chosen {
        Some((sheet, _)) => sheet.clone(),
        None => sheets.first().cloned().ok_or_else(|| corrupt("the workbook has no sheets"))?,
    };
    let cells = read_cells(&mut book, &sheet)?;
    let merged = book.merge_cells_by_sheet_name(&sheet).map_err(|e| {
        corrupt(format!(
            "the merged cells of sheet {sheet} cannot be read ({e}); save the workbook from Excel again and resubmit"
        ))
    })?;

    let (header_row, first_col, last_col, names, last_row, table) = match chosen {
        Some((_, part)) => {
            if part.header_rows == 0 {
                return Err(corrupt(format!(
                    "table {} on sheet {sheet} has no header row; turn on \"Header Row\" in Excel's Table Design and name the columns",
                    part.name
                )));
            }
            let header = part.start.0;
            let names = (part.start.1..=part.end.1)
                .map(|c| cells.get(&(header, c)).map(text_of).unwrap_or_default().trim().to_string())
                .collect::<Vec<_>>();
            // Rows typed under the table in its columns (a tool that does not grow the table)
            // are read too: a value is never left out unseen.
            let below = cells
                .range((part.end.0 + 1, 0)..)
                .filter(|&(&(_, c), v)| (part.start.1..=part.end.1).contains(&c) && !is_blank(v))
                .map(|(&(r, _), _)| r)
                .max();
            let last_row = below.unwrap_or(part.end.0).max(part.end.0);
            (header, part.start.1, part.end.1, names, last_row, Some(part.name.clone()))
        }
        None => {
            let Some((&(header, _), _)) = cells.iter().find(|(_, v)| !text_of(v).trim().is_empty()) else {
                return Err(corrupt(format!(
                    "the workbook has no table and its first sheet ({sheet}) is empty; put the return on the first sheet, its column names in the first row"
                )));
            };
            let in_header: Vec<u32> = cells
                .range((header, 0)..=(header, u32::MAX))
                .filter(|(_, v)| !text_of(v).trim().is_empty())
                .map(|(&(_, c), _)| c)
                .collect();
            // Without a table the return is everything on the sheet: a value beside the header's
            // columns belongs to a column with no name (reported below), not to nothing.
            let below = cells.range((header + 1, 0)..).map(|(&(_, c), _)| c);
            let first = below.clone().fold(in_header[0], u32::min);
            let last = below.fold(*in_header.last().unwrap_or(&in_header[0]), u32::max);
            let names = (first..=last)
                .map(|c| cells.get(&(header, c)).map(text_of).unwrap_or_default().trim().to_string())
                .collect::<Vec<_>>();
            let last_row = cells.keys().map(|(r, _)| *r).max().unwrap_or(header);
            (header, first, last, names, last_row, None)
        }
    };
    let place = |r: u32, c: u32| format!("{}!{}{}", sheet_ref(&sheet), column_letters(c), r + 1);

    // Merged cells inside the return hide values and shift columns.
    let mut inside: Vec<String> = merged
        .iter()
        .filter(|m| m.start.0 <= last_row && m.end.0 >= header_row && m.start.1 <= last_col && m.end.1 >= first_col)
        .map(|m| format!("{}:{}{}", place(m.start.0, m.start.1), column_letters(m.end.1), m.end.0 + 1))
        .collect();
    inside.sort();
    if let Some(first) = inside.first() {
        let more = if inside.len() > 1 {
            format!(" (and {} more: {})", inside.len() - 1, inside[1..].join(", "))
        } else {
            String::new()
        };
        return Err(corrupt(format!(
            "cells {first} are merged{more}; a return has one value per cell — unmerge them (Home → Merge & Center → Unmerge Cells) and fill each cell"
        )));
    }

    // A column with values but no name cannot be read as any column of the return
    // (one pass over the cells, however wide the sheet).
    let unnamed: HashSet<u32> =
        names.iter().enumerate().filter(|(_, n)| n.is_empty()).map(|(i, _)| first_col + i as u32).collect();
    if !unnamed.is_empty()
        && let Some((&(r, c), _)) = cells
            .range((header_row + 1, 0)..)
            .filter(|&(&(r, c), v)| r <= last_row && unnamed.contains(&c) && !is_blank(v))
            .min_by_key(|&(&(r, c), _)| (c, r))
    {
        return Err(corrupt(format!(
            "column {} has values (first at {}) but no name in the header row ({}); write the column's name in the header or delete the column",
            column_letters(c),
            place(r, c),
            place(header_row, c)
        )));
    }
    // Unnamed empty columns are left out.
    let kept: Vec<(u32, String)> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.is_empty())
        .map(|(i, n)| (first_col + i as u32, n.clone()))
        .collect();
    if kept.is_empty() {
        return Err(corrupt(format!("the header row {} on sheet {sheet} has no column names", header_row + 1)));
    }

    // Data rows: every non-blank row under the header, within the table.
    let kept_cols: HashSet<u32> = kept.iter().map(|(c, _)| *c).collect();
    let mut rows: BTreeMap<u32, Vec<(u32, &Data)>> = BTreeMap::new();
    for (&(r, c), v) in cells.range((header_row + 1, 0)..) {
        if r > last_row {
            break;
        }
        if kept_cols.contains(&c) && !is_blank(v) {
            rows.entry(r).or_default().push((c, v));
        }
    }
    let index: HashMap<u32, usize> = kept.iter().enumerate().map(|(i, (c, _))| (*c, i)).collect();
    let mut findings = Vec::new();
    let mut masked = HashSet::new();
    let mut values: Vec<Vec<Option<String>>> = Vec::with_capacity(rows.len());
    let mut excel_rows = Vec::with_capacity(rows.len());
    for (n, (r, row)) in rows.into_iter().enumerate() {
        let data_row = n as u64 + 1;
        let mut out = vec![None; kept.len()];
        for (c, v) in row {
            let i = index[&c];
            match v {
                Data::Error(e) => {
                    let name = &kept[i].1;
                    findings.push(
                        Finding::new(
                            RuleCode::Type,
                            format!(
                                "{name} holds the Excel error {e} (cell {}); correct the formula or type the value",
                                place(r, c)
                            ),
                        )
                        .column(name)
                        .row(data_row)
                        .value(e.to_string()),
                    );
                    masked.insert((data_row, name.clone()));
                }
                other => out[i] = Some(text_of(other)).filter(|t| !t.is_empty()),
            }
        }
        values.push(out);
        excel_rows.push(r + 1);
    }

    let schema: SchemaRef =
        Arc::new(Schema::new(kept.iter().map(|(_, n)| Field::new(n, DataType::Utf8, true)).collect::<Vec<_>>()));
    let layout = Layout {
        sheet: sheet.clone(),
        table,
        header_row: header_row + 1,
        columns: kept.iter().map(|(c, n)| (n.clone(), *c)).collect(),
        rows: excel_rows,
    };
    let batches = batches(schema.clone(), values)?;
    Ok(Opened {
        format: Format::Xlsx,
        schema,
        batches: stream::iter(batches.into_iter().map(Ok)).boxed(),
        findings,
        masked,
        layout: Some(Arc::new(layout)),
    })
}

/// The rows as batches of text columns; a header-only return gives one empty batch.
fn batches(schema: SchemaRef, values: Vec<Vec<Option<String>>>) -> Result<Vec<RecordBatch>, Finding> {
    let mut out = Vec::new();
    let width = schema.fields().len();
    let chunks: Vec<&[Vec<Option<String>>]> =
        if values.is_empty() { vec![&values[..]] } else { values.chunks(BATCH_ROWS).collect() };
    for chunk in chunks {
        let mut builders: Vec<StringBuilder> = (0..width).map(|_| StringBuilder::new()).collect();
        for row in chunk {
            for (b, v) in builders.iter_mut().zip(row) {
                b.append_option(v.as_deref());
            }
        }
        let cols: Vec<ArrayRef> = builders.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
        out.push(RecordBatch::try_new(schema.clone(), cols).map_err(|e| corrupt(e.to_string()))?);
    }
    Ok(out)
}

/// Every cell of a sheet that holds a value, by (row, column), streamed.
fn read_cells(book: &mut Xlsx<Cursor<Bytes>>, sheet: &str) -> Result<BTreeMap<(u32, u32), Data>, Finding> {
    let damaged = |e: calamine::XlsxError| {
        corrupt(format!(
            "sheet {sheet} cannot be read ({e}); open the workbook in Excel or LibreOffice, save it as .xlsx again and resubmit"
        ))
    };
    let mut reader = book.worksheet_cells_reader(sheet).map_err(damaged)?;
    let mut cells = BTreeMap::new();
    while let Some(cell) = reader.next_cell().map_err(damaged)? {
        let value: Data = cell.get_value().clone().into();
        if matches!(value, Data::Empty) {
            continue;
        }
        cells.insert(cell.get_position(), value);
        if cells.len() > MAX_CELLS {
            return Err(corrupt(format!(
                "sheet {sheet} holds more than {MAX_CELLS} cells; a return is far smaller — submit it as CSV or Parquet"
            )));
        }
    }
    Ok(cells)
}

/// Empty, or text of only spaces.
fn is_blank(v: &Data) -> bool {
    match v {
        Data::Empty => true,
        Data::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A cell's value as a CSV export of it would hold it.
fn text_of(v: &Data) -> String {
    match v {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number(*f),
        Data::Bool(b) => b.to_string(),
        Data::Error(e) => e.to_string(),
        Data::DateTime(d) if d.is_datetime() => {
            let (y, mo, da, h, mi, s, ms) = d.to_ymd_hms_milli();
            if (h, mi, s, ms) == (0, 0, 0, 0) {
                format!("{y:04}-{mo:02}-{da:02}")
            } else {
                format!("{y:04}-{mo:02}-{da:02} {h:02}:{mi:02}:{s:02}")
            }
        }
        Data::DateTime(d) => number(d.as_f64()),
    }
}

/// Whole numbers without a decimal point (Excel stores every number as a
/// double); others in the shortest form that reads back to the same double.
fn number(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// The name and place of every table part (`xl/tables/*.xml`), read with a
/// bounded buffer; unreadable parts are left out (calamine then reports them).
fn table_parts(bytes: &Bytes) -> Vec<TablePart> {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes.clone())) else { return Vec::new() };
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .filter(|n| n.starts_with("xl/tables/") && n.ends_with(".xml"))
        .collect();
    let mut out = Vec::new();
    for name in names {
        let Ok(file) = zip.by_name(&name) else { continue };
        let mut xml = Vec::new();
        if file.take(MAX_TABLE_PART).read_to_end(&mut xml).is_err() {
            continue;
        }
        if let Some(part) = table_part(&xml) {
            out.push(part);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn table_part(xml: &[u8]) -> Option<TablePart> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)
                if e.local_name().as_ref() == "table" =>
            {
                let (mut name, mut reference, mut header_rows) = (None, None, 1u32);
                for a in e.attributes().flatten() {
                    let value = a.value.to_string();
                    match a.key.local_name().as_ref() {
                        "displayName" => name = Some(value),
                        "name" if name.is_none() => name = Some(value),
                        "ref" => reference = Some(value),
                        "headerRowCount" => header_rows = value.parse().unwrap_or(1),
                        _ => {}
                    }
                }
                let (start, end) = parse_ref(&reference?)?;
                return Some(TablePart { name: name?, start, end, header_rows });
            }
            quick_xml::events::Event::Eof => return None,
            _ => buf.clear(),
        }
    }
}

/// `A1:L1001` → ((0, 0), (1000, 11)).
fn parse_ref(r: &str) -> Option<((u32, u32), (u32, u32))> {
    let (a, b) = r.split_once(':').unwrap_or((r, r));
    let (a, b) = (parse_cell(a)?, parse_cell(b)?);
    (a.0 <= b.0 && a.1 <= b.1).then_some((a, b))
}

fn parse_cell(cell: &str) -> Option<(u32, u32)> {
    let cell = cell.replace('$', "");
    let split = cell.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = cell.split_at(split);
    if letters.is_empty() || letters.len() > 3 || !letters.chars().all(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let col = letters.bytes().fold(0u32, |n, b| n * 26 + u32::from(b - b'A' + 1)) - 1;
    let row: u32 = digits.parse().ok()?;
    ((1..=1_048_576).contains(&row) && col < 16_384).then_some((row - 1, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_and_refs() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(16_383), "XFD");
        assert_eq!(parse_ref("A1:L1001"), Some(((0, 0), (1000, 11))));
        assert_eq!(parse_ref("$B$3"), Some(((2, 1), (2, 1))));
        assert_eq!(parse_ref("L1:A1"), None);
        assert_eq!(parse_ref("A0:B2"), None);
        assert_eq!(parse_ref("ZZZZ1:A1"), None);
        assert_eq!(sheet_ref("Return"), "Return");
        assert_eq!(sheet_ref("My return"), "'My return'");
        assert_eq!(sheet_ref("O'Neil"), "'O''Neil'");
    }

    #[test]
    fn numbers_read_as_csv_writes_them() {
        assert_eq!(number(42.0), "42");
        assert_eq!(number(-3.0), "-3");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(1e20), "100000000000000000000");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
