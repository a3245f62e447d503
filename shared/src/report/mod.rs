//! Reports for release engineers: where a run's time went ([`run::RunReport`]), where
//! a project's time goes over its recent runs ([`profile::ProfileReport`]), and what
//! to fix first ([`improve::rank`]), rendered as a timeline SVG ([`svg`]), HTML pages
//! ([`html`]) and terminal text ([`text`]).
//! See ../shared/DESIGN.md, "Reports and telemetry"; the JSON is documented field by
//! field in docs/api.md.
//!
//! Everything here is a pure function of the replicated records (runs, tasks, timing
//! profiles): the coordinator's HTTP handlers, its gRPC `GetProfile` and the CLI only
//! read records and call these. No clock is read: times are relative to a run's
//! acceptance, and a report of the same records is the same report.
//!
//! Groupings, chosen for MediaWiki-style test ids and documented in docs/api.md:
//! - **class**: the test id before `::` (a test without `::` is its own class);
//! - **extension**: the directory after `extensions/` (`extensions/Echo/tests/…` →
//!   `Echo`), the namespace part after `MediaWiki\Extension\`, else the id before its
//!   first `/` or `\`; ids with neither are grouped under `(none)`.

pub mod html;
pub mod improve;
mod lanes;
pub mod profile;
pub mod run;
pub mod svg;
pub mod text;

#[cfg(test)]
pub(crate) mod testdata;

use serde::{Deserialize, Serialize};

/// The class of a test id: the part before `::`, or the whole id.
pub fn class_of(test: &str) -> &str {
    test.split_once("::").map_or(test, |(class, _)| class)
}

/// The extension of a test id (see the module docs); `(none)` if it has no path or
/// namespace.
pub fn extension_of(test: &str) -> &str {
    for marker in ["extensions/", "MediaWiki\\Extension\\", "MediaWiki\\Extensions\\"] {
        if let Some(at) = test.find(marker) {
            let rest = &test[at + marker.len()..];
            let end = rest.find(['/', '\\', ':']).unwrap_or(rest.len());
            if end > 0 {
                return &rest[..end];
            }
        }
    }
    match test.find(['/', '\\']) {
        Some(end) if end > 0 => &test[..end],
        _ => "(none)",
    }
}

/// Nearest-rank percentiles of a sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Number of values.
    pub count: u32,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(values: &[f64]) -> Percentiles {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        Percentiles {
            count: sorted.len() as u32,
            p50: nearest_rank(&sorted, 50.0),
            p90: nearest_rank(&sorted, 90.0),
            p99: nearest_rank(&sorted, 99.0),
            max: sorted.last().copied().unwrap_or(0.0),
        }
    }
}

/// The nearest-rank percentile `p` (0–100) of sorted values; 0 when empty.
pub fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Seconds for people: `0.42 s`, `8.90 s`, `2m 03s`, `1h 02m`.
pub fn fmt_secs(secs: f64) -> String {
    if !secs.is_finite() {
        return "–".into();
    }
    if secs < 100.0 {
        format!("{secs:.2} s")
    } else if secs < 3600.0 {
        let s = secs.round() as u64;
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        let m = (secs / 60.0).round() as u64;
        format!("{}h {:02}m", m / 60, m % 60)
    }
}

/// A share as a percentage, `38%` (one decimal under 10%).
pub fn fmt_pct(share: f64) -> String {
    let pct = share * 100.0;
    if !pct.is_finite() {
        "–".into()
    } else if pct < 10.0 {
        format!("{pct:.1}%")
    } else {
        format!("{pct:.0}%")
    }
}

/// `1 test`, `2 tests`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Escapes text for HTML and XML (element content and quoted attributes).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Seconds between two wall-clock millisecond stamps (0 if `to` is earlier).
pub(crate) fn secs_between(from_ms: u64, to_ms: u64) -> f64 {
    to_ms.saturating_sub(from_ms) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_extensions_of_test_ids() {
        assert_eq!(class_of("FooTest::testBar"), "FooTest");
        assert_eq!(class_of("test_x.sh"), "test_x.sh");
        assert_eq!(extension_of("extensions/Echo/tests/phpunit/FooTest.php"), "Echo");
        assert_eq!(
            extension_of("MediaWiki\\Extension\\Echo\\Test\\FooTest::testBar"),
            "Echo"
        );
        assert_eq!(extension_of("tests/phpunit/includes/TitleTest.php"), "tests");
        assert_eq!(extension_of("Wikimedia\\Rdbms\\DatabaseTest::testX"), "Wikimedia");
        assert_eq!(extension_of("test_sort_large.sh"), "(none)");
    }

    #[test]
    fn nearest_rank_percentiles() {
        let p = Percentiles::of(&[5.0, 1.0, 4.0, 2.0, 3.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
        assert_eq!((p.count, p.p50, p.p90, p.p99, p.max), (10, 5.0, 9.0, 10.0, 10.0));
        let one = Percentiles::of(&[8.9]);
        assert_eq!((one.p50, one.p99), (8.9, 8.9));
        assert_eq!(Percentiles::of(&[]).p50, 0.0);
    }

    #[test]
    fn escaping() {
        assert_eq!(esc(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn seconds_for_people() {
        assert_eq!(fmt_secs(0.4234), "0.42 s");
        assert_eq!(fmt_secs(123.4), "2m 03s");
        assert_eq!(fmt_secs(3720.0), "1h 02m");
        assert_eq!(fmt_pct(0.384), "38%");
        assert_eq!(fmt_pct(0.0512), "5.1%");
    }
}
