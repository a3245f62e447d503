//! The sizing curve as a standalone SVG: p50 and p90 feedback time against total
//! agents, the target as a dashed line, the answer marked.

use std::fmt::Write;

use super::human_secs;
use super::sizing::SizingReport;

const W: f64 = 760.0;
const H: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 55.0;

/// A round step near `range / ticks`: 1, 2 or 5 × 10^k.
fn nice_step(range: f64, ticks: f64) -> f64 {
    let raw = (range / ticks).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    step * mag
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The SVG document of a sizing report.
pub fn curve(report: &SizingReport) -> String {
    let points = &report.points;
    let target = report.params.target_secs;
    let x_min = points.iter().map(|p| p.total_agents).min().unwrap_or(0) as f64;
    let x_max = (points.iter().map(|p| p.total_agents).max().unwrap_or(1) as f64).max(x_min + 1.0);
    // Overloaded counts have runaway queues: cap the axis so the knee stays readable.
    let highest = points
        .iter()
        .map(|p| p.p90_secs)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let y_max = highest.min(3.0 * target).max(1.25 * target);
    let minutes = y_max >= 120.0;
    let unit = if minutes { 60.0 } else { 1.0 };
    let x = |v: f64| LEFT + (v - x_min) / (x_max - x_min) * (W - LEFT - RIGHT);
    let y = |secs: f64| {
        let v = if secs.is_finite() { secs.min(y_max) } else { y_max };
        H - BOTTOM - v / y_max * (H - TOP - BOTTOM)
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="20" font-size="14" font-weight="bold">{}</text>"#,
        escape(&report.workload)
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="37" fill="#555">{} runs/hour over {}h ({} runs), {} slots per agent: feedback time (accepted → verdict) against agents</text>"##,
        report.params.rate_per_hour, report.params.hours, report.runs, report.params.slots
    );
    // Axes and grid.
    let (x0, y0) = (LEFT, H - BOTTOM);
    let _ = writeln!(
        s,
        r##"<g stroke="#333"><line x1="{x0}" y1="{y0}" x2="{}" y2="{y0}"/><line x1="{x0}" y1="{y0}" x2="{x0}" y2="{TOP}"/></g>"##,
        W - RIGHT
    );
    let ystep = nice_step(y_max / unit, 5.0) * unit;
    let mut v = 0.0;
    while v <= y_max + 1e-9 {
        let yy = y(v);
        let _ = writeln!(
            s,
            r##"<line x1="{x0}" y1="{yy:.1}" x2="{}" y2="{yy:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - RIGHT,
            x0 - 6.0,
            yy + 4.0,
            v / unit
        );
        v += ystep;
    }
    let xstep = nice_step(x_max - x_min, 8.0).max(1.0).round();
    let mut v = (x_min / xstep).ceil() * xstep;
    while v <= x_max + 1e-9 {
        let xx = x(v);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{y0}" x2="{xx:.1}" y2="{}" stroke="#333"/><text x="{xx:.1}" y="{}" text-anchor="middle">{v}</text>"##,
            y0 + 5.0,
            y0 + 18.0
        );
        v += xstep;
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">agents (all pools; {} slots each)</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        H - 12.0,
        report.params.slots
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(18 {}) rotate(-90)" text-anchor="middle">feedback time ({})</text>"#,
        (TOP + H - BOTTOM) / 2.0,
        if minutes { "minutes" } else { "seconds" }
    );
    if highest > y_max {
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" fill="#555">values above {} are drawn at the top edge (the table has them)</text>"##,
            x0 + 8.0,
            y0 - 8.0,
            human_secs(y_max)
        );
    }
    // Target.
    let ty = y(target);
    let _ = writeln!(
        s,
        r##"<line x1="{x0}" y1="{ty:.1}" x2="{}" y2="{ty:.1}" stroke="#888" stroke-dasharray="6 4"/><text x="{}" y="{:.1}" text-anchor="end" fill="#555">target p90 {}</text>"##,
        W - RIGHT,
        W - RIGHT - 4.0,
        ty - 5.0,
        human_secs(target)
    );
    // Curves.
    for (name, color, get) in [
        (
            "p90",
            "#d62728",
            (|p: &super::sizing::Point| p.p90_secs) as fn(&super::sizing::Point) -> f64,
        ),
        ("p50", "#1f77b4", |p: &super::sizing::Point| p.p50_secs),
    ] {
        let coords: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.total_agents as f64), y(get(p))))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline class="{name}" fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            coords.join(" ")
        );
        for p in points {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{color}"><title>{} agents: {name} {}</title></circle>"#,
                x(p.total_agents as f64),
                y(get(p)),
                p.total_agents,
                human_secs(get(p))
            );
        }
    }
    // Legend.
    let lx = W - RIGHT - 150.0;
    for (i, (name, color)) in [("p90", "#d62728"), ("p50", "#1f77b4")].iter().enumerate() {
        let ly = TOP + 10.0 + i as f64 * 16.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="2"/><text x="{}" y="{}">{name} feedback time</text>"#,
            lx + 20.0,
            lx + 26.0,
            ly + 4.0
        );
    }
    if let Some(n) = &report.needed {
        let (nx, ny) = (x(n.total_agents as f64), y(n.p90_secs));
        // Above and to the right of the mark, where the falling p90 curve leaves room;
        // to its left near the right edge.
        let (anchor, lx) = if nx < W - RIGHT - 230.0 {
            ("start", nx + 10.0)
        } else {
            ("end", nx - 10.0)
        };
        let top = (ny - 16.0 - 14.0 * report.pools.len() as f64).max(TOP + 44.0);
        let _ = writeln!(
            s,
            r##"<circle cx="{nx:.1}" cy="{ny:.1}" r="6" fill="none" stroke="#000" stroke-width="1.5"/><text x="{lx:.1}" y="{top:.1}" text-anchor="{anchor}" font-weight="bold">needed: {} agents, p90 {}</text>"##,
            n.total_agents,
            human_secs(n.p90_secs),
        );
        for (i, (pool, a)) in report.pools.iter().zip(&n.agents).enumerate() {
            let _ = writeln!(
                s,
                r##"<text x="{lx:.1}" y="{:.1}" text-anchor="{anchor}" fill="#555">{a} × {}</text>"##,
                top + 14.0 * (i + 1) as f64,
                escape(pool)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::sizing::{size, SizingParams};
    use crate::capacity::testing::flat;

    #[test]
    fn the_curve_has_both_lines_the_target_and_the_answer() {
        let report = size(
            &flat(300, 2.0, 1.0),
            &SizingParams {
                rate_per_hour: 20.0,
                hours: 1.0,
                seed: 1,
                target_secs: 180.0,
                agents_max: 30,
                slots: 2,
                min_shard_secs: 2.0,
            },
        )
        .unwrap();
        let svg = curve(&report);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("class=\"p90\"") && svg.contains("class=\"p50\""));
        assert!(svg.contains("stroke-dasharray"));
        assert!(svg.contains("target p90 3m00s"));
        assert!(svg.contains(&format!("needed: {} agents, p90", report.needed.unwrap().total_agents)));
        assert_eq!(nice_step(47.0, 5.0), 10.0);
        assert_eq!(nice_step(7.0, 5.0), 2.0);
    }
}
