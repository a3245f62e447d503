//! Network partitions between coordinators on loopback: iptables rules that DROP the
//! packets between two coordinator addresses, in both directions. Every coordinator
//! listens on an address of its own and its outgoing connections to the others leave
//! from it, so a rule on (src, dst) cuts exactly one pair of nodes; clients and agents
//! connect from 127.0.0.1 and are not affected.
//!
//! [`Firewall`] deletes every rule it added when it is dropped, on a panic too. Rules
//! carry a comment naming the test process (`farm-it-<pid>-<tag>`), so rules left by a
//! test process that was killed outright are swept by the next one.

use std::net::Ipv4Addr;
use std::process::Command;

use crate::process::alive;

/// The iptables rules one test added.
pub(crate) struct Firewall {
    comment: String,
    /// (src, dst) pairs whose packets are dropped now.
    drops: Vec<(Ipv4Addr, Ipv4Addr)>,
}

fn iptables(args: &[String]) -> Result<String, String> {
    // -w: wait for the xtables lock, which parallel tests share.
    let out = Command::new("iptables")
        .arg("-w")
        .arg("10")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run iptables: {e} (the partition tests need root and iptables)"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`iptables {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Firewall {
    pub(crate) fn new(tag: &str) -> Firewall {
        sweep_stale_rules();
        Firewall {
            comment: format!("farm-it-{}-{tag}", std::process::id()),
            drops: Vec::new(),
        }
    }

    fn rule(&self, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<String> {
        [
            "INPUT",
            "-s",
            &src.to_string(),
            "-d",
            &dst.to_string(),
            "-m",
            "comment",
            "--comment",
            &self.comment,
            "-j",
            "DROP",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// Drops every packet from `a` to `b` and from `b` to `a`.
    pub(crate) fn cut(&mut self, a: Ipv4Addr, b: Ipv4Addr) {
        for (src, dst) in [(a, b), (b, a)] {
            if self.drops.contains(&(src, dst)) {
                continue;
            }
            let mut args = vec!["-I".to_string()];
            args.extend(self.rule(src, dst));
            iptables(&args).unwrap_or_else(|e| panic!("{e}"));
            self.drops.push((src, dst));
        }
    }

    /// Deletes the rules between `a` and `b` (both directions).
    pub(crate) fn mend(&mut self, a: Ipv4Addr, b: Ipv4Addr) {
        let pairs: Vec<_> = self
            .drops
            .iter()
            .copied()
            .filter(|&(s, d)| (s, d) == (a, b) || (s, d) == (b, a))
            .collect();
        for (src, dst) in pairs {
            let mut args = vec!["-D".to_string()];
            args.extend(self.rule(src, dst));
            if let Err(e) = iptables(&args) {
                panic!("{e}");
            }
            self.drops.retain(|&p| p != (src, dst));
        }
    }

    /// Deletes every rule this firewall added; reports (does not panic on) failures.
    pub(crate) fn clear(&mut self) {
        for (src, dst) in std::mem::take(&mut self.drops) {
            let mut args = vec!["-D".to_string()];
            args.extend(self.rule(src, dst));
            if let Err(e) = iptables(&args) {
                eprintln!("warning: could not delete a partition rule: {e}");
            }
        }
    }
}

impl Drop for Firewall {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Deletes `farm-it-<pid>-…` rules whose test process is gone (killed before its
/// Drop could run).
fn sweep_stale_rules() {
    let Ok(rules) = iptables(&["-S".into(), "INPUT".into()]) else {
        return;
    };
    for line in rules.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(comment) = words.windows(2).find(|w| w[0] == "--comment").map(|w| w[1]) else {
            continue;
        };
        let Some(pid) = comment
            .trim_matches('"')
            .strip_prefix("farm-it-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        if alive(pid) || words.first() != Some(&"-A") {
            continue;
        }
        let mut args: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        args[0] = "-D".into();
        let _ = iptables(&args);
    }
}
