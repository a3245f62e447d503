//! A minimal HTTP/1.0 client for the coordinator's pages and JSON API (loopback only).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

/// `GET path` on `base` (`http://host:port`): (status code, body).
pub fn get(base: &str, path: &str) -> (u16, String) {
    let (code, _, body) = get_with(base, path, &[]);
    (code, body)
}

/// `GET path` with these request headers: (status code, response head, body).
pub fn get_with(base: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{extra}\r\n").expect("send request");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read response");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad response to GET {path}: {head}"));
    (code, head.to_string(), body.to_string())
}

pub fn get_json(base: &str, path: &str) -> Value {
    let (code, body) = get(base, path);
    assert_eq!(code, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path} is not JSON ({e}): {body}"))
}

/// The value of one Prometheus counter series (`name{label="value"}`) on `base`'s
/// /metrics; 0 when the series is not there yet.
pub fn counter(base: &str, series: &str) -> u64 {
    let (_, metrics) = get(base, "/metrics");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}
