//! JUnit XML parsing (quick-xml's pull reader), tolerant of the dialects runners write:
//! `<testsuites>` or a bare `<testsuite>` root, suites nested to any depth (PHPUnit
//! nests data-provider cases), `classname` or `class` attributes.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::task::{TestResult, TestStatus};

#[derive(Debug, thiserror::Error)]
#[error("{file}: byte {position}: {message}")]
pub struct JunitError {
    pub file: String,
    pub position: u64,
    pub message: String,
}

/// Parses JUnit XML text into one result per `<testcase>`. The test id is
/// `class::name` when the case names a class, else `name`.
pub fn parse_junit(xml: &str, file: &str) -> Result<Vec<TestResult>, JunitError> {
    let mut reader = Reader::from_str(xml);
    let mut results = Vec::new();
    let mut current: Option<TestResult> = None;
    // Inside <failure>/<error>/<skipped>: their text, gathered until the element ends.
    let mut detail: Option<String> = None;
    let err = |reader: &Reader<&[u8]>, message: String| JunitError {
        file: file.into(),
        position: reader.buffer_position(),
        message,
    };
    loop {
        let event = reader.read_event().map_err(|e| err(&reader, e.to_string()))?;
        match event {
            Event::Start(e) if e.name().as_ref() == "testcase" => {
                current = Some(testcase(&e).map_err(|m| err(&reader, m))?);
            }
            Event::Empty(e) if e.name().as_ref() == "testcase" => {
                results.push(testcase(&e).map_err(|m| err(&reader, m))?);
            }
            Event::Start(e) | Event::Empty(e) if current.is_some() => {
                let opens_detail = matches!(event_kind(&reader, xml), Some(false));
                if let Some(case) = current.as_mut() {
                    if mark(case, &e).map_err(|m| err(&reader, m))? && opens_detail {
                        detail = Some(String::new());
                    }
                }
            }
            Event::Text(t) => {
                if let Some(d) = detail.as_mut() {
                    d.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(d) = detail.as_mut() {
                    d.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(d) = detail.as_mut() {
                    match r.resolve_char_ref().map_err(|e| err(&reader, e.to_string()))? {
                        Some(c) => d.push(c),
                        None => d.push_str(predefined_entity(r.into_inner().as_ref())),
                    }
                }
            }
            Event::End(e) => match e.name().as_ref() {
                "testcase" => {
                    if let Some(case) = current.take() {
                        results.push(case);
                    }
                }
                "failure" | "error" | "skipped" => {
                    if let (Some(text), Some(case)) = (detail.take(), current.as_mut()) {
                        append_message(&mut case.message, text.trim());
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(case) = current.take() {
        return Err(JunitError {
            file: file.into(),
            position: xml.len() as u64,
            message: format!("testcase `{}` is not closed (truncated file?)", case.id),
        });
    }
    Ok(results)
}

/// Marks a case failed/errored/skipped from a child element; true if it was one.
/// A failure outranks a skip, and the first failure's message is kept.
fn mark(case: &mut TestResult, e: &BytesStart) -> Result<bool, String> {
    let status = match e.name().as_ref() {
        "failure" => TestStatus::Failed,
        "error" => TestStatus::Error,
        "skipped" => TestStatus::Skipped,
        _ => return Ok(false),
    };
    if matches!(case.status, TestStatus::Passed | TestStatus::Skipped) {
        case.status = status;
        if let Some(message) = attr(e, "message")? {
            case.message = message;
        }
    }
    Ok(true)
}

/// Whether the element just read was self-closing (`<x/>`): the byte before the
/// reader's position tells, since one match arm takes both Start and Empty.
fn event_kind(reader: &Reader<&[u8]>, xml: &str) -> Option<bool> {
    let end = reader.buffer_position() as usize;
    let bytes = xml.as_bytes();
    (end >= 2 && end <= bytes.len()).then(|| bytes[end - 2] == b'/')
}

fn append_message(message: &mut String, text: &str) {
    if text.is_empty() || message.len() >= 4096 {
        return;
    }
    if !message.is_empty() {
        message.push('\n');
    }
    message.push_str(text);
    if message.len() > 4096 {
        let mut cut = 4096;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
    }
}

/// The text of XML's predefined entity `name` (`amp` → `&`); `?` for any other.
pub(crate) fn predefined_entity(name: &str) -> &'static str {
    match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "quot" => "\"",
        "apos" => "'",
        _ => "?",
    }
}

pub(crate) fn attr(e: &BytesStart, name: &str) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        if a.key.as_ref() == name {
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| e.to_string())?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

fn testcase(e: &BytesStart) -> Result<TestResult, String> {
    let name = attr(e, "name")?.ok_or("testcase without a `name` attribute")?;
    let class = match attr(e, "class")? {
        Some(c) => Some(c),
        None => attr(e, "classname")?,
    };
    let id = match class.filter(|c| !c.is_empty()) {
        Some(class) => format!("{class}::{name}"),
        None => name,
    };
    let duration_secs = match attr(e, "time")? {
        Some(t) => t
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|secs| secs.is_finite() && *secs >= 0.0)
            .ok_or_else(|| format!("testcase `{id}` has time=\"{t}\", which is not a number of seconds"))?,
        None => 0.0,
    };
    Ok(TestResult {
        id,
        status: TestStatus::Passed,
        duration_secs,
        message: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_suite_with_failure_and_skip() {
        let xml = r#"<?xml version="1.0"?>
<testsuite name="s" tests="3">
  <testcase name="a.sh" time="0.25"/>
  <testcase name="b.sh" time="1.5"><failure message="expected 1">got &lt;2&gt;</failure></testcase>
  <testcase name="c.sh" time="0"><skipped/></testcase>
</testsuite>"#;
        let r = parse_junit(xml, "j.xml").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].id, "a.sh");
        assert_eq!(r[0].status, TestStatus::Passed);
        assert_eq!(r[0].duration_secs, 0.25);
        assert_eq!(r[1].status, TestStatus::Failed);
        assert_eq!(r[1].message, "expected 1\ngot <2>");
        assert_eq!(r[2].status, TestStatus::Skipped);
    }

    #[test]
    fn phpunit_nesting_and_classes() {
        let xml = r#"<testsuites><testsuite name="all"><testsuite name="FooTest">
  <testcase name="testOne" class="FooTest" classname="FooTest" time="0.01"/>
  <testsuite name="FooTest::testData">
    <testcase name="testData with data set #0" class="FooTest" time="0.02"><error type="E">boom</error></testcase>
  </testsuite>
  <testcase name="testTwo" classname="FooTest" time="0.03"></testcase>
</testsuite></testsuite></testsuites>"#;
        let r = parse_junit(xml, "j.xml").unwrap();
        let ids: Vec<&str> = r.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "FooTest::testOne",
                "FooTest::testData with data set #0",
                "FooTest::testTwo"
            ]
        );
        assert_eq!(r[1].status, TestStatus::Error);
        assert_eq!(r[1].message, "boom");
    }

    #[test]
    fn bad_input_names_file_and_reason() {
        let e = parse_junit("<testsuite><testcase time=\"1\"/></testsuite>", "out.xml").unwrap_err();
        assert!(e.to_string().starts_with("out.xml: byte"), "{e}");
        assert!(e.message.contains("without a `name`"));
        let e = parse_junit("<testsuite><testcase name=\"x\" time=\"soon\"/></testsuite>", "o.xml").unwrap_err();
        assert!(e.message.contains("not a number"), "{e}");
        for time in ["-0.5", "NaN", "inf"] {
            let xml = format!("<testsuite><testcase name=\"x\" time=\"{time}\"/></testsuite>");
            let e = parse_junit(&xml, "o.xml").unwrap_err();
            assert!(e.message.contains(&format!("time=\"{time}\"")), "{e}");
        }
        let e = parse_junit("<testsuite><testcase name=\"x\">", "o.xml").unwrap_err();
        assert!(e.message.contains("not closed"), "{e}");
    }
}
