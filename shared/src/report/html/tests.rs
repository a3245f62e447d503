use super::*;
use crate::report::improve::rank;
use crate::report::run::RunReport;
use crate::report::testdata::{demo, slots, T0};

/// The text of the element carrying `data-figure="name"`.
fn figure_text<'a>(html: &'a str, name: &str) -> &'a str {
    let at = html
        .find(&format!(r#"data-figure="{name}""#))
        .unwrap_or_else(|| panic!("no figure {name}"));
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest.find("</span>").unwrap();
    &rest[start..end]
}

fn run_html() -> String {
    let (run, mut tasks) = demo("r7", T0);
    // A test id that needs escaping.
    tasks[3].outcome.as_mut().unwrap().results[1].id = "u2<script>".into();
    let mut report = RunReport::build(&run, &tasks, &slots());
    report.improvements = rank(Some(&report), None);
    run_page(&report, &Links { enabled: true })
}

#[test]
fn the_run_page_shows_the_figures_of_the_report() {
    let html = run_html();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(figure_text(&html, "wall_secs"), "5.41 s");
    assert_eq!(figure_text(&html, "total_test_secs"), "10.00 s");
    assert_eq!(figure_text(&html, "lower_bound_secs"), "5.00 s");
    assert_eq!(figure_text(&html, "efficiency"), "92%");
    assert_eq!(figure_text(&html, "slots"), "3");
    assert_eq!(figure_text(&html, "slowest_secs"), "3.00 s");
    assert_eq!(figure_text(&html, "phase_run_secs"), "10.00 s");
    assert_eq!(figure_text(&html, "phase_prepare_secs"), "0.25 s");
    assert_eq!(figure_text(&html, "critical_path_secs"), "5.40 s");
    assert_eq!(figure_text(&html, "failures"), "1");
    assert!(html.contains(r#"data-figure="total_test_secs" data-value="10""#));
    assert_eq!(html.matches(r#"<g class="lane""#).count(), 3);
    assert!(html.contains("<a href=\"/profiles/demo\">demo</a>"));
}

#[test]
fn the_run_page_is_self_contained_and_escapes_what_it_shows() {
    let html = run_html();
    assert!(!html.contains("<script"), "no script, and test ids are escaped");
    assert!(html.contains("u2&lt;script&gt;"));
    assert!(!html.contains("src="));
    assert!(!html.contains("href=\"http"));
    assert!(html.contains(r#"<link rel="icon" href="data:,">"#));
    // Improvements in rank order, with what they save.
    let saves: Vec<f64> = html
        .match_indices("data-saves=\"")
        .map(|(at, m)| {
            let rest = &html[at + m.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect();
    assert_eq!(saves.len(), 3);
    assert!(saves.windows(2).all(|w| w[0] >= w[1]));
    // A page saved to a file has no links.
    let (run, tasks) = demo("r7", T0);
    let file = run_page(&RunReport::build(&run, &tasks, &slots()), &Links::default());
    assert!(!file.contains("<a href"));
}

#[test]
fn index_and_error_pages() {
    let (run, _) = demo("r7", T0);
    let html = index_page(&[IndexEntry::of(&run)]);
    assert!(html.contains(r#"<a href="/runs/r7">r7</a>"#));
    assert!(html.contains(r#"<a href="/profiles/demo">demo</a>"#));
    assert!(html.contains("5.41 s"));
    let html = message_page("no run r9", "there is no run `r9`");
    assert!(html.contains("there is no run `r9`"));
}
