//! What the commands' flags share: their value parsers and the run directory they write to.

use std::path::{Path, PathBuf};

/// A duration flag (`2s`, `500ms`), with the scenario files' units.
pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::units::parse_duration(s)
}

pub(crate) fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

/// A new directory `<root>/<scenario>-<UTC time>` (`-2`, `-3`... when taken) for one run's
/// files. Errors: it cannot be created.
pub(crate) fn create_run_dir(root: &Path, scenario: &str) -> std::io::Result<PathBuf> {
    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .map_err(std::io::Error::other)?;
    let mut dir = root.join(format!("{scenario}-{stamp}"));
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = root.join(format!("{scenario}-{stamp}-{n}"));
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_parse() {
        assert_eq!(
            parse_key_value("A=b=c").unwrap(),
            ("A".into(), "b=c".into())
        );
        assert!(parse_key_value("=x").is_err());
        assert!(parse_key_value("novalue").is_err());
    }
}
