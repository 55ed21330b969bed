//! The one parser of the unit-bearing values chaosgate reads, wherever they are written
//! (scenario files, SLO expressions, `chaosgate load` flags): durations (`250ms`, `30s`,
//! `2m`, `1m30s`), request rates (`200/s`), percentages (`30%`) and byte rates (`64KB/s`).
//!
//! **The bare-number rule:** a number without a unit is refused for every quantity that has
//! one, and the error names the unit to add. `10` could be seconds or milliseconds, `200`
//! per second or per minute, `0.5` half or half a percent; a guess there is how an SLO ends
//! up judging the wrong thing. Only plain counts (`lost_writes() <= 0`, `max_in_flight: 512`)
//! are written without a unit.
//!
//! Units are unambiguous and case-sensitive: `m` is minutes, and there are no day, week,
//! month or year units (`1M` is an error, not a month).

use std::time::Duration;

/// The duration units, for messages.
pub const DURATION_UNITS: &str = "ns, us (or µs), ms, s, m (minutes), h";

/// The longest duration any scenario field or SLO threshold takes: a day. Runs are bounded
/// far below it, and the bound keeps every sum of durations (a fault's start plus its length
/// plus the tail after it) far from overflowing.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// The largest request rate chaosgate schedules (the load generator's own bound).
pub const MAX_RATE_PER_SECOND: f64 = 10_000_000.0;

/// The largest bandwidth a `bandwidth` fault can be limited to (anything faster is no limit).
pub const MAX_BYTES_PER_SECOND: u64 = 100_000_000_000;

fn is_bare_number(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        && text.chars().any(|c| c.is_ascii_digit())
}

/// Nanoseconds per unit, or why the unit is not one.
fn duration_unit(unit: &str, whole: &str) -> Result<u128, String> {
    Ok(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "M" | "mo" | "month" | "months" | "y" | "year" | "years" | "d" | "day" | "days" | "w"
        | "week" | "weeks" => {
            return Err(format!(
                "invalid duration `{whole}`: `{unit}` is not a duration unit (there are no day, \
                 week, month or year units; `m` is minutes); use {DURATION_UNITS}"
            ));
        }
        other => {
            return Err(format!(
                "invalid duration `{whole}`: unknown unit `{other}`; use {DURATION_UNITS}"
            ));
        }
    })
}

/// `digits[.digits]` × `unit_ns`, exactly (no float rounding), or `None` on overflow or when
/// `number` is not a plain decimal.
fn decimal_times(number: &str, unit_ns: u128) -> Option<u128> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if number.contains('.') && (frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let mut whole: u128 = 0;
    for b in int.bytes() {
        whole = whole.checked_mul(10)?.checked_add(u128::from(b - b'0'))?;
    }
    let mut value = whole.checked_mul(unit_ns)?;
    // Digits past the 18th are below a nanosecond for every unit.
    let frac = &frac[..frac.len().min(18)];
    if !frac.is_empty() {
        let mut f: u128 = 0;
        for b in frac.bytes() {
            f = f * 10 + u128::from(b - b'0');
        }
        let scale = 10u128.pow(frac.len() as u32);
        value = value.checked_add(f.checked_mul(unit_ns)? / scale)?;
    }
    Some(value)
}

/// `250ms`, `30s`, `1.5s`, `2m`, `1m30s`, `1h 30m`: one or more numbers, each followed by a
/// unit ([`DURATION_UNITS`]). A bare number is refused (see the module's rule), and so is
/// anything longer than `u64::MAX` nanoseconds (about 584 years); each field then checks its
/// own range.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("expected a duration like `250ms`, `30s` or `2m`, found nothing".into());
    }
    if is_bare_number(trimmed) {
        return Err(format!(
            "duration `{trimmed}` has no unit; write e.g. `{trimmed}s` or `{trimmed}ms` \
             (units: {DURATION_UNITS})"
        ));
    }
    let invalid = || format!("invalid duration `{trimmed}`; expected e.g. `250ms`, `30s`, `2m`");
    let mut total: u128 = 0;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() {
            return Err(invalid());
        }
        let unit_len = after
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!(
                "invalid duration `{trimmed}`: `{number}` has no unit (units: {DURATION_UNITS})"
            ));
        }
        let unit_ns = duration_unit(unit, trimmed)?;
        let value = decimal_times(number, unit_ns).ok_or_else(invalid)?;
        total = total.checked_add(value).ok_or_else(|| too_long(trimmed))?;
        rest = after.trim_start();
    }
    u64::try_from(total)
        .map(Duration::from_nanos)
        .map_err(|_| too_long(trimmed))
}

fn too_long(text: &str) -> String {
    format!("duration `{text}` is too long: no field takes more than a day (24h)")
}

/// Renders a duration the way a scenario author writes one, for messages and reports
/// (the result parses back to the same duration).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if d.is_zero() {
        "0s".into()
    } else if d.subsec_nanos() == 0 && d.as_secs().is_multiple_of(3600) {
        format!("{}h", d.as_secs() / 3600)
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

/// `200/s`, `12000/m`, `36000/h` → requests per second, above 0 and at most
/// [`MAX_RATE_PER_SECOND`]. The unit is required (see the module's rule).
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let Some((count, per)) = trimmed.split_once('/') else {
        return Err(if is_bare_number(trimmed) {
            format!("rate `{trimmed}` has no unit; write `{trimmed}/s` (or `/m`, `/h`)")
        } else {
            format!("invalid rate `{trimmed}`; expected e.g. `200/s`, `12000/m` or `36000/h`")
        });
    };
    let count_text = count.trim();
    let count: f64 = count_text
        .parse()
        .ok()
        .filter(|_| is_bare_number(count_text))
        .ok_or_else(|| format!("invalid rate `{trimmed}`: `{count_text}` is not a number"))?;
    let seconds = match per.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "invalid rate `{trimmed}`: unknown unit `/{other}`, expected `/s`, `/m` or `/h`"
            ));
        }
    };
    let per_second = count / seconds;
    if !per_second.is_finite() || per_second <= 0.0 {
        return Err(format!("rate `{trimmed}` must be greater than zero"));
    }
    if per_second > MAX_RATE_PER_SECOND {
        return Err(format!(
            "rate `{trimmed}` is above the largest supported rate, 10000000/s"
        ));
    }
    Ok(per_second)
}

/// `30%` → 0.30, between 0 % and 100 %. The `%` is required: `0.3` could mean 0.3 % or 30 %.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let Some(number) = trimmed.strip_suffix('%') else {
        return Err(if is_bare_number(trimmed) {
            format!(
                "percentage `{trimmed}` has no unit; write `{trimmed}%`{}",
                fraction_hint(trimmed)
            )
        } else {
            format!("percentage `{trimmed}` needs a `%` sign, e.g. `30%`")
        });
    };
    let number = number.trim();
    let value: f64 = number
        .parse()
        .ok()
        .filter(|_| is_bare_number(number))
        .ok_or_else(|| format!("invalid percentage `{trimmed}`"))?;
    if !(0.0..=100.0).contains(&value) {
        return Err(format!(
            "percentage `{trimmed}` must be between 0% and 100%"
        ));
    }
    Ok(value / 100.0)
}

/// For a bare `0.99`: the percentage it would be as a fraction.
fn fraction_hint(bare: &str) -> String {
    match bare.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1.0 => {
            let pct = format!("{:.6}", v * 100.0);
            let pct = pct.trim_end_matches('0').trim_end_matches('.');
            format!(", or `{pct}%` if you meant the fraction {bare}")
        }
        _ => String::new(),
    }
}

/// Byte units and their sizes (decimal KB, MB, GB; binary KiB, MiB, GiB, TiB).
const BYTE_UNITS: &[(&str, f64)] = &[
    ("B", 1.0),
    ("KB", 1e3),
    ("kB", 1e3),
    ("MB", 1e6),
    ("GB", 1e9),
    ("KiB", 1024.0),
    ("MiB", 1024.0 * 1024.0),
    ("GiB", 1024.0 * 1024.0 * 1024.0),
    ("TiB", 1024.0 * 1024.0 * 1024.0 * 1024.0),
];

/// The units a byte rate takes: [`BYTE_UNITS`] up to GiB.
const RATE_UNITS: &[(&str, f64)] = BYTE_UNITS.split_at(BYTE_UNITS.len() - 1).0;

fn scale_of(unit: &str, units: &[(&str, f64)]) -> Option<f64> {
    units.iter().find(|(u, _)| *u == unit).map(|(_, s)| *s)
}

/// `12.5MiB` → (`12.5`, `MiB`): the leading digits and dots, and the rest.
fn number_and_unit(text: &str) -> (&str, &str) {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    text.split_at(split)
}

/// `256MiB`, `64MB`, `1GiB`, `4096B` (decimal units; `KiB`/`MiB`/`GiB`/`TiB` binary) → bytes,
/// from 1 B to 1 TiB: a memory or disk size.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let (number, unit) = number_and_unit(trimmed);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("invalid size `{trimmed}`, expected e.g. `256MiB`"))?;
    let unit = unit.trim();
    let scale = match scale_of(unit, BYTE_UNITS) {
        Some(scale) => scale,
        None if unit.is_empty() => {
            return Err(format!(
                "size `{trimmed}` has no unit; write e.g. `{trimmed}MiB` or `{trimmed}B`"
            ));
        }
        None => {
            return Err(format!(
                "invalid size `{trimmed}`: unknown unit `{unit}`, expected B, KB, MB, GB, KiB, MiB, GiB or TiB"
            ));
        }
    };
    let bytes = number * scale;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(format!("size `{trimmed}` must be at least 1B"));
    }
    if bytes > MAX_BYTES as f64 {
        return Err(format!("size `{trimmed}` is above the largest, 1TiB"));
    }
    Ok(bytes.round() as u64)
}

/// The largest size [`parse_bytes`] accepts: 1 TiB.
pub const MAX_BYTES: u64 = 1 << 40;

/// `64KB/s`, `1MB/s`, `512B/s` (decimal units; `KiB`/`MiB`/`GiB` binary) → bytes per
/// second, from 1 B/s to [`MAX_BYTES_PER_SECOND`].
pub fn parse_byte_rate(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let Some(amount) = trimmed.strip_suffix("/s") else {
        return Err(if is_bare_number(trimmed) {
            format!(
                "bandwidth `{trimmed}` has no unit; write e.g. `{trimmed}B/s` or `{trimmed}KB/s`"
            )
        } else {
            format!("bandwidth `{trimmed}` needs `/s`, e.g. `64KB/s`")
        });
    };
    let (number, unit) = number_and_unit(amount);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("invalid bandwidth `{trimmed}`"))?;
    let unit = unit.trim();
    // A rate's units stop at GiB, as they always have.
    let scale = match scale_of(unit, RATE_UNITS) {
        Some(scale) => scale,
        None if unit.is_empty() => {
            return Err(format!(
                "bandwidth `{trimmed}` has no unit; write e.g. `{amount}B/s` or `{amount}KB/s`"
            ));
        }
        None => {
            return Err(format!(
                "invalid bandwidth `{trimmed}`: unknown unit `{unit}`, expected B, KB, MB, GB, KiB, MiB or GiB"
            ));
        }
    };
    let bytes = number * scale;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(format!("bandwidth `{trimmed}` must be at least 1 B/s"));
    }
    if bytes > MAX_BYTES_PER_SECOND as f64 {
        return Err(format!(
            "bandwidth `{trimmed}` is above the largest limit, 100GB/s"
        ));
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
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("500us"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_duration("500µs"), Ok(Duration::from_micros(500)));
        let bare = parse_duration("10").unwrap_err();
        assert!(bare.contains("no unit") && bare.contains("`10s`"), "{bare}");
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert!(
            parse_duration("1m30")
                .unwrap_err()
                .contains("`30` has no unit")
        );
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration(".5s").is_err());
        assert!(parse_duration("1.s").is_err());
    }

    #[test]
    fn there_are_no_month_or_year_units() {
        // humantime (used before) read `1M` as a month and `1y` as a year.
        for text in ["1M", "1y", "2d", "1w", "3months"] {
            let e = parse_duration(text).unwrap_err();
            assert!(
                e.contains("no day, week, month or year units"),
                "{text}: {e}"
            );
        }
        assert!(
            parse_duration("1S")
                .unwrap_err()
                .contains("unknown unit `S`")
        );
    }

    #[test]
    fn absurd_durations_are_errors_not_panics() {
        assert!(
            parse_duration("18446744073709551615s")
                .unwrap_err()
                .contains("too long")
        );
        assert!(parse_duration("99999999999999999999999999999999999999999h").is_err());
        assert_eq!(
            parse_duration("18446744073709551615ns"),
            Ok(Duration::from_nanos(u64::MAX))
        );
    }

    #[test]
    fn durations_render_as_written() {
        for text in ["250ms", "30s", "2m", "1500ms", "0s", "24h", "90m"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
    }

    #[test]
    fn rates_need_a_unit() {
        assert_eq!(parse_rate("200/s"), Ok(200.0));
        assert_eq!(parse_rate("120/m"), Ok(2.0));
        assert_eq!(parse_rate("7200/h"), Ok(2.0));
        let bare = parse_rate("200").unwrap_err();
        assert!(
            bare.contains("no unit") && bare.contains("`200/s`"),
            "{bare}"
        );
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("inf/s").is_err());
        assert!(parse_rate("NaN/s").is_err());
        assert!(parse_rate("1e300/s").unwrap_err().contains("largest"));
        assert!(parse_rate("5/fortnight").is_err());
    }

    #[test]
    fn percentages_need_a_percent_sign() {
        assert_eq!(parse_percent("30%"), Ok(0.3));
        let bare = parse_percent("0.99").unwrap_err();
        assert!(bare.contains("`0.99%`") && bare.contains("`99%`"), "{bare}");
        assert!(parse_percent("130%").is_err());
        assert!(parse_percent("NaN%").is_err());
        assert!(parse_percent("-1%").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("256MiB"), Ok(256 << 20));
        assert_eq!(parse_bytes("64MB"), Ok(64_000_000));
        assert_eq!(parse_bytes(" 1.5GiB "), Ok(3 << 29));
        assert!(parse_bytes("64").unwrap_err().contains("no unit"));
        assert!(parse_bytes("64XB").unwrap_err().contains("unknown unit"));
        assert!(parse_bytes("0B").unwrap_err().contains("at least"));
        assert!(parse_bytes("2TiB").unwrap_err().contains("largest"));
        assert!(parse_bytes("MiB").is_err());
    }

    #[test]
    fn byte_rates() {
        assert_eq!(parse_byte_rate("64KB/s"), Ok(64_000));
        assert_eq!(parse_byte_rate("1MiB/s"), Ok(1_048_576));
        assert!(parse_byte_rate("64KB").is_err());
        assert!(parse_byte_rate("64000").unwrap_err().contains("no unit"));
        assert!(parse_byte_rate("64000/s").unwrap_err().contains("no unit"));
        assert!(parse_byte_rate("64XB/s").is_err());
        assert!(parse_byte_rate("1000GB/s").unwrap_err().contains("largest"));
    }
}
