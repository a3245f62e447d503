//! deploy/: the Prometheus scrape config and the Grafana dashboard parse, and every
//! metric the dashboard queries is one the coordinator exports (coordinator/src/metrics.rs,
//! read as text).

use std::collections::BTreeSet;

use serde_json::Value;
use testfarm_integration::workspace_root;

fn read(rel: &str) -> String {
    let path = workspace_root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `farm_*` name in `text`, without the `_bucket`/`_sum`/`_count` suffix
/// Prometheus adds to histograms.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("farm_") {
        let start = i + at;
        let boundary = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end = start
            + text[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(text.len() - start);
        if boundary {
            let name = &text[start..end];
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            names.insert(base.to_string());
        }
        i = end;
    }
    names
}

fn exprs(panel: &Value, out: &mut Vec<String>) {
    for t in panel["targets"].as_array().into_iter().flatten() {
        out.push(t["expr"].as_str().expect("every target has an expr").to_string());
    }
    for p in panel["panels"].as_array().into_iter().flatten() {
        exprs(p, out);
    }
}

#[test]
fn prometheus_config_scrapes_coordinator_metrics() {
    let config: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read("deploy/prometheus/prometheus.yml")).expect("prometheus.yml parses");
    let jobs = config["scrape_configs"].as_sequence().expect("scrape_configs");
    let coordinator = jobs
        .iter()
        .find(|j| j["job_name"].as_str() == Some("testfarm-coordinator"))
        .expect("a testfarm-coordinator job");
    assert_eq!(coordinator["metrics_path"].as_str(), Some("/metrics"));
    let targets = coordinator["static_configs"][0]["targets"]
        .as_sequence()
        .expect("targets");
    assert!(!targets.is_empty());
    assert!(targets.iter().all(|t| t.as_str().is_some_and(|t| t.contains(':'))));
}

#[test]
fn dashboard_queries_only_metrics_the_coordinator_exports() {
    let dashboard: Value = serde_json::from_str(&read("deploy/grafana/testfarm.json")).expect("testfarm.json parses");
    let mut all = Vec::new();
    for p in dashboard["panels"].as_array().expect("panels") {
        exprs(p, &mut all);
    }
    assert!(all.len() >= 10, "{} queries", all.len());
    let used: BTreeSet<String> = all.iter().flat_map(|e| metric_names(e)).collect();
    let source = read("coordinator/src/metrics.rs");
    let missing: Vec<&String> = used
        .iter()
        .filter(|name| !source.contains(&format!("\"{name}\"")))
        .collect();
    assert!(
        missing.is_empty(),
        "metrics not in coordinator/src/metrics.rs: {missing:?}"
    );
    // The panels the capacity planner reads.
    for name in [
        "farm_queue_depth_total",
        "farm_agent_slots_busy",
        "farm_agent_slots",
        "farm_run_wall_seconds",
        "farm_tasks_lost_total",
        "farm_raft_term",
        "farm_raft_apply_lag",
        "farm_raft_leader_changes_total",
        "farm_raft_is_leader",
    ] {
        assert!(used.contains(name), "the dashboard does not show {name}");
    }
    assert!(all
        .iter()
        .any(|e| e.contains("histogram_quantile(0.9") && e.contains("mode=\"gate\"")));
}

#[test]
fn metric_names_are_found_whole() {
    let names = metric_names("rate(farm_run_wall_seconds_bucket{mode=\"gate\"}[5m]) / xfarm_no + farm_a");
    assert_eq!(
        names,
        ["farm_a", "farm_run_wall_seconds"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
}
