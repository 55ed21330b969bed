//! Parser for SLO expressions (`METRIC(ARGS) OP VALUE`) with errors that point at the byte
//! range inside the expression where the problem is.

use std::ops::Range;

use super::call::{Arg, Call, SloParseError};
use super::expr::{Comparison, Metric, Quantity, Relative, Slo, Unit};
use crate::units;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    /// A quoted string (`"..."` or `'...'`, `\\` escaping the quote and itself): a PromQL
    /// query, which has parentheses, commas and operators of its own.
    Str(String),
    Number(String),
    LParen,
    RParen,
    Comma,
    Equals,
    Op(Comparison),
    Star,
    Plus,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Str(s) => format!("the string \"{s}\""),
            Tok::Number(n) => format!("`{n}`"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Equals => "`=`".into(),
            Tok::Op(op) => format!("`{op}`"),
            Tok::Star => "`*`".into(),
            Tok::Plus => "`+`".into(),
            Tok::End => "the end of the expression".into(),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
}

fn tokenize(src: &str) -> Result<Vec<(Tok, Range<usize>)>, SloParseError> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let single = |t: Tok| (t, i..i + c.len_utf8());
        match c {
            '(' => out.push(single(Tok::LParen)),
            ')' => out.push(single(Tok::RParen)),
            ',' => out.push(single(Tok::Comma)),
            '*' => out.push(single(Tok::Star)),
            '"' | '\'' => {
                let quote = c;
                chars.next();
                let mut value = String::new();
                let mut end = None;
                while let Some((j, d)) = chars.next() {
                    match d {
                        '\\' => match chars.next() {
                            Some((_, e)) if e == quote || e == '\\' => value.push(e),
                            Some((_, e)) => {
                                value.push('\\');
                                value.push(e);
                            }
                            None => break,
                        },
                        d if d == quote => {
                            end = Some(j + d.len_utf8());
                            break;
                        }
                        d => value.push(d),
                    }
                }
                let Some(end) = end else {
                    return Err(SloParseError::new(
                        format!("unterminated string: no closing {quote}"),
                        i..src.len(),
                    ));
                };
                out.push((Tok::Str(value), i..end));
                continue;
            }
            '+' => out.push(single(Tok::Plus)),
            '<' | '>' | '=' | '!' => {
                chars.next();
                let eq = matches!(chars.peek(), Some(&(_, '=')));
                if eq {
                    chars.next();
                }
                let range = i..i + if eq { 2 } else { 1 };
                let tok = match (c, eq) {
                    ('<', false) => Tok::Op(Comparison::Less),
                    ('<', true) => Tok::Op(Comparison::LessOrEqual),
                    ('>', false) => Tok::Op(Comparison::Greater),
                    ('>', true) => Tok::Op(Comparison::GreaterOrEqual),
                    ('=', false) => Tok::Equals,
                    _ => {
                        return Err(SloParseError::new(
                            format!("unsupported operator `{}`", &src[range.clone()]),
                            range,
                        )
                        .help("use one of <, <=, >, >="));
                    }
                };
                out.push((tok, range));
                continue;
            }
            c if c.is_ascii_digit() => {
                let start = i;
                let mut end = i;
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_alphanumeric() || matches!(d, '.' | '%' | 'µ') {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push((Tok::Number(src[start..end].to_string()), start..end));
                continue;
            }
            c if is_word_char(c) => {
                let start = i;
                let mut end = i;
                while let Some(&(j, d)) = chars.peek() {
                    if is_word_char(d) {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push((Tok::Word(src[start..end].to_string()), start..end));
                continue;
            }
            other => {
                return Err(SloParseError::new(
                    format!("unexpected character `{other}`"),
                    i..i + other.len_utf8(),
                ));
            }
        }
        chars.next();
    }
    out.push((Tok::End, src.len()..src.len()));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, Range<usize>)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &(Tok, Range<usize>) {
        // The token list always ends with `End`, and `next` never moves past it.
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> (Tok, Range<usize>) {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn expect(&mut self, want: &Tok, what: &str) -> Result<Range<usize>, SloParseError> {
        let (tok, at) = self.next();
        if &tok == want {
            Ok(at)
        } else {
            Err(SloParseError::new(
                format!("expected {what}, found {}", tok.describe()),
                at,
            ))
        }
    }

    fn args(&mut self) -> Result<(Vec<Arg>, Range<usize>), SloParseError> {
        let mut args = Vec::new();
        if matches!(self.peek().0, Tok::RParen) {
            let (_, at) = self.next();
            return Ok((args, at));
        }
        loop {
            let (tok, at) = self.next();
            let arg = match tok {
                // A quoted positional (a query): taken as written, never a key.
                Tok::Str(value) => Arg {
                    key: None,
                    value,
                    at,
                },
                Tok::Word(first) if matches!(self.peek().0, Tok::Equals) => {
                    self.next();
                    let (tok, vat) = self.next();
                    match tok {
                        Tok::Word(v) | Tok::Number(v) => Arg {
                            key: Some((first, at.clone())),
                            value: v,
                            at: vat,
                        },
                        other => {
                            return Err(SloParseError::new(
                                format!(
                                    "expected a value after `{first}=`, found {}",
                                    other.describe()
                                ),
                                vat,
                            ));
                        }
                    }
                }
                Tok::Word(first) => Arg {
                    key: None,
                    value: first,
                    at,
                },
                tok => {
                    return Err(SloParseError::new(
                        format!("expected an argument, found {}", tok.describe()),
                        at,
                    ));
                }
            };
            args.push(arg);
            let (tok, at) = self.next();
            match tok {
                Tok::Comma => continue,
                Tok::RParen => return Ok((args, at)),
                other => {
                    return Err(SloParseError::new(
                        format!("expected `,` or `)`, found {}", other.describe()),
                        at,
                    ));
                }
            }
        }
    }
}

/// Parses one SLO expression.
pub fn parse(expression: &str) -> Result<Slo, SloParseError> {
    let mut p = Parser {
        toks: tokenize(expression)?,
        pos: 0,
    };
    let (tok, name_at) = p.next();
    let Tok::Word(name) = tok else {
        return Err(SloParseError::new(
            format!("expected a metric name, found {}", tok.describe()),
            name_at,
        )
        .help(format!("metrics: {}", crate::metric::names())));
    };
    p.expect(&Tok::LParen, &format!("`(` after `{name}`"))?;
    let (args, close_at) = p.args()?;
    let (tok, op_at) = p.next();
    let Tok::Op(op) = tok else {
        return Err(SloParseError::new(
            format!(
                "expected a comparison (<, <=, >, >=), found {}",
                tok.describe()
            ),
            op_at,
        ));
    };
    let mut call = Call::new(name, name_at, args, close_at);
    if matches!(&p.peek().0, Tok::Word(w) if w.starts_with("baseline")) {
        let mut metric = Metric::from_call(&mut call)?;
        metric.kind_mut().compared_with(op);
        let relative = relative_target(&mut p, &metric)?;
        return Ok(Slo {
            expression: expression.to_string(),
            threshold: match relative {
                Relative::Offset { by, .. } => by,
                _ => Quantity::zero(metric.unit()),
            },
            metric,
            op,
            relative: Some(relative),
            references: call.refs,
            severity: Default::default(),
        });
    }
    let (tok, value_at) = p.next();
    let value_text = match tok {
        Tok::Number(n) => n,
        other => {
            return Err(SloParseError::new(
                format!(
                    "expected a threshold after `{op}`, found {}",
                    other.describe()
                ),
                value_at,
            )
            .help("a number with its unit (`100ms`, `0.1%`, `0`), or `baseline`, `baseline * 1.2`, `baseline + 20ms` (judged by `chaosgate ab`)"));
        }
    };
    let (tok, end_at) = p.next();
    if tok != Tok::End {
        return Err(SloParseError::new(
            format!("unexpected {} after the threshold", tok.describe()),
            end_at,
        ));
    }
    let mut metric = Metric::from_call(&mut call)?;
    metric.kind_mut().compared_with(op);
    let threshold = parse_threshold(&value_text, value_at, metric.unit(), &metric)?;
    Ok(Slo {
        expression: expression.to_string(),
        metric,
        op,
        threshold,
        relative: None,
        references: call.refs,
        severity: Default::default(),
    })
}

/// `baseline`, `baseline * K`, `baseline + Q` or `baseline - Q` (Q in the metric's unit).
fn relative_target(p: &mut Parser, metric: &Metric) -> Result<Relative, SloParseError> {
    let (tok, at) = p.next();
    if tok != Tok::Word("baseline".into()) {
        return Err(SloParseError::new(
            format!("expected `baseline`, found {}", tok.describe()),
            at,
        )
        .help("leave spaces around the operator: `baseline - 20ms`, `baseline * 1.2`"));
    }
    let (tok, op_at) = p.next();
    let relative = match tok {
        Tok::End => return Ok(Relative::Same),
        Tok::Star => {
            let (tok, at) = p.next();
            let factor = match &tok {
                Tok::Number(n) => n.parse::<f64>().ok().filter(|f| f.is_finite() && *f > 0.0),
                _ => None,
            };
            match factor {
                Some(factor) => Relative::Scaled { factor },
                None => {
                    return Err(SloParseError::new(
                        format!(
                            "expected a positive factor after `*`, found {}",
                            tok.describe()
                        ),
                        at,
                    )
                    .help("a plain number, e.g. `baseline * 1.2`"));
                }
            }
        }
        Tok::Plus => {
            let (tok, at) = p.next();
            let Tok::Number(text) = tok else {
                return Err(SloParseError::new(
                    format!("expected a quantity after `+`, found {}", tok.describe()),
                    at,
                ));
            };
            Relative::Offset {
                by: parse_threshold(&text, at, metric.unit(), metric)?,
                minus: false,
            }
        }
        // `-` is a word character (fault names have dashes): `- 20ms` or `-20ms`.
        Tok::Word(w) if w.starts_with('-') => {
            let (text, at) = if w == "-" {
                match p.next() {
                    (Tok::Number(n), at) => (n, at),
                    (other, at) => {
                        return Err(SloParseError::new(
                            format!("expected a quantity after `-`, found {}", other.describe()),
                            at,
                        ));
                    }
                }
            } else {
                (w[1..].to_string(), op_at.start + 1..op_at.end)
            };
            Relative::Offset {
                by: parse_threshold(&text, at, metric.unit(), metric)?,
                minus: true,
            }
        }
        other => {
            return Err(SloParseError::new(
                format!(
                    "expected `*`, `+` or `-` after `baseline`, found {}",
                    other.describe()
                ),
                op_at,
            ));
        }
    };
    let (tok, end_at) = p.next();
    if tok != Tok::End {
        return Err(SloParseError::new(
            format!("unexpected {} after the target", tok.describe()),
            end_at,
        ));
    }
    Ok(relative)
}

fn parse_threshold(
    text: &str,
    at: Range<usize>,
    unit: Unit,
    metric: &Metric,
) -> Result<Quantity, SloParseError> {
    let wrong_unit = || {
        SloParseError::new(
            format!("`{}` is measured as {unit}, not `{text}`", metric.name()),
            at.clone(),
        )
    };
    let number_part = text.trim_end_matches(|c: char| !(c.is_ascii_digit() || c == '.'));
    let suffix = &text[number_part.len()..];
    let unit_error = |e: String| SloParseError::new(e, at.clone());
    match unit {
        Unit::Duration => {
            if suffix == "%" {
                return Err(wrong_unit());
            }
            let d = units::parse_duration(text).map_err(unit_error)?;
            if d > units::MAX_DURATION {
                return Err(SloParseError::new(
                    format!(
                        "threshold `{text}` is longer than any run (at most {})",
                        units::format_duration(units::MAX_DURATION)
                    ),
                    at.clone(),
                ));
            }
            Ok(Quantity::Duration(d))
        }
        Unit::Ratio => {
            if !(suffix.is_empty() || suffix == "%") {
                return Err(wrong_unit());
            }
            units::parse_percent(text)
                .map(Quantity::Ratio)
                .map_err(unit_error)
        }
        Unit::Number => {
            if !suffix.is_empty() {
                return Err(wrong_unit());
            }
            number_part
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(Quantity::Number)
                .ok_or_else(|| SloParseError::new(format!("`{text}` is not a number"), at.clone()))
        }
        Unit::Count => {
            if !suffix.is_empty() {
                return Err(wrong_unit());
            }
            number_part
                .parse::<u64>()
                .map(Quantity::Count)
                .map_err(|_| {
                    SloParseError::new(format!("`{text}` is not a whole number"), at.clone())
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::{Latency, RecoveryTime};
    use crate::slo::Phase;
    use std::time::Duration;

    fn err(src: &str) -> (String, usize) {
        let e = parse(src).unwrap_err();
        (e.message.clone(), e.column(src))
    }

    #[test]
    fn parses_every_metric() {
        let s = parse("p95(latency, during=crash-primary) < 100ms").unwrap();
        assert_eq!(
            s.metric,
            Metric::Latency(Latency {
                percentile: 95.0,
                phase: Phase::During("crash-primary".into())
            })
        );
        assert_eq!(s.threshold, Quantity::Duration(Duration::from_millis(100)));
        assert_eq!(s.references[0].name, "crash-primary");
        assert_eq!(&s.expression[s.references[0].at.clone()], "crash-primary");

        let s = parse("p99.9(latency, phase=after) <= 250ms").unwrap();
        assert_eq!(
            s.metric,
            Metric::Latency(Latency {
                percentile: 99.9,
                phase: Phase::After
            })
        );
        assert_eq!(
            parse("error_rate(during=x) < 0.1%").unwrap().threshold,
            Quantity::Ratio(0.001)
        );
        assert_eq!(
            parse("availability(phase=whole) >= 99.9%").unwrap().op,
            Comparison::GreaterOrEqual
        );
        assert_eq!(
            parse("recovery_time(crash-primary, probe=gateway) < 30s")
                .unwrap()
                .metric,
            Metric::RecoveryTime(RecoveryTime {
                fault: "crash-primary".into(),
                probe: Some("gateway".into())
            })
        );
        assert_eq!(parse("failover_time(f) < 2s").unwrap().references.len(), 1);
        assert_eq!(
            parse("lost_writes() <= 0").unwrap().threshold,
            Quantity::Count(0)
        );
        let s = parse("probe_success(db, during=f) >= 99%").unwrap();
        assert_eq!(s.threshold, Quantity::Ratio(0.99));
        assert_eq!(s.references.len(), 2);
    }

    #[test]
    fn relative_targets() {
        let s = parse("recovery_time(crash-primary) <= baseline * 1.2").unwrap();
        assert_eq!(s.relative, Some(Relative::Scaled { factor: 1.2 }));
        assert_eq!(s.target_text(), "<= baseline * 1.2");
        let s = parse("p99(latency, during=f) <= baseline + 20ms").unwrap();
        assert_eq!(
            s.relative,
            Some(Relative::Offset {
                by: Quantity::Duration(Duration::from_millis(20)),
                minus: false
            })
        );
        assert_eq!(s.target_text(), "<= baseline + 20ms");
        assert!((s.relative.unwrap().bound(0.1) - 0.12).abs() < 1e-12);
        let s = parse("error_rate(during=f) <= baseline + 0.1%").unwrap();
        assert_eq!(
            s.relative.unwrap().bound(0.002),
            0.002 + 0.001,
            "units as the left side"
        );
        assert_eq!(
            parse("error_rate() <= baseline").unwrap().relative,
            Some(Relative::Same)
        );
        for minus in [
            "failover_time(f) < baseline - 5ms",
            "failover_time(f) < baseline -5ms",
        ] {
            let s = parse(minus).unwrap();
            assert_eq!(
                s.relative,
                Some(Relative::Offset {
                    by: Quantity::Duration(Duration::from_millis(5)),
                    minus: true
                }),
                "{minus}"
            );
            assert_eq!(s.target_text(), "< baseline - 5ms");
        }
        assert_eq!(
            parse("lost_writes() <= baseline + 0").unwrap().threshold,
            Quantity::Count(0)
        );
        assert_eq!(parse("p95(latency) < 100ms").unwrap().relative, None);
    }

    #[test]
    fn relative_target_errors_point_at_the_problem() {
        assert_eq!(
            err("p95(latency) < baseline + 5%"),
            (
                "`p95` is measured as a duration (e.g. `100ms`), not `5%`".into(),
                27
            )
        );
        assert_eq!(
            err("error_rate() < baseline + 5ms").0,
            "`error_rate` is measured as a percentage (e.g. `0.1%`), not `5ms`"
        );
        assert_eq!(
            err("p95(latency) < baseline * 0").0,
            "expected a positive factor after `*`, found `0`"
        );
        assert_eq!(err("p95(latency) < baseline * x").1, 27);
        assert_eq!(
            err("p95(latency) < baseline-5ms").0,
            "expected `baseline`, found `baseline-5ms`"
        );
        assert_eq!(
            err("p95(latency) < baseline / 2").0,
            "unexpected character `/`"
        );
        assert_eq!(
            err("p95(latency) < baseline + 5ms extra").0,
            "unexpected `extra` after the target"
        );
        assert_eq!(
            err("p95(latency) < baseline 5ms").0,
            "expected `*`, `+` or `-` after `baseline`, found `5ms`"
        );
    }

    #[test]
    fn errors_point_inside_the_expression() {
        assert_eq!(
            err("p95(latency) < 100%"),
            (
                "`p95` is measured as a duration (e.g. `100ms`), not `100%`".into(),
                16
            )
        );
        assert_eq!(err("error_rate() < 5ms").1, 16);
        assert_eq!(
            err("p95(latency during=x) < 1s"),
            ("expected `,` or `)`, found `during`".into(), 13)
        );
        assert_eq!(
            err("p95(latency) 100ms").0,
            "expected a comparison (<, <=, >, >=), found `100ms`"
        );
        assert_eq!(err("p95(latency) == 100ms").1, 14);
        assert_eq!(err("latency_p95(x) < 1s").0, "unknown metric `latency_p95`");
        assert_eq!(err("p95(latency, phase=middle) < 1s").1, 20);
        assert_eq!(
            err("recovery_time() < 30s").0,
            "`recovery_time` needs a fault name as its first argument"
        );
        assert_eq!(err("failover_time(a, probe=b) < 2s").1, 18);
        assert_eq!(
            err("p95(latency) < 100").0,
            "duration `100` has no unit; write e.g. `100s` or `100ms` (units: ns, us (or µs), ms, s, m (minutes), h)"
        );
        assert_eq!(err("lost_writes() < 1.5").0, "`1.5` is not a whole number");
        assert_eq!(
            err("error_rate() < 2").0,
            "percentage `2` has no unit; write `2%`"
        );
        assert_eq!(
            err("error_rate() < 200%").0,
            "percentage `200%` must be between 0% and 100%"
        );
        assert_eq!(
            err("probe_success(p) >= 0.99").0,
            "percentage `0.99` has no unit; write `0.99%`, or `99%` if you meant the fraction 0.99"
        );
        assert!(
            err("p95(latency) < 18446744073709551615s")
                .0
                .contains("too long")
        );
        assert!(err("p95(latency) < 25h").0.contains("longer than any run"));
        assert!(
            err("p95(latency) < 1M")
                .0
                .contains("no day, week, month or year units")
        );
        assert_eq!(
            err("p95(latency) < 1s extra").0,
            "unexpected `extra` after the threshold"
        );
        assert_eq!(
            err("p95(latency, during=a, phase=after) < 1s").0,
            "`p95` takes `during=` or `phase=`, not both"
        );
    }
}
