//! The Excel return template of a dataset: the return as a named table on
//! the `Return` sheet, one column per schema column with its type; a
//! dropdown on every code-list column (the lists on a hidden `Lists` sheet,
//! so a list of 250 country codes works); whole-number and date rules; an
//! input message describing each column from the schema; and an
//! `Instructions` sheet. Excel enforces the rules as a focal point types;
//! `fedreport validate` still checks everything when the file comes back.

use fedreport_contract::Registry;
use fedreport_contract::schema::{CodeList, ColType, Column, DatasetSchema};
use rust_xlsxwriter::{
    DataValidation, DataValidationRule, ExcelDateTime, Format, FormatAlign, Formula, Table, TableColumn, TableStyle,
    Workbook, Worksheet, XlsxError,
};

use crate::{OfficeError, Result};

/// Rows of the table a focal point fills (Excel's table grows past them).
pub const TEMPLATE_ROWS: u32 = 1000;
/// Name of the sheet holding the return.
pub const RETURN_SHEET: &str = "Return";
/// Name of the hidden sheet holding the code lists.
pub const LISTS_SHEET: &str = "Lists";

/// The values a column allows, when it has a list: its own values, the
/// registry's reporting members, or the ISO 3166-1 codes (and `UNK`).
pub fn allowed_values(column: &Column, registry: &Registry) -> Option<Vec<String>> {
    if let Some(v) = &column.values {
        return Some(v.clone());
    }
    match column.codelist {
        Some(CodeList::Member) => Some(registry.reporting_members().map(|m| m.code.clone()).collect()),
        Some(CodeList::Iso3) => {
            let mut codes: Vec<String> = registry.iso3_codes().into_iter().map(str::to_string).collect();
            codes.sort();
            codes.push("UNK".into());
            Some(codes)
        }
        None if column.ty == ColType::Bool => Some(vec!["true".into(), "false".into()]),
        None => None,
    }
}

/// The name of the table of a dataset's template: `Return_{dataset}`.
pub fn table_name(schema: &DatasetSchema) -> String {
    format!("Return_{}", schema.dataset)
}

/// Excel's column letters for a 0-based index.
fn letters(mut col: u16) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII letters")
}

/// At most `max` characters (Excel's limits on validation titles and messages).
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// The Excel template of a dataset, as the bytes of an `.xlsx` file.
pub fn template(schema: &DatasetSchema, registry: &Registry, contract: &str) -> Result<Vec<u8>> {
    write(schema, registry, contract).map_err(|source| OfficeError::Xlsx { dataset: schema.dataset.clone(), source })
}

fn write(schema: &DatasetSchema, registry: &Registry, contract: &str) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let lists: Vec<Option<Vec<String>>> = schema.columns.iter().map(|c| allowed_values(c, registry)).collect();
    let last = TEMPLATE_ROWS;

    let sheet = workbook.add_worksheet();
    sheet.set_name(RETURN_SHEET)?;
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let text = Format::new().set_num_format("@");
    let columns: Vec<TableColumn> = schema.columns.iter().map(|c| TableColumn::new().set_header(&c.name)).collect();
    let table = Table::new().set_name(table_name(schema)).set_style(TableStyle::Medium2).set_columns(&columns);
    sheet.add_table(0, 0, last, schema.columns.len() as u16 - 1, &table)?;
    let mut list_col: u16 = 0;
    for (i, (c, list)) in schema.columns.iter().zip(&lists).enumerate() {
        let col = i as u16;
        sheet.set_column_width(col, (c.name.len() as f64 + 4.0).max(12.0))?;
        match c.ty {
            ColType::Date32 => sheet.set_column_range_format(col, col, &date)?,
            ColType::String => sheet.set_column_range_format(col, col, &text)?,
            _ => sheet,
        };
        let mut v = match (list, c.ty) {
            (Some(values), _) => {
                let range = format!(
                    "={LISTS_SHEET}!${col_letters}$2:${col_letters}${end}",
                    col_letters = letters(list_col),
                    end = values.len() + 1
                );
                list_col += 1;
                DataValidation::new().allow_list_formula(Formula::new(range))
            }
            (None, ColType::Int32 | ColType::Int8) => {
                let lo = c.min.unwrap_or(if c.ty == ColType::Int8 { -128 } else { i32::MIN as i64 }) as i32;
                let hi = c.max.unwrap_or(if c.ty == ColType::Int8 { 127 } else { i32::MAX as i64 }) as i32;
                DataValidation::new().allow_whole_number(DataValidationRule::Between(lo, hi))
            }
            (None, ColType::Date32) => DataValidation::new().allow_date(DataValidationRule::Between(
                ExcelDateTime::from_ymd(1990, 1, 1)?,
                ExcelDateTime::from_ymd(2100, 12, 31)?,
            )),
            (None, _) => match c.max_length {
                Some(n) => DataValidation::new().allow_text_length(DataValidationRule::LessThanOrEqualTo(n as u32)),
                None => DataValidation::new().allow_any_value(),
            },
        };
        let required = if c.nullable { "may be left empty" } else { "required" };
        let rules = c.rules_in_words();
        let message = format!(
            "{}{}{} ({}, {required}).{}",
            c.description.as_deref().unwrap_or(""),
            if c.description.is_some() { " " } else { "" },
            c.ty.name(),
            if list.is_some() { "choose from the list" } else { "type a value" },
            if rules.is_empty() { String::new() } else { format!(" {}", rules.join("; ")) }
        );
        v = v.set_input_title(cut(&c.name, 32))?.set_input_message(cut(message.trim(), 255))?;
        v = v
            .set_error_title(cut(&c.name, 32))?
            .set_error_message(cut(&format!("Not allowed here: {message}"), 255))?;
        sheet.add_data_validation(1, col, last, col, &v)?;
    }
    sheet.set_freeze_panes(1, 0)?;

    instructions(workbook.add_worksheet(), schema, contract)?;

    let sheet = workbook.add_worksheet();
    sheet.set_name(LISTS_SHEET)?;
    let mut out_col: u16 = 0;
    for (c, list) in schema.columns.iter().zip(&lists) {
        let Some(values) = list else { continue };
        sheet.write_string(0, out_col, &c.name)?;
        for (r, v) in values.iter().enumerate() {
            sheet.write_string(r as u32 + 1, out_col, v)?;
        }
        out_col += 1;
    }
    sheet.set_hidden(true);
    workbook.save_to_buffer()
}

fn instructions(sheet: &mut Worksheet, schema: &DatasetSchema, contract: &str) -> Result<(), XlsxError> {
    sheet.set_name("Instructions")?;
    sheet.set_column_width(0, 24)?;
    sheet.set_column_width(1, 100)?;
    let bold = Format::new().set_bold();
    let wrap = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    sheet.write_string_with_format(0, 0, format!("{contract}: {}", schema.title), &bold)?;
    let lines = [
        ("Dataset", format!("{} (schema {})", schema.dataset, schema.schema_version)),
        ("What it is", schema.description.clone()),
        ("How to fill it", format!("Fill one row per record in the table on the '{RETURN_SHEET}' sheet; pick coded values from the dropdowns. Keep the column names as they are.")),
        ("Before you send it", "Check it with `fedreport validate FILE.xlsx`, or upload it in the web front: every problem is listed with its cell.".to_string()),
    ];
    for (i, (k, v)) in lines.iter().enumerate() {
        sheet.write_string_with_format(i as u32 + 2, 0, *k, &bold)?;
        sheet.write_string_with_format(i as u32 + 2, 1, v, &wrap)?;
    }
    let start = lines.len() as u32 + 3;
    sheet.write_string_with_format(start, 0, "Column", &bold)?;
    sheet.write_string_with_format(start, 1, "What it holds", &bold)?;
    for (i, c) in schema.columns.iter().enumerate() {
        let rules = c.rules_in_words();
        let words = format!(
            "{} — {}, {}{}",
            c.description.as_deref().unwrap_or(&c.name),
            c.ty.name(),
            if c.nullable { "may be left empty" } else { "required" },
            if rules.is_empty() { String::new() } else { format!("; {}", rules.join("; ")) }
        );
        sheet.write_string(start + 1 + i as u32, 0, &c.name)?;
        sheet.write_string_with_format(start + 1 + i as u32, 1, words, &wrap)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters() {
        assert_eq!(
            [0, 1, 25, 26, 27, 51, 52, 701, 702].map(letters),
            ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]
        );
    }
}
