//! `chaosgate load`: the open-model load generator on its own, with an oha-like summary.

use clap::Args;

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The URL to send requests to.
    pub url: String,
}

pub fn run(_args: LoadArgs) -> i32 {
    eprintln!("chaosgate load: not built yet");
    super::exit_codes::INFRASTRUCTURE
}
