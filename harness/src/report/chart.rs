//! Inline SVG charts for the HTML report: per-second latency (p50, p99) and errors, with
//! fault windows shaded and recovery moments marked. No scripts, no external assets.

use std::fmt::Write as _;

use html_escape::encode_text;

use super::model::{FaultReport, Report};

const WIDTH: f64 = 900.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 22.0;
const BOTTOM: f64 = 28.0;

/// The smallest 1/2/5 × 10^k at or above `v` (axis maxima that read well).
fn nice_ceiling(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * magnitude)
}

/// The x range in seconds: the load's seconds and every fault event.
fn x_max(report: &Report) -> f64 {
    let series_end = report.series.last().map_or(0.0, |p| p.t as f64 + 1.0);
    let fault_end = report
        .faults
        .iter()
        .flat_map(|f| {
            [
                f.scheduled_at_ms,
                f.applied_at_ms.unwrap_or(0.0),
                f.reverted_at_ms.unwrap_or(0.0),
            ]
            .into_iter()
            .chain(f.recovery.iter().filter_map(|r| r.recovered_at_ms))
        })
        .fold(0.0, f64::max)
        / 1000.0;
    series_end.max(fault_end).max(1.0).ceil()
}

/// A fault's shaded window in seconds: applied (or scheduled) to reverted; one-shot faults
/// without a revert are shaded up to the last probe's recovery, or one second.
fn window(f: &FaultReport) -> (f64, f64) {
    let start = f.applied_at_ms.unwrap_or(f.scheduled_at_ms) / 1000.0;
    let end = f
        .reverted_at_ms
        .or_else(|| {
            f.recovery
                .iter()
                .filter_map(|r| r.recovered_at_ms)
                .reduce(f64::max)
        })
        .map_or(start + 1.0, |e| e / 1000.0);
    (start, end.max(start + 0.05))
}

struct Frame {
    height: f64,
    x_max: f64,
    y_max: f64,
}

impl Frame {
    fn x(&self, seconds: f64) -> f64 {
        LEFT + (seconds / self.x_max) * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, value: f64) -> f64 {
        let plot = self.height - TOP - BOTTOM;
        TOP + plot - (value / self.y_max).min(1.0) * plot
    }

    fn open(&self, out: &mut String, title: &str, y_label: &str) {
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {h}" width="100%" role="img" aria-label="{t}"><title>{t}</title>"#,
            h = self.height,
            t = encode_text(title)
        );
        // Axes and gridlines.
        let bottom = self.height - BOTTOM;
        for i in 0..=4 {
            let v = self.y_max * f64::from(i) / 4.0;
            let y = self.y(v);
            let _ = write!(
                out,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{x2}" y2="{y:.1}" stroke="#e5e7eb"/><text x="{tx}" y="{ty:.1}" font-size="11" text-anchor="end" fill="#374151">{v}</text>"##,
                x2 = WIDTH - RIGHT,
                tx = LEFT - 6.0,
                ty = y + 4.0,
                v = trim(v)
            );
        }
        let step = nice_ceiling(self.x_max / 10.0);
        let mut t = 0.0;
        while t <= self.x_max + 1e-9 {
            let x = self.x(t);
            let _ = write!(
                out,
                r##"<line x1="{x:.1}" y1="{bottom}" x2="{x:.1}" y2="{b2}" stroke="#6b7280"/><text x="{x:.1}" y="{ty}" font-size="11" text-anchor="middle" fill="#374151">{ts}s</text>"##,
                b2 = bottom + 4.0,
                ty = bottom + 16.0,
                ts = trim(t)
            );
            t += step;
        }
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{bottom}" x2="{x2}" y2="{bottom}" stroke="#6b7280"/><text x="12" y="{my:.1}" font-size="11" fill="#374151" transform="rotate(-90 12 {my:.1})" text-anchor="middle">{yl}</text>"##,
            x2 = WIDTH - RIGHT,
            my = self.height / 2.0,
            yl = encode_text(y_label)
        );
    }

    fn faults(&self, out: &mut String, report: &Report, label: bool) {
        for f in &report.faults {
            let (s, e) = window(f);
            let (x1, x2) = (self.x(s), self.x(e.min(self.x_max)));
            let fill = if f.applied { "#fca5a5" } else { "#d1d5db" };
            let _ = write!(
                out,
                r#"<rect x="{x1:.1}" y="{TOP}" width="{w:.1}" height="{h:.1}" fill="{fill}" fill-opacity="0.45"><title>{name}</title></rect>"#,
                w = (x2 - x1).max(1.0),
                h = self.height - TOP - BOTTOM,
                name = encode_text(&format!("{} ({})", f.name, f.action))
            );
            if label {
                let _ = write!(
                    out,
                    r##"<text x="{x1:.1}" y="{y}" font-size="11" fill="#991b1b">{}</text>"##,
                    encode_text(&f.name),
                    y = TOP - 6.0
                );
            }
            for (i, r) in f.recovery.iter().enumerate() {
                if let Some(at) = r.recovered_at_ms {
                    let x = self.x(at / 1000.0);
                    let _ = write!(
                        out,
                        r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{b}" stroke="#15803d" stroke-dasharray="4 3"><title>{t}</title></line>"##,
                        b = self.height - BOTTOM,
                        t = encode_text(&format!("{} recovered ({})", r.probe, f.name))
                    );
                    if label {
                        let _ = write!(
                            out,
                            r##"<text x="{tx:.1}" y="{ty}" font-size="10" fill="#15803d">{p} ✓</text>"##,
                            tx = x + 3.0,
                            // Probes often recover within the same few ms: stack labels.
                            ty = TOP + 12.0 + 12.0 * i as f64,
                            p = encode_text(&r.probe)
                        );
                    }
                }
            }
        }
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// p50 and p99 per second, in ms.
pub fn latency_svg(report: &Report) -> String {
    let y_top = report
        .series
        .iter()
        .filter_map(|p| p.p99_ms.or(p.p50_ms))
        .fold(0.0, f64::max);
    let frame = Frame {
        height: 260.0,
        x_max: x_max(report),
        y_max: nice_ceiling(y_top),
    };
    let mut out = String::new();
    frame.open(&mut out, "Latency per second (p50, p99)", "latency (ms)");
    frame.faults(&mut out, report, true);
    for (pick, color, name) in [(0usize, "#2563eb", "p50"), (1usize, "#ea580c", "p99")] {
        // A second without samples breaks the line rather than drawing through it.
        let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for p in &report.series {
            let value = if pick == 0 { p.p50_ms } else { p.p99_ms };
            match value {
                Some(v) => {
                    if let Some(seg) = segments.last_mut() {
                        seg.push((frame.x(p.t as f64 + 0.5), frame.y(v)));
                    }
                }
                None => segments.push(Vec::new()),
            }
        }
        for seg in segments.iter().filter(|s| !s.is_empty()) {
            let points: Vec<String> = seg.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = write!(
                out,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="1.8"><title>{name}</title></polyline>"#,
                points.join(" ")
            );
        }
    }
    let _ = write!(
        out,
        r##"<rect x="{lx}" y="4" width="10" height="3" fill="#2563eb"/><text x="{tx}" y="10" font-size="11" fill="#374151">p50</text><rect x="{lx2}" y="4" width="10" height="3" fill="#ea580c"/><text x="{tx2}" y="10" font-size="11" fill="#374151">p99</text>"##,
        lx = WIDTH - 120.0,
        tx = WIDTH - 106.0,
        lx2 = WIDTH - 70.0,
        tx2 = WIDTH - 56.0
    );
    out.push_str("</svg>");
    out
}

/// Failed requests per second as bars.
pub fn errors_svg(report: &Report) -> String {
    let y_top = report.series.iter().map(|p| p.errors).max().unwrap_or(0) as f64;
    let frame = Frame {
        height: 150.0,
        x_max: x_max(report),
        y_max: nice_ceiling(y_top.max(1.0)),
    };
    let mut out = String::new();
    frame.open(&mut out, "Errors per second", "errors / s");
    frame.faults(&mut out, report, false);
    for p in report.series.iter().filter(|p| p.errors > 0) {
        let x1 = frame.x(p.t as f64 + 0.1);
        let x2 = frame.x(p.t as f64 + 0.9);
        let y = frame.y(p.errors as f64);
        let _ = write!(
            out,
            r##"<rect x="{x1:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="#dc2626"><title>{t}s: {e} errors of {s}</title></rect>"##,
            w = (x2 - x1).max(1.0),
            h = frame.height - BOTTOM - y,
            t = p.t,
            e = p.errors,
            s = p.sent
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(nice_ceiling(87.0), 100.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
        assert_eq!(nice_ceiling(3.2), 5.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(1000.0), 1000.0);
    }
}
