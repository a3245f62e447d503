//! `farm capacity`: replays a recorded run, or sizes the farm for an arrival rate and
//! a target p90 feedback time, over a recorded run or MediaWiki's measured suite. The
//! simulation lives in `testfarm_shared::capacity`; this file reads files and prints.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use testfarm_shared::capacity::mediawiki::{
    mediawiki_workload, MediaWikiParams, MediaWikiSummary, CORE_TESTS_TSV, EXT_TESTS_TSV, TESTCASES_TSV,
};
use testfarm_shared::capacity::replay::{parse_record, replay, workload_from_record, ReplayReport};
use testfarm_shared::capacity::sizing::{size, SizingParams, SizingReport};
use testfarm_shared::capacity::{human_secs, svg, Workload};

use crate::args::CapacityArgs;
use crate::error::CliError;

/// Slots per agent when sizing, unless `--slots` says otherwise.
const DEFAULT_SLOTS: usize = 4;

pub fn capacity(args: CapacityArgs) -> Result<(), CliError> {
    let sources = [args.replay.is_some(), args.record.is_some(), args.mediawiki.is_some()];
    if sources.iter().filter(|s| **s).count() != 1 {
        return Err(CliError::Usage(
            "name one workload: --replay RUN.json (check the model against a recorded run), --record RUN.json (size for runs like it) or --mediawiki [DIR] (size for MediaWiki's gate)".into(),
        ));
    }
    if let Some(path) = &args.replay {
        let record = parse_record(&read(path)?).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
        let report = replay(&record, args.slots, args.min_shard).map_err(|e| CliError::Usage(e.to_string()))?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report).expect("json"));
        } else {
            print!("{}", replay_text(&report));
        }
        return Ok(());
    }
    let (workload, mediawiki) = if let Some(path) = &args.record {
        let record = parse_record(&read(path)?).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
        let (workload, _) = workload_from_record(&record).map_err(|e| CliError::Usage(e.to_string()))?;
        (workload, None)
    } else {
        let dir = mediawiki_dir(args.mediawiki.as_deref().expect("checked above"))?;
        let text = |name: &str| read(&dir.join(name));
        let (workload, summary) = mediawiki_workload(
            &text(TESTCASES_TSV)?,
            &text(CORE_TESTS_TSV)?,
            &text(EXT_TESTS_TSV)?,
            &MediaWikiParams::default(),
        )
        .map_err(|e| CliError::Usage(format!("{}: {e}", dir.display())))?;
        (workload, Some(summary))
    };
    let params = SizingParams {
        rate_per_hour: args.rate,
        hours: args.hours,
        seed: args.seed,
        target_secs: args.target.as_secs_f64(),
        agents_max: args.agents_max,
        slots: args.slots.unwrap_or(DEFAULT_SLOTS),
        min_shard_secs: args.min_shard.as_secs_f64(),
    };
    let report = size(&workload, &params).map_err(|e| CliError::Usage(e.to_string()))?;
    let svg_path = args.svg.clone().unwrap_or_else(|| PathBuf::from(".farm/capacity.svg"));
    if let Some(parent) = svg_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| CliError::Usage(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::write(&svg_path, svg::curve(&report))
        .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", svg_path.display())))?;
    if args.json {
        let out = serde_json::json!({
            "sizing": report,
            "mediawiki": mediawiki,
            "svg": svg_path.display().to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&out).expect("json"));
    } else {
        print!("{}", sizing_text(&workload, &report, mediawiki.as_ref(), &svg_path));
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))
}

/// The MediaWiki data directory: as given, else relative to the repository root.
fn mediawiki_dir(given: &Path) -> Result<PathBuf, CliError> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut candidates = vec![given.to_path_buf()];
    if given.is_relative() {
        candidates.push(root.join(given));
    }
    for dir in &candidates {
        if dir.join(TESTCASES_TSV).is_file() {
            return Ok(dir.canonicalize().unwrap_or_else(|_| dir.clone()));
        }
    }
    let looked: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
    Err(CliError::Usage(format!(
        "MediaWiki data not found: no {TESTCASES_TSV} in {} (hint: --mediawiki DIR names the directory with {TESTCASES_TSV}, {CORE_TESTS_TSV} and {EXT_TESTS_TSV}; by default ../shared/data from the repository root)",
        looked.join(" or ")
    )))
}

fn ms(secs: f64) -> String {
    format!("{:.0}ms", secs * 1000.0)
}

fn replay_text(r: &ReplayReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "farm capacity: replay of {} on {} agents × {} slots, one arrival",
        r.workload, r.agents, r.slots
    );
    let _ = writeln!(out, "  measured wall   {:>8.2}s", r.measured_secs);
    let _ = writeln!(
        out,
        "  predicted wall  {:>8.2}s   error {:+.1}%",
        r.predicted_secs, r.error_pct
    );
    let _ = writeln!(
        out,
        "  lower bound     {:>8.2}s   (max(test time / slots, longest test) + discovery + one shard overhead)",
        r.lower_bound_secs
    );
    let _ = writeln!(
        out,
        "\n  {:<28} {:>6} {:>9} {:>13} {:>8} {:>10} {:>10} {:>10}",
        "job", "tests", "test time", "shards rec/sim", "plan", "overhead", "of which", "discovery"
    );
    let _ = writeln!(
        out,
        "  {:<28} {:>6} {:>9} {:>13} {:>8} {:>10} {:>10} {:>10}",
        "", "", "", "", "", "per shard", "phases", ""
    );
    for j in &r.jobs {
        let _ = writeln!(
            out,
            "  {:<28} {:>6} {:>8.2}s {:>13} {:>8} {:>10} {:>10} {:>10}",
            j.name,
            j.tests,
            j.test_secs,
            format!("{}/{}", j.shards_recorded, j.shards_planned),
            if j.plan_reproduced { "same" } else { "differs" },
            ms(j.overhead_secs),
            ms(j.phases_secs),
            ms(j.discover_secs),
        );
    }
    let l = &r.lease_latency;
    let firsts: Vec<String> = r.agent_first_lease_secs.iter().map(|&s| ms(s)).collect();
    let connect: Vec<String> = r.agent_connect_secs.iter().map(|&s| ms(s)).collect();
    let _ = writeln!(
        out,
        "\n  agents: first leases {} after acceptance; connected in the replay at {} (`farm up` starts its agents with the run)",
        firsts.join(", "),
        connect.join(", ")
    );
    let _ = writeln!(
        out,
        "  scheduler: lease latency mean {}, p50 {}, p90 {}, max {} over {} leases; plan latency mean {}",
        ms(l.mean),
        ms(l.p50),
        ms(l.p90),
        ms(l.max),
        l.n,
        ms(r.plan_latency.mean)
    );
    let _ = writeln!(
        out,
        "  tick latency: predicted {:.2}s if the scheduler reacted instantly, {:.2}s if it only woke on its 250ms timer",
        r.predicted_instant_secs, r.predicted_timer_only_secs
    );
    out
}

fn sizing_text(workload: &Workload, r: &SizingReport, mw: Option<&MediaWikiSummary>, svg_path: &Path) -> String {
    let mut out = String::new();
    let p = &r.params;
    let _ = writeln!(out, "farm capacity: {}", r.workload);
    let tests: usize = workload
        .jobs
        .iter()
        .map(|j| workload.test_sets[j.tests].tests.len())
        .sum();
    let _ = writeln!(
        out,
        "  a run: {} jobs, {} planner units, {} of test time serially",
        workload.jobs.len(),
        tests,
        human_secs(r.run_test_secs)
    );
    if let Some(mw) = mw {
        let m = &mw.params;
        let _ = writeln!(
            out,
            "  assumptions (synthetic profile from ../shared/data, see README \"Capacity planning\"):"
        );
        for s in &mw.stages {
            let _ = writeln!(
                out,
                "    {:<20} {:>6} cases ({} measured), {:>5} planner units, {} per cell",
                s.stage,
                s.cases,
                s.measured_cases,
                s.units,
                human_secs(s.secs)
            );
        }
        let _ = writeln!(
            out,
            "    {} files without timings estimated at {:.1} (unit) / {:.1} (integration) cases per test method, durations drawn from core's measured cases",
            mw.files_estimated, mw.cases_per_method.0, mw.cases_per_method.1
        );
        let _ = writeln!(
            out,
            "    Database-group tests × {} (MySQL, table resets); one cell {} serially",
            m.database_factor,
            human_secs(mw.cell_secs())
        );
        let _ = writeln!(
            out,
            "    per-shard overhead cold/warm: unit {}/{}, integration and database {}/{} (install.php on MySQL); discovery {} + cold",
            human_secs(m.unit_overhead.cold_secs),
            human_secs(m.unit_overhead.warm_secs),
            human_secs(m.integration_overhead.cold_secs),
            human_secs(m.integration_overhead.warm_secs),
            human_secs(m.discover_secs)
        );
    }
    let _ = writeln!(
        out,
        "  arrivals: {} runs/hour for {}h (seed {}): {} runs; target p90 {}; {} slots per agent; planner min shard {}",
        p.rate_per_hour,
        p.hours,
        p.seed,
        r.runs,
        human_secs(p.target_secs),
        p.slots,
        human_secs(p.min_shard_secs)
    );
    for (pool, jobs) in r.pools.iter().zip(&r.jobs_per_pool) {
        let _ = writeln!(out, "  pool {pool}: {jobs} jobs per run");
    }
    let _ = writeln!(
        out,
        "\n  {:>11} {:>7} {:>9} {:>9} {:>9} {:>6} {:>9}",
        "agents/pool", "agents", "p50", "p90", "p99", "util", "overhead"
    );
    for pt in &r.points {
        let mark = if pt.p90_secs <= p.target_secs {
            ""
        } else {
            "  over target"
        };
        let _ = writeln!(
            out,
            "  {:>11} {:>7} {:>9} {:>9} {:>9} {:>5.0}% {:>8.0}%{mark}",
            pt.agents[0],
            pt.total_agents,
            human_secs(pt.p50_secs),
            human_secs(pt.p90_secs),
            human_secs(pt.p99_secs),
            pt.utilization * 100.0,
            pt.overhead_share * 100.0
        );
    }
    let _ = writeln!(
        out,
        "  (util: busy slots / all slots; overhead: share of busy time that is not tests)"
    );
    match &r.needed {
        Some(n) => {
            let per_pool: Vec<String> = r
                .pools
                .iter()
                .zip(&n.agents)
                .map(|(pool, a)| format!("{a} × {pool}"))
                .collect();
            let _ = writeln!(
                out,
                "\nneeded: {} agents × {} slots for p90 ≤ {} at {} runs/hour (p50 {}, p90 {}, p99 {}): {}",
                n.total_agents,
                p.slots,
                human_secs(p.target_secs),
                p.rate_per_hour,
                human_secs(n.p50_secs),
                human_secs(n.p90_secs),
                human_secs(n.p99_secs),
                per_pool.join(", ")
            );
            if n.overhead_share > 0.5 {
                let _ = writeln!(
                    out,
                    "  {:.0}% of busy slot time is per-shard overhead and discovery, not tests: shards are small for their overhead (hint: a larger --min-shard, on the coordinators too, needs fewer agents)",
                    n.overhead_share * 100.0
                );
            }
        }
        None => {
            let _ = writeln!(
                out,
                "\nneeded: more than {} agents per pool: p90 ≤ {} is not reached at {} runs/hour (hint: raise --agents-max, or see the table for the floor)",
                p.agents_max,
                human_secs(p.target_secs),
                p.rate_per_hour
            );
        }
    }
    let _ = writeln!(out, "curve: {}", svg_path.display());
    out
}
