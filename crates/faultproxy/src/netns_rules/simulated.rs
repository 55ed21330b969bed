//! An in-memory stand-in for `nsenter … iptables` / `tc`, so rule logic is tested without
//! root; the same logic runs against the real tools in `tests/netns.rs`.

use std::sync::Mutex;

use super::command::{CommandOutput, CommandRunner};
use super::error::RuleError;

#[derive(Debug, Default)]
pub(crate) struct SimulatedNetfilter {
    pub state: Mutex<State>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    /// (table, chain, spec) of present rules.
    pub rules: Vec<(String, String, Vec<String>)>,
    pub qdisc_devs: Vec<String>,
    pub log: Vec<String>,
    /// Make the n-th add command (0-based) fail.
    pub fail_add_number: Option<usize>,
    pub adds_seen: usize,
}

fn answer(success: bool, stdout: String) -> Result<CommandOutput, RuleError> {
    Ok(CommandOutput {
        success,
        code: Some(if success { 0 } else { 1 }),
        stdout,
        stderr: if success {
            String::new()
        } else {
            "simulated failure".to_owned()
        },
    })
}

impl CommandRunner for SimulatedNetfilter {
    fn run(&self, program: &str, args: &[String]) -> Result<CommandOutput, RuleError> {
        let mut state = self.state.lock().expect("simulator lock");
        state.log.push(format!("{program} {}", args.join(" ")));
        assert_eq!(
            program, "nsenter",
            "every rule command must enter the namespace"
        );
        assert_eq!(args[..3], ["-t", "42", "-n"].map(str::to_owned), "{args:?}");
        let tool = args[3].as_str();
        let rest = &args[4..];
        match tool {
            "iptables" => {
                assert_eq!(rest[..2], ["-w", "5"].map(str::to_owned));
                let table = rest[3].clone();
                let action = rest[4].as_str();
                let chain = rest[5].clone();
                match action {
                    "-I" => {
                        let number = state.adds_seen;
                        state.adds_seen += 1;
                        if state.fail_add_number == Some(number) {
                            return answer(false, String::new());
                        }
                        let spec = rest[7..].to_vec();
                        state.rules.push((table, chain, spec));
                        answer(true, String::new())
                    }
                    "-C" | "-D" => {
                        let spec = rest[6..].to_vec();
                        let at = state
                            .rules
                            .iter()
                            .position(|r| r.0 == table && r.1 == chain && r.2 == spec);
                        if let (true, Some(at)) = (action == "-D", at) {
                            state.rules.remove(at);
                        }
                        answer(at.is_some(), String::new())
                    }
                    "-L" => {
                        let mut listing = String::from("Chain X\n    pkts bytes target\n");
                        for (i, (_, _, spec)) in state
                            .rules
                            .iter()
                            .filter(|r| r.0 == table && r.1 == chain)
                            .enumerate()
                        {
                            let at = spec.iter().position(|w| w == "--comment").expect("comment");
                            listing.push_str(&format!(
                                "  {} {} DROP all -- * * 0.0.0.0/0 0.0.0.0/0 /* {} */\n",
                                10 + i,
                                1000 + i,
                                spec[at + 1]
                            ));
                        }
                        answer(true, listing)
                    }
                    other => panic!("unexpected iptables action {other}"),
                }
            }
            "tc" => {
                let words: Vec<&str> = rest.iter().map(String::as_str).collect();
                match words.as_slice() {
                    ["qdisc", "add", "dev", dev, ..] => {
                        let number = state.adds_seen;
                        state.adds_seen += 1;
                        if state.fail_add_number == Some(number) {
                            return answer(false, String::new());
                        }
                        state.qdisc_devs.push((*dev).to_owned());
                        answer(true, String::new())
                    }
                    [.., "qdisc", "show", "dev", dev] => {
                        let present = state.qdisc_devs.iter().any(|d| d == dev);
                        let out = if present {
                            "qdisc tbf 1ca7: root refcnt 2 rate 8Mbit burst 10000b lat 200ms\n Sent 500 bytes 5 pkt (dropped 1, overlimits 2 requeues 0)\n"
                        } else {
                            "qdisc noqueue 0: root refcnt 2\n"
                        };
                        answer(true, out.to_owned())
                    }
                    ["qdisc", "del", "dev", dev, ..] => {
                        let before = state.qdisc_devs.len();
                        state.qdisc_devs.retain(|d| d != dev);
                        answer(state.qdisc_devs.len() < before, String::new())
                    }
                    other => panic!("unexpected tc command {other:?}"),
                }
            }
            other => panic!("unexpected tool {other}"),
        }
    }
}
