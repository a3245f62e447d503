//! The profile page (`/profiles/PROJECT`).

use std::fmt::Write;

use super::{card, figure, improvements_section, page, secs_figure, verdict_badge, Links};
use crate::report::profile::{ProfileReport, Share};
use crate::report::{esc, fmt_pct, fmt_secs};

fn shares_table(id: &str, title: &str, what: &str, rows: &[Share], with_stage: bool) -> String {
    let mut b = format!(
        r#"<section id="{id}"><h2>{title}</h2><table><tr><th>{what}</th>{}<th class="n">tests</th><th class="n">test time per run</th><th class="n">share</th></tr>"#,
        if with_stage { "<th>stage</th>" } else { "" }
    );
    for s in rows {
        let _ = write!(
            b,
            r#"<tr><td>{}</td>{}<td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&s.name),
            if with_stage {
                format!("<td>{}</td>", esc(&s.stage))
            } else {
                String::new()
            },
            s.tests,
            secs_figure(&format!("{id}_secs_{}", s.name), s.secs_per_run),
            fmt_pct(s.share)
        );
    }
    b.push_str("</table></section>");
    b
}

/// The profile page (`/profiles/PROJECT`).
pub fn profile_page(p: &ProfileReport, links: &Links) -> String {
    let mut b = String::from(r#"<section id="summary"><div class="cards">"#);
    b.push_str(&card(
        "runs read",
        &figure("runs", p.runs.len() as f64, &p.runs.len().to_string()),
    ));
    b.push_str(&card(
        "tests profiled",
        &figure("tests", f64::from(p.tests), &p.tests.to_string()),
    ));
    b.push_str(&card("run wall p50", &secs_figure("run_wall_p50", p.run_wall.p50)));
    b.push_str(&card("p90", &secs_figure("run_wall_p90", p.run_wall.p90)));
    b.push_str(&card("p99", &secs_figure("run_wall_p99", p.run_wall.p99)));
    b.push_str("</div></section>");
    b.push_str(&improvements_section(&p.improvements));

    b.push_str(r#"<section id="runs"><h2>Recent runs</h2><table><tr><th>run</th><th>verdict</th><th class="n">wall</th><th class="n">tests</th><th class="n">failed</th><th class="n">test time</th><th class="n">lower bound</th><th class="n">efficiency</th></tr>"#);
    for r in p.runs.iter().rev() {
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            links.to(&format!("/runs/{}", r.run_id), &r.run_id),
            verdict_badge(r.verdict),
            fmt_secs(r.wall_secs),
            r.tests,
            r.failed,
            fmt_secs(r.test_secs),
            fmt_secs(r.lower_bound_secs),
            fmt_pct(r.efficiency)
        );
    }
    b.push_str("</table></section>");
    b.push_str(&shares_table("stages", "Time per stage", "stage", &p.stages, false));
    b.push_str(&shares_table(
        "extensions",
        "Time per extension",
        "extension",
        &p.extensions,
        false,
    ));
    b.push_str(&shares_table(
        "classes",
        "Time per test class",
        "class",
        &p.classes,
        true,
    ));

    b.push_str(r#"<section id="jobs"><h2>Job wall times</h2><table><tr><th>job</th><th class="n">runs</th><th class="n">p50</th><th class="n">p90</th><th class="n">p99</th><th class="n">mean test time</th></tr>"#);
    for j in &p.jobs {
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&j.job),
            j.wall.count,
            fmt_secs(j.wall.p50),
            fmt_secs(j.wall.p90),
            fmt_secs(j.wall.p99),
            fmt_secs(j.test_secs_mean)
        );
    }
    b.push_str("</table></section>");

    b.push_str(&format!(
        r#"<section id="trends"><h2>Trends: tests at least {:.1}× slower than their median</h2>"#,
        p.options.trend_ratio
    ));
    if p.trends.is_empty() {
        b.push_str("<p class=\"muted\">None.</p>");
    } else {
        b.push_str(r#"<table><tr><th>test</th><th>stage</th><th class="n">median</th><th class="n">now</th><th class="n">ratio</th><th>since run</th></tr>"#);
        for t in &p.trends {
            let since = t.since_run.as_deref().unwrap_or("–");
            let _ = write!(
                b,
                r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{:.1}×</td><td>{}</td></tr>"#,
                esc(&t.test),
                esc(&t.stage),
                fmt_secs(t.median_secs),
                fmt_secs(t.now_secs),
                t.ratio,
                links.to(&format!("/runs/{since}"), since)
            );
        }
        b.push_str("</table>");
    }
    b.push_str("</section>");

    b.push_str(r#"<section id="flaky"><h2>Flaky tests</h2><p class="muted">Passed and failed among the recent runs of the same pipeline, project directory and environment (there is no tree hash yet).</p>"#);
    if p.flaky.is_empty() {
        b.push_str("<p class=\"muted\">None.</p>");
    } else {
        b.push_str(r#"<table><tr><th>test</th><th>job</th><th class="n">failed</th><th class="n">runs</th><th>failed in</th></tr>"#);
        for f in &p.flaky {
            let _ = write!(
                b,
                r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td></tr>"#,
                esc(&f.test),
                esc(&f.job),
                f.failed,
                f.runs,
                esc(&f.failed_runs.join(", "))
            );
        }
        b.push_str("</table>");
    }
    b.push_str("</section>");

    let _ = write!(
        b,
        r#"<section id="stable"><h2>Tests without a failure in their last {} runs: {}</h2>"#,
        p.options.stable_runs,
        figure("stable_count", f64::from(p.stable_count), &p.stable_count.to_string())
    );
    if !p.stable.is_empty() {
        b.push_str(r#"<table><tr><th>test</th><th>stage</th><th class="n">runs without failure</th><th class="n">estimate</th></tr>"#);
        for s in &p.stable {
            let _ = write!(
                b,
                r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
                esc(&s.test),
                esc(&s.stage),
                s.runs_without_failure,
                fmt_secs(s.ewma_secs)
            );
        }
        b.push_str("</table>");
    }
    b.push_str("</section>");
    let header = format!(
        r#"<h1>Profile — {}</h1><div class="sub">{} runs · {} tests · {} · {}</div>"#,
        esc(&p.project),
        p.runs.len(),
        p.tests,
        links.to("/", "all runs"),
        links.to(&format!("/api/profiles/{}", p.project), "JSON")
    );
    page(&format!("profile {} — testfarm", p.project), &header, &b)
}
