//! Filters for readers: thousands separators, "per cent", ordinals and dates
//! in words, lists joined with "and", and neutralising member-typed text in
//! Markdown.

use chrono::{Datelike, NaiveDate};
use minijinja::{Environment, Error, ErrorKind, Value};

/// `12345` → `12,345`; negative numbers keep their sign.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// `81.25` → `81.3 per cent` (one decimal; whole numbers without one).
pub fn per_cent(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r.fract() == 0.0 { format!("{} per cent", r as i64) } else { format!("{r:.1} per cent") }
}

/// `5` → `fifth`.
pub fn ordinal_words(n: u32) -> String {
    const UNITS: [&str; 20] = [
        "zeroth",
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
        "eleventh",
        "twelfth",
        "thirteenth",
        "fourteenth",
        "fifteenth",
        "sixteenth",
        "seventeenth",
        "eighteenth",
        "nineteenth",
    ];
    const TENS: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    const TENTHS: [&str; 10] =
        ["", "", "twentieth", "thirtieth", "fortieth", "fiftieth", "sixtieth", "seventieth", "eightieth", "ninetieth"];
    match n {
        0..=19 => UNITS[n as usize].to_string(),
        20..=99 if n.is_multiple_of(10) => TENTHS[(n / 10) as usize].to_string(),
        20..=99 => format!("{}-{}", TENS[(n / 10) as usize], UNITS[(n % 10) as usize]),
        _ => {
            let suffix = match (n % 10, n % 100) {
                (_, 11..=13) => "th",
                (1, _) => "st",
                (2, _) => "nd",
                (3, _) => "rd",
                _ => "th",
            };
            format!("{n}{suffix}")
        }
    }
}

/// `2013-04-01` → `1 April 2013`.
pub fn date_words(d: NaiveDate) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    format!("{} {} {}", d.day(), MONTHS[d.month0() as usize], d.year())
}

/// `[a, b, c]` → `a, b and c`.
pub fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [a] => a.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Member- or meeting-typed text made inert in Markdown: inline HTML
/// becomes entities, every character that can start inline markup (emphasis,
/// code, links, images, table cells, strikethrough) is escaped, a list or
/// heading marker at the start is escaped, bare `http://` and `www.` cannot
/// become GitHub autolinks, and line breaks are folded into spaces. Plain
/// punctuation elsewhere stays as it is, so the Markdown still reads well.
pub fn markdown_text(s: &str) -> String {
    let folded: String = s.chars().map(|c| if matches!(c, '\n' | '\r' | '\t') { ' ' } else { c }).collect();
    let mut out = String::with_capacity(folded.len() + 8);
    let chars: Vec<char> = folded.chars().collect();
    let lead = chars.iter().take_while(|c| **c == ' ').count();
    let digits = chars[lead..].iter().take_while(|c| c.is_ascii_digit()).count();
    for (i, &c) in chars.iter().enumerate() {
        let at_start = i == lead;
        let ends_list_number = digits > 0 && i == lead + digits && matches!(c, '.' | ')');
        let autolink = (c == ':' && chars.get(i + 1) == Some(&'/') && chars.get(i + 2) == Some(&'/'))
            || (c == '.' && i >= 3 && chars[i - 3..i].iter().collect::<String>().eq_ignore_ascii_case("www"));
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '#' | '+' | '-' | '=' if at_start => {
                out.push('\\');
                out.push(c);
            }
            _ if ends_list_number || autolink => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn number(v: &Value) -> Result<f64, Error> {
    if let Some(i) = v.as_i64() {
        return Ok(i as f64);
    }
    f64::try_from(v.clone()).map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("{v} is not a number")))
}

/// Register the filters on an environment.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("thousands", |v: Value| -> Result<String, Error> { Ok(thousands(number(&v)?.round() as i64)) });
    env.add_filter("per_cent", |v: Value| -> Result<String, Error> { Ok(per_cent(number(&v)?)) });
    env.add_filter("abs", |v: Value| -> Result<f64, Error> { Ok(number(&v)?.abs()) });
    env.add_filter("ordinal_words", |n: u32| ordinal_words(n));
    env.add_filter("date_words", |s: String| -> Result<String, Error> {
        let d = NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("'{s}' is not a date (YYYY-MM-DD)")))?;
        Ok(date_words(d))
    });
    env.add_filter("join_and", |v: Vec<String>| join_and(&v));
    env.add_filter("md", |s: String| markdown_text(&s));
    env.add_filter("words", |s: String| s.replace('_', " "));
    // "s" unless the figure (a number or its text, "1,364") is exactly one
    env.add_filter("plural_s", |v: Value| if v.to_string().trim_matches('"') == "1" { "" } else { "s" });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_words() {
        assert_eq!(thousands(129033), "129,033");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(-1000), "-1,000");
        assert_eq!(per_cent(81.25), "81.3 per cent");
        assert_eq!(per_cent(50.0), "50 per cent");
        assert_eq!(ordinal_words(5), "fifth");
        assert_eq!(ordinal_words(21), "twenty-first");
        assert_eq!(ordinal_words(40), "fortieth");
        assert_eq!(ordinal_words(112), "112th");
        assert_eq!(date_words(NaiveDate::from_ymd_opt(2013, 4, 1).unwrap()), "1 April 2013");
        assert_eq!(join_and(&["a".into(), "b".into(), "c".into()]), "a, b and c");
        assert_eq!(join_and(&["a".into()]), "a");
        assert_eq!(
            markdown_text("<script>x</script> **b** [l](u)"),
            "&lt;script&gt;x&lt;/script&gt; \\*\\*b\\*\\* \\[l\\](u)"
        );
        assert_eq!(markdown_text("# heading\nline"), "\\# heading line");
        assert_eq!(markdown_text("12. not a list"), "12\\. not a list");
        assert_eq!(markdown_text("- not a bullet, a - b"), "\\- not a bullet, a - b");
        assert_eq!(
            markdown_text("see http://x.invalid and www.y.invalid"),
            "see http\\://x.invalid and www\\.y.invalid"
        );
        assert_eq!(markdown_text("a | b ~~c~~ `d`"), "a \\| b \\~\\~c\\~\\~ \\`d\\`");
        assert_eq!(markdown_text("Joint patrols (2013)."), "Joint patrols (2013).");
    }
}
