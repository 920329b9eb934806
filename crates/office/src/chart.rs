//! The briefing's charts as PNG pictures for the Word drafts: the very SVG
//! the HTML draft shows (one drawing of the bars, labels and values, so Word
//! and the browser cannot disagree), drawn by resvg at print resolution with
//! the DejaVu Sans font this crate carries — a chart's pixels do not depend
//! on the fonts of the machine that renders it, and the same chart gives the
//! same bytes.

use std::sync::{Arc, OnceLock};

use fedreport_render::charts::Chart;
use resvg::{tiny_skia, usvg};

use crate::{OfficeError, Result};

/// Device pixels per CSS pixel: 3 is 288 dpi at the chart's size on the page.
pub const SCALE: u32 = 3;
/// The font the charts' text is drawn with (see `fonts/README.md`).
const FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
/// English Metric Units per CSS pixel (914,400 per inch, 96 pixels per inch).
pub const EMU_PER_PX: u32 = 9525;

/// A chart drawn for Word.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    /// The chart's short name (`sea`, `victims`, …), as the draft places it.
    pub id: String,
    /// Its title, the picture's name in Word.
    pub title: String,
    /// The sentence a screen reader says for it (Word's alt text).
    pub alt: String,
    /// The PNG bytes, `SCALE` times the chart's size.
    pub png: Vec<u8>,
    /// The chart's size on the page, in CSS pixels (1/96 inch).
    pub width: u32,
    pub height: u32,
}

fn fonts() -> Arc<usvg::fontdb::Database> {
    static FONTS: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = usvg::fontdb::Database::new();
            db.load_font_data(FONT.to_vec());
            db.set_sans_serif_family("DejaVu Sans");
            Arc::new(db)
        })
        .clone()
}

/// Draw one chart as a PNG picture.
pub fn picture(chart: &Chart) -> Result<Picture> {
    let fail = |message: String| OfficeError::Chart { id: chart.id.clone(), message };
    if !chart.drawn {
        return Err(fail("it has no data to draw".into()));
    }
    let options = usvg::Options { fontdb: fonts(), font_family: "DejaVu Sans".into(), ..usvg::Options::default() };
    let tree = usvg::Tree::from_str(&chart.svg, &options).map_err(|e| fail(format!("its SVG is not valid: {e}")))?;
    let size = tree.size();
    let (width, height) = (size.width().ceil() as u32, size.height().ceil() as u32);
    let mut pixmap = tiny_skia::Pixmap::new(width * SCALE, height * SCALE)
        .ok_or_else(|| fail(format!("it has no area ({width} × {height} pixels)")))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::from_scale(SCALE as f32, SCALE as f32), &mut pixmap.as_mut());
    let png = pixmap.encode_png().map_err(|e| fail(format!("cannot encode it as PNG: {e}")))?;
    Ok(Picture { id: chart.id.clone(), title: chart.title.clone(), alt: chart.alt.clone(), png, width, height })
}

/// Draw every chart that has data, in the order given.
pub fn pictures<'a>(charts: impl IntoIterator<Item = &'a Chart>) -> Result<Vec<Picture>> {
    charts.into_iter().filter(|c| c.drawn).map(picture).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fedreport_render::charts::Bar;

    fn chart() -> Chart {
        let bars = vec![
            Bar { label: "2011".into(), value: 400, text: "400".into() },
            Bar { label: "2012".into(), value: 1_000, text: "1,000".into() },
        ];
        Chart::new(
            "sea",
            "Persons moving by sea".into(),
            "test".into(),
            "Two years of persons moving by sea.".into(),
            bars,
        )
    }

    fn rgb(p: &tiny_skia::Pixmap, x: u32, y: u32) -> (u8, u8, u8) {
        let c = p.pixel(x, y).unwrap();
        (c.red(), c.green(), c.blue())
    }

    #[test]
    fn a_chart_is_drawn_with_its_bars_and_its_words_and_the_same_bytes_each_time() {
        let c = chart();
        let a = picture(&c).unwrap();
        assert_eq!(a, picture(&c).unwrap(), "same chart, same bytes");
        let img = tiny_skia::Pixmap::decode_png(&a.png).unwrap();
        assert_eq!((img.width(), img.height()), (a.width * SCALE, a.height * SCALE));
        // the longer bar is the full bar area, the shorter 40 % of it, both in the bar colour
        let tree = usvg::Tree::from_str(&c.svg, &usvg::Options::default()).unwrap();
        assert_eq!(tree.size().width().ceil() as u32, a.width);
        let bar_fill = (0x1f, 0x4e, 0x79);
        let svg = &c.svg;
        let x0: f32 = svg.split("<rect x=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        let row = |i: u32| (4 + i * 24 + 12) * SCALE;
        let at = |frac: f32| ((x0 + 330.0 * frac) * SCALE as f32) as u32;
        assert_eq!(rgb(&img, at(0.2), row(0)), bar_fill, "the first bar starts");
        assert_eq!(rgb(&img, at(0.6), row(0)), (255, 255, 255), "and stops at 40 %");
        assert_eq!(rgb(&img, at(0.95), row(1)), bar_fill, "the second is full length");
        // the labels left of the axis are drawn: dark pixels in the label column
        let dark = (0..(x0 as u32 * SCALE))
            .flat_map(|x| (0..img.height()).map(move |y| (x, y)))
            .filter(|&(x, y)| rgb(&img, x, y).0 < 100)
            .count();
        assert!(dark > 100, "the category labels are drawn in the carried font ({dark} dark pixels)");
    }

    #[test]
    fn a_chart_with_nothing_to_draw_is_refused_by_name() {
        let empty = Chart::new("victims", "Victims".into(), "test".into(), "No victims.".into(), vec![]);
        let e = picture(&empty).unwrap_err().to_string();
        assert!(e.contains("victims") && e.contains("no data"), "{e}");
        assert_eq!(pictures([&empty, &chart()]).unwrap().len(), 1);
    }
}
