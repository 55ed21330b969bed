//! `chaosgate load`: the open-model load generator on its own, with an oha-like summary.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chaosgate_load::{
    AsWritten, DEFAULT_MAX_QUEUED, IgnoreOutcomes, LoadError, LoadPlan, LoadSummary, Method, Rate,
    RequestTemplate, TlsPlan, UnknownMethod, parse_header, run_closed_until, run_open,
};
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::error::{CommandError, CommandResult};
use super::runtime::{OnSignal, with_runtime};
use crate::exit_codes;

/// Connections in closed mode when `--connections` is not given (oha's default).
const DEFAULT_CLOSED_CONNECTIONS: usize = 50;
/// In-flight bound in open mode when `--connections` is not given.
const DEFAULT_OPEN_IN_FLIGHT: usize = 1000;

const LOAD_HELP: &str = "\
Open model (default): requests start at --rate whatever the responses do, and each latency
counts from the request's intended start, so a stall shows in the percentiles (corrected
for coordinated omission). --closed: --connections connections each send their next request
as soon as the last one ended, as fast as the server answers (for benchmarks; its latency
hides stalls).

Every scheduled request is in the latency exactly once: errors with their latency, and a
request that waited for an in-flight slot (--connections) or ran past --timeout is a timeout
recorded at the timeout; --json's `latency.count` equals `scheduled`. A request is dropped
only when more than --max-queued wait for a slot, and is recorded at the timeout too.
The --json output follows schemas/load.schema.json.

`{{id}}` in the URL, a --header value or --body is replaced by a unique id per request
(--id-prefix followed by its sequence number).

Exit codes:
  0  the run completed and at least one request got an HTTP response (whatever its status:
     errors and statuses are in the summary)
  2  bad flags or request (bad URL, method, header, rate, duration); nothing was sent
  3  no request got any HTTP response (target unreachable), or the load could not run;
     the summary is still printed (also with --json)";

/// `chaosgate load URL [options]`.
#[derive(Debug, Args)]
#[command(after_help = LOAD_HELP)]
pub struct LoadArgs {
    /// The URL to send requests to: http:// or https:// (HTTP/2 where the server offers it
    /// by ALPN; the TLS handshake of each new connection counts in its request's latency).
    pub url: String,
    /// Arrival rate of the open model: 500/s, 30000/m, or a linear ramp 100/s..1000/s (the
    /// unit is required, as in scenario files).
    #[arg(long, short = 'r', default_value = "100/s", value_parser = parse_rate, conflicts_with = "closed")]
    pub rate: Rate,
    /// How long to send: 30s, 2m, 1m30s (at most 24h).
    #[arg(long, short = 'z', default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Closed mode: how many connections [default: 50]. Open mode: the most requests in
    /// flight at once; one scheduled beyond it waits for a slot, its latency still counted
    /// from its intended start and the wait using up its timeout [default: 1000].
    #[arg(long, short = 'c')]
    pub connections: Option<usize>,
    /// Open mode: how many requests may wait for an in-flight slot; one scheduled while the
    /// queue is full is recorded as dropped, at the timeout (the queue never holds more than
    /// about rate × timeout).
    #[arg(long, default_value_t = DEFAULT_MAX_QUEUED, conflicts_with = "closed")]
    pub max_queued: usize,
    /// Per-request timeout, connecting included.
    #[arg(long, short = 't', default_value = "1s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// HTTP method: GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS.
    #[arg(long, short = 'm', default_value = "GET", value_parser = parse_method)]
    pub method: Method,
    /// Request body (sent as application/json unless a Content-Type header is given).
    #[arg(long, short = 'd')]
    pub body: Option<String>,
    /// A request header, `Name: value` (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME:VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Prefix of the ids that replace `{{id}}` (letters, digits, . _ ~ -).
    #[arg(long, default_value = "")]
    pub id_prefix: String,
    /// Closed model: as fast as possible on --connections connections.
    #[arg(long)]
    pub closed: bool,
    /// Print the summary as JSON (for machines) instead of text.
    #[arg(long)]
    pub json: bool,
    /// How https:// URLs are verified.
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// How https:// URLs are verified, spelled as curl and oha spell it.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// PEM file of the CA certificates to trust instead of the system's roots.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// PEM client certificate chain (mutual TLS); with --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Accept any server certificate without verifying it (said in the output).
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// The name sent as SNI and verified in the certificate, instead of the URL's host.
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
}

impl TlsArgs {
    /// The load generator's TLS settings.
    pub fn plan(&self) -> TlsPlan {
        TlsPlan {
            ca: self.cacert.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
            insecure: self.insecure,
            server_name: self.server_name.clone(),
        }
    }
}

/// `500/s`, or a ramp `100/s..1000/s`: the units module's rate, so `--rate 200` is refused
/// (with the fix, `200/s`) exactly as `rate: 200` is in a scenario.
fn parse_rate(text: &str) -> Result<Rate, String> {
    let rate = match text.split_once("..") {
        Some((from, to)) => Rate::Ramp {
            from: crate::units::parse_rate(from)?,
            to: crate::units::parse_rate(to)?,
        },
        None => Rate::Constant(crate::units::parse_rate(text)?),
    };
    rate.validate().map_err(|e: LoadError| e.to_string())?;
    Ok(rate)
}

/// A duration flag (`--duration`, `--timeout`): the units module's duration, above zero and
/// at most a day.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = crate::units::parse_duration(text)?;
    if d.is_zero() || d > crate::units::MAX_DURATION {
        return Err(format!(
            "`{}` is out of range: between 1ns and {}",
            text.trim(),
            crate::units::format_duration(crate::units::MAX_DURATION)
        ));
    }
    Ok(d)
}

fn parse_method(text: &str) -> Result<Method, String> {
    text.parse().map_err(|e: UnknownMethod| e.to_string())
}

/// Runs the load, prints the summary and returns the exit code. A terminating signal (Ctrl-C,
/// SIGTERM, ...) stops the load early; what ran is still summarised.
/// `quiet` (`-q`): the summary in one line.
pub fn run(args: LoadArgs, quiet: bool) -> CommandResult {
    with_runtime(OnSignal::StopLoad, |cancel| drive(args, quiet, cancel))
}

async fn drive(args: LoadArgs, quiet: bool, cancel: CancellationToken) -> CommandResult {
    let template = RequestTemplate {
        method: args.method,
        url: args.url.clone(),
        headers: args.headers.clone(),
        body: args.body.clone(),
        weight: 1,
    };
    let result = if args.closed {
        let connections = args.connections.unwrap_or(DEFAULT_CLOSED_CONNECTIONS);
        run_closed_until(
            template,
            connections,
            args.duration,
            args.timeout,
            &args.tls.plan(),
            cancel,
        )
        .await
    } else {
        let plan = LoadPlan {
            requests: vec![template],
            rate: args.rate,
            duration: args.duration,
            timeout: args.timeout,
            max_in_flight: args.connections.unwrap_or(DEFAULT_OPEN_IN_FLIGHT),
            max_queued: args.max_queued,
            id_prefix: args.id_prefix.clone(),
            tls: args.tls.plan(),
        };
        run_open(plan, Arc::new(AsWritten), Arc::new(IgnoreOutcomes), cancel).await
    };
    if args.tls.insecure && args.url.starts_with("https://") {
        eprintln!("chaosgate: warning: --insecure: the server's certificate was not verified");
    }
    let summary = match result {
        Ok(summary) => summary,
        Err(e) if e.is_bad_input() => return Err(CommandError::BadInput(e.to_string())),
        Err(e) => return Err(CommandError::Infrastructure(e.to_string())),
    };
    if args.json {
        match serde_json::to_string_pretty(&summary) {
            Ok(json) => outln!("{json}"),
            Err(e) => {
                return Err(CommandError::Infrastructure(format!(
                    "writing the summary as JSON: {e}"
                )));
            }
        }
    } else if quiet {
        out!(
            "{}",
            crate::report::load_text::render_quiet(&args.url, &summary)
        );
    } else {
        out!("{}", crate::report::load_text::render(&args.url, &summary));
    }
    if summary.errors_of(chaosgate_load::ErrorKind::Certificate) > 0 && !args.tls.insecure {
        // The fix is a flag away; say which (stderr, so --json stays parseable).
        eprintln!(
            "chaosgate: hint: a certificate was refused: --cacert FILE trusts the CA that signed \
             the server's, --server-name NAME checks it for another name, --cert/--key send \
             ours where the server asks for one; -k skips verification"
        );
    }
    Ok(exit_code(&summary))
}

/// 0 when anything answered; 3 when nothing did (the target was never reachable).
fn exit_code(summary: &LoadSummary) -> i32 {
    if summary.responses == 0 {
        exit_codes::INFRASTRUCTURE
    } else {
        exit_codes::PASS
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn nothing_answered_is_an_infrastructure_exit() {
        let mut s = crate::report::load_text::tests::summary();
        assert_eq!(exit_code(&s), exit_codes::PASS);
        s.responses = 0;
        assert_eq!(exit_code(&s), exit_codes::INFRASTRUCTURE);
    }

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        load: LoadArgs,
    }

    #[test]
    fn flags_parse_into_a_plan() {
        let w = Wrapper::try_parse_from([
            "load",
            "http://127.0.0.1:9/orders",
            "--rate",
            "100/s..200/s",
            "--duration",
            "1m30s",
            "-m",
            "post",
            "-d",
            r#"{"id":"{{id}}"}"#,
            "-H",
            "X-Key: a",
            "--json",
        ])
        .unwrap();
        assert_eq!(
            w.load.rate,
            Rate::Ramp {
                from: 100.0,
                to: 200.0
            }
        );
        assert_eq!(w.load.duration, Duration::from_secs(90));
        assert_eq!(w.load.method, Method::Post);
        assert_eq!(w.load.headers, vec![("X-Key".to_string(), "a".to_string())]);
        assert!(w.load.json && !w.load.closed);
        assert_eq!(w.load.max_queued, DEFAULT_MAX_QUEUED);
        let w = Wrapper::try_parse_from(["load", "http://x/", "--max-queued", "64"]).unwrap();
        assert_eq!(w.load.max_queued, 64);
    }

    #[test]
    fn bad_flags_are_refused() {
        for bad in [
            vec!["load", "http://x/", "--rate", "fast"],
            vec!["load", "http://x/", "--duration", "10"],
            vec!["load", "http://x/", "--method", "BREW"],
            vec!["load", "http://x/", "--header", "novalue"],
            vec!["load", "http://x/", "--closed", "--rate", "5/s"],
            vec!["load", "http://x/", "--closed", "--max-queued", "5"],
        ] {
            assert!(Wrapper::try_parse_from(&bad).is_err(), "{bad:?}");
        }
    }

    /// One rule for a bare number, the scenario's: `--rate 200` was accepted as 200/s while
    /// `rate: 200` in a scenario was refused. Now both are refused with the fix named.
    #[test]
    fn flag_values_follow_the_units_module() {
        let err = |args: &[&str]| {
            let mut all = vec!["load", "http://x/"];
            all.extend_from_slice(args);
            Wrapper::try_parse_from(&all).unwrap_err().to_string()
        };
        let bare = err(&["--rate", "200"]);
        assert!(bare.contains("`200/s`"), "{bare}");
        let month = err(&["--duration", "1M"]);
        assert!(
            month.contains("no day, week, month or year units"),
            "{month}"
        );
        assert!(err(&["--timeout", "0s"]).contains("out of range"));
        assert!(err(&["--duration", "25h"]).contains("out of range"));
        assert!(err(&["--rate", "100/s..200"]).contains("`200/s`"));
        let w = Wrapper::try_parse_from(["load", "http://x/", "--rate", "120/m", "-t", "1.5s"])
            .unwrap();
        assert_eq!(w.load.rate, Rate::Constant(2.0));
        assert_eq!(w.load.timeout, Duration::from_millis(1500));
    }
}
