//! Human units in config files: durations (`90s`, `10m`, `1h30m`, `250ms`) and byte
//! sizes (`512MiB`, `2GiB`, `100MB`). Parsed while deserializing, so a bad value is
//! reported by the YAML parser with its line and column.

use std::fmt;
use std::time::Duration;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A duration written in human units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

/// A size in bytes written in human units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration (write for example `90s`, `10m`, `250ms`)".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration (write for example `90s`, `10m`, `250ms`)"
            ));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}` has a bad number `{}`", &rest[..digits]))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let seconds = match unit {
            "ms" => number / 1000.0,
            "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            "" => return Err(format!("`{text}` needs a unit: ms, s, m or h")),
            other => return Err(format!("`{text}` has an unknown unit `{other}` (use ms, s, m or h)")),
        };
        // A config is outside input: a number too big for a duration is an error,
        // never a panic.
        let too_long = || format!("`{text}` is longer than any duration the farm can wait");
        let part = Duration::try_from_secs_f64(seconds).map_err(|_| too_long())?;
        total = total.checked_add(part).ok_or_else(too_long)?;
    }
    Ok(total)
}

pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    if digits == 0 {
        return Err(format!("`{text}` is not a size (write for example `512MiB`, `2GiB`)"));
    }
    let number: f64 = text[..digits]
        .parse()
        .map_err(|_| format!("`{text}` has a bad number"))?;
    let factor: u64 = match text[digits..].trim() {
        "" | "B" => 1,
        "k" | "kB" | "KB" => 1000,
        "KiB" | "K" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" | "M" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" | "G" => 1 << 30,
        other => {
            return Err(format!(
                "`{text}` has an unknown unit `{other}` (use B, KiB, MiB, GiB, kB, MB or GB)"
            ))
        }
    };
    let bytes = (number * factor as f64).round();
    if bytes >= u64::MAX as f64 {
        return Err(format!("`{text}` is larger than any size the farm can count"));
    }
    Ok(bytes as u64)
}

pub fn format_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        let secs = duration.as_secs();
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text).map(HumanDuration).map_err(de::Error::custom)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{}ms", self.0.as_millis()))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_bytes(&text).map(ByteSize).map_err(de::Error::custom)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{}B", self.0))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// A wall-clock time (unix ms) as people read it in reports: `2026-12-03T14:05:09Z`.
pub fn utc(ms: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_too_big_is_an_error_not_a_panic() {
        assert!(parse_duration("18446744073709551615h")
            .unwrap_err()
            .contains("longer than"));
        assert!(parse_duration("99999999999999999999999s").is_err());
        assert!(parse_bytes("99999999999999999999GiB")
            .unwrap_err()
            .contains("larger than"));
    }

    #[test]
    fn durations_in_human_units() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
    }

    #[test]
    fn durations_without_unit_are_rejected() {
        assert!(parse_duration("10").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("10 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn sizes_in_human_units() {
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("100MB").unwrap(), 100_000_000);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("3 parsecs").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn formatting_is_readable() {
        assert_eq!(format_duration(Duration::from_millis(15)), "15ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2m05s");
        assert_eq!(format_bytes(512 << 20), "512.0MiB");
    }
}
