//! A finished run as one JUnit XML file, for CI systems that read JUnit (Jenkins, Zuul,
//! GitLab): `<testsuites>` for the run, a `<testsuite>` per job, a `<testcase>` per
//! result with its time, and `<failure>`, `<error>` or `<skipped>` with the message.
//! A test id `Class::method …` becomes classname `Class`, name `method …`; an id with
//! no class takes the job's name as its classname. A shard whose runner failed with no
//! test to blame (an infrastructure error, a runner that exited non-zero with every
//! test passed) is a `<testcase>` of its own with an `<error>`, so the file fails
//! where the run failed.

use std::collections::BTreeMap;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use crate::model::{Run, Task, Work};
use crate::task::{ExitKind, TestStatus};

#[derive(Default)]
struct Suite {
    cases: Vec<Case>,
}

struct Case {
    class: String,
    name: String,
    secs: f64,
    /// (element, message): `failure`, `error` or `skipped`; none when passed.
    verdict: Option<(&'static str, String)>,
}

impl Suite {
    fn count(&self, element: &str) -> usize {
        self.cases
            .iter()
            .filter(|c| c.verdict.as_ref().is_some_and(|(e, _)| *e == element))
            .count()
    }

    fn secs(&self) -> f64 {
        self.cases.iter().map(|c| c.secs).sum()
    }
}

fn verdict(status: TestStatus, message: &str) -> Option<(&'static str, String)> {
    let element = match status {
        TestStatus::Passed => return None,
        TestStatus::Skipped => "skipped",
        TestStatus::Failed => "failure",
        TestStatus::Error | TestStatus::Missing | TestStatus::TimedOut | TestStatus::MemoryLimit => "error",
    };
    let message = match status {
        TestStatus::Missing => format!("missing: the runner reported nothing for this test. {message}"),
        TestStatus::TimedOut => format!("timed out: the shard hit its timeout. {message}"),
        TestStatus::MemoryLimit => format!("memory limit: the shard's cgroup hit its memory limit. {message}"),
        _ => message.to_string(),
    };
    Some((element, message.trim().to_string()))
}

/// The run's JUnit XML.
pub fn run_junit(run: &Run, tasks: &[Task]) -> String {
    let mut suites: BTreeMap<usize, Suite> = (0..run.jobs.len()).map(|j| (j, Suite::default())).collect();
    for task in tasks {
        let Some(outcome) = &task.outcome else { continue };
        let job_name = run
            .jobs
            .get(task.job)
            .map_or_else(|| format!("job {}", task.job), |j| j.spec.display_name());
        let suite = suites.entry(task.job).or_default();
        for r in &outcome.results {
            let (class, name) = match r.id.split_once("::") {
                Some((class, name)) => (class.to_string(), name.to_string()),
                None => (job_name.clone(), r.id.clone()),
            };
            suite.cases.push(Case {
                class,
                name,
                secs: r.duration_secs.max(0.0),
                verdict: verdict(r.status, &r.message),
            });
        }
        let blamed = outcome.results.iter().any(|r| r.status.is_failure());
        let runner_failed = match &outcome.exit {
            ExitKind::Exited { code: 0 } => None,
            ExitKind::Infrastructure { message } => Some(format!("infrastructure: {message}")),
            other if !blamed => Some(format!(
                "the runner {} though no test failed; log tail:\n{}",
                other.describe(),
                outcome.log_tail
            )),
            _ => None,
        };
        if let Some(message) = runner_failed {
            let what = match task.work {
                Work::Discover => "discovery",
                Work::Shard(_) => "shard",
            };
            suite.cases.push(Case {
                class: job_name.clone(),
                name: format!("({what} {}, attempt {})", task.id, task.attempt),
                secs: outcome.phases.run_secs.max(0.0),
                verdict: Some(("error", message)),
            });
        }
    }
    write(run, &suites).unwrap_or_else(|e| {
        // Writing into memory cannot fail; say so in the file should it ever.
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- could not write the report: {e} -->\n<testsuites/>\n")
    })
}

fn write(run: &Run, suites: &BTreeMap<usize, Suite>) -> Result<String, std::io::Error> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let total = |f: &dyn Fn(&Suite) -> usize| suites.values().map(f).sum::<usize>().to_string();
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", format!("{} {}", run.pipeline.name, run.id).as_str()));
    root.push_attribute(("tests", total(&|s| s.cases.len()).as_str()));
    root.push_attribute(("failures", total(&|s| s.count("failure")).as_str()));
    root.push_attribute(("errors", total(&|s| s.count("error")).as_str()));
    root.push_attribute(("skipped", total(&|s| s.count("skipped")).as_str()));
    let secs: f64 = suites.values().map(Suite::secs).sum();
    root.push_attribute(("time", format!("{secs:.3}").as_str()));
    w.write_event(Event::Start(root))?;
    for (job, suite) in suites {
        let name = run
            .jobs
            .get(*job)
            .map_or_else(|| format!("job {job}"), |j| j.spec.display_name());
        let mut s = BytesStart::new("testsuite");
        s.push_attribute(("name", name.as_str()));
        s.push_attribute(("tests", suite.cases.len().to_string().as_str()));
        s.push_attribute(("failures", suite.count("failure").to_string().as_str()));
        s.push_attribute(("errors", suite.count("error").to_string().as_str()));
        s.push_attribute(("skipped", suite.count("skipped").to_string().as_str()));
        s.push_attribute(("time", format!("{:.3}", suite.secs()).as_str()));
        w.write_event(Event::Start(s))?;
        for case in &suite.cases {
            let mut c = BytesStart::new("testcase");
            c.push_attribute(("name", xml_safe(&case.name).as_str()));
            c.push_attribute(("classname", xml_safe(&case.class).as_str()));
            c.push_attribute(("time", format!("{:.6}", case.secs).as_str()));
            match &case.verdict {
                None => w.write_event(Event::Empty(c))?,
                Some((element, message)) => {
                    w.write_event(Event::Start(c))?;
                    let mut v = BytesStart::new(*element);
                    let first_line = message.lines().next().unwrap_or("");
                    if *element == "skipped" {
                        if !message.is_empty() {
                            v.push_attribute(("message", xml_safe(first_line).as_str()));
                        }
                        w.write_event(Event::Empty(v))?;
                    } else {
                        v.push_attribute(("message", xml_safe(first_line).as_str()));
                        w.write_event(Event::Start(v))?;
                        w.write_event(Event::Text(BytesText::new(&xml_safe(message))))?;
                        w.write_event(Event::End(BytesEnd::new(*element)))?;
                    }
                    w.write_event(Event::End(BytesEnd::new("testcase")))?;
                }
            }
        }
        w.write_event(Event::End(BytesEnd::new("testsuite")))?;
    }
    w.write_event(Event::End(BytesEnd::new("testsuites")))?;
    let mut text = String::from_utf8(w.into_inner()).map_err(std::io::Error::other)?;
    text.push('\n');
    Ok(text)
}

/// XML 1.0 cannot hold most control characters even escaped (test output often has
/// them: ANSI colours, NUL bytes in data-set names): each becomes U+FFFD.
fn xml_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::parse_junit;
    use crate::report::testdata;

    #[test]
    fn every_result_comes_back_from_the_file_with_its_status_and_time() {
        let (run, tasks) = testdata::demo("r7", 1_000);
        let xml = run_junit(&run, &tasks);
        let back = parse_junit(&xml, "run.xml").expect("our own JUnit parses");
        let results: Vec<_> = tasks
            .iter()
            .filter_map(|t| t.outcome.as_ref())
            .flat_map(|o| o.results.iter())
            .collect();
        assert!(!results.is_empty());
        for r in &results {
            let found = back
                .iter()
                .find(|b| b.id == r.id || b.id.ends_with(&format!("::{}", r.id)))
                .unwrap_or_else(|| panic!("{} is not in the file:\n{xml}", r.id));
            let expected = match r.status {
                TestStatus::Missing | TestStatus::TimedOut | TestStatus::MemoryLimit => TestStatus::Error,
                s => s,
            };
            assert_eq!(found.status, expected, "{}", r.id);
            assert!((found.duration_secs - r.duration_secs).abs() < 1e-6, "{}", r.id);
        }
        let failures = results.iter().filter(|r| r.status == TestStatus::Failed).count();
        assert!(failures > 0, "the sample run has a failure");
        assert!(xml.contains(&format!("failures=\"{failures}\"")), "{xml}");
    }

    #[test]
    fn control_characters_cannot_break_the_file() {
        assert_eq!(xml_safe("a\u{0}b\u{1b}[31mc\n"), "a\u{FFFD}b\u{FFFD}[31mc\n");
    }
}
