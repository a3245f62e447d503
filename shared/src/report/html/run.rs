//! The run page (`/runs/ID`, and `RUN.html` of `farm up`).

use std::fmt::Write;

use super::{card, figure, improvements_section, page, secs_figure, verdict_badge, Links};
use crate::report::run::RunReport;
use crate::report::{esc, fmt_pct, fmt_secs, svg};

/// The run page (`/runs/ID`, and `RUN.html` of `farm up`).
pub fn run_page(r: &RunReport, links: &Links) -> String {
    let e = &r.efficiency;
    let mut b = String::new();
    let _ = write!(b, r#"<section id="summary"><div class="cards">"#);
    b.push_str(&card("wall time", &secs_figure("wall_secs", r.wall_secs)));
    b.push_str(&card(
        "tests",
        &format!(
            "{} · {} failed",
            figure(
                "tests_total",
                f64::from(r.counts.tests_total),
                &r.counts.tests_total.to_string()
            ),
            figure(
                "tests_failed",
                f64::from(r.counts.tests_failed),
                &r.counts.tests_failed.to_string()
            )
        ),
    ));
    b.push_str(&card(
        "total test time",
        &secs_figure("total_test_secs", e.total_test_secs),
    ));
    b.push_str(&card(
        "slots",
        &figure("slots", f64::from(e.slots), &e.slots.to_string()),
    ));
    b.push_str(&card(
        "lower bound",
        &secs_figure("lower_bound_secs", e.lower_bound_secs),
    ));
    b.push_str(&card(
        "efficiency",
        &figure("efficiency", e.efficiency, &fmt_pct(e.efficiency)),
    ));
    b.push_str("</div>");
    let bound = match (&e.longest_unit, e.bound_by) {
        (Some(u), Some(crate::report::run::Bound::LongestUnit)) => format!(
            "bound by the longest {}, {} ({}): {}",
            u.kind,
            esc(&u.name),
            esc(&u.job),
            secs_figure("longest_unit_secs", u.secs)
        ),
        (Some(u), _) => format!(
            "bound by the work: {} over {} slots = {}; longest {} {} ({}): {}",
            fmt_secs(e.total_test_secs),
            e.slots,
            fmt_secs(e.work_per_slot_secs),
            u.kind,
            esc(&u.name),
            esc(&u.job),
            secs_figure("longest_unit_secs", u.secs)
        ),
        _ => "no test ran".into(),
    };
    let _ = write!(
        b,
        r#"<p>Lower bound = max(total test time / slots, longest unit); {bound}. The run took {} more than its bound.</p>"#,
        fmt_secs(e.overhead_secs)
    );
    if !r.message.is_empty() {
        let _ = write!(b, "<p>{}</p>", esc(&r.message));
    }
    b.push_str("</section>");

    b.push_str(r#"<section id="timeline"><h2>Timeline</h2><div class="legend">"#);
    for (name, color) in svg::COLORS {
        let _ = write!(b, r#"<span><i style="background:{color}"></i>{name}</span>"#);
    }
    b.push_str(r#"<span><i style="border:2px solid #111;box-sizing:border-box"></i>critical path</span></div>"#);
    let _ = write!(b, r#"<div class="scroll">{}</div></section>"#, svg::timeline(r));

    b.push_str(&improvements_section(&r.improvements));
    b.push_str(&phases_section(r));
    b.push_str(&critical_section(r));
    b.push_str(&jobs_section(r));
    b.push_str(&agents_section(r));
    b.push_str(&slowest_section(r));
    b.push_str(&failures_section(r));
    b.push_str(&quarantine_section(r));
    let header = format!(
        r#"<h1>Run {} — {} {}</h1><div class="sub">project {} · {} mode · submitted by {} · in {} · {}</div>"#,
        esc(&r.run_id),
        esc(&r.pipeline),
        verdict_badge(r.verdict),
        links.to(&format!("/profiles/{}", r.project), &r.project),
        esc(mode_name(r)),
        esc(&r.submitter),
        esc(&r.project_dir),
        links.to(&format!("/api/runs/{}", r.run_id), "JSON"),
    );
    page(&format!("run {} — testfarm", r.run_id), &header, &b)
}

fn mode_name(r: &RunReport) -> &'static str {
    r.mode.as_str()
}

fn phases_section(r: &RunReport) -> String {
    let (s, d) = (&r.phases.shards, &r.phases.discovery);
    let mut b = String::from(
        r#"<section id="phases"><h2>Phase breakdown</h2><table><tr><th>phase</th><th class="n">shards</th><th class="n">share of shard slot time</th><th class="n">discovery</th></tr>"#,
    );
    let rows = [
        ("queue (waiting for a slot)", "queued", s.queued_secs, d.queued_secs),
        ("workspace preparation", "prepare", s.prepare_secs, d.prepare_secs),
        ("container / process start", "start", s.start_secs, d.start_secs),
        ("run", "run", s.run_secs, d.run_secs),
        ("— the tests' own time", "test", s.test_secs, d.test_secs),
        (
            "— the runner's own overhead (start, bootstrap, suite loading, reporting)",
            "runner",
            s.runner_secs,
            d.runner_secs,
        ),
        ("upload", "upload", s.upload_secs, d.upload_secs),
        ("other (lease delivery, parsing)", "other", s.other_secs, d.other_secs),
    ];
    for (label, key, shards, disc) in rows {
        let share = if key == "queued" {
            "not on a slot".to_string()
        } else {
            fmt_pct(crate::report::run::ratio(shards, s.slot_secs))
        };
        let _ = write!(
            b,
            r#"<tr><td>{label}</td><td class="n">{}</td><td class="n">{share}</td><td class="n">{}</td></tr>"#,
            secs_figure(&format!("phase_{key}_secs"), shards),
            fmt_secs(disc)
        );
    }
    let _ = write!(
        b,
        r#"<tr><th>slot time ({} shards, {} discoveries)</th><th class="n">{}</th><th class="n">100%</th><th class="n">{}</th></tr></table></section>"#,
        s.tasks,
        d.tasks,
        secs_figure("phase_slot_secs", s.slot_secs),
        fmt_secs(d.slot_secs)
    );
    b
}

fn critical_section(r: &RunReport) -> String {
    let mut b = format!(
        r#"<section id="critical-path"><h2>Critical path ({})</h2><table><tr><th>from</th><th>to</th><th class="n">time</th><th>what</th><th>job</th><th>agent</th></tr>"#,
        secs_figure("critical_path_secs", r.critical_path.secs)
    );
    for seg in &r.critical_path.segments {
        let what = match &seg.task_id {
            Some(id) => format!("{} {} ({})", seg.kind, esc(id), esc(&seg.note)),
            None => format!("wait: {}", esc(&seg.note)),
        };
        let _ = write!(
            b,
            r#"<tr><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{what}</td><td>{}</td><td>{}</td></tr>"#,
            fmt_secs(seg.start_secs),
            fmt_secs(seg.end_secs),
            fmt_secs(seg.secs),
            esc(seg.job_name.as_deref().unwrap_or("")),
            esc(seg.agent.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</table></section>");
    b
}

fn jobs_section(r: &RunReport) -> String {
    let mut b = String::from(
        r#"<section id="jobs"><h2>Jobs</h2><table><tr><th>job</th><th class="n">tests</th><th class="n">failed</th><th class="n">shards</th><th class="n">test time</th><th class="n">start</th><th class="n">end</th><th class="n">wall</th><th class="n">queue wait (mean / max)</th></tr>"#,
    );
    for j in &r.jobs {
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{} / {}</td></tr>"#,
            esc(&j.name),
            j.tests,
            j.failed,
            j.shards,
            secs_figure(&format!("job_test_secs_{}", j.index), j.test_secs),
            fmt_secs(j.start_secs),
            fmt_secs(j.end_secs),
            fmt_secs(j.wall_secs),
            fmt_secs(j.queued_mean_secs),
            fmt_secs(j.queued_max_secs)
        );
    }
    b.push_str("</table></section>");
    b
}

fn agents_section(r: &RunReport) -> String {
    let mut b = String::from(
        r#"<section id="agents"><h2>Agents</h2><table><tr><th>agent</th><th class="n">slots</th><th class="n">tasks</th><th class="n">shard slot time</th><th class="n">prepare</th><th class="n">start</th><th class="n">tests</th><th class="n">upload</th><th class="n">prepare share</th></tr>"#,
    );
    for a in &r.agents {
        let p = &a.shard_phases;
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&a.agent),
            a.slots,
            a.tasks,
            fmt_secs(p.slot_secs),
            fmt_secs(p.prepare_secs),
            fmt_secs(p.start_secs),
            fmt_secs(p.run_secs),
            fmt_secs(p.upload_secs),
            fmt_pct(a.prepare_share)
        );
    }
    b.push_str("</table></section>");
    b
}

fn slowest_section(r: &RunReport) -> String {
    let mut b = String::from(
        r#"<section id="slowest"><h2>Slowest tests</h2><table><tr><th class="n">time</th><th>test</th><th>job</th><th>status</th><th>shard</th></tr>"#,
    );
    for (n, t) in r.slowest.iter().enumerate() {
        let time = if n == 0 {
            secs_figure("slowest_secs", t.secs)
        } else {
            fmt_secs(t.secs)
        };
        let _ = write!(
            b,
            r#"<tr><td class="n">{time}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&t.test),
            esc(&t.job_name),
            esc(&t.status),
            esc(&t.task_id)
        );
    }
    b.push_str("</table></section>");
    b
}

/// The project's quarantined tests: since when, why, and what they excused here.
fn quarantine_section(r: &RunReport) -> String {
    if r.quarantine.is_empty() {
        return String::new();
    }
    let mut b = format!(
        r#"<section id="quarantine"><h2>Quarantined ({})</h2><p class="muted">These still ran and reported; their failures did not fail the run.</p><table><tr><th>test</th><th>since</th><th>by</th><th>reason</th><th>failed here</th></tr>"#,
        figure(
            "quarantined",
            r.quarantine.len() as f64,
            &r.quarantine.len().to_string()
        )
    );
    for q in &r.quarantine {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            esc(&q.test),
            esc(&q.since),
            esc(&q.by),
            esc(&q.reason),
            q.failed_here
        );
    }
    b.push_str("</table></section>");
    b
}

fn failures_section(r: &RunReport) -> String {
    let mut b = format!(
        r#"<section id="failures"><h2>Failures ({})</h2>"#,
        figure("failures", r.failures.len() as f64, &r.failures.len().to_string())
    );
    if r.failures.is_empty() {
        b.push_str("<p class=\"muted\">None.</p>");
    }
    for f in &r.failures {
        let _ = write!(
            b,
            r#"<div class="failure"><b>{}</b> {} <span class="verdict failed">{}</span> <span class="muted">shard {} on {} · log {}</span><div>{}</div><pre>{}</pre></div>"#,
            esc(&f.job_name),
            esc(f.test.as_deref().unwrap_or("(no test)")),
            match &f.quarantined {
                Some(entry) => format!("{} · quarantined ({}): did not count", esc(&f.status), esc(entry)),
                None => esc(&f.status),
            },
            esc(&f.task_id),
            esc(&f.agent),
            esc(&f.log_path),
            esc(&f.message),
            esc(&f.log_excerpt)
        );
    }
    b.push_str("</section>");
    b
}
