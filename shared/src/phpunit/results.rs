//! What the shard's suite file writes: one JSON line per test that ended
//! (`phpunit-results.jsonl`, see FarmShardSuite.php).

use serde::Deserialize;

use crate::task::{TestResult, TestStatus};

/// The file, in the task directory, the shard's suite file writes its results to.
pub const RESULTS_FILE: &str = "phpunit-results.jsonl";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: String,
    status: LineStatus,
    secs: f64,
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum LineStatus {
    Passed,
    Failed,
    Error,
    Skipped,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}:{line}: {message}")]
pub struct ResultsError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// The results in `text` (read from `file`). A last line cut short (the process died
/// while writing it) is left out: the test it names counts as not run.
pub fn parse_results(text: &str, file: &str) -> Result<Vec<TestResult>, ResultsError> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = match serde_json::from_str(line) {
            Ok(l) => l,
            Err(_) if n + 1 == lines.len() && !text.ends_with('\n') => break,
            Err(e) => {
                return Err(ResultsError {
                    file: file.to_string(),
                    line: n + 1,
                    message: e.to_string(),
                })
            }
        };
        out.push(TestResult {
            id: parsed.id,
            status: match parsed.status {
                LineStatus::Passed => TestStatus::Passed,
                LineStatus::Failed => TestStatus::Failed,
                LineStatus::Error => TestStatus::Error,
                LineStatus::Skipped => TestStatus::Skipped,
            },
            duration_secs: parsed.secs.max(0.0),
            message: parsed.message,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_results_and_a_torn_last_line_is_dropped() {
        let text = "{\"id\":\"C::a\",\"status\":\"passed\",\"secs\":0.5,\"message\":\"\"}\n\
                    {\"id\":\"C::b with data set #0\",\"status\":\"failed\",\"secs\":0.1,\"message\":\"1 != 2\"}\n\
                    {\"id\":\"C::c\",\"sta";
        let r = parse_results(text, "r.jsonl").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].status, TestStatus::Failed);
        assert_eq!(r[1].message, "1 != 2");
    }

    #[test]
    fn a_bad_line_in_the_middle_is_named() {
        let text = "{\"id\":\"C::a\",\"status\":\"maybe\",\"secs\":0,\"message\":\"\"}\n{}\n";
        let e = parse_results(text, "r.jsonl").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.to_string().starts_with("r.jsonl:1: "), "{e}");
    }
}
