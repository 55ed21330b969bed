//! Issue 11, kind 2, against the real stack: only writes are read back. A healthy stack
//! under orders (`POST /orders`, `{{id}}` in the body) mixed 1:3 with quotes that carry
//! `{{id}}` in an `x-request-id` header, no fault: the quotes' ids were read back as orders,
//! never found, and counted as ~450 lost writes (BREACHED, exit 1). Right: 0 lost, exit 0.

use crate::common::*;
use crate::stack::*;

#[test]
fn quotes_carrying_an_id_are_not_read_back_as_lost_orders() {
    let dir = TempDir::new("writes-mixed");
    let yaml = inline_scenario(
        "mixed-writes",
        None,
        r#"load:
  requests:
    - method: POST
      url: http://gateway:8080/orders
      headers: { content-type: application/json }
      body: '{"id":"{{id}}","symbol":"BTCUSD","qty":1,"side":"buy"}'
      weight: 1
    - method: GET
      url: http://gateway:8080/quote?symbol=BTCUSD
      headers: { x-request-id: "{{id}}" }
      weight: 3
  rate: 40/s
  duration: 15s
  timeout: 2s
slos:
  - lost_writes() <= 0
"#,
    );
    let (out, _, report) = run_yaml_in(&dir, "mixed-writes", &yaml, &["--seed", "11"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{report:#}", text(&out));
    let lost = slo(&report, "lost_writes");
    assert_eq!(lost["verdict"], "pass", "{lost:#}");
    assert_eq!(lost["measured"]["value"].as_f64(), Some(0.0), "{lost:#}");
    let details = &lost["evidence"]["details"];
    // 40/s for 15 s, one in four an order: about 150 orders, all acknowledged on a healthy
    // stack; the ~450 quotes are not among the writes read back.
    let acknowledged = details["acknowledged"].as_u64().unwrap_or(0);
    assert!(
        (100..=160).contains(&acknowledged),
        "only the orders are writes: {lost:#}"
    );
    assert_eq!(
        details["read_url"], "http://gateway:8080/orders/{id}",
        "{lost:#}"
    );
}
