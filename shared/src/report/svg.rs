//! The run timeline as SVG, drawn on the server: one `<g class="lane"
//! data-agent=… data-slot=…>` per agent slot, a `<g class="task">` per task with one
//! rect per phase (other, prepare, start, run, upload — the run rect colored by
//! verdict), critical-path tasks outlined, and a time axis. No script, no external
//! resources; hovering a task shows its `<title>`.

use std::fmt::Write;

use super::run::{LaneTask, RunReport};
use super::{esc, fmt_secs};

/// Width of the drawing, px.
pub const WIDTH: f64 = 1200.0;
const LABEL: f64 = 150.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 8.0;
const LANE: f64 = 26.0;
const BAR: f64 = 18.0;
const AXIS: f64 = 28.0;

/// Colors, also used by the HTML legend.
pub const COLORS: &[(&str, &str)] = &[
    ("passed", "#59a14f"),
    ("failed", "#e15759"),
    ("error", "#9c1c1f"),
    ("running", "#76b7b2"),
    ("discover", "#4e79a7"),
    ("prepare", "#f28e2b"),
    ("start", "#b07aa1"),
    ("runner", "#edc948"),
    ("upload", "#8c8c8c"),
    ("other", "#d4d4d4"),
];

pub fn color(name: &str) -> &'static str {
    COLORS.iter().find(|(n, _)| *n == name).map_or("#bab0ac", |(_, c)| c)
}

/// The timeline of `report`.
pub fn timeline(report: &RunReport) -> String {
    let span = report
        .lane_tasks()
        .map(|(_, t)| t.end_secs)
        .fold(report.wall_secs, f64::max)
        .max(0.001);
    let plot = WIDTH - LABEL - RIGHT;
    let x = |t: f64| LABEL + (t.max(0.0) / span) * plot;
    let height = TOP + LANE * report.lanes.len() as f64 + AXIS;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="timeline of run {} on {} agent slots">"#,
        esc(&report.run_id),
        report.lanes.len()
    );
    // Grid and axis first, so the lanes draw over the grid lines.
    let step = tick_step(span);
    let axis_y = TOP + LANE * report.lanes.len() as f64;
    s.push_str(r#"<g class="axis">"#);
    let mut t = 0.0;
    while t <= span + 1e-9 {
        let _ = write!(
            s,
            r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1:.1}" stroke="#e3e3e3"/><text x="{0:.1}" y="{2:.1}" font-size="11" text-anchor="middle" fill="#555">{3}</text>"##,
            x(t),
            axis_y + 4.0,
            axis_y + 18.0,
            tick_label(t, step)
        );
        t += step;
    }
    s.push_str("</g>");
    for (i, lane) in report.lanes.iter().enumerate() {
        let y = TOP + LANE * i as f64;
        let _ = write!(
            s,
            r##"<g class="lane" data-agent="{a}" data-slot="{slot}"><rect x="{LABEL}" y="{y:.1}" width="{plot:.1}" height="{BAR}" fill="#f6f6f6"/><text x="{lx:.1}" y="{ty:.1}" font-size="12" text-anchor="end" fill="#222">{a} / {slot}</text>"##,
            a = esc(&lane.agent),
            slot = lane.slot,
            lx = LABEL - 6.0,
            ty = y + BAR - 5.0,
        );
        for task in &lane.tasks {
            draw_task(&mut s, task, y, &x);
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    s
}

fn draw_task(s: &mut String, t: &LaneTask, y: f64, x: &impl Fn(f64) -> f64) {
    let (x0, x1) = (x(t.start_secs), x(t.end_secs).max(x(t.start_secs) + 1.0));
    let _ = write!(
        s,
        r#"<g class="task" data-task="{}" data-kind="{}" data-status="{}" data-critical="{}"><title>{}</title>"#,
        esc(&t.task_id),
        t.kind,
        t.status,
        t.critical,
        esc(&title(t))
    );
    // Phases left to right; what the agent did not account for (lease delivery,
    // result parsing) comes first as "other".
    let span = t.end_secs - t.start_secs;
    let run_color = if t.kind == "discover" && t.status == "passed" {
        "discover"
    } else {
        t.status.as_str()
    };
    // A shard's run phase in two: the runner's own overhead, then the tests.
    let (runner, tests) = if t.kind == "shard" && t.test_secs > 0.0 {
        (t.runner_secs, t.run_secs - t.runner_secs)
    } else {
        (0.0, t.run_secs)
    };
    let phases = [
        (t.prepare_secs, "prepare"),
        (t.start_phase_secs, "start"),
        (runner, "runner"),
        (tests, run_color),
        (t.upload_secs, "upload"),
    ];
    let accounted: f64 = phases.iter().map(|(secs, _)| secs).sum();
    let scale = if accounted > span && accounted > 0.0 {
        span / accounted
    } else {
        1.0
    };
    let mut at = t.start_secs;
    let mut parts = vec![((span - accounted).max(0.0), "other")];
    parts.extend(phases.iter().map(|&(secs, c)| (secs * scale, c)));
    if t.status == "running" {
        parts = vec![(span, "running")];
    }
    for (secs, name) in parts {
        if secs <= 0.0 {
            continue;
        }
        let (a, b) = (x(at), x(at + secs));
        let _ = write!(
            s,
            r#"<rect class="phase {name}" x="{a:.2}" y="{y:.1}" width="{:.2}" height="{BAR}" fill="{}"/>"#,
            (b - a).max(0.5),
            color(name)
        );
        at += secs;
    }
    let stroke = if t.critical { "#111" } else { "#ffffff" };
    let _ = write!(
        s,
        r#"<rect class="outline" x="{x0:.2}" y="{y:.1}" width="{:.2}" height="{BAR}" fill="none" stroke="{stroke}" stroke-width="{}"/></g>"#,
        x1 - x0,
        if t.critical { 1.6 } else { 0.8 }
    );
}

fn title(t: &LaneTask) -> String {
    format!(
        "{} ({}, {}): {} → {} ({}); {} tests, {} failed; queued {}, prepare {}, start {}, run {} (runner {}), upload {}{}",
        t.task_id,
        t.job_name,
        t.kind,
        fmt_secs(t.start_secs),
        fmt_secs(t.end_secs),
        t.status,
        t.tests,
        t.failed,
        fmt_secs(t.queued_secs),
        fmt_secs(t.prepare_secs),
        fmt_secs(t.start_phase_secs),
        fmt_secs(t.run_secs),
        fmt_secs(t.runner_secs),
        fmt_secs(t.upload_secs),
        if t.critical { "; on the critical path" } else { "" }
    )
}

/// A step giving at most about 12 ticks.
fn tick_step(span: f64) -> f64 {
    const STEPS: [f64; 15] = [
        0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
    ];
    STEPS.iter().copied().find(|s| span / s <= 12.0).unwrap_or(span / 12.0)
}

fn tick_label(t: f64, step: f64) -> String {
    if step >= 60.0 {
        format!("{}m", (t / 60.0).round())
    } else if step < 1.0 {
        format!("{t:.1}s")
    } else {
        format!("{}s", t.round())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{demo, slots, T0};

    #[test]
    fn one_lane_group_per_agent_slot_with_its_tasks() {
        let (run, tasks) = demo("r7", T0);
        let report = RunReport::build(&run, &tasks, &slots());
        let svg = timeline(&report);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert_eq!(svg.matches(r#"<g class="lane""#).count(), 3);
        assert!(svg.contains(r#"<g class="lane" data-agent="a" data-slot="1">"#));
        assert!(svg.contains(r#"<g class="lane" data-agent="b" data-slot="0">"#));
        assert_eq!(svg.matches(r#"<g class="task""#).count(), 6);
        assert!(svg.contains(r#"data-task="r7.j1.s0" data-kind="shard" data-status="failed" data-critical="false""#));
        assert!(svg.contains(r#"data-task="r7.j0.s0" data-kind="shard" data-status="passed" data-critical="true""#));
        // The failed shard's run phase is red; axis ticks every 0.5 s up to 5.41 s.
        assert!(svg.contains(r##"class="phase failed""##) && svg.contains("#e15759"));
        assert!(svg.contains(">5.0s</text>") && !svg.contains(">5.5s</text>"));
        assert_eq!(svg.matches("<svg").count(), 1);
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn task_rects_sit_at_their_times() {
        let (run, tasks) = demo("r7", T0);
        let report = RunReport::build(&run, &tasks, &slots());
        let svg = timeline(&report);
        // j0.s0 runs 0.3–5.4 s of 5.41 s: outline from x=150+0.3/5.41*1034.
        let x0 = LABEL + 0.3 / 5.41 * (WIDTH - LABEL - RIGHT);
        let w = (5.4 - 0.3) / 5.41 * (WIDTH - LABEL - RIGHT);
        assert!(
            svg.contains(&format!(r#"class="outline" x="{x0:.2}" y="8.0" width="{w:.2}""#)),
            "{svg}"
        );
        assert_eq!(tick_step(5.41), 0.5);
        assert_eq!(tick_step(500.0), 60.0);
    }
}
