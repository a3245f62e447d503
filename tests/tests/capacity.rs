//! `farm capacity` against real runs: a replay of a quickstart run made on a real
//! coordinator and two real agents predicts its wall time within 15%, and the sizing
//! of MediaWiki's gate names an agent count and draws its curve.

use std::process::Command;

use testfarm_integration::quickstart::quickstart_yaml;
use testfarm_integration::record::summary;
use testfarm_integration::{farm_bin, workspace_root, Farm, Options};

#[test]
fn replay_predicts_the_quickstart_wall_time_within_15_percent() {
    // The coordinator's default min shard, which `farm capacity` assumes too.
    let opts = Options {
        min_shard: "2s",
        ..Options::default()
    };
    let mut farm = Farm::start("cap-replay", opts);
    // The first run fills the timing profiles; the second is planned from them, as
    // every run of a farm in use is.
    let first = farm.submit(&quickstart_yaml(), &[]);
    assert_eq!(first.code, 0, "first run; {}", summary(&first.json()));
    let out = farm.submit(&quickstart_yaml(), &[]);
    let rec = out.json();
    assert_eq!(out.code, 0, "second run; {}", summary(&rec));
    let path = farm.dir().join("run.json");
    std::fs::write(&path, &out.stdout).expect("save the record");
    let path = path.display().to_string();

    let replay = farm.farm(&["capacity", "--replay", &path, "--json"]);
    assert_eq!(replay.code, 0, "farm capacity --replay: {}", replay.stderr);
    let report = replay.json();
    let measured = report["measured_secs"].as_f64().expect("measured_secs");
    let predicted = report["predicted_secs"].as_f64().expect("predicted_secs");
    let wall =
        (rec["run"]["finished_ms"].as_u64().unwrap() - rec["run"]["accepted_ms"].as_u64().unwrap()) as f64 / 1000.0;
    assert!(
        (measured - wall).abs() < 1e-9,
        "measured {measured} is not the record's wall {wall}"
    );
    assert_eq!(report["agents"], 2, "{report}");
    assert_eq!(report["slots"], 2, "{report}");
    let error = (predicted - measured).abs() / measured;
    eprintln!(
        "replay: measured {measured:.2}s, predicted {predicted:.2}s, error {:+.1}%",
        (predicted - measured) / measured * 100.0
    );
    assert!(
        error <= 0.15,
        "predicted {predicted:.2}s against measured {measured:.2}s: {report}"
    );
    for job in report["jobs"].as_array().expect("jobs") {
        assert_eq!(job["plan_reproduced"], true, "the simulator planned differently: {job}");
    }

    // The human form says the same.
    let text = farm.farm(&["capacity", "--replay", &path]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("predicted wall"), "{}", text.stdout);
    assert!(text.stdout.contains("measured wall"), "{}", text.stdout);
    assert!(text.stdout.contains("lease latency"), "{}", text.stdout);
}

#[test]
fn mediawiki_sizing_names_an_agent_count_and_draws_the_curve() {
    let dir = tempfile::tempdir().expect("temp dir");
    let svg = dir.path().join("curve.svg");
    let data = workspace_root().join("../shared/data");
    assert!(
        data.join("mw-core-testcases.tsv").is_file(),
        "missing {}",
        data.display()
    );
    let out = Command::new(farm_bin())
        .args(["capacity", "--mediawiki", &data.display().to_string(), "--svg"])
        .arg(&svg)
        .current_dir(dir.path())
        .output()
        .expect("run farm capacity");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{stdout}\n{stderr}", out.status);
    let needed = stdout
        .lines()
        .find(|l| l.starts_with("needed: "))
        .unwrap_or_else(|| panic!("no `needed:` line:\n{stdout}"));
    let agents: usize = needed["needed: ".len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("`{needed}` names no agent count"));
    assert!(agents > 0, "{needed}");
    assert!(
        needed.contains("p90 ≤ 10m00s") && needed.contains("40 runs/hour"),
        "{needed}"
    );
    assert!(stdout.contains(&format!("curve: {}", svg.display())), "{stdout}");
    let curve = std::fs::read_to_string(&svg).expect("the SVG was written");
    assert!(curve.starts_with("<svg"), "{curve}");
    assert_eq!(curve.matches("<polyline").count(), 2, "p50 and p90 curves");
    let p90 = curve
        .lines()
        .find(|l| l.contains("class=\"p90\""))
        .expect("a p90 curve");
    assert!(p90.matches(',').count() >= 5, "a curve of several points: {p90}");

    // Without the data, the error says where it looked and what to pass.
    let out = Command::new(farm_bin())
        .args(["capacity", "--mediawiki", "/nonexistent/data"])
        .current_dir(dir.path())
        .output()
        .expect("run farm capacity");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("MediaWiki data not found") && stderr.contains("--mediawiki DIR"),
        "{stderr}"
    );
}
