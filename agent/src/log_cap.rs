//! A task log with a cap: a command's output is kept up to `cap` bytes per task log
//! (all its commands together); past that, only the last [`TAIL`] bytes are kept, and
//! a closing line names the cap and how much was left out, so that a test that
//! floods its output cannot fill the agent's disk and the report still shows how it
//! ended (the log's last lines are the report's log tail).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// What is kept of the output past the cap: its end.
pub const TAIL: usize = 64 << 10;

/// The default cap of one task's log (`farm agent --task-log-cap`).
pub const DEFAULT_CAP: u64 = 64 << 20;

pub struct CappedLog {
    file: File,
    cap: u64,
    /// Bytes that may still be written before the cap.
    room: u64,
    /// The last bytes past the cap.
    tail: VecDeque<u8>,
    /// Bytes past the cap, the tail included.
    past_cap: u64,
}

impl CappedLog {
    /// Appends to the log at `path`; what is in it already counts against the cap.
    pub fn open(path: &Path, cap: u64) -> io::Result<CappedLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(CappedLog {
            file,
            cap,
            room: cap.saturating_sub(len),
            tail: VecDeque::new(),
            past_cap: 0,
        })
    }

    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let keep = data.len().min(usize::try_from(self.room).unwrap_or(usize::MAX));
        if keep > 0 {
            self.file.write_all(&data[..keep])?;
            self.room -= keep as u64;
        }
        let rest = &data[keep..];
        if !rest.is_empty() {
            self.past_cap += rest.len() as u64;
            let rest = &rest[rest.len().saturating_sub(TAIL)..];
            let overflow = (self.tail.len() + rest.len()).saturating_sub(TAIL);
            self.tail.drain(..overflow.min(self.tail.len()));
            self.tail.extend(rest);
        }
        Ok(())
    }

    /// Writes the kept tail and the line naming the cap; returns the bytes left out.
    pub fn finish(mut self) -> io::Result<u64> {
        if self.past_cap == 0 {
            return Ok(0);
        }
        let left_out = self.past_cap - self.tail.len() as u64;
        writeln!(
            self.file,
            "\n[testfarm: this task's log reached its cap of {}; {} left out here; its last {} follow]",
            bytes(self.cap),
            bytes(left_out),
            bytes(self.tail.len() as u64)
        )?;
        let (a, b) = self.tail.as_slices();
        self.file.write_all(a)?;
        self.file.write_all(b)?;
        writeln!(
            self.file,
            "\n[testfarm: log capped at {} per task (farm agent --task-log-cap); {} of output were left out]",
            bytes(self.cap),
            bytes(left_out)
        )?;
        Ok(left_out)
    }
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_cap_keeps_its_head_and_tail_and_names_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.txt");
        std::fs::write(&path, "step header\n").unwrap();
        let mut log = CappedLog::open(&path, 100).unwrap();
        log.write(&[b'a'; 60]).unwrap();
        log.write(&vec![b'b'; 300_000]).unwrap();
        log.write(b"the end\n").unwrap();
        let left_out = log.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("step header\naaaa"), "what came first is kept");
        // 88 bytes of room after the 12-byte header; the tail is kept, not left out.
        assert_eq!(left_out, 300_068 - 88 - TAIL as u64);
        assert!(text.contains("the end\n"), "the tail is kept");
        assert!(
            text.trim_end().ends_with("of output were left out]"),
            "{}",
            &text[text.len() - 200..]
        );
        assert!(text.len() < 100 + TAIL + 400, "{} bytes on disk", text.len());

        let small = dir.path().join("small.txt");
        let mut log = CappedLog::open(&small, 100).unwrap();
        log.write(b"ok\n").unwrap();
        assert_eq!(log.finish().unwrap(), 0);
        assert_eq!(
            std::fs::read_to_string(&small).unwrap(),
            "ok\n",
            "under the cap: untouched"
        );
    }
}
