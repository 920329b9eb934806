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

/// Member-typed text made inert in Markdown: every character Markdown or
/// inline HTML could act on is escaped, and line breaks are folded.
pub fn markdown_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.' | '!' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
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
            "&lt;script&gt;x&lt;/script&gt; \\*\\*b\\*\\* \\[l\\]\\(u\\)"
        );
    }
}
