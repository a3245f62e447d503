//! The report pages of a real coordinator after two real runs of examples/quickstart:
//! the JSON API agrees with the runs' JUnit and phase data, `farm report --json` is
//! the same JSON, the improvement list is non-empty and ranked by time saved, and
//! Debian's chromium (headless) renders the run and profile pages without a console
//! message, with one timeline lane per agent slot and the same figures. Screenshots go
//! to the farm's directory and to target/report-screenshot.png.
//!
//! chromium must be installed (scripts/test.sh installs it): without it this test
//! fails, it does not skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use testfarm_integration::http::{get, get_json};
use testfarm_integration::quickstart::quickstart_yaml;
use testfarm_integration::record::{self, summary};
use testfarm_integration::{farm_bin, Farm, Options};

const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(90);

fn chromium() -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "chromium is not installed, and this test needs a real browser: install it with \
             `apt-get install -y chromium` (scripts/test.sh does)"
        )
    })
}

/// Runs headless chromium on `url` with `extra` flags; returns (stdout, stderr).
fn chromium_run(profile_dir: &Path, url: &str, extra: &[String]) -> (String, String) {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile_dir.display()))
    .args(extra)
    .arg(url)
    .stdin(Stdio::null());
    let out_path = profile_dir.with_extension("out");
    let err_path = profile_dir.with_extension("err");
    cmd.stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"));
    let mut child = cmd.spawn().expect("start chromium");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish with {url} within {CHROMIUM_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(status.success(), "chromium failed on {url}: {status}\n{stderr}");
    (stdout, stderr)
}

/// The DOM of `url` as chromium built it; fails on any console message (the pages
/// have no script, so any message is an error: a failed load, an uncaught exception).
fn dom(dir: &Path, name: &str, url: &str) -> String {
    let (dom, log) = chromium_run(&dir.join(format!("chromium-{name}")), url, &["--dump-dom".into()]);
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught") || l.contains("console.error"))
        .collect();
    assert!(console.is_empty(), "console messages on {url}:\n{}", console.join("\n"));
    assert!(dom.contains("</html>"), "no DOM for {url}: {dom}");
    dom
}

/// The text and data-value of `data-figure="name"` in a DOM.
fn figure(dom: &str, name: &str) -> (String, f64) {
    let key = format!(r#"data-figure="{name}""#);
    let at = dom.find(&key).unwrap_or_else(|| panic!("no figure {name} on the page"));
    let tag_end = at + dom[at..].find('>').expect("tag end");
    let tag = &dom[at..tag_end];
    let value = tag
        .split("data-value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("figure {name} has no data-value: {tag}"));
    let text_end = tag_end + dom[tag_end..].find('<').expect("text end");
    (dom[tag_end + 1..text_end].to_string(), value)
}

/// Asserts a figure shows `expected` seconds (as `12.34 s`) and carries it exactly.
fn assert_secs(dom: &str, name: &str, expected: f64) {
    let (text, value) = figure(dom, name);
    assert!(
        (value - expected).abs() < 1e-6,
        "{name}: data-value {value}, expected {expected}"
    );
    assert_eq!(text, format!("{expected:.2} s"), "{name} as shown");
}

fn sum(values: impl Iterator<Item = f64>) -> f64 {
    values.sum()
}

fn shard_phase(rec: &Value, phase: &str) -> f64 {
    sum(record::shard_tasks(rec)
        .iter()
        .map(|t| t["outcome"]["phases"][phase].as_f64().expect("phase")))
}

#[test]
fn report_pages_agree_with_two_quickstart_runs_and_render_in_chromium() {
    chromium(); // fail first, and clearly, without a browser
    let opts = Options {
        http: true,
        ..Options::default()
    };
    let slots = opts.slots as usize * opts.agents;
    let mut farm = Farm::start("reports", opts);
    let mut records = Vec::new();
    for _ in 0..2 {
        let out = farm.submit(&quickstart_yaml(), &[]);
        let rec = out.json();
        assert_eq!(out.code, 0, "{}", summary(&rec));
        records.push(rec);
    }
    let rec = &records[1];
    let run_id = rec["run"]["id"].as_str().expect("run id").to_string();
    let http = farm.http_url();

    // ------------------------------------------------ the JSON API against the record
    let api = get_json(&http, &format!("/api/runs/{run_id}"));
    assert_eq!(api["schema"], "testfarm.run-report/1");
    assert_eq!(api["run_id"], run_id.as_str());
    let results = record::results(rec);
    let total: f64 = sum(results.iter().map(|r| r.duration_secs));
    let slowest = results.iter().map(|r| r.duration_secs).fold(0.0, f64::max);
    let e = &api["efficiency"];
    assert!((e["total_test_secs"].as_f64().unwrap() - total).abs() < 1e-6, "{e}");
    assert_eq!(e["slots"], slots);
    assert!((api["slowest"][0]["secs"].as_f64().unwrap() - slowest).abs() < 1e-9);
    let wall =
        (rec["run"]["finished_ms"].as_u64().unwrap() - rec["run"]["accepted_ms"].as_u64().unwrap()) as f64 / 1000.0;
    assert!((api["wall_secs"].as_f64().unwrap() - wall).abs() < 1e-9);
    let bound = (total / slots as f64).max(slowest);
    assert!((e["lower_bound_secs"].as_f64().unwrap() - bound).abs() < 1e-6, "{e}");
    for phase in ["queued_secs", "prepare_secs", "start_secs", "run_secs", "upload_secs"] {
        let got = api["phases"]["shards"][phase].as_f64().unwrap();
        assert!((got - shard_phase(rec, phase)).abs() < 1e-6, "shard {phase}: {got}");
    }
    let lanes = api["lanes"].as_array().expect("lanes");
    assert_eq!(lanes.len(), slots, "one lane per agent slot");
    for lane in lanes {
        assert!(
            farm.agent_ids().iter().any(|a| lane["agent"] == a.as_str()),
            "{}",
            lane["agent"]
        );
    }
    let placed: usize = lanes.iter().map(|l| l["tasks"].as_array().unwrap().len()).sum();
    assert_eq!(placed, record::tasks(rec).len(), "every task on a lane");
    let path_secs = api["critical_path"]["secs"].as_f64().unwrap();
    assert!(
        path_secs > 0.9 * wall && path_secs <= wall + 1e-9,
        "critical path {path_secs} of {wall}"
    );

    let improvements = api["improvements"].as_array().expect("improvements");
    assert!(!improvements.is_empty(), "no improvement found on real data");
    let saves: Vec<f64> = improvements.iter().map(|i| i["saves_secs"].as_f64().unwrap()).collect();
    assert!(
        saves.windows(2).all(|w| w[0] >= w[1]),
        "not ranked by time saved: {saves:?}"
    );
    for (n, i) in improvements.iter().enumerate() {
        assert_eq!(i["rank"], n + 1);
    }
    eprintln!("improvements of {run_id}:");
    for i in improvements {
        eprintln!(
            "  {} saves {:.2}s: {}\n      {}",
            i["rank"],
            i["saves_secs"].as_f64().unwrap(),
            i["title"],
            i["why"]
        );
    }

    // `farm report --json` is the same JSON; the text report has the lanes.
    let url = farm.url();
    let out = farm.farm(&["report", &run_id, "--coordinator", &url, "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json(), api, "farm report --json and /api/runs/{run_id} differ");
    let out = farm.farm(&["report", &run_id, "--coordinator", &url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.lines().filter(|l| l.ends_with('|')).count(),
        slots,
        "{}",
        out.stdout
    );
    let out = farm.farm(&["report", "--profile", "quickstart", "--coordinator", &url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("profile quickstart: 2 runs"), "{}", out.stdout);

    // ------------------------------------------------ the profile against both records
    let profile = get_json(&http, "/api/profiles/quickstart?stable_runs=2");
    assert_eq!(profile["schema"], "testfarm.profile-report/1");
    let runs: Vec<&str> = profile["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    let ids: Vec<&str> = records.iter().map(|r| r["run"]["id"].as_str().unwrap()).collect();
    assert_eq!(runs, ids);
    let stage_secs = |stage: &str| {
        sum(records.iter().flat_map(|rec| {
            record::results(rec)
                .into_iter()
                .filter(|r| rec["run"]["jobs"][r.job as usize]["spec"]["stage"] == stage)
                .map(|r| r.duration_secs)
        })) / 2.0
    };
    for s in profile["stages"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        let got = s["secs_per_run"].as_f64().unwrap();
        assert!((got - stage_secs(name)).abs() < 1e-6, "stage {name}: {got}");
    }
    // Both runs passed: with stable_runs=2 every test is stable.
    let stage_tests: std::collections::BTreeSet<(String, String)> = results
        .iter()
        .map(|r| {
            (
                rec["run"]["jobs"][r.job as usize]["spec"]["stage"].to_string(),
                r.id.clone(),
            )
        })
        .collect();
    assert_eq!(profile["stable_count"].as_u64().unwrap() as usize, stage_tests.len());
    assert_eq!(profile["run_wall"]["count"], 2);
    assert!(!profile["improvements"].as_array().unwrap().is_empty());

    // Unknown ids: a clear 404.
    let (code, body) = get(&http, "/runs/r999999");
    assert_eq!(code, 404);
    assert!(body.contains("no run `r999999`"), "{body}");
    let (code, body) = get(&http, "/api/profiles/nosuch");
    assert_eq!(code, 404);
    assert!(body.contains("\"error\"") && body.contains("nosuch"), "{body}");

    // ------------------------------------------------ the pages in chromium
    let dir = farm.dir().to_path_buf();
    let run_url = format!("{http}/runs/{run_id}");
    let run_dom = dom(&dir, "run", &run_url);
    assert_eq!(run_dom.matches("<svg").count(), 1, "one timeline");
    assert!(run_dom.contains(r#"class="timeline""#));
    assert_eq!(
        run_dom.matches(r#"<g class="lane""#).count(),
        slots,
        "lanes = agents × slots"
    );
    for id in farm.agent_ids() {
        for slot in 0..2 {
            assert!(
                run_dom.contains(&format!(r#"<g class="lane" data-agent="{id}" data-slot="{slot}">"#)),
                "no lane {id}/{slot}"
            );
        }
    }
    assert_secs(
        &run_dom,
        "total_test_secs",
        api["efficiency"]["total_test_secs"].as_f64().unwrap(),
    );
    assert!((figure(&run_dom, "total_test_secs").1 - total).abs() < 1e-6);
    assert_secs(&run_dom, "slowest_secs", slowest);
    assert_secs(&run_dom, "wall_secs", wall);
    assert_secs(&run_dom, "phase_run_secs", shard_phase(rec, "run_secs"));
    assert_secs(&run_dom, "phase_prepare_secs", shard_phase(rec, "prepare_secs"));
    assert_eq!(
        figure(&run_dom, "tests_total").1 as u64,
        record::count(rec, "tests_total")
    );
    assert_eq!(figure(&run_dom, "slots").0, slots.to_string());
    assert_eq!(run_dom.matches("data-saves=").count(), improvements.len());

    let profile_url = format!("{http}/profiles/quickstart");
    let profile_dom = dom(&dir, "profile", &profile_url);
    assert_eq!(figure(&profile_dom, "runs").0, "2");
    for s in profile["stages"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        assert_secs(&profile_dom, &format!("stages_secs_{name}"), stage_secs(name));
    }
    assert!(profile_dom.contains(&format!(r#"<a href="/runs/{run_id}">{run_id}</a>"#)));
    let index_dom = dom(&dir, "index", &format!("{http}/"));
    assert!(index_dom.contains(r#"<a href="/profiles/quickstart">quickstart</a>"#));

    // Screenshots: in the farm's directory and under target/.
    let target = farm_bin()
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf();
    for (name, url, copy) in [
        ("run", &run_url, "report-screenshot.png"),
        ("profile", &profile_url, "report-profile-screenshot.png"),
    ] {
        let shot = dir.join(format!("{name}.png"));
        chromium_run(
            &dir.join(format!("chromium-shot-{name}")),
            url,
            &[
                format!("--screenshot={}", shot.display()),
                "--window-size=1400,1000".into(),
            ],
        );
        let bytes = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot {}: {e}", shot.display()));
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{} is not a real PNG",
            shot.display()
        );
        std::fs::copy(&shot, target.join(copy)).expect("copy the screenshot");
        eprintln!(
            "screenshot of {url}: {} (copied to {})",
            shot.display(),
            target.join(copy).display()
        );
    }
}
