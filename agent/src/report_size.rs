//! A report that fits: the coordinator takes messages up to
//! [`testfarm_proto::MAX_MESSAGE_BYTES`], and a report past that would be refused and
//! sent again forever. Long messages are cut first (a failure's text, the log tail);
//! a report still too big, with every result (a shard of very many tests), becomes an
//! infrastructure failure that says so, which the coordinator retries and, past its
//! limit, ends the run with.

use testfarm_proto as wire;
use testfarm_shared::task::{ExitKind, TaskOutcome};

/// Kept of a test's message or the log tail when a report must shrink.
const CUT_TO: usize = 4096;

/// Room left for the request's other fields and gRPC's framing.
const HEADROOM: usize = 64 << 10;

/// The largest encoded outcome a report may carry.
pub fn limit() -> usize {
    testfarm_proto::MAX_MESSAGE_BYTES - HEADROOM
}

/// The outcome as the wire carries it, made to fit in `limit` bytes as the module
/// says.
pub fn fit(outcome: &mut TaskOutcome, limit: usize) -> wire::TaskOutcome {
    let message = encode(outcome);
    let size = |m: &wire::TaskOutcome| prost::Message::encoded_len(m);
    if size(&message) <= limit {
        return message;
    }
    let full = size(&message);
    for r in &mut outcome.results {
        cut(&mut r.message);
    }
    cut(&mut outcome.log_tail);
    let message = encode(outcome);
    if size(&message) <= limit {
        return message;
    }
    let count = outcome.results.len();
    outcome.results.clear();
    outcome.discovered.clear();
    outcome.exit = ExitKind::Infrastructure {
        message: format!(
            "the shard's report is {:.1} MiB ({count} results), over the {:.0} MiB a report may be: split the stage finer or make its tests' output shorter",
            full as f64 / (1 << 20) as f64,
            limit as f64 / (1 << 20) as f64
        ),
    };
    encode(outcome)
}

fn encode(outcome: &TaskOutcome) -> wire::TaskOutcome {
    outcome.into()
}

fn cut(text: &mut String) {
    if text.len() <= CUT_TO {
        return;
    }
    let mut end = CUT_TO;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let dropped = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("… ({dropped} more bytes cut: the report was too big)"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use testfarm_shared::task::{TestResult, TestStatus};

    fn outcome(results: usize, message: usize) -> TaskOutcome {
        let results = (0..results)
            .map(|i| TestResult {
                id: format!("T::t{i}"),
                status: TestStatus::Failed,
                duration_secs: 0.1,
                message: "é".repeat(message),
            })
            .collect();
        TaskOutcome::new(ExitKind::Exited { code: 1 }, Vec::new(), results)
    }

    #[test]
    fn a_report_that_fits_is_untouched() {
        let mut o = outcome(3, 10);
        let before = o.clone();
        let message = fit(&mut o, 1 << 20);
        assert_eq!(o, before);
        assert_eq!(TaskOutcome::try_from(message).unwrap(), before);
    }

    #[test]
    fn long_messages_are_cut_first_and_every_result_stays() {
        let mut o = outcome(20, 50_000);
        let message = fit(&mut o, 200_000);
        let len = prost::Message::encoded_len(&message);
        assert!(len <= 200_000, "{len}");
        assert_eq!(o.results.len(), 20);
        assert!(o.results[0].message.contains("more bytes cut"));
        assert_eq!(o.exit, ExitKind::Exited { code: 1 });
    }

    #[test]
    fn a_report_too_big_even_cut_fails_the_shard_and_says_why() {
        let mut o = outcome(5_000, 10);
        let message = fit(&mut o, 10_000);
        assert!(prost::Message::encoded_len(&message) <= 10_000);
        assert!(o.results.is_empty());
        match &o.exit {
            ExitKind::Infrastructure { message } => {
                assert!(
                    message.contains("5000 results") && message.contains("split the stage"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
