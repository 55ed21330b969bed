//! A metric call as written, `name(arg, key=value, ...)`, before any metric has typed it: the
//! parser reads the call, and the metric named asks it for its arguments (`crate::metric`).
//! Every argument error points at its byte range inside the expression.

use std::ops::Range;

use super::Phase;
use super::expr::{NameRef, RefKind};

/// A syntax or unit error in an SLO expression. In a scenario file it becomes a
/// `ScenarioError` at the expression's column: exit `BAD_INPUT` (2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SloParseError {
    /// What is wrong, one line.
    pub message: String,
    /// Byte range inside the expression as given to `parse`.
    pub at: Range<usize>,
    /// A hint on how to fix it (e.g. the unit to write), printed as `help:`.
    pub help: Option<String>,
}

impl SloParseError {
    /// An error at `at` without help.
    pub fn new(message: impl Into<String>, at: Range<usize>) -> Self {
        Self {
            message: message.into(),
            at,
            help: None,
        }
    }

    /// The same error with a hint on how to fix it.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// 1-based column (in characters) of the error inside `expression`.
    pub fn column(&self, expression: &str) -> usize {
        expression
            .get(..self.at.start)
            .map_or(1, |before| before.chars().count() + 1)
    }
}

/// One argument inside the parentheses: `latency`, `crash-primary` or `during=crash-primary`.
#[derive(Debug, Clone)]
pub struct Arg {
    /// `key` of `key=value` with its byte range; `None` for a positional argument.
    pub key: Option<(String, Range<usize>)>,
    /// The value as written.
    pub value: String,
    /// Byte range of the value.
    pub at: Range<usize>,
}

/// A call `name(args)` as parsed, for the metric `name` to type.
#[derive(Debug)]
pub struct Call {
    /// The metric's name as written (`p95`, `error_rate`).
    pub name: String,
    /// Its byte range.
    pub name_at: Range<usize>,
    args: Vec<Arg>,
    /// Byte range of the closing parenthesis (where a missing argument is reported).
    close_at: Range<usize>,
    /// The fault and probe names the call refers to, in the order read.
    pub refs: Vec<NameRef>,
}

/// A call's arguments split into positionals and `key=value` pairs.
#[derive(Debug)]
pub struct Args {
    metric: String,
    close_at: Range<usize>,
    positional: Vec<Arg>,
    named: Vec<(String, Arg)>,
}

impl Call {
    pub(super) fn new(
        name: String,
        name_at: Range<usize>,
        args: Vec<Arg>,
        close_at: Range<usize>,
    ) -> Self {
        Self {
            name,
            name_at,
            args,
            close_at,
            refs: Vec::new(),
        }
    }

    /// The arguments, rejecting keys outside `allowed` (the metric's row) and repeated keys.
    pub fn args(&mut self, allowed: &[&str]) -> Result<Args, SloParseError> {
        let metric = self.name.clone();
        let mut out = Args {
            metric: metric.clone(),
            close_at: self.close_at.clone(),
            positional: Vec::new(),
            named: Vec::new(),
        };
        for arg in std::mem::take(&mut self.args) {
            match &arg.key {
                None => out.positional.push(arg),
                Some((key, key_at)) => {
                    if !allowed.contains(&key.as_str()) {
                        let expected = if allowed.is_empty() {
                            "none".to_string()
                        } else {
                            allowed.join(", ")
                        };
                        return Err(SloParseError::new(
                            format!("`{metric}` has no argument `{key}` (it takes: {expected})"),
                            key_at.clone(),
                        ));
                    }
                    if out.named.iter().any(|(k, _)| k == key) {
                        return Err(SloParseError::new(
                            format!("`{key}` is given twice"),
                            key_at.clone(),
                        ));
                    }
                    out.named.push((key.clone(), arg));
                }
            }
        }
        Ok(out)
    }

    /// Records that `arg` names a fault or a probe of the scenario (checked by validation).
    pub fn refer(&mut self, kind: RefKind, arg: &Arg) {
        self.refs.push(NameRef {
            kind,
            name: arg.value.clone(),
            at: arg.at.clone(),
        });
    }

    /// The phase of the run a request-based metric covers: `during=FAULT`, `phase=PHASE`, or
    /// the whole run when neither is given.
    pub fn phase(&mut self, args: &mut Args) -> Result<Phase, SloParseError> {
        let during = args.take("during");
        let phase = args.take("phase");
        match (during, phase) {
            (Some(_), Some(p)) => Err(SloParseError::new(
                format!("`{}` takes `during=` or `phase=`, not both", self.name),
                p.at,
            )),
            (Some(d), None) => {
                self.refer(RefKind::Fault, &d);
                Ok(Phase::During(d.value))
            }
            (None, Some(p)) => Phase::named(&p.value).ok_or_else(|| {
                SloParseError::new(format!("unknown phase `{}`", p.value), p.at)
                    .help("phases: before, after, whole (or `during=FAULT`)")
            }),
            (None, None) => Ok(Phase::Whole),
        }
    }
}

impl Args {
    /// The `key=value` argument `key`, once.
    pub fn take(&mut self, key: &str) -> Option<Arg> {
        let i = self.named.iter().position(|(k, _)| k == key)?;
        Some(self.named.remove(i).1)
    }

    /// An error at the first positional argument past `max`.
    pub fn no_more_positionals(&self, max: usize) -> Result<(), SloParseError> {
        match self.positional.get(max) {
            Some(extra) => Err(SloParseError::new(
                format!(
                    "`{}` takes {max} positional argument{}",
                    self.metric,
                    if max == 1 { "" } else { "s" }
                ),
                extra.at.clone(),
            )),
            None => Ok(()),
        }
    }

    /// The first positional argument, which must be `what` (`a fault name`).
    pub fn required(&self, what: &str) -> Result<Arg, SloParseError> {
        match self.positional.first() {
            Some(a) => Ok(Arg {
                key: None,
                value: a.value.clone(),
                at: a.at.clone(),
            }),
            None => Err(SloParseError::new(
                format!("`{}` needs {what} as its first argument", self.metric),
                self.close_at.clone(),
            )),
        }
    }
}
