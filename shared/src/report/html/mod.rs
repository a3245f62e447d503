//! The report pages: self-contained HTML with inline CSS and the server-drawn SVG; no
//! script, no external resource (not even a favicon request). Key figures carry
//! `data-figure="NAME"` and `data-value="EXACT"` so tests and scrapers can read them
//! from the DOM; improvements carry `data-saves`. The run page is in [`run`], the
//! profile page in [`profile`]; the index and error pages are here.

mod profile;
mod run;

use std::fmt::Write;

pub use profile::profile_page;
pub use run::run_page;

use super::improve::Improvement;
use super::{esc, fmt_secs};
use crate::model::{Run, Verdict};

const CSS: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#24292f;color:#fff;padding:14px 24px}
header a{color:#c9d1d9}
header h1{margin:0;font-size:20px;font-weight:600}
header .sub{color:#c9d1d9;font-size:13px}
main{padding:16px 24px;max-width:1260px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:12px 16px;margin:0 0 16px}
h2{font-size:16px;margin:0 0 8px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #e1e4e8;border-radius:6px;padding:8px 12px;min-width:120px;background:#fff}
.card .k{font-size:12px;color:#57606a}
.card .v{font-size:18px;font-weight:600}
.verdict{display:inline-block;padding:1px 8px;border-radius:10px;font-size:13px;font-weight:600}
.passed{background:#dafbe1;color:#116329}.failed{background:#ffebe9;color:#a40e26}
.error{background:#fff1e5;color:#953800}.running{background:#ddf4ff;color:#0550ae}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px;border-radius:2px}
.scroll{overflow-x:auto}
pre{background:#f6f8fa;padding:8px;border-radius:4px;overflow-x:auto;font-size:12px;margin:4px 0 10px}
ol.improvements li{margin-bottom:6px}
.why{color:#57606a;font-size:12px}
.saves{font-weight:600}
.muted{color:#57606a}
"#;

pub(super) fn page(title: &str, header: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\"><style>{CSS}</style></head>\
         <body><header>{header}</header><main>{body}</main></body></html>\n",
        esc(title)
    )
}

pub(super) fn verdict_badge(v: Option<Verdict>) -> String {
    let name = v.map_or("running", |v| v.as_str());
    format!(r#"<span class="verdict {name}">{}</span>"#, name.to_uppercase())
}

/// A figure shown to people, with its exact value for machines.
pub(super) fn figure(name: &str, value: f64, shown: &str) -> String {
    format!(
        r#"<span data-figure="{name}" data-value="{value}">{}</span>"#,
        esc(shown)
    )
}

pub(super) fn secs_figure(name: &str, secs: f64) -> String {
    figure(name, secs, &fmt_secs(secs))
}

pub(super) fn card(label: &str, value: &str) -> String {
    format!(
        r#"<div class="card"><div class="k">{}</div><div class="v">{value}</div></div>"#,
        esc(label)
    )
}

pub(super) fn improvements_section(items: &[Improvement]) -> String {
    let mut s = String::from("<section id=\"improvements\"><h2>Prioritized improvements</h2>");
    if items.is_empty() {
        s.push_str("<p class=\"muted\">No rule found anything worth more than 0.05 s per run.</p>");
    } else {
        s.push_str("<ol class=\"improvements\">");
        for i in items {
            let _ = write!(
                s,
                r#"<li data-kind="{}" data-saves="{}"><span class="saves">saves {} per run</span> — {}<div class="why">{}</div></li>"#,
                esc(&i.kind),
                i.saves_secs,
                fmt_secs(i.saves_secs),
                esc(&i.title),
                esc(&i.why)
            );
        }
        s.push_str("</ol>");
    }
    s.push_str("</section>");
    s
}

/// Links to other pages; empty (no links) for a report saved to a file.
#[derive(Debug, Clone, Default)]
pub struct Links {
    pub enabled: bool,
}

impl Links {
    pub(super) fn to(&self, href: &str, text: &str) -> String {
        if self.enabled {
            format!(r#"<a href="{}">{}</a>"#, esc(href), esc(text))
        } else {
            esc(text)
        }
    }
}

/// One row of the index page.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub run_id: String,
    pub pipeline: String,
    pub project: String,
    pub verdict: Option<Verdict>,
    pub wall_secs: Option<f64>,
    pub tests: u32,
    pub failed: u32,
}

impl IndexEntry {
    pub fn of(run: &Run) -> IndexEntry {
        IndexEntry {
            run_id: run.id.clone(),
            pipeline: run.pipeline.name.clone(),
            project: run.pipeline.project.clone(),
            verdict: run.verdict,
            wall_secs: run.finished_ms.map(|f| super::secs_between(run.accepted_ms, f)),
            tests: run.counts.tests_total,
            failed: run.counts.tests_failed,
        }
    }
}

/// The index (`/`): recent runs, newest first, and their projects.
pub fn index_page(entries: &[IndexEntry]) -> String {
    let links = Links { enabled: true };
    let mut projects: Vec<&str> = entries.iter().map(|e| e.project.as_str()).collect();
    projects.sort_unstable();
    projects.dedup();
    let mut b = String::from(r#"<section id="projects"><h2>Profiles</h2><p>"#);
    if projects.is_empty() {
        b.push_str("<span class=\"muted\">No runs yet.</span>");
    }
    for p in &projects {
        let _ = write!(b, "{} ", links.to(&format!("/profiles/{p}"), p));
    }
    b.push_str(r#"</p></section><section id="runs"><h2>Recent runs</h2><table><tr><th>run</th><th>pipeline</th><th>project</th><th>verdict</th><th class="n">wall</th><th class="n">tests</th><th class="n">failed</th></tr>"#);
    for e in entries {
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            links.to(&format!("/runs/{}", e.run_id), &e.run_id),
            esc(&e.pipeline),
            links.to(&format!("/profiles/{}", e.project), &e.project),
            verdict_badge(e.verdict),
            e.wall_secs.map_or("–".into(), fmt_secs),
            e.tests,
            e.failed
        );
    }
    b.push_str("</table></section>");
    page(
        "testfarm reports",
        r#"<h1>testfarm</h1><div class="sub">run and profile reports</div>"#,
        &b,
    )
}

/// A page for "not found" and other errors.
pub fn message_page(title: &str, message: &str) -> String {
    page(
        title,
        &format!("<h1>{}</h1>", esc(title)),
        &format!(
            r#"<section><p>{}</p><p><a href="/">all runs</a></p></section>"#,
            esc(message)
        ),
    )
}

#[cfg(test)]
mod tests;
