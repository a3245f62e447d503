//! Terminal renderings of the reports (`farm report`): plain text, lanes as bars.

use std::fmt::Write;

use super::improve::Improvement;
use super::profile::{ProfileReport, Share};
use super::run::RunReport;
use super::{fmt_pct, fmt_secs};

/// Columns of a lane bar.
pub const BAR_WIDTH: usize = 64;

/// The run report as text.
pub fn run_text(r: &RunReport) -> String {
    let e = &r.efficiency;
    let mut o = String::new();
    let verdict = r.verdict.map_or("RUNNING".to_string(), |v| v.as_str().to_uppercase());
    let _ = writeln!(
        o,
        "run {} {} {verdict} in {}: {} tests, {} passed, {} failed, {} skipped ({} project, {} slots)",
        r.run_id,
        r.pipeline,
        fmt_secs(r.wall_secs),
        r.counts.tests_total,
        r.counts.tests_passed,
        r.counts.tests_failed,
        r.counts.tests_skipped,
        r.project,
        e.slots
    );
    if !r.message.is_empty() {
        let _ = writeln!(o, "  {}", r.message);
    }
    let longest = e
        .longest_unit
        .as_ref()
        .map(|u| format!("longest {} {} {}", u.kind, u.name, fmt_secs(u.secs)))
        .unwrap_or_else(|| "no tests".into());
    let _ = writeln!(
        o,
        "efficiency {}: lower bound {} = max({} of tests / {} slots = {}, {longest}); {} over it",
        fmt_pct(e.efficiency),
        fmt_secs(e.lower_bound_secs),
        fmt_secs(e.total_test_secs),
        e.slots,
        fmt_secs(e.work_per_slot_secs),
        fmt_secs(e.overhead_secs)
    );

    let s = &r.phases.shards;
    let _ = writeln!(
        o,
        "\nphases of {} shards (slot time {}{}):",
        s.tasks,
        fmt_secs(s.slot_secs),
        if s.worker_tasks > 0 {
            format!("; {} in PHPUnit workers, bootstrapped once per slot", s.worker_tasks)
        } else {
            String::new()
        }
    );
    for (label, secs) in [
        ("queue", s.queued_secs),
        ("prepare", s.prepare_secs),
        ("start", s.start_secs),
        ("run", s.run_secs),
        ("  tests", s.test_secs),
        ("  runner", s.runner_secs),
        ("upload", s.upload_secs),
        ("other", s.other_secs),
    ] {
        let share = if label == "queue" {
            "(not on a slot)".to_string()
        } else {
            fmt_pct(super::run::ratio(secs, s.slot_secs))
        };
        let _ = writeln!(o, "  {label:<8} {:>10}  {share:>6}", fmt_secs(secs));
    }

    let span = r.wall_secs.max(0.001);
    let _ = writeln!(
        o,
        "\nlanes (one column = {}; # shard, X failed, D discovery, = critical path, ~ running):",
        fmt_secs(span / BAR_WIDTH as f64)
    );
    let width = r.lanes.iter().map(|l| l.agent.len() + 3).max().unwrap_or(0);
    for lane in &r.lanes {
        let mut bar = vec![' '; BAR_WIDTH];
        for (c, cell) in bar.iter_mut().enumerate() {
            let t = (c as f64 + 0.5) * span / BAR_WIDTH as f64;
            if let Some(task) = lane.tasks.iter().find(|t0| t0.start_secs <= t && t < t0.end_secs) {
                *cell = match (task.status.as_str(), task.kind.as_str(), task.critical) {
                    ("running", _, _) => '~',
                    ("failed" | "error", _, _) => 'X',
                    (_, _, true) => '=',
                    (_, "discover", _) => 'D',
                    _ => '#',
                };
            }
        }
        let name = format!("{}/{}", lane.agent, lane.slot);
        let _ = writeln!(o, "  {name:<width$} |{}|", bar.into_iter().collect::<String>());
    }

    let _ = writeln!(o, "\ncritical path ({}):", fmt_secs(r.critical_path.secs));
    for seg in &r.critical_path.segments {
        let what = match &seg.task_id {
            Some(id) => format!(
                "{} {id} {} on {}",
                seg.kind,
                seg.note,
                seg.agent.as_deref().unwrap_or("?")
            ),
            None => format!("wait: {}", seg.note),
        };
        let _ = writeln!(
            o,
            "  {:>9} → {:>9} {:>9}  {what}",
            fmt_secs(seg.start_secs),
            fmt_secs(seg.end_secs),
            fmt_secs(seg.secs)
        );
    }

    let _ = writeln!(o, "\nslowest tests:");
    for t in r.slowest.iter().take(10) {
        let _ = writeln!(o, "  {:>9}  {} {} [{}]", fmt_secs(t.secs), t.job_name, t.test, t.status);
    }
    if !r.failures.is_empty() {
        let _ = writeln!(o, "\nfailures ({}):", r.failures.len());
        for f in &r.failures {
            let _ = writeln!(
                o,
                "  {} {} [{}{}] {} (shard {} on {})",
                f.job_name,
                f.test.as_deref().unwrap_or("(no test)"),
                f.status,
                f.quarantined
                    .as_ref()
                    .map(|e| format!(", quarantined as {e}: did not count"))
                    .unwrap_or_default(),
                f.message.lines().next().unwrap_or(""),
                f.task_id,
                f.agent
            );
            for line in f.log_excerpt.lines() {
                let _ = writeln!(o, "    | {line}");
            }
        }
    }
    if !r.quarantine.is_empty() {
        let _ = writeln!(
            o,
            "\nquarantined ({}; they ran, their failures did not count):",
            r.quarantine.len()
        );
        for q in &r.quarantine {
            let why = if q.reason.is_empty() {
                "no reason given"
            } else {
                &q.reason
            };
            let _ = writeln!(
                o,
                "  {}  since {} by {}: {why}; failed here {}",
                q.test, q.since, q.by, q.failed_here
            );
        }
    }
    improvements(&mut o, &r.improvements);
    o
}

fn improvements(o: &mut String, items: &[Improvement]) {
    let _ = writeln!(o, "\nimprovements, by wall time saved per run:");
    if items.is_empty() {
        let _ = writeln!(o, "  (none found)");
    }
    for i in items {
        let _ = writeln!(o, "  {}. saves {:>9}  {}", i.rank, fmt_secs(i.saves_secs), i.title);
        let _ = writeln!(o, "     {}", i.why);
    }
}

fn shares(o: &mut String, title: &str, rows: &[Share], limit: usize) {
    let _ = writeln!(o, "\n{title}:");
    for s in rows.iter().take(limit) {
        let name = if s.stage.is_empty() {
            s.name.clone()
        } else {
            format!("{} ({})", s.name, s.stage)
        };
        let _ = writeln!(
            o,
            "  {:>9} {:>5}  {name} [{}]",
            fmt_secs(s.secs_per_run),
            fmt_pct(s.share),
            super::count(s.tests as usize, "test")
        );
    }
}

/// The profile report as text.
pub fn profile_text(p: &ProfileReport) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "profile {}: {} runs, {} tests profiled; run wall p50 {} p90 {} p99 {}",
        p.project,
        p.runs.len(),
        p.tests,
        fmt_secs(p.run_wall.p50),
        fmt_secs(p.run_wall.p90),
        fmt_secs(p.run_wall.p99)
    );
    shares(&mut o, "test time per run, per stage", &p.stages, usize::MAX);
    shares(&mut o, "per extension", &p.extensions, 20);
    shares(&mut o, "per class (top 10)", &p.classes, 10);
    let _ = writeln!(o, "\njob wall times:");
    for j in &p.jobs {
        let _ = writeln!(
            o,
            "  {:<32} p50 {:>9} p90 {:>9} p99 {:>9} ({} runs)",
            j.job,
            fmt_secs(j.wall.p50),
            fmt_secs(j.wall.p90),
            fmt_secs(j.wall.p99),
            j.wall.count
        );
    }
    let _ = writeln!(o, "\ntrends ({} found):", p.trends.len());
    for t in &p.trends {
        let _ = writeln!(
            o,
            "  {} ({}) {:.1}× slower: {} → {}{}",
            t.test,
            t.stage,
            t.ratio,
            fmt_secs(t.median_secs),
            fmt_secs(t.now_secs),
            t.since_run
                .as_deref()
                .map(|r| format!(" since {r}"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(o, "\nflaky tests ({} found):", p.flaky.len());
    for f in &p.flaky {
        let _ = writeln!(o, "  {} ({}) failed {} of {} runs", f.test, f.job, f.failed, f.runs);
    }
    let _ = writeln!(
        o,
        "\n{} tests without a failure in their last {} runs",
        p.stable_count, p.options.stable_runs
    );
    improvements(&mut o, &p.improvements);
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{demo, slots, T0};

    #[test]
    fn lanes_become_bars() {
        let (run, tasks) = demo("r7", T0);
        let mut report = RunReport::build(&run, &tasks, &slots());
        report.improvements = crate::report::improve::rank(Some(&report), None);
        let text = run_text(&report);
        assert!(text.starts_with("run r7 demo FAILED in 5.41 s: 6 tests, 5 passed, 1 failed"));
        assert!(
            text.contains("lower bound 5.00 s = max(10.00 s of tests / 3 slots = 3.33 s, longest class Api 5.00 s)")
        );
        let bars: Vec<&str> = text.lines().filter(|l| l.ends_with('|')).collect();
        assert_eq!(bars.len(), 3);
        // a/0: discovery then the critical shard to the end; a/1 failed; b/0 idle at the end.
        assert!(bars[0].starts_with("  a/0  | ="), "{}", bars[0]);
        assert!(bars[0].ends_with("=|"));
        assert!(bars[1].contains('X') && !bars[1].contains('#'));
        assert!(bars[2].contains('D') && bars[2].ends_with(" |"));
        assert!(text.contains("u2 [failed] expected 2"));
        assert!(text.contains("    | --- u2"));
        assert!(text.contains("1. saves"));
    }
}
