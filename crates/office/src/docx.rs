//! Word drafts: a rendered Markdown draft (the Co-Chairs' Statement, the
//! ministerial briefing, the statistical annex) as a `.docx` a co-chair's
//! office edits in Word — real heading styles (Word's navigation pane and
//! outline see them), the statement's paragraphs numbered by Word, tables,
//! and a "DRAFT — run …" header and page numbers on every page.
//!
//! Where the draft places a chart (a `<!-- chart: ID -->` line, which
//! Markdown readers do not show), the chart is drawn as a PNG picture
//! ([`crate::chart`]) with its alt text; the table of its figures follows it
//! as in the Markdown.
//!
//! Given the same draft from an earlier run, the changes since are carried
//! as tracked changes attributed to fedreport: each changed paragraph or
//! table cell shows its deleted and inserted words in Word's review pane.
//!
//! The Markdown is parsed with pulldown-cmark and written with docx-rs; the
//! bytes depend only on the text, the header and the date given (docx-rs
//! numbers revisions from a process-wide counter: they are renumbered here).

use docx_rs::{
    AbstractNumbering, AlignmentType, Delete, Docx, Footer, Header, IndentLevel, Insert, Level, LevelJc, LevelText,
    LineSpacing, NumPages, NumberFormat, Numbering, NumberingId, PageNum, Paragraph, Pic, Run, RunFonts,
    SpecialIndentType, Start, Style, StyleType, Table, TableCell, TableRow,
};
use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::chart::{EMU_PER_PX, Picture, SCALE};
use crate::{OfficeError, Result};

/// Who the tracked changes are attributed to.
pub const AUTHOR: &str = "fedreport";
/// The numbering of the numbered paragraphs (docx-rs writes its own list 1).
const PARAGRAPHS: usize = 2;
/// The width between the margins of docx-rs's A4 page (8,504 twips), in CSS pixels, less a little.
const TEXT_WIDTH_PX: u32 = 560;
/// How a draft places a chart.
const CHART_MARK: &str = "<!-- chart:";

/// What a Word draft carries beside its text.
#[derive(Debug, Clone)]
pub struct DocxOptions<'a> {
    /// The line on every page's header, e.g. "DRAFT — run r-… — not for circulation".
    pub header: String,
    /// The date of the document and of its tracked changes (RFC 3339, UTC).
    pub date: String,
    /// The same draft from an earlier run: its changes become tracked changes.
    pub previous: Option<&'a str>,
    /// The charts the draft places, drawn ([`crate::chart::pictures`]).
    pub pictures: &'a [Picture],
}

/// A run of text with its emphasis.
#[derive(Debug, Clone, PartialEq)]
struct Span {
    text: String,
    bold: bool,
    italic: bool,
}

/// A table's cells: each a list of spans.
type Cells = Vec<Vec<Span>>;

/// A block of the draft.
#[derive(Debug, Clone, PartialEq)]
enum Block {
    Heading(usize, Vec<Span>),
    Paragraph {
        spans: Vec<Span>,
        numbered: bool,
    },
    Table {
        head: Cells,
        rows: Vec<Cells>,
        right: Vec<bool>,
    },
    /// A chart, by its short name.
    Chart(String),
}

fn plain(spans: &[Span]) -> String {
    spans.iter().map(|s| s.text.as_str()).collect()
}

impl Block {
    /// The block's text, to pair blocks of two drafts.
    fn text(&self) -> String {
        match self {
            Block::Heading(l, s) => format!("#{l} {}", plain(s)),
            Block::Paragraph { spans, numbered } => format!("{}{}", if *numbered { "1. " } else { "" }, plain(spans)),
            Block::Table { head, rows, .. } => std::iter::once(head)
                .chain(rows)
                .map(|r| r.iter().map(|c| plain(c)).collect::<Vec<_>>().join(" | "))
                .collect::<Vec<_>>()
                .join("\n"),
            Block::Chart(id) => format!("[chart {id}]"),
        }
    }
}

/// The blocks of a Markdown draft.
fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let (mut bold, mut italic) = (0usize, 0usize);
    let mut spans: Vec<Span> = Vec::new();
    let mut in_item = false;
    let mut ordered: Vec<bool> = Vec::new();
    let mut table: Option<(Cells, Vec<Cells>, Vec<bool>)> = None;
    let mut row: Cells = Vec::new();
    let mut in_head = false;
    let push = |spans: &mut Vec<Span>, text: &str, bold: usize, italic: usize| {
        if text.is_empty() {
            return;
        }
        match spans.last_mut() {
            Some(last) if last.bold == (bold > 0) && last.italic == (italic > 0) => last.text.push_str(text),
            _ => spans.push(Span { text: text.to_string(), bold: bold > 0, italic: italic > 0 }),
        }
    };
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(Tag::Strong) => bold += 1,
            Event::End(TagEnd::Strong) => bold = bold.saturating_sub(1),
            Event::Start(Tag::Emphasis) => italic += 1,
            Event::End(TagEnd::Emphasis) => italic = italic.saturating_sub(1),
            Event::Start(Tag::List(start)) => ordered.push(start.is_some()),
            Event::End(TagEnd::List(_)) => {
                ordered.pop();
            }
            Event::Start(Tag::Item) => in_item = true,
            Event::End(TagEnd::Item) => {
                // a tight list item has no paragraph of its own
                if !spans.is_empty() {
                    let numbered = ordered.last() == Some(&true);
                    let mut taken = std::mem::take(&mut spans);
                    if !numbered {
                        taken.insert(0, Span { text: "• ".into(), bold: false, italic: false });
                    }
                    out.push(Block::Paragraph { spans: taken, numbered });
                }
                in_item = false;
            }
            Event::End(TagEnd::Heading(level)) => {
                let l = match level {
                    HeadingLevel::H1 => 1,
                    HeadingLevel::H2 => 2,
                    HeadingLevel::H3 => 3,
                    _ => 4,
                };
                out.push(Block::Heading(l, std::mem::take(&mut spans)));
            }
            Event::End(TagEnd::Paragraph) => {
                let numbered = in_item && ordered.last() == Some(&true);
                let bullet = in_item && !numbered;
                let mut taken = std::mem::take(&mut spans);
                if bullet {
                    taken.insert(0, Span { text: "• ".into(), bold: false, italic: false });
                }
                out.push(Block::Paragraph { spans: taken, numbered });
            }
            Event::Start(Tag::Table(align)) => {
                table = Some((
                    Vec::new(),
                    Vec::new(),
                    align.iter().map(|a| matches!(a, pulldown_cmark::Alignment::Right)).collect(),
                ))
            }
            Event::Start(Tag::TableHead) => in_head = true,
            Event::End(TagEnd::TableHead) => {
                if let Some(t) = table.as_mut() {
                    t.0 = std::mem::take(&mut row);
                }
                in_head = false;
            }
            Event::End(TagEnd::TableCell) => row.push(std::mem::take(&mut spans)),
            Event::End(TagEnd::TableRow) => {
                if let Some(t) = table.as_mut()
                    && !in_head
                {
                    t.1.push(std::mem::take(&mut row));
                }
            }
            Event::End(TagEnd::Table) => {
                if let Some((head, rows, right)) = table.take() {
                    out.push(Block::Table { head, rows, right });
                }
            }
            Event::Html(t) | Event::InlineHtml(t) => {
                if let Some(id) = t.trim().strip_prefix(CHART_MARK).and_then(|r| r.strip_suffix("-->")) {
                    out.push(Block::Chart(id.trim().to_string()));
                }
            }
            Event::Text(t) | Event::Code(t) => push(&mut spans, &t, bold, italic),
            Event::SoftBreak | Event::HardBreak => push(&mut spans, " ", bold, italic),
            _ => {}
        }
    }
    out
}

/// Word's built-in style names, so Word, LibreOffice and python-docx know them as headings.
fn styles(docx: Docx) -> Docx {
    let font = || RunFonts::new().ascii("Calibri").hi_ansi("Calibri").cs("Calibri");
    let heading = |id: &str, name: &str, size: usize, level: usize| {
        Style::new(id, StyleType::Paragraph)
            .name(name)
            .based_on("Normal")
            .next("BodyText")
            .size(size)
            .bold()
            .color("1F3864")
            .fonts(font())
            .line_spacing(LineSpacing::new().before(240).after(80))
            .outline_lvl(level)
    };
    docx.add_style(
        Style::new("Title", StyleType::Paragraph)
            .name("Title")
            .based_on("Normal")
            .next("BodyText")
            .size(40)
            .bold()
            .color("1F3864")
            .fonts(font())
            .line_spacing(LineSpacing::new().before(120).after(120)),
    )
    .add_style(heading("Heading1", "heading 1", 30, 0))
    .add_style(heading("Heading2", "heading 2", 26, 1))
    .add_style(heading("Heading3", "heading 3", 23, 2))
    .add_style(
        Style::new("BodyText", StyleType::Paragraph)
            .name("Body Text")
            .based_on("Normal")
            .size(22)
            .fonts(font())
            .line_spacing(LineSpacing::new().after(120)),
    )
    .add_style(
        Style::new("TableText", StyleType::Paragraph).name("Table Text").based_on("Normal").size(20).fonts(font()),
    )
    .add_abstract_numbering(AbstractNumbering::new(PARAGRAPHS).add_level(
        Level::new(0, Start::new(1), NumberFormat::new("decimal"), LevelText::new("%1."), LevelJc::new("left")).indent(
            Some(567),
            Some(SpecialIndentType::Hanging(567)),
            None,
            None,
        ),
    ))
    .add_numbering(Numbering::new(PARAGRAPHS, PARAGRAPHS))
}

fn run_of(span: &Span) -> Run {
    let mut run = Run::new().add_text(&span.text);
    if span.bold {
        run = run.bold();
    }
    if span.italic {
        run = run.italic();
    }
    run
}

/// A paragraph in a style, with its runs.
fn paragraph(style: &str, numbered: bool, runs: Vec<Piece>, date: &str) -> Paragraph {
    let mut p = Paragraph::new().style(style);
    if numbered {
        p = p.numbering(NumberingId::new(PARAGRAPHS), IndentLevel::new(0));
    }
    for piece in runs {
        p = match piece {
            Piece::Same(span) => p.add_run(run_of(&span)),
            Piece::Inserted(span) => p.add_insert(Insert::new(run_of(&span)).author(AUTHOR).date(date)),
            Piece::Deleted(text) => {
                p.add_delete(Delete::new().author(AUTHOR).date(date).add_run(Run::new().add_delete_text(&text)))
            }
        };
    }
    p
}

/// A piece of a paragraph: unchanged, inserted or deleted since the earlier draft.
enum Piece {
    Same(Span),
    Inserted(Span),
    Deleted(String),
}

fn same(spans: &[Span]) -> Vec<Piece> {
    spans.iter().cloned().map(Piece::Same).collect()
}

/// The words of `new` against `old`: deletions and insertions (as plain text), the rest unchanged.
fn word_changes(old: &[Span], new: &[Span]) -> Vec<Piece> {
    let (a, b) = (plain(old), plain(new));
    if a == b {
        return same(new);
    }
    let diff = similar::TextDiff::from_words(a.as_str(), b.as_str());
    let mut out = Vec::new();
    for change in diff.iter_all_changes() {
        let text = change.value().to_string();
        out.push(match change.tag() {
            similar::ChangeTag::Equal => Piece::Same(Span { text, bold: false, italic: false }),
            similar::ChangeTag::Insert => Piece::Inserted(Span { text, bold: false, italic: false }),
            similar::ChangeTag::Delete => Piece::Deleted(text),
        });
    }
    out
}

fn style_of(block: &Block) -> (&'static str, bool) {
    match block {
        Block::Heading(1, _) => ("Title", false),
        Block::Heading(2, _) => ("Heading1", false),
        Block::Heading(3, _) => ("Heading2", false),
        Block::Heading(_, _) => ("Heading3", false),
        Block::Paragraph { numbered, .. } => ("BodyText", *numbered),
        Block::Table { .. } | Block::Chart(_) => ("BodyText", false),
    }
}

fn spans_of(block: &Block) -> &[Span] {
    match block {
        Block::Heading(_, s) | Block::Paragraph { spans: s, .. } => s,
        Block::Table { .. } | Block::Chart(_) => &[],
    }
}

fn cell(spans: Vec<Piece>, right: bool, date: &str) -> TableCell {
    let mut p = paragraph("TableText", false, spans, date);
    if right {
        p = p.align(AlignmentType::Right);
    }
    TableCell::new().add_paragraph(p)
}

/// A table; with the same-shaped table of the earlier draft, its changed cells tracked.
fn table(block: &Block, old: Option<&Block>, date: &str) -> Table {
    let Block::Table { head, rows, right } = block else { unreachable!("tables only") };
    let old_rows = match old {
        Some(Block::Table { head: h, rows: r, .. }) if h.len() == head.len() && r.len() == rows.len() => Some(r),
        _ => None,
    };
    let at = |i: usize| right.get(i).copied().unwrap_or(false);
    let mut out = vec![TableRow::new(
        head.iter()
            .enumerate()
            .map(|(i, c)| {
                let bold: Vec<Span> = c.iter().map(|s| Span { bold: true, ..s.clone() }).collect();
                cell(same(&bold), at(i), date)
            })
            .collect(),
    )];
    for (r, row) in rows.iter().enumerate() {
        out.push(TableRow::new(
            row.iter()
                .enumerate()
                .map(|(i, c)| {
                    let pieces = match old_rows.and_then(|o| o.get(r)).and_then(|o| o.get(i)) {
                        Some(before) => word_changes(before, c),
                        None => same(c),
                    };
                    cell(pieces, at(i), date)
                })
                .collect(),
        ));
    }
    Table::new(out)
}

/// A Markdown draft as Word bytes.
pub fn from_markdown(markdown: &str, options: &DocxOptions) -> Result<Vec<u8>> {
    let date = options.date.as_str();
    let new = blocks(markdown);
    let placed: Vec<&Picture> = new
        .iter()
        .filter_map(|b| match b {
            Block::Chart(id) => Some(options.pictures.iter().find(|p| &p.id == id).ok_or_else(|| {
                let drawn: Vec<&str> = options.pictures.iter().map(|p| p.id.as_str()).collect();
                OfficeError::Docx {
                    message: format!("the draft places the chart {id:?}, which was not drawn (drawn: {drawn:?})"),
                }
            })),
            _ => None,
        })
        .collect::<Result<_>>()?;
    let mut docx = styles(Docx::new())
        .header(Header::new().add_paragraph(
            Paragraph::new().align(AlignmentType::Right).add_run(Run::new().add_text(&options.header).bold()),
        ))
        .footer(
            Footer::new().add_paragraph(
                Paragraph::new()
                    .align(AlignmentType::Center)
                    .add_run(Run::new().add_text("Page "))
                    .add_page_num(PageNum::new())
                    .add_run(Run::new().add_text(" of "))
                    .add_num_pages(NumPages::new()),
            ),
        )
        .created_at(date)
        .updated_at(date);
    let add = |docx: Docx, block: &Block, pieces: Vec<Piece>, old: Option<&Block>| -> Docx {
        match block {
            Block::Table { .. } => docx.add_table(table(block, old, date)),
            Block::Chart(id) => docx.add_paragraph(figure(options.pictures, id)),
            _ => {
                let (style, numbered) = style_of(block);
                docx.add_paragraph(paragraph(style, numbered, pieces, date))
            }
        }
    };
    match options.previous {
        None => {
            for b in &new {
                docx = add(docx, b, same(spans_of(b)), None);
            }
        }
        Some(previous) => {
            let old = blocks(previous);
            let (a, b): (Vec<String>, Vec<String>) =
                (old.iter().map(Block::text).collect(), new.iter().map(Block::text).collect());
            let ops = similar::capture_diff_slices(similar::Algorithm::Myers, &a, &b);
            for op in ops {
                let (tag, old_range, new_range) = op.as_tag_tuple();
                match tag {
                    similar::DiffTag::Equal => {
                        for b in &new[new_range] {
                            docx = add(docx, b, same(spans_of(b)), None);
                        }
                    }
                    similar::DiffTag::Delete => {
                        for b in &old[old_range] {
                            docx = deleted(docx, b, date);
                        }
                    }
                    similar::DiffTag::Insert => {
                        for b in &new[new_range] {
                            docx = inserted(docx, b, date, options.pictures);
                        }
                    }
                    similar::DiffTag::Replace => {
                        // paired block by block; the longer side's rest is wholly deleted or inserted
                        let (o, n) = (&old[old_range], &new[new_range]);
                        for i in 0..o.len().max(n.len()) {
                            docx = match (o.get(i), n.get(i)) {
                                (Some(ob), Some(nb)) if std::mem::discriminant(ob) == std::mem::discriminant(nb) => {
                                    add(docx, nb, word_changes(spans_of(ob), spans_of(nb)), Some(ob))
                                }
                                (Some(ob), Some(nb)) => inserted(deleted(docx, ob, date), nb, date, options.pictures),
                                (Some(ob), None) => deleted(docx, ob, date),
                                (None, Some(nb)) => inserted(docx, nb, date, options.pictures),
                                (None, None) => docx,
                            };
                        }
                    }
                }
            }
        }
    }
    let mut xml = docx.build();
    xml.document = describe_pictures(&renumber_revisions(&xml.document), &placed);
    let mut out = std::io::Cursor::new(Vec::new());
    xml.pack(&mut out).map_err(|e| OfficeError::Docx { message: e.to_string() })?;
    Ok(out.into_inner())
}

/// A block of the earlier draft that is gone, shown deleted.
fn deleted(docx: Docx, block: &Block, date: &str) -> Docx {
    match block {
        Block::Table { .. } => docx.add_paragraph(paragraph(
            "BodyText",
            false,
            vec![Piece::Deleted(format!("[table removed: {}]", block.text().lines().next().unwrap_or_default()))],
            date,
        )),
        // a chart no longer drawn: its table's removal shows the change
        Block::Chart(_) => docx,
        _ => {
            let (style, numbered) = style_of(block);
            docx.add_paragraph(paragraph(style, numbered, vec![Piece::Deleted(plain(spans_of(block)))], date))
        }
    }
}

/// A block new since the earlier draft, shown inserted.
fn inserted(docx: Docx, block: &Block, date: &str, pictures: &[Picture]) -> Docx {
    match block {
        Block::Table { .. } => docx.add_table(table(block, None, date)),
        Block::Chart(id) => docx.add_paragraph(figure(pictures, id)),
        _ => {
            let (style, numbered) = style_of(block);
            let pieces = spans_of(block).iter().cloned().map(Piece::Inserted).collect();
            docx.add_paragraph(paragraph(style, numbered, pieces, date))
        }
    }
}

/// A chart's picture in a paragraph of its own, no wider than the text
/// (`from_markdown` has checked that every placed chart was drawn).
fn figure(pictures: &[Picture], id: &str) -> Paragraph {
    let p = Paragraph::new().style("BodyText");
    let Some(picture) = pictures.iter().find(|p| p.id == id) else { return p };
    let (w, h) = if picture.width > TEXT_WIDTH_PX {
        (TEXT_WIDTH_PX, (picture.height as u64 * TEXT_WIDTH_PX as u64 / picture.width as u64) as u32)
    } else {
        (picture.width, picture.height)
    };
    let pic = Pic::new_with_dimensions(picture.png.clone(), picture.width * SCALE, picture.height * SCALE)
        .id(format!("chart_{id}"))
        .size(w * EMU_PER_PX, h * EMU_PER_PX);
    p.add_run(Run::new().add_image(pic))
}

fn xml_attr(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// docx-rs gives every picture the same `wp:docPr` (id 1, "Figure") and no
/// alt text: number them and give each its chart's title and alt text, in
/// document order (the order the draft places them).
fn describe_pictures(xml: &[u8], placed: &[&Picture]) -> Vec<u8> {
    const DOC_PR: &str = "<wp:docPr id=\"1\" name=\"Figure\" />";
    let Ok(text) = std::str::from_utf8(xml) else { return xml.to_vec() };
    let mut parts = text.split(DOC_PR);
    let mut out = String::with_capacity(text.len());
    out.push_str(parts.next().unwrap_or_default());
    for (i, part) in parts.enumerate() {
        match placed.get(i) {
            Some(p) => out.push_str(&format!(
                "<wp:docPr id=\"{}\" name=\"{}\" descr=\"{}\" />",
                i + 1,
                xml_attr(&p.title),
                xml_attr(&p.alt)
            )),
            None => out.push_str(DOC_PR),
        }
        out.push_str(part);
    }
    out.into_bytes()
}

/// docx-rs numbers `w:ins`/`w:del` from a process-wide counter; number them
/// from 0 in document order so the bytes depend only on the document.
fn renumber_revisions(xml: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(xml) else { return xml.to_vec() };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut next = 0usize;
    loop {
        let hit = ["<w:ins w:id=\"", "<w:del w:id=\""].iter().filter_map(|p| rest.find(p).map(|i| (i, p.len()))).min();
        let Some((i, len)) = hit else { break };
        out.push_str(&rest[..i + len]);
        rest = &rest[i + len..];
        let Some(end) = rest.find('"') else { break };
        out.push_str(&next.to_string());
        next += 1;
        rest = &rest[end..];
    }
    out.push_str(rest);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_blocks() {
        let b = blocks("# T\n\n1. One **two**.\n1. Three\n\n| a | b |\n|---|---:|\n| x | 1 |\n\n*Note*\n");
        assert_eq!(b.len(), 5, "{b:?}");
        assert!(matches!(&b[0], Block::Heading(1, s) if plain(s) == "T"));
        assert!(matches!(&b[1], Block::Paragraph { numbered: true, spans } if spans.len() == 3 && spans[1].bold));
        assert!(matches!(&b[3], Block::Table { right, rows, .. } if right == &vec![false, true] && rows.len() == 1));
        assert!(matches!(&b[4], Block::Paragraph { numbered: false, spans } if spans[0].italic));
    }

    #[test]
    fn a_placed_chart_is_a_block_and_must_have_been_drawn() {
        let md = "*Persons by sea*\n\n<!-- chart: sea -->\n\n| year | persons |\n|---|---:|\n| 2012 | 1,000 |\n";
        let b = blocks(md);
        assert_eq!(b.len(), 3, "{b:?}");
        assert_eq!(b[1], Block::Chart("sea".into()));
        let o =
            DocxOptions { header: "DRAFT".into(), date: "2013-03-05T10:15:00Z".into(), previous: None, pictures: &[] };
        let e = from_markdown(md, &o).unwrap_err().to_string();
        assert!(e.contains("the chart \"sea\", which was not drawn"), "{e}");
    }

    #[test]
    fn pictures_are_numbered_and_described_in_order() {
        let p = |id: &str, alt: &str| Picture {
            id: id.into(),
            title: format!("T {id}"),
            alt: alt.into(),
            png: vec![],
            width: 1,
            height: 1,
        };
        let (a, b) = (p("sea", "Bars & \"more\""), p("victims", "V"));
        let xml = "<a><wp:docPr id=\"1\" name=\"Figure\" /><b/><wp:docPr id=\"1\" name=\"Figure\" /></a>";
        let out = String::from_utf8(describe_pictures(xml.as_bytes(), &[&a, &b])).unwrap();
        assert_eq!(
            out,
            "<a><wp:docPr id=\"1\" name=\"T sea\" descr=\"Bars &amp; &quot;more&quot;\" /><b/>\
             <wp:docPr id=\"2\" name=\"T victims\" descr=\"V\" /></a>"
        );
    }

    #[test]
    fn same_bytes_for_the_same_draft() {
        let o = DocxOptions {
            header: "DRAFT — run r-1".into(),
            date: "2013-03-05T10:15:00Z".into(),
            previous: Some("1. It was 5.\n"),
            pictures: &[],
        };
        let a = from_markdown("1. It was 7.\n", &o).unwrap();
        let b = from_markdown("1. It was 7.\n", &o).unwrap();
        assert_eq!(a, b);
    }
}
