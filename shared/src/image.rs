//! Runtime image definitions (`deploy/images/NAME.yaml`): which Debian suite, which
//! debootstrap variant and which packages make an image, and the hash of those inputs
//! that names a build (`testfarm/NAME:HASH`, `<cache>/NAME-HASH/rootfs`). Pure: the
//! building is `agent/src/image.rs`. See ../shared/DESIGN.md, "Executors".
//!
//! ```yaml
//! suite: bookworm          # a Debian suite (debootstrap's SUITE)
//! variant: minbase         # minbase (default) | buildd | default
//! packages: [php8.2-cli, phpunit]
//! mirror: http://deb.debian.org/debian   # optional: default, the building machine's
//!                                        # own apt source ([`apt_mirror`])
//! ```
//!
//! The hash covers what decides the content: the suite, the variant, the sorted
//! package set and [`RECIPE_VERSION`] (the builder's own steps). The mirror does not
//! count (every Debian mirror serves the same archive), and neither does the time: a
//! rebuild with the same inputs reuses the cached build even when the archive has
//! newer package versions since (delete the cache entry, or bump an input, to refresh).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{closest, is_image_name, locate, yaml_error, ConfigError};

/// Bumped whenever the builder's steps change what a rootfs contains, so that old
/// builds are not reused for the new recipe.
pub const RECIPE_VERSION: u32 = 1;
/// The mirror when neither the definition nor the machine's apt sources name one.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
const VARIANTS: [&str; 3] = ["minbase", "buildd", "default"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    suite: String,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    packages: Vec<String>,
    #[serde(default)]
    mirror: Option<String>,
}

/// A validated image definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDef {
    /// From the file name: `deploy/images/php82.yaml` is `php82`.
    pub name: String,
    pub suite: String,
    /// `minbase`, `buildd` or `default` (debootstrap without `--variant`).
    pub variant: String,
    /// Sorted, without duplicates.
    pub packages: Vec<String>,
    /// None: the building machine's own apt source (which the site already trusts and
    /// reaches), else [`DEFAULT_MIRROR`].
    pub mirror: Option<String>,
}

impl ImageDef {
    /// The hash of the inputs, 16 hex digits (64-bit FNV-1a of a canonical text).
    pub fn input_hash(&self) -> String {
        format!("{:016x}", fnv1a64(self.canonical().as_bytes()))
    }

    /// The text the hash is taken of; one input per line.
    pub fn canonical(&self) -> String {
        format!(
            "testfarm-image recipe={}\nsuite={}\nvariant={}\npackages={}\n",
            RECIPE_VERSION,
            self.suite,
            self.variant,
            self.packages.join(",")
        )
    }

    /// `NAME-HASH`: the cache entry, and `testfarm/NAME:HASH` the docker image.
    pub fn build_id(&self) -> String {
        format!("{}-{}", self.name, self.input_hash())
    }

    pub fn docker_ref(&self) -> String {
        docker_ref(&self.name, &self.input_hash())
    }
}

/// `testfarm/NAME:HASH`.
pub fn docker_ref(name: &str, hash: &str) -> String {
    format!("testfarm/{name}:{hash}")
}

/// `deploy/images/NAME.yaml` under a definitions directory.
pub fn definition_path(dir: &Path, name: &str) -> std::path::PathBuf {
    dir.join(format!("{name}.yaml"))
}

/// The error for an image name that is not one, before any file is read.
pub fn check_image_name(name: &str, file: &str) -> Result<(), ConfigError> {
    if is_image_name(name) {
        return Ok(());
    }
    Err(ConfigError {
        file: file.into(),
        line: 0,
        field: "(name)".into(),
        message: format!("`{name}` is not an image name: use lower-case letters, digits, `-`, `_` and `.`"),
    })
}

/// The error for a definition file that cannot be read, with the nearest of the
/// `known` names (the `*.yaml` of its directory) as a hint.
pub fn unreadable_image(name: &str, file: &str, why: &str, known: &[String]) -> ConfigError {
    let hint = closest(name, &known.iter().map(String::as_str).collect::<Vec<_>>())
        .map(|h| format!(" (hint: did you mean `{h}`?)"))
        .unwrap_or_else(|| format!(" (definitions here: {})", or_none(known)));
    ConfigError {
        file: file.into(),
        line: 0,
        field: "(file)".into(),
        message: format!("cannot read: {why}{hint}"),
    }
}

/// Of the file names of a definitions directory, the image names (`NAME.yaml`), sorted.
pub fn image_names(files: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut names: Vec<String> = files
        .into_iter()
        .filter_map(|f| f.strip_suffix(".yaml").map(String::from))
        .filter(|n| is_image_name(n))
        .collect();
    names.sort();
    names
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// Parses and validates a definition; `file` is used in error messages.
pub fn parse_image(text: &str, name: &str, file: &str) -> Result<ImageDef, ConfigError> {
    let raw: RawImage = serde_yaml_ng::from_str(text).map_err(|e| yaml_error(e, text, file))?;
    let error = |path: &[&str], line: Option<usize>, message: String| ConfigError {
        file: file.into(),
        line: line.unwrap_or_else(|| locate(text, path)),
        field: path.join("."),
        message,
    };
    if raw.suite.is_empty()
        || !raw
            .suite
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(error(
            &["suite"],
            None,
            format!("`{}` is not a Debian suite name (e.g. bookworm)", raw.suite),
        ));
    }
    let variant = raw.variant.unwrap_or_else(|| "minbase".into());
    if !VARIANTS.contains(&variant.as_str()) {
        let hint = closest(&variant, &VARIANTS)
            .map(|h| format!(" (hint: did you mean `{h}`?)"))
            .unwrap_or_default();
        return Err(error(
            &["variant"],
            None,
            format!("unknown variant `{variant}`, expected one of `minbase`, `buildd`, `default`{hint}"),
        ));
    }
    let mut packages: Vec<String> = Vec::new();
    for p in &raw.packages {
        if !is_package_name(p) {
            return Err(error(
                &["packages"],
                item_line(text, p),
                format!("`{p}` is not a Debian package name (lower-case letters, digits, `+`, `-`, `.`)"),
            ));
        }
        if packages.contains(p) {
            return Err(error(
                &["packages"],
                item_line(text, p),
                format!("`{p}` is listed twice"),
            ));
        }
        packages.push(p.clone());
    }
    packages.sort();
    if let Some(mirror) = &raw.mirror {
        if !is_mirror_url(mirror) {
            return Err(error(
                &["mirror"],
                None,
                format!("`{mirror}` is not an http(s) URL of a Debian mirror"),
            ));
        }
    }
    let mirror = raw.mirror;
    Ok(ImageDef {
        name: name.into(),
        suite: raw.suite,
        variant,
        packages,
        mirror,
    })
}

fn is_mirror_url(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://")) && !url.contains(char::is_whitespace)
}

/// The Debian archive an apt configuration fetches from: the first `deb` source that
/// is not the security archive, in one-line (`sources.list`) or deb822 (`*.sources`)
/// form; `texts` in the order apt reads them. None when there is none.
pub fn apt_mirror<'a>(texts: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let usable = |uri: &str, suites: &str| {
        is_mirror_url(uri) && !uri.contains("security") && !suites.split_whitespace().any(|s| s.ends_with("-security"))
    };
    for text in texts {
        // One-line: `deb [options] URI SUITE COMPONENTS...`.
        for line in text.lines().map(str::trim) {
            let Some(rest) = line.strip_prefix("deb ") else {
                continue;
            };
            let rest = rest.trim_start();
            let rest = match rest.strip_prefix('[') {
                Some(opts) => opts.split_once(']').map_or("", |(_, r)| r.trim_start()),
                None => rest,
            };
            let mut words = rest.split_whitespace();
            if let (Some(uri), Some(suite)) = (words.next(), words.next()) {
                if usable(uri, suite) {
                    return Some(uri.trim_end_matches('/').to_string());
                }
            }
        }
        // deb822: paragraphs of `Field: value`, separated by blank lines.
        for paragraph in text.split("\n\n") {
            let field = |name: &str| {
                paragraph.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().to_string())
                })
            };
            let types = field("Types").unwrap_or_default();
            if !types.split_whitespace().any(|t| t == "deb") || field("Enabled").as_deref() == Some("no") {
                continue;
            }
            let suites = field("Suites").unwrap_or_default();
            if let Some(uri) =
                field("URIs").and_then(|u| u.split_whitespace().find(|u| usable(u, &suites)).map(String::from))
            {
                return Some(uri.trim_end_matches('/').to_string());
            }
        }
    }
    None
}

/// Debian policy: at least two characters, lower case alphanumerics and `+ - .`,
/// starting with an alphanumeric.
fn is_package_name(s: &str) -> bool {
    s.len() >= 2
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'))
}

/// The line of a block-sequence item (`- value`) or of a flow list holding `value`.
fn item_line(text: &str, value: &str) -> Option<usize> {
    text.lines().enumerate().find_map(|(i, line)| {
        let t = line.trim_start();
        let item = t
            .strip_prefix("- ")
            .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''));
        let in_flow = t.contains('[')
            && t.split(['[', ',', ']'])
                .any(|v| v.trim().trim_matches(|c| c == '"' || c == '\'') == value);
        (item == Some(value) || in_flow).then_some(i + 1)
    })
}

/// 64-bit FNV-1a: stable across builds and platforms (unlike std's hasher).
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHP: &str = "\
# PHP 8.2 with PHPUnit
suite: bookworm
variant: minbase
packages:
  - php8.2-cli
  - phpunit
  - php8.2-sqlite3
";

    #[test]
    fn a_definition_is_typed_and_sorted() {
        let def = parse_image(PHP, "php82", "php82.yaml").unwrap();
        assert_eq!(def.suite, "bookworm");
        assert_eq!(def.packages, ["php8.2-cli", "php8.2-sqlite3", "phpunit"]);
        assert_eq!(def.mirror, None, "the machine's own source");
        assert_eq!(def.docker_ref(), format!("testfarm/php82:{}", def.input_hash()));
        assert_eq!(def.input_hash().len(), 16);
    }

    #[test]
    fn the_hash_follows_the_inputs_only() {
        let a = parse_image(PHP, "php82", "f").unwrap();
        // Order, comments and the mirror do not change what gets built.
        let reordered = "suite: bookworm\npackages: [phpunit, php8.2-sqlite3, php8.2-cli]\nmirror: http://ftp.de.debian.org/debian\n";
        let b = parse_image(reordered, "php82", "f").unwrap();
        assert_eq!(a.input_hash(), b.input_hash());
        let c = parse_image(&PHP.replace("  - phpunit\n", ""), "php82", "f").unwrap();
        assert_ne!(a.input_hash(), c.input_hash());
        let d = parse_image(&PHP.replace("bookworm", "trixie"), "php82", "f").unwrap();
        assert_ne!(a.input_hash(), d.input_hash());
        // Pinned: a changed hash function would silently rebuild every cache.
        assert_eq!(
            parse_image("suite: bookworm\n", "base", "f").unwrap().input_hash(),
            format!(
                "{:016x}",
                fnv1a64(b"testfarm-image recipe=1\nsuite=bookworm\nvariant=minbase\npackages=\n")
            )
        );
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = parse_image(&PHP.replace("  - phpunit", "  - PHPUnit"), "php82", "php82.yaml").unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.line, e.field.as_str()),
            ("php82.yaml", 6, "packages"),
            "{e}"
        );
        let e = parse_image(&PHP.replace("minbase", "minbas"), "php82", "php82.yaml").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("did you mean `minbase`"), "{e}");
        let e = parse_image(&PHP.replace("  - phpunit", "  - php8.2-cli"), "php82", "f").unwrap_err();
        assert!(e.message.contains("listed twice"), "{e}");
        assert_eq!(e.line, 5, "{e}");
        let e = parse_image(&PHP.replace("packages:", "pakages:"), "php82", "f").unwrap_err();
        assert!(e.message.contains("did you mean `packages`"), "{e}");
        assert_eq!(e.line, 4, "{e}");
        let e = parse_image("variant: minbase\n", "x", "f").unwrap_err();
        assert!(e.message.contains("missing field `suite`"), "{e}");
    }

    #[test]
    fn names_come_from_yaml_files_and_a_missing_one_suggests_a_near_name() {
        let names = image_names(["php82.yaml", "base.yaml", "README.md", "Bad Name.yaml"].map(String::from));
        assert_eq!(names, ["base", "php82"]);
        let e = unreadable_image("php8", "d/php8.yaml", "not found", &names);
        assert!(e.message.contains("did you mean `php82`"), "{e}");
        assert!(check_image_name("PHP", "f").is_err());
    }

    #[test]
    fn the_mirror_is_read_from_apt_sources_of_either_form() {
        let deb822 = "Types: deb\n# a comment\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n";
        assert_eq!(apt_mirror([deb822]).as_deref(), Some("http://mirror.example/debian"));
        let security_first = "Types: deb\nURIs: http://s.example/debian-security\nSuites: bookworm-security\n\nTypes: deb-src deb\nURIs: https://m.example/debian\nSuites: bookworm\n";
        assert_eq!(
            apt_mirror([security_first]).as_deref(),
            Some("https://m.example/debian")
        );
        let list = "# deb http://old.example/debian bookworm main\ndeb-src http://src.example/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n";
        assert_eq!(apt_mirror(["", list]).as_deref(), Some("http://one.example/debian"));
        assert_eq!(
            apt_mirror(["Types: deb\nEnabled: no\nURIs: http://x.example/debian\nSuites: bookworm\n"]),
            None
        );
        assert_eq!(apt_mirror(["deb file:/cdrom bookworm main\n"]), None);
    }
}
