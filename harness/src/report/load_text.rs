//! `chaosgate load`'s summary for people (oha-like): what ran, success rate, rates, latency
//! percentiles (intended-time and service time), statuses and errors. `--json` prints the
//! [`LoadSummary`] itself (schemas/load.schema.json).

use std::fmt::Write as _;

use chaosgate_load::{ErrorKind, LatencySummary, LoadMode, LoadSummary};

/// The summary for people: what ran, success rate, rates, percentiles, statuses, errors.
pub fn render(url: &str, s: &LoadSummary) -> String {
    let mut out = String::new();
    let mode = match (s.mode, s.rate) {
        (LoadMode::Open, Some(rate)) => format!(
            "open model, {} for {}, at most {} in flight",
            rate,
            seconds(s.planned_duration_s),
            s.concurrency
        ),
        _ => format!(
            "closed model, {} connections for {}",
            s.concurrency,
            seconds(s.planned_duration_s)
        ),
    };
    let success = if s.scheduled == 0 {
        0.0
    } else {
        100.0 * s.ok as f64 / s.scheduled as f64
    };
    let _ = writeln!(out, "Summary: {url}");
    let _ = writeln!(out, "  Mode:          {mode}");
    if s.cancelled {
        let _ = writeln!(out, "  Interrupted:   yes, after {}", seconds(s.elapsed_s));
    }
    let _ = writeln!(out, "  Success rate:  {success:.2} % (2xx)");
    let _ = writeln!(out, "  Elapsed:       {}", seconds(s.elapsed_s));
    let _ = writeln!(
        out,
        "  Requests:      {} scheduled, {} sent, {} responses, {} ok",
        s.scheduled, s.sent, s.responses, s.ok
    );
    if s.peak_waiting > 0 {
        let _ = writeln!(
            out,
            "  Waited:        up to {} requests at once for an in-flight slot",
            s.peak_waiting
        );
    }
    let _ = writeln!(out, "  Requests/sec:  {:.1} sent", s.achieved_rate);
    let _ = writeln!(out, "  Throughput:    {:.1} responses/s", s.throughput);
    let _ = writeln!(out);
    let heading = match s.mode {
        LoadMode::Open => {
            "Latency (from each request's intended start; every request, timeouts at the timeout):"
        }
        LoadMode::Closed => "Latency (from the actual send; every request):",
    };
    let _ = writeln!(out, "{heading}");
    render_latency(&mut out, &s.latency);
    if let Some(service) = &s.service_latency {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Service time (from the actual send, as a closed loop sees it; sent requests):"
        );
        render_latency(&mut out, service);
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Status codes:");
    if s.status_counts.is_empty() {
        let _ = writeln!(out, "  (no responses)");
    }
    for (status, count) in &s.status_counts {
        let _ = writeln!(out, "  [{status}] {count} responses");
    }
    let errors: Vec<(ErrorKind, u64)> = s
        .error_counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| (*k, *n))
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Errors:");
        for (kind, count) in errors {
            let _ = writeln!(out, "  {:<16} {count}", kind.as_str());
        }
    }
    out
}

/// `-q`: one line, the outcome and its errors (what a script checks; the rest is `--json`).
pub fn render_quiet(url: &str, s: &LoadSummary) -> String {
    let errors: Vec<String> = s
        .error_counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{} {n}", k.as_str()))
        .collect();
    let latency = if s.latency.count == 0 {
        "no requests".to_string()
    } else {
        format!("p99 {:.3} ms", s.latency.p99_us as f64 / 1000.0)
    };
    format!(
        "{url}: {} ok of {} scheduled, {latency}{}\n",
        s.ok,
        s.scheduled,
        if errors.is_empty() {
            String::new()
        } else {
            format!("; errors: {}", errors.join(", "))
        }
    )
}

fn render_latency(out: &mut String, l: &LatencySummary) {
    if l.count == 0 {
        let _ = writeln!(out, "  (no requests)");
        return;
    }
    for (label, micros) in [
        ("p50", l.p50_us),
        ("p90", l.p90_us),
        ("p95", l.p95_us),
        ("p99", l.p99_us),
        ("p99.9", l.p999_us),
        ("max", l.max_us),
        ("mean", l.mean_us),
    ] {
        let _ = writeln!(out, "  {label:<6} {:>10.3} ms", micros as f64 / 1000.0);
    }
}

fn seconds(s: f64) -> String {
    format!("{s:.3} s")
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use chaosgate_load::{Rate, SecondStats};

    use super::*;

    fn latency(scale: u64) -> LatencySummary {
        LatencySummary {
            count: 3000,
            min_us: 100 * scale,
            mean_us: 900 * scale,
            p50_us: 500 * scale,
            p90_us: 1_500 * scale,
            p95_us: 2_000 * scale,
            p99_us: 9_000 * scale,
            p999_us: 12_000 * scale,
            max_us: 15_000 * scale,
        }
    }

    /// A summary of a 30 s open-model run at 100/s with a few errors (also used by `cli`).
    pub(crate) fn summary() -> LoadSummary {
        LoadSummary {
            mode: LoadMode::Open,
            rate: Some(Rate::Constant(100.0)),
            concurrency: 1000,
            planned_duration_s: 30.0,
            elapsed_s: 30.0012,
            cancelled: false,
            scheduled: 3000,
            sent: 2998,
            responses: 2990,
            ok: 2985,
            error_rate: 0.005,
            achieved_rate: 99.93,
            throughput: 99.66,
            latency: latency(2),
            service_latency: Some(latency(1)),
            peak_waiting: 12,
            status_counts: BTreeMap::from([(200, 2985), (503, 5)]),
            error_counts: ErrorKind::ALL
                .iter()
                .map(|k| {
                    let n = match k {
                        ErrorKind::Timeout => 8,
                        ErrorKind::Dropped => 2,
                        _ => 0,
                    };
                    (*k, n)
                })
                .collect(),
            series: vec![SecondStats {
                second: 0,
                sent: 100,
                ok: 100,
                errors: 0,
                p50_us: Some(1000),
                p99_us: Some(2000),
            }],
        }
    }

    #[test]
    fn quiet_summary_is_one_line() {
        insta::assert_snapshot!(
            render_quiet("http://127.0.0.1:8080/", &summary()),
            @"http://127.0.0.1:8080/: 2985 ok of 3000 scheduled, p99 18.000 ms; errors: timeout 8, dropped 2"
        );
    }

    #[test]
    fn human_summary() {
        insta::assert_snapshot!(render("http://127.0.0.1:8080/", &summary()), @r"
    Summary: http://127.0.0.1:8080/
      Mode:          open model, 100/s for 30.000 s, at most 1000 in flight
      Success rate:  99.50 % (2xx)
      Elapsed:       30.001 s
      Requests:      3000 scheduled, 2998 sent, 2990 responses, 2985 ok
      Waited:        up to 12 requests at once for an in-flight slot
      Requests/sec:  99.9 sent
      Throughput:    99.7 responses/s

    Latency (from each request's intended start; every request, timeouts at the timeout):
      p50         1.000 ms
      p90         3.000 ms
      p95         4.000 ms
      p99        18.000 ms
      p99.9      24.000 ms
      max        30.000 ms
      mean        1.800 ms

    Service time (from the actual send, as a closed loop sees it; sent requests):
      p50         0.500 ms
      p90         1.500 ms
      p95         2.000 ms
      p99         9.000 ms
      p99.9      12.000 ms
      max        15.000 ms
      mean        0.900 ms

    Status codes:
      [200] 2985 responses
      [503] 5 responses

    Errors:
      timeout          8
      dropped          2
");
    }
}
