//! A shard's own PHPUnit configuration: the stage's, with what would make PHPUnit
//! load more than the shard replaced. Everything else (bootstrap, `<php>` settings,
//! extensions, listeners, groups, strictness, printer) is kept, because a test must
//! run in a shard exactly as it would in the stage's own run.
//!
//! - `<testsuites>` becomes one `<testsuite>` per name the stage selects (PHPUnit
//!   needs each `--testsuite` name to exist, and bootstraps read them), the first
//!   holding the shard's suite file and nothing else.
//! - `<coverage>` and `<logging>` go: the farm asks for JUnit itself, and a report
//!   per shard written to the stage's paths would be one shard's and overwritten.
//! - The file is written elsewhere than the original, so every relative path PHPUnit
//!   resolves against the configuration's directory is made absolute: the root's
//!   path attributes, `file=` of extensions and listeners, the text of `<file>`,
//!   `<directory>` and `<includePath>` elements.

use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardConfigError {
    #[error("{file}: not XML at byte {position}: {message}")]
    Xml {
        file: String,
        position: u64,
        message: String,
    },
    #[error("{file}: no <phpunit> root element: is this a PHPUnit configuration?")]
    NoRoot { file: String },
}

/// Root attributes that PHPUnit 9 resolves as paths.
const ROOT_PATH_ATTRIBUTES: &[&str] = &[
    "bootstrap",
    "cacheResultFile",
    "cacheDirectory",
    "extensionsDirectory",
    "printerFile",
    "testSuiteLoaderFile",
];
/// Elements whose text PHPUnit resolves as a path (outside the dropped sections).
const PATH_TEXT_ELEMENTS: &[&str] = &["file", "directory", "includePath"];
/// Sections a shard does without.
const DROPPED: &[&str] = &["testsuites", "coverage", "logging"];

/// The shard configuration for the stage configuration `xml` (read from `file`, in
/// directory `config_dir`), running `suite_file` as the first of `suites` (the
/// stage's `--testsuite` names; one suite `farm-shard` when it names none).
pub fn shard_config(
    xml: &str,
    file: &str,
    config_dir: &str,
    suites: &[String],
    suite_file: &str,
) -> Result<String, ShardConfigError> {
    let mut bootstrap = Bootstrap::default();
    rewrite_config(xml, file, config_dir, suites, suite_file, &mut bootstrap)
}

/// A PHPUnit worker's configuration: the shard configuration of [`shard_config`]
/// whose bootstrap is `worker_bootstrap` (the farm's worker, which loads the stage's
/// own bootstrap and then forks a child per shard). Also the stage's own bootstrap,
/// absolute, if it has one.
pub fn worker_config(
    xml: &str,
    file: &str,
    config_dir: &str,
    suites: &[String],
    suite_file: &str,
    worker_bootstrap: &str,
) -> Result<(String, Option<String>), ShardConfigError> {
    let mut bootstrap = Bootstrap {
        replacement: Some(worker_bootstrap.to_string()),
        stage: None,
    };
    let config = rewrite_config(xml, file, config_dir, suites, suite_file, &mut bootstrap)?;
    Ok((config, bootstrap.stage))
}

/// The root's `bootstrap=`: what replaces it, and what it was.
#[derive(Default)]
struct Bootstrap {
    replacement: Option<String>,
    stage: Option<String>,
}

fn rewrite_config(
    xml: &str,
    file: &str,
    config_dir: &str,
    suites: &[String],
    suite_file: &str,
    bootstrap: &mut Bootstrap,
) -> Result<String, ShardConfigError> {
    let mut reader = Reader::from_str(xml);
    let mut writer = Writer::new(Vec::new());
    let xml_err = |reader: &Reader<&[u8]>, message: String| ShardConfigError::Xml {
        file: file.to_string(),
        position: reader.buffer_position(),
        message,
    };
    let absolute = |path: &str| -> String {
        let path = path.trim();
        if path.starts_with('/') || path.contains("://") || path.is_empty() {
            path.to_string()
        } else {
            format!("{}/{}", config_dir.trim_end_matches('/'), path)
        }
    };
    // Depth inside a dropped section, and the path text being gathered.
    let mut dropped = 0usize;
    let mut path_text: Option<String> = None;
    let mut seen_root = false;
    let mut wrote_suites = false;
    let mut depth = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| xml_err(&reader, e.to_string()))?;
        let out: Option<Event> = match event {
            Event::Eof => break,
            Event::Start(_) if dropped > 0 => {
                dropped += 1;
                None
            }
            Event::End(_) if dropped > 0 => {
                dropped -= 1;
                None
            }
            _ if dropped > 0 => None,
            Event::Start(e) if depth == 1 && DROPPED.contains(&e.name().as_ref()) => {
                if e.name().as_ref() == "testsuites" {
                    write_suites(&mut writer, suites, suite_file).map_err(|e| xml_err(&reader, e.to_string()))?;
                    wrote_suites = true;
                }
                dropped = 1;
                None
            }
            Event::Empty(e) if depth == 1 && DROPPED.contains(&e.name().as_ref()) => {
                if e.name().as_ref() == "testsuites" {
                    write_suites(&mut writer, suites, suite_file).map_err(|e| xml_err(&reader, e.to_string()))?;
                    wrote_suites = true;
                }
                None
            }
            Event::Start(e) => {
                depth += 1;
                let name = e.name().as_ref().to_string();
                if PATH_TEXT_ELEMENTS.contains(&name.as_str()) {
                    path_text = Some(String::new());
                }
                let e = rewrite(&e, depth, &absolute, bootstrap).map_err(|m| xml_err(&reader, m))?;
                if depth == 1 {
                    seen_root = name == "phpunit";
                }
                Some(Event::Start(e))
            }
            Event::Empty(e) => {
                let name = e.name().as_ref().to_string();
                let e = rewrite(&e, depth + 1, &absolute, bootstrap).map_err(|m| xml_err(&reader, m))?;
                if depth == 0 && name == "phpunit" {
                    // A configuration with nothing in it: still a configuration.
                    seen_root = true;
                    writer
                        .write_event(Event::Start(e))
                        .map_err(|e| xml_err(&reader, e.to_string()))?;
                    write_suites(&mut writer, suites, suite_file).map_err(|e| xml_err(&reader, e.to_string()))?;
                    wrote_suites = true;
                    Some(Event::End(BytesEnd::new("phpunit")))
                } else {
                    Some(Event::Empty(e))
                }
            }
            Event::Text(t) if path_text.is_some() => {
                if let Some(text) = path_text.as_mut() {
                    text.push_str(&t.xml10_content());
                }
                None
            }
            Event::GeneralRef(r) if path_text.is_some() => {
                let c = r
                    .resolve_char_ref()
                    .map_err(|e| xml_err(&reader, e.to_string()))?
                    .map(String::from)
                    .unwrap_or_else(|| crate::junit::predefined_entity(r.xml10_content().as_ref()).to_string());
                if let Some(text) = path_text.as_mut() {
                    text.push_str(&c);
                }
                None
            }
            Event::End(e) => {
                if let Some(text) = path_text.take() {
                    writer
                        .write_event(Event::Text(BytesText::new(&absolute(&text))))
                        .map_err(|e| xml_err(&reader, e.to_string()))?;
                }
                if depth == 1 && e.name().as_ref() == "phpunit" && !wrote_suites {
                    write_suites(&mut writer, suites, suite_file).map_err(|e| xml_err(&reader, e.to_string()))?;
                    wrote_suites = true;
                }
                depth = depth.saturating_sub(1);
                Some(Event::End(e))
            }
            other => Some(other),
        };
        if let Some(event) = out {
            writer.write_event(event).map_err(|e| xml_err(&reader, e.to_string()))?;
        }
    }
    if !seen_root {
        return Err(ShardConfigError::NoRoot { file: file.to_string() });
    }
    Ok(String::from_utf8_lossy(&writer.into_inner()).into_owned())
}

/// `e` with its path attributes absolute: the root's, and `file=` below it; the
/// root's bootstrap replaced where `bootstrap` says.
fn rewrite(
    e: &BytesStart,
    depth: usize,
    absolute: &dyn Fn(&str) -> String,
    bootstrap: &mut Bootstrap,
) -> Result<BytesStart<'static>, String> {
    let name = e.name().as_ref().to_string();
    let mut out = BytesStart::new(name.clone());
    if depth == 1 {
        if let Some(replacement) = &bootstrap.replacement {
            out.push_attribute(("bootstrap", replacement.as_str()));
        }
    }
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let key = a.key.as_ref().to_string();
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| e.to_string())?
            .into_owned();
        if depth == 1 && key == "defaultTestSuite" {
            // The farm names the suites itself.
            continue;
        }
        let is_path = (depth == 1 && ROOT_PATH_ATTRIBUTES.contains(&key.as_str()))
            || (depth > 1 && key == "file" && matches!(name.as_str(), "extension" | "listener"));
        let value = if is_path { absolute(&value) } else { value };
        if depth == 1 && key == "bootstrap" && bootstrap.replacement.is_some() {
            bootstrap.stage = (!value.is_empty()).then_some(value);
            continue;
        }
        out.push_attribute((key.as_str(), value.as_str()));
    }
    Ok(out)
}

fn write_suites(writer: &mut Writer<Vec<u8>>, suites: &[String], suite_file: &str) -> std::io::Result<()> {
    let default = ["farm-shard".to_string()];
    let names: &[String] = if suites.is_empty() { &default } else { suites };
    writer.write_event(Event::Start(BytesStart::new("testsuites")))?;
    for (n, name) in names.iter().enumerate() {
        let mut suite = BytesStart::new("testsuite");
        suite.push_attribute(("name", name.as_str()));
        if n == 0 {
            writer.write_event(Event::Start(suite))?;
            writer.write_event(Event::Start(BytesStart::new("file")))?;
            writer.write_event(Event::Text(BytesText::new(suite_file)))?;
            writer.write_event(Event::End(BytesEnd::new("file")))?;
            writer.write_event(Event::End(BytesEnd::new("testsuite")))?;
        } else {
            writer.write_event(Event::Empty(suite))?;
        }
    }
    writer.write_event(Event::End(BytesEnd::new("testsuites")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MW: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<phpunit bootstrap="tests/phpunit/bootstrap.php" colors="true" defaultTestSuite="core:unit"
	printerClass="MediaWikiPHPUnitResultPrinter">
	<php>
		<ini name="memory_limit" value="-1" />
		<includePath>lib</includePath>
	</php>
	<testsuites>
		<testsuite name="core:unit">
			<directory>tests/phpunit/unit</directory>
		</testsuite>
		<testsuite name="extensions">
			<file>tests/phpunit/suites/ExtensionsTestSuite.php</file>
		</testsuite>
	</testsuites>
	<groups><exclude><group>Broken</group></exclude></groups>
	<coverage><include><directory suffix=".php">includes</directory></include></coverage>
	<logging><junit outputFile="junit.xml"/></logging>
	<extensions>
		<extension class="MediaWikiLoggerPHPUnitExtension" />
		<extension class="Local\Ext" file="tests/Ext.php"><arguments><file>data/a &amp; b.txt</file></arguments></extension>
	</extensions>
</phpunit>
"#;

    fn generate(xml: &str, suites: &[&str]) -> String {
        let suites: Vec<String> = suites.iter().map(|s| s.to_string()).collect();
        shard_config(xml, "phpunit.xml", "/ws/mw", &suites, "/w/t/FarmShardSuite.php").unwrap()
    }

    #[test]
    fn the_suites_become_the_shard_file_under_the_stage_names() {
        let out = generate(MW, &["core:unit"]);
        assert!(
            out.contains(
                "<testsuites><testsuite name=\"core:unit\"><file>/w/t/FarmShardSuite.php</file></testsuite></testsuites>"
            ),
            "{out}"
        );
        assert!(!out.contains("tests/phpunit/unit"), "{out}");
        assert!(!out.contains("ExtensionsTestSuite"), "{out}");
        assert!(!out.contains("defaultTestSuite"), "{out}");
        let two = generate(MW, &["core:unit", "extensions:unit"]);
        assert!(two.contains("<testsuite name=\"extensions:unit\"/>"), "{two}");
        let none = generate(MW, &[]);
        assert!(none.contains("<testsuite name=\"farm-shard\">"), "{none}");
    }

    #[test]
    fn everything_else_stays_with_paths_made_absolute() {
        let out = generate(MW, &["core:unit"]);
        assert!(
            out.contains("bootstrap=\"/ws/mw/tests/phpunit/bootstrap.php\""),
            "{out}"
        );
        assert!(out.contains("printerClass=\"MediaWikiPHPUnitResultPrinter\""), "{out}");
        assert!(out.contains("<ini name=\"memory_limit\" value=\"-1\"/>"), "{out}");
        assert!(out.contains("<includePath>/ws/mw/lib</includePath>"), "{out}");
        assert!(out.contains("<group>Broken</group>"), "{out}");
        assert!(out.contains("file=\"/ws/mw/tests/Ext.php\""), "{out}");
        assert!(out.contains("<file>/ws/mw/data/a &amp; b.txt</file>"), "{out}");
        assert!(
            out.contains("<extension class=\"MediaWikiLoggerPHPUnitExtension\"/>"),
            "{out}"
        );
        assert!(!out.contains("<coverage") && !out.contains("<logging"), "{out}");
    }

    #[test]
    fn a_bare_or_suite_less_configuration_still_gets_the_suite() {
        let out = generate("<phpunit/>", &["unit"]);
        assert!(out.contains("<phpunit><testsuites><testsuite name=\"unit\">"), "{out}");
        let out = generate("<phpunit bootstrap=\"/abs/b.php\"><php/></phpunit>", &[]);
        assert!(out.contains("bootstrap=\"/abs/b.php\""), "{out}");
        assert!(out.contains("<php/><testsuites>"), "{out}");
    }

    #[test]
    fn what_is_not_a_configuration_is_named() {
        let e = shard_config("<html/>", "conf/phpunit.xml", "/ws", &[], "/s.php").unwrap_err();
        assert_eq!(
            e.to_string(),
            "conf/phpunit.xml: no <phpunit> root element: is this a PHPUnit configuration?"
        );
        let e = shard_config("<phpunit><php></phpunit>", "c.xml", "/ws", &[], "/s.php").unwrap_err();
        assert!(e.to_string().starts_with("c.xml: not XML at byte"), "{e}");
    }

    #[test]
    fn a_worker_config_boots_the_worker_and_names_the_stage_bootstrap() {
        let suites = vec!["core:unit".to_string()];
        let (out, stage) = worker_config(
            MW,
            "phpunit.xml",
            "/ws/mw",
            &suites,
            "/w/k/FarmShardSuite.php",
            "/w/k/FarmWorker.php",
        )
        .unwrap();
        assert_eq!(stage.as_deref(), Some("/ws/mw/tests/phpunit/bootstrap.php"));
        assert_eq!(out.matches("bootstrap=").count(), 1, "{out}");
        assert!(out.contains("<phpunit bootstrap=\"/w/k/FarmWorker.php\""), "{out}");
        assert!(out.contains("<file>/w/k/FarmShardSuite.php</file>"), "{out}");
        assert!(out.contains("printerClass=\"MediaWikiPHPUnitResultPrinter\""), "{out}");
        // A configuration without a bootstrap gets the worker's all the same.
        let (bare, stage) = worker_config("<phpunit/>", "c.xml", "/ws", &[], "/s.php", "/w.php").unwrap();
        assert_eq!(stage, None);
        assert!(bare.starts_with("<phpunit bootstrap=\"/w.php\">"), "{bare}");
    }
}
