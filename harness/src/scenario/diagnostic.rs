//! Scenario errors with their place in the file, rendered rustc-style (file:line:column, the
//! source line and a caret under the offending text).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};

/// Where an error points: 1-based line and column (in characters) plus the byte range of the
/// offending text in the source, so a renderer can underline all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpan {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, counted in characters (not bytes).
    pub column: u32,
    /// Byte range of the offending text in the source.
    pub bytes: Range<usize>,
}

impl SourceSpan {
    /// The span of `len` bytes starting at byte `start` of `source` (clamped to the source and
    /// to character boundaries, so a span computed from a parser's offsets can never panic).
    pub fn at(source: &str, start: usize, len: usize) -> Self {
        let mut start = start.min(source.len());
        while !source.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + len).min(source.len());
        while !source.is_char_boundary(end) {
            end += 1;
        }
        let before = &source[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = source[line_start..start].chars().count() + 1;
        Self {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            bytes: start..end,
        }
    }
}

/// One problem found in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// What is wrong, one line (the `error:` title).
    pub message: String,
    /// Where in the file; `None` for a problem with the file as a whole.
    pub span: Option<SourceSpan>,
    /// Short text printed beside the caret.
    pub label: Option<String>,
    /// A hint on how to fix it.
    pub help: Option<String>,
}

impl ScenarioError {
    /// An error with `message` at `span`, without label or help.
    pub fn new(message: impl Into<String>, span: Option<SourceSpan>) -> Self {
        Self {
            message: message.into(),
            span,
            label: None,
            help: None,
        }
    }

    /// Sets the text printed beside the caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the `help:` line printed under the snippet.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Every problem found in one scenario file (validation does not stop at the first). The CLI
/// prints it and exits with `BAD_INPUT` (2): nothing was started.
#[derive(Debug, Clone)]
pub struct ScenarioErrors {
    /// The file as the user named it (relative paths stay relative in messages).
    pub path: PathBuf,
    source: String,
    /// Every problem found, in the order validation met them.
    pub errors: Vec<ScenarioError>,
}

impl ScenarioErrors {
    /// The errors of the file at `path` whose text is `source` (kept to render the snippets).
    pub fn new(path: &Path, source: &str, errors: Vec<ScenarioError>) -> Self {
        Self {
            path: path.to_path_buf(),
            source: source.to_string(),
            errors,
        }
    }

    /// A problem with the file as a whole (unreadable, not UTF-8).
    pub fn whole_file(path: &Path, message: impl Into<String>) -> Self {
        Self::new(path, "", vec![ScenarioError::new(message, None)])
    }

    /// How many problems the file has.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// True when there is no problem (never the case for a returned error).
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Each problem rendered as a warning (`warning: ...` with its place), for what a file
    /// may hold but should not go unnoticed.
    pub fn as_warnings(&self) -> Vec<String> {
        self.errors
            .iter()
            .map(|e| self.render(e, Level::WARNING))
            .collect()
    }

    fn render_one(&self, error: &ScenarioError) -> String {
        self.render(error, Level::ERROR)
    }

    fn render(&self, error: &ScenarioError, level: Level<'_>) -> String {
        let path = self.path.display().to_string();
        let title = level.primary_title(error.message.as_str());
        let group = match &error.span {
            Some(span) => {
                let mut annotation = AnnotationKind::Primary.span(span.bytes.clone());
                if let Some(label) = &error.label {
                    annotation = annotation.label(label.as_str());
                }
                title.element(
                    Snippet::source(self.source.as_str())
                        .path(path.as_str())
                        .annotation(annotation),
                )
            }
            None => title.element(annotate_snippets::Origin::path(path.as_str())),
        };
        let group = match &error.help {
            Some(help) => group.element(Level::HELP.message(help.as_str())),
            None => group,
        };
        Renderer::plain().render(&[group])
    }
}

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{}", self.render_one(error))?;
        }
        let n = self.errors.len();
        writeln!(f)?;
        write!(
            f,
            "error: {} has {n} problem{}",
            self.path.display(),
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for ScenarioErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_positions_count_characters() {
        let src = "a: 1\nbé: xyz\n";
        let at = src.find("xyz").unwrap();
        let span = SourceSpan::at(src, at, 3);
        assert_eq!((span.line, span.column), (2, 5));
        // Out-of-range offsets clamp instead of panicking.
        let past = SourceSpan::at(src, 1000, 5);
        assert_eq!(past.bytes, src.len()..src.len());
    }
}
