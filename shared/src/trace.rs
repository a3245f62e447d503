//! Trace spans of a run, from its records: run → job → task (the coordinator's view),
//! and the phases an agent measured (the agent's view, under the task's span).
//!
//! Ids are derived, not stored: the trace id from the run id and its acceptance time,
//! each span id from the trace id and a path ("run", "job/2", "task/r7.j2.s0/1").
//! Any node can so emit a run's spans after a failover, and an agent can parent its
//! spans on a task span it only knows by the W3C `traceparent` in its assignment.

use crate::model::{Run, Task, TaskState, Work};

#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent: Option<[u8; 8]>,
    pub name: String,
    /// Unix time in nanoseconds.
    pub start_ns: u64,
    pub end_ns: u64,
    pub attributes: Vec<(String, String)>,
    pub error: bool,
}

fn fnv64(seed: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(seed, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

pub fn trace_id(run_id: &str, accepted_ms: u64) -> [u8; 16] {
    let key = format!("{run_id}@{accepted_ms}");
    let hi = fnv64(0xcbf2_9ce4_8422_2325, key.as_bytes());
    let lo = fnv64(0x8422_2325_cbf2_9ce4, key.as_bytes());
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&hi.to_be_bytes());
    id[8..].copy_from_slice(&lo.to_be_bytes());
    id
}

pub fn span_id(trace: &[u8; 16], path: &str) -> [u8; 8] {
    let mut h = fnv64(0xcbf2_9ce4_8422_2325, trace);
    h = fnv64(h, path.as_bytes());
    (h | 1).to_be_bytes() // never all zero
}

pub fn run_trace_id(run: &Run) -> [u8; 16] {
    trace_id(&run.id, run.accepted_ms)
}

fn task_path(task_id: &str, attempt: u32) -> String {
    format!("task/{task_id}/{attempt}")
}

/// The W3C traceparent of a task's span, handed to the agent that runs it.
pub fn task_traceparent(run: &Run, task_id: &str, attempt: u32) -> String {
    let trace = run_trace_id(run);
    traceparent(&trace, &span_id(&trace, &task_path(task_id, attempt)))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn traceparent(trace: &[u8; 16], span: &[u8; 8]) -> String {
    format!("00-{}-{}-01", hex(trace), hex(span))
}

pub fn parse_traceparent(text: &str) -> Option<([u8; 16], [u8; 8])> {
    let parts: Vec<&str> = text.split('-').collect();
    if parts.len() != 4 || parts[0] != "00" || parts[1].len() != 32 || parts[2].len() != 16 {
        return None;
    }
    let unhex = |s: &str, out: &mut [u8]| -> Option<()> {
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(())
    };
    let mut trace = [0u8; 16];
    let mut span = [0u8; 8];
    unhex(parts[1], &mut trace)?;
    unhex(parts[2], &mut span)?;
    Some((trace, span))
}

const MS: u64 = 1_000_000;

/// The coordinator's spans of a finished run: the run, each job, each task attempt
/// that completed (from lease to result).
pub fn run_spans(run: &Run, tasks: &[Task]) -> Vec<SpanRecord> {
    let trace = run_trace_id(run);
    let run_span = span_id(&trace, "run");
    let end_ms = run.finished_ms.unwrap_or(run.accepted_ms);
    let mut spans = vec![SpanRecord {
        trace_id: trace,
        span_id: run_span,
        parent: None,
        name: format!("run {} ({})", run.id, run.pipeline.name),
        start_ns: run.accepted_ms * MS,
        end_ns: end_ms * MS,
        attributes: vec![
            ("farm.run".into(), run.id.clone()),
            ("farm.pipeline".into(), run.pipeline.name.clone()),
            ("farm.mode".into(), format!("{:?}", run.mode).to_lowercase()),
            (
                "farm.verdict".into(),
                run.verdict.map(|v| v.as_str().to_string()).unwrap_or_default(),
            ),
        ],
        error: run.verdict.is_some_and(|v| v.as_str() != "passed"),
    }];
    for (index, job) in run.jobs.iter().enumerate() {
        let job_tasks: Vec<&Task> = tasks.iter().filter(|t| t.job == index).collect();
        let job_end = job_tasks.iter().filter_map(|t| t.finished_ms).max().unwrap_or(end_ms);
        let job_span = span_id(&trace, &format!("job/{index}"));
        spans.push(SpanRecord {
            trace_id: trace,
            span_id: job_span,
            parent: Some(run_span),
            name: format!("job {}", job.spec.display_name()),
            start_ns: run.accepted_ms * MS,
            end_ns: job_end * MS,
            attributes: vec![
                ("farm.stage".into(), job.spec.stage.clone()),
                ("farm.tests".into(), job.tests.to_string()),
            ],
            error: false,
        });
        for task in job_tasks {
            let (Some(start), Some(end)) = (task.leased_ms, task.finished_ms) else {
                continue;
            };
            if task.state != TaskState::Done {
                continue;
            }
            let kind = match task.work {
                Work::Discover => "discover",
                Work::Shard(_) => "shard",
            };
            let failed = task
                .outcome
                .as_ref()
                .is_some_and(|o| o.results.iter().any(|r| r.status.is_failure()));
            spans.push(SpanRecord {
                trace_id: trace,
                span_id: span_id(&trace, &task_path(&task.id, task.attempt)),
                parent: Some(job_span),
                name: format!("{kind} {}", task.id),
                start_ns: start * MS,
                end_ns: end * MS,
                attributes: vec![
                    ("farm.task".into(), task.id.clone()),
                    ("farm.attempt".into(), task.attempt.to_string()),
                    ("farm.agent".into(), task.done_by.clone().unwrap_or_default()),
                ],
                error: failed,
            });
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips() {
        let t = trace_id("r12", 1_700_000_000_000);
        let s = span_id(&t, "task/r12.j0.s1/1");
        let text = traceparent(&t, &s);
        assert_eq!(text.len(), 55);
        assert_eq!(parse_traceparent(&text), Some((t, s)));
        assert_eq!(parse_traceparent("00-zz-11-01"), None);
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let t = trace_id("r1", 5);
        assert_eq!(t, trace_id("r1", 5));
        assert_ne!(t, trace_id("r1", 6));
        assert_ne!(span_id(&t, "job/0"), span_id(&t, "job/1"));
        assert_ne!(span_id(&t, "run"), [0u8; 8]);
    }
}
