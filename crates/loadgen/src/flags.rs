//! Parsers for the text forms a command line or scenario uses: durations ("30s", "1m30s",
//! "250ms") and headers ("Name: value").

use std::time::Duration;

/// A duration such as `30s`, `250ms`, `1m30s` or `2h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| format!("invalid duration {text:?}: {e}"))
}

/// A header written `Name: value` (or `Name:value`).
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(format!("invalid header {text:?}: write it as Name:value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn headers() {
        assert_eq!(
            parse_header("X-Key: a:b"),
            Ok(("X-Key".to_string(), "a:b".to_string()))
        );
        assert!(parse_header("novalue").is_err());
        assert!(parse_header(": v").is_err());
    }
}
