//! Parsing of the unit-bearing scalars a scenario is written in: durations (`250ms`, `30s`,
//! `2m`), request rates (`200/s`), percentages (`30%`) and byte rates (`64KB/s`).

use std::time::Duration;

/// `250ms`, `30s`, `2m`, `1h 30m`: a number followed by a unit is required, because a bare
/// `10` is ambiguous (seconds? milliseconds?) and silently guessing is how SLOs go wrong.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("expected a duration like `250ms`, `30s` or `2m`, found nothing".into());
    }
    if trimmed.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!(
            "duration `{trimmed}` has no unit; write `{trimmed}s` or `{trimmed}ms`"
        ));
    }
    // humantime's own message lists every unit it knows; the short form reads better here.
    humantime::parse_duration(trimmed)
        .map_err(|_| format!("invalid duration `{trimmed}`; expected e.g. `250ms`, `30s`, `2m`"))
}

/// Renders a duration the way a scenario author writes one, for messages and reports.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if d.is_zero() {
        "0s".into()
    } else if d.subsec_nanos() == 0 && d.as_secs().is_multiple_of(60) {
        format!("{}m", d.as_secs() / 60)
    } else if d.subsec_millis() * 1_000_000 == d.subsec_nanos() && ms >= 1000.0 {
        if d.subsec_millis() == 0 {
            format!("{}s", d.as_secs())
        } else {
            format!("{}ms", d.as_millis())
        }
    } else if ms >= 1.0 {
        trim_float(ms, "ms")
    } else {
        trim_float(d.as_secs_f64() * 1e6, "µs")
    }
}

fn trim_float(v: f64, unit: &str) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{unit}")
}

/// `200/s`, `12000/m`: requests per second. The unit is required for the same reason as
/// for durations.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let Some((count, per)) = trimmed.split_once('/') else {
        return Err(format!(
            "rate `{trimmed}` needs a unit; write e.g. `{trimmed}/s`"
        ));
    };
    let count: f64 = count
        .trim()
        .parse()
        .map_err(|_| format!("invalid rate `{trimmed}`: `{count}` is not a number"))?;
    let seconds = match per.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        other => {
            return Err(format!(
                "invalid rate `{trimmed}`: unknown unit `/{other}`, expected `/s`, `/m` or `/h`"
            ));
        }
    };
    if !count.is_finite() || count <= 0.0 {
        return Err(format!("rate `{trimmed}` must be greater than zero"));
    }
    Ok(count / seconds)
}

/// `30%` → 0.30. The `%` is required: `0.3` could mean 0.3 % or 30 %.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let Some(number) = trimmed.strip_suffix('%') else {
        return Err(format!(
            "percentage `{trimmed}` needs a `%` sign, e.g. `30%`"
        ));
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("invalid percentage `{trimmed}`"))?;
    if !(0.0..=100.0).contains(&value) {
        return Err(format!(
            "percentage `{trimmed}` must be between 0% and 100%"
        ));
    }
    Ok(value / 100.0)
}

/// `64KB/s`, `1MB/s`, `512B/s` (decimal units; `KiB`/`MiB` binary) → bytes per second.
pub fn parse_byte_rate(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let Some(amount) = trimmed.strip_suffix("/s") else {
        return Err(format!("bandwidth `{trimmed}` needs `/s`, e.g. `64KB/s`"));
    };
    let split = amount
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(amount.len());
    let (number, unit) = amount.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("invalid bandwidth `{trimmed}`"))?;
    let scale = match unit.trim() {
        "B" => 1.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "invalid bandwidth `{trimmed}`: unknown unit `{other}`, expected B, KB, MB, GB, KiB, MiB or GiB"
            ));
        }
    };
    let bytes = number * scale;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(format!("bandwidth `{trimmed}` must be at least 1 B/s"));
    }
    Ok(bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn durations_render_as_written() {
        for text in ["250ms", "30s", "2m", "1500ms", "0s"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
    }

    #[test]
    fn rates_percent_and_bandwidth() {
        assert_eq!(parse_rate("200/s"), Ok(200.0));
        assert_eq!(parse_rate("120/m"), Ok(2.0));
        assert!(parse_rate("200").is_err());
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("5/fortnight").is_err());
        assert_eq!(parse_percent("30%"), Ok(0.3));
        assert!(parse_percent("30").is_err());
        assert!(parse_percent("130%").is_err());
        assert_eq!(parse_byte_rate("64KB/s"), Ok(64_000));
        assert_eq!(parse_byte_rate("1MiB/s"), Ok(1_048_576));
        assert!(parse_byte_rate("64KB").is_err());
        assert!(parse_byte_rate("64XB/s").is_err());
    }
}
