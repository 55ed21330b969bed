//! Issue 19, kind 8: a compose service may listen on a port its file never declares (no
//! `ports:`, no `expose:`); `validate` accepts that with a warning and the bring-up checks what
//! the container really listens on, from its sockets, before any load.

use crate::common::*;
use crate::stack::*;

/// A one-service stack: the reference market-data server listening on 7081, a port the
/// compose file declares nowhere.
const COMPOSE: &str = "\
services:
  md:
    image: chaosgate/trading:0.1.0
    command: [\"marketdata\"]
    environment:
      MARKETDATA_LISTEN: \"0.0.0.0:7081\"
      MARKETDATA_REPLICA: md
";

fn scenario(name: &str, probe_port: u16) -> String {
    format!(
        "name: {name}
stack:
  compose: compose.yml
  ready_timeout: 10s
load:
  target: http://md:7081/health
  rate: 50/s
  duration: 4s
probes:
  - name: md
    http: {{ url: \"http://md:{probe_port}/health\" }}
    every: 200ms
slos:
  - error_rate() < 5%
"
    )
}

fn run_in(dir: &TempDir, name: &str, yaml: &str) -> std::process::Output {
    require_images();
    std::fs::write(dir.0.join("compose.yml"), COMPOSE).expect("write the compose file");
    let file = dir.0.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).expect("write the scenario");
    chaosgate()
        .arg("run")
        .arg(&file)
        .arg("--report-dir")
        .arg(dir.0.join("reports"))
        .output()
        .expect("chaosgate runs")
}

#[test]
fn a_port_only_the_container_knows_is_measured_and_one_nothing_listens_on_stops_the_bring_up() {
    // Accepted (it was refused: "`md` does not listen on port 7081"), warned about, measured.
    let dir = TempDir::new("listen-undeclared");
    let name = "listen-undeclared";
    let yaml = scenario(name, 7081);
    std::fs::write(dir.0.join("compose.yml"), COMPOSE).expect("write the compose file");
    let file = dir.0.join(format!("{name}.yaml"));
    std::fs::write(&file, &yaml).expect("write the scenario");
    let s = chaosgate::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
    assert!(
        s.warnings[0].contains("`md` declares no port 7081"),
        "{:?}",
        s.warnings
    );
    let out = run_in(&dir, name, &yaml);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = report_json(&run_dir(&dir.0.join("reports")));
    assert_run_left_nothing(&report);
    let whole = report["phases"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "whole"))
        .unwrap_or_else(|| panic!("no whole phase: {report:#}"));
    assert!(
        whole["scheduled"].as_u64().is_some_and(|n| n >= 150) && whole["errors"] == 0,
        "the load ran against the undeclared port and was answered: {whole:#}"
    );

    // A probe on a port nothing listens on: exit 3 at bring-up, naming the port that does
    // listen, before any load, and nothing left running.
    let dir = TempDir::new("listen-nothing");
    let name = "listen-nothing";
    let out = run_in(&dir, name, &scenario(name, 7082));
    let all = text(&out);
    assert_eq!(out.status.code(), Some(3), "{all}");
    assert!(
        all.contains("`md` (") && all.contains("nothing listens on port 7082 (in probe `md`)"),
        "{all}"
    );
    // Only the service's port: Docker's DNS (127.0.0.11, a random port) is not listed.
    assert!(all.contains("it listens on 7081\n"), "{all}");
    assert_eq!(leftovers(&format!("cg-{name}-")), Vec::<String>::new());
}
