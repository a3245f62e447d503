//! The files a unified diff changes: what `--patch` and the selector read from a
//! change under test. The text comes from outside (a Gerrit change, a file on disk)
//! and is fuzzed (shared/tests/fuzz.rs).

/// Each path named by a `+++ b/PATH` line, and by `--- a/PATH` (a deleted file has
/// only that), without the `a/` or `b/` prefix, once, in order of first mention.
/// `/dev/null` (the side of an added or deleted file) is no path. Lines inside a
/// hunk are content, never headers, even when they read `--- x` (a removed `-- x`).
pub fn changed_files(diff: &str) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    // Lines still to come in the current hunk: (old side, new side).
    let mut hunk = (0u64, 0u64);
    for line in diff.lines() {
        if hunk != (0, 0) {
            match line.as_bytes().first() {
                Some(b'-') => hunk.0 = hunk.0.saturating_sub(1),
                Some(b'+') => hunk.1 = hunk.1.saturating_sub(1),
                Some(b'\\') => {}
                // Context (a blank line too: some tools strip its space).
                _ => hunk = (hunk.0.saturating_sub(1), hunk.1.saturating_sub(1)),
            }
            continue;
        }
        if let Some(sizes) = hunk_sizes(line) {
            hunk = sizes;
            continue;
        }
        let path = line
            .strip_prefix("+++ ")
            .or_else(|| line.strip_prefix("--- "))
            .map(|p| p.split('\t').next().unwrap_or(p).trim());
        let Some(path) = path.filter(|p| !p.is_empty() && *p != "/dev/null") else {
            continue;
        };
        let path = path
            .strip_prefix("a/")
            .or_else(|| path.strip_prefix("b/"))
            .unwrap_or(path);
        if !path.is_empty() && !files.iter().any(|f| f == path) {
            files.push(path.to_string());
        }
    }
    files
}

/// The line counts of a hunk header `@@ -OLD[,N] +NEW[,M] @@` (a missing count is 1).
fn hunk_sizes(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("@@ -")?;
    let (old, rest) = rest.split_once(" +")?;
    let (new, _) = rest.split_once(" @@")?;
    let count = |range: &str| match range.split_once(',') {
        Some((_, n)) => n.parse::<u64>().ok(),
        None => range.parse::<u64>().ok().map(|_| 1),
    };
    Some((count(old)?, count(new)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_changed_and_deleted_files_once_each() {
        let diff = "diff --git a/src/A.php b/src/A.php\n--- a/src/A.php\n+++ b/src/A.php\n@@ -1 +1 @@\n-a\n+b\n\
                    --- /dev/null\n+++ b/tests/NewTest.php\t2026-01-01\n--- a/old.php\n+++ /dev/null\n";
        assert_eq!(changed_files(diff), ["src/A.php", "tests/NewTest.php", "old.php"]);
        assert!(changed_files("not a diff\n--- \n+++ b/\n").is_empty());
        // A removed SQL comment `-- x` and an added `++ y` inside a hunk are content.
        let sql = "--- a/s.sql\n+++ b/s.sql\n@@ -1,2 +1,2 @@\n--- x\n+++ y\n ctx\n--- a/t.sql\n+++ b/t.sql\n";
        assert_eq!(changed_files(sql), ["s.sql", "t.sql"]);
    }
}
