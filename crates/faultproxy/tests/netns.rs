//! Real network namespaces (root only): REDIRECT + transparent proxy, loss, partition, tc
//! bandwidth, rule counters, sweeping, and that nothing is left behind.
//!
//! Each test builds two namespaces joined by a veth pair (10.250.x.0/30, inside its own
//! namespaces only), runs `sleep` in the client one to have a PID (as a container would), and
//! tears everything down in `Drop`, also when an assertion fails.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use chaosgate_proxy::netns_rules::{
    CommandRunner, Marker, PacketDirection, RuleSet, SystemRunner, netem_available, sweep_host,
    sweep_leftovers,
};
use chaosgate_proxy::{
    Direction, InterceptDirection, InterceptSpec, Interception, ProxyConfig, ProxyError,
    ProxyHandle, Toxic, ToxicKind, Upstream, spawn_in_netns, spawn_thread_in_netns,
};

const ECHO_PORT: u16 = 7000;
const UDP_PORT: u16 = 7001;
const PROXY_MARK: u32 = 0x6367;
const IO_TIMEOUT: Duration = Duration::from_secs(5);

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

macro_rules! require_root {
    () => {
        if !is_root() {
            println!("SKIPPED: needs root to create network namespaces and iptables rules");
            return;
        }
    };
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Two namespaces, a veth pair, and a process in the client namespace. Removed on drop.
struct TestNet {
    client_ns: String,
    server_ns: String,
    client_ip: Ipv4Addr,
    server_ip: Ipv4Addr,
    sleeper: Child,
}

static NEXT_NET: AtomicU32 = AtomicU32::new(0);

impl TestNet {
    fn new() -> Self {
        let n = NEXT_NET.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let client_ns = format!("cg-{pid}-{n}-c");
        let server_ns = format!("cg-{pid}-{n}-s");
        let subnet = u8::try_from(n % 64).expect("small") * 4;
        let client_ip = Ipv4Addr::new(10, 250, subnet, 1);
        let server_ip = Ipv4Addr::new(10, 250, subnet, 2);
        run("ip", &["netns", "add", &client_ns]);
        // From here on the guard owns cleanup; create it before anything else can fail.
        let sleeper = Command::new("ip")
            .args(["netns", "exec", &client_ns, "sleep", "120"])
            .stdin(Stdio::null())
            .spawn()
            .expect("start sleeper");
        let net = TestNet {
            client_ns,
            server_ns,
            client_ip,
            server_ip,
            sleeper,
        };
        run("ip", &["netns", "add", &net.server_ns]);
        run(
            "ip",
            &[
                "link",
                "add",
                "eth0",
                "netns",
                &net.client_ns,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &net.server_ns,
            ],
        );
        for (ns, ip) in [(&net.client_ns, client_ip), (&net.server_ns, server_ip)] {
            run(
                "ip",
                &["-n", ns, "addr", "add", &format!("{ip}/30"), "dev", "eth0"],
            );
            run("ip", &["-n", ns, "link", "set", "eth0", "up"]);
            run("ip", &["-n", ns, "link", "set", "lo", "up"]);
        }
        net.wait_for_sleeper_netns();
        net
    }

    /// `ip netns exec` enters the namespace just before exec'ing sleep: wait until it has.
    fn wait_for_sleeper_netns(&self) {
        let wanted =
            std::fs::metadata(self.client_path()).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            let current = std::fs::metadata(format!("/proc/{}/ns/net", self.pid()))
                .map(|m| std::os::unix::fs::MetadataExt::ino(&m));
            if current.is_ok() && current.as_ref().ok() == wanted.as_ref().ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "sleeper never entered {}",
                self.client_ns
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A process in the server namespace (as a container's PID would be), killed on drop.
    fn process_in_server_netns(&self) -> ChildGuard {
        let child = ChildGuard(
            Command::new("ip")
                .args(["netns", "exec", &self.server_ns, "sleep", "60"])
                .stdin(Stdio::null())
                .spawn()
                .expect("server sleeper"),
        );
        let wanted = std::fs::read_link(self.server_path()).ok();
        let wanted = wanted.or_else(|| {
            std::fs::metadata(self.server_path()).ok().map(|m| {
                PathBuf::from(format!("net:[{}]", std::os::unix::fs::MetadataExt::ino(&m)))
            })
        });
        let deadline = Instant::now() + IO_TIMEOUT;
        while std::fs::read_link(format!("/proc/{}/ns/net", child.0.id())).ok() != wanted {
            assert!(
                Instant::now() < deadline,
                "sleeper never entered {}",
                self.server_ns
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        child
    }

    fn pid(&self) -> u32 {
        self.sleeper.id()
    }

    fn client_path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.client_ns))
    }

    fn server_path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.server_ns))
    }

    fn echo_addr(&self) -> SocketAddr {
        SocketAddr::from((self.server_ip, ECHO_PORT))
    }

    /// Every line of `iptables -S` (all tables) and `tc qdisc` in the client namespace that
    /// is chaosgate's.
    fn chaosgate_leftovers(&self, ns: &str) -> Vec<String> {
        let mut found = Vec::new();
        for table in ["filter", "nat", "mangle", "raw"] {
            let listing = run(
                "ip",
                &[
                    "netns", "exec", ns, "iptables", "-w", "5", "-t", table, "-S",
                ],
            );
            found.extend(
                listing
                    .lines()
                    .filter(|l| l.contains("chaosgate:"))
                    .map(str::to_owned),
            );
        }
        let qdiscs = run("ip", &["netns", "exec", ns, "tc", "qdisc", "show"]);
        found.extend(
            qdiscs
                .lines()
                .filter(|l| l.contains("1ca7:"))
                .map(str::to_owned),
        );
        found
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        let _ = self.sleeper.kill();
        let _ = self.sleeper.wait();
        for ns in [&self.client_ns, &self.server_ns] {
            // Deleting a namespace also deletes its end of the veth pair.
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// An echo server (TCP) in a namespace, stopped and joined on drop.
struct NetnsEcho {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<chaosgate_proxy::NetnsThread<()>>,
}

impl NetnsEcho {
    fn start(path: PathBuf, addr: SocketAddr) -> Self {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let thread = spawn_thread_in_netns(path, move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .expect("bind echo");
                let _ = ready_tx.send(());
                let serve = async {
                    while let Ok((mut stream, _)) = listener.accept().await {
                        tokio::spawn(async move {
                            let (mut read, mut write) = stream.split();
                            let _ = tokio::io::copy(&mut read, &mut write).await;
                        });
                    }
                };
                tokio::select! {
                    _ = stop_rx => {}
                    _ = serve => {}
                }
            });
        })
        .expect("enter server netns");
        ready_rx
            .recv_timeout(IO_TIMEOUT)
            .expect("echo server ready");
        NetnsEcho {
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for NetnsEcho {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Round trips of `payload` over one connection made from inside `path`.
fn client_round_trips(
    path: PathBuf,
    to: SocketAddr,
    payload: Vec<u8>,
    count: usize,
) -> Vec<Duration> {
    spawn_thread_in_netns(path, move || {
        let mut stream = TcpStream::connect_timeout(&to, IO_TIMEOUT).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_read_timeout(Some(IO_TIMEOUT * 4))
            .expect("timeout");
        let mut back = vec![0u8; payload.len()];
        (0..count)
            .map(|_| {
                let start = Instant::now();
                stream.write_all(&payload).expect("write");
                stream.read_exact(&mut back).expect("read back");
                start.elapsed()
            })
            .collect()
    })
    .expect("enter client netns")
    .join()
    .expect("client thread")
}

fn runner() -> Arc<dyn CommandRunner> {
    Arc::new(SystemRunner::default())
}

fn run_id(test: &str) -> String {
    format!("t{}-{test}", std::process::id())
}

/// A transparent proxy in `pid`'s netns with one latency toxic named `lat`.
fn latency_proxy(pid: u32, listen: &str, latency: Duration, direction: Direction) -> ProxyHandle {
    let proxy = spawn_in_netns(
        pid,
        ProxyConfig {
            listen: listen.parse().expect("literal"),
            upstream: Upstream::OriginalDst { mark: PROXY_MARK },
            seed: 7,
        },
    )
    .expect("proxy in netns");
    proxy
        .add_toxic(Toxic::new(
            "lat",
            ToxicKind::Latency {
                latency,
                jitter: Duration::ZERO,
            },
            direction,
        ))
        .expect("toxic");
    proxy
}

#[tokio::test]
async fn transparent_proxy_adds_latency_via_redirect() {
    require_root!();
    let net = TestNet::new();
    let _echo = NetnsEcho::start(net.server_path(), net.echo_addr());
    let direct = client_round_trips(net.client_path(), net.echo_addr(), b"ping".to_vec(), 3);
    let base = *direct.iter().max().expect("samples");

    let latency = Duration::from_millis(100);
    let proxy = latency_proxy(net.pid(), "127.0.0.1:0", latency, Direction::Downstream);
    let rules = RuleSet::new(Marker::new(&run_id("lat"), "latency").expect("marker"))
        .redirect_egress(
            ECHO_PORT,
            Some(net.server_ip),
            PROXY_MARK,
            proxy.local_addr().port(),
        )
        .apply(runner(), net.pid())
        .expect("apply redirect");

    let delayed = client_round_trips(net.client_path(), net.echo_addr(), b"ping".to_vec(), 3);
    for rtt in &delayed {
        assert!(
            *rtt >= latency && *rtt <= latency + base + Duration::from_millis(100),
            "through the proxy: {delayed:?} (direct {direct:?})"
        );
    }
    let counters = proxy.counters();
    assert_eq!(counters.connections_accepted, 1, "{counters:?}");
    assert_eq!(
        counters.original_dst_errors + counters.upstream_connect_errors,
        0
    );
    assert_eq!(counters.toxics["lat"].chunks_delayed, 3);
    assert_eq!(counters.bytes_upstream, 12);
    let rule_counters = rules.counters().expect("rule counters");
    // nat rules see the first packet of each connection they redirect.
    assert_eq!(rule_counters.rules[0].packets, 1, "{rule_counters:?}");

    rules.remove().expect("remove");
    let after = client_round_trips(net.client_path(), net.echo_addr(), b"ping".to_vec(), 3);
    assert!(
        after.iter().all(|rtt| *rtt < latency),
        "after removal: {after:?}"
    );
    assert_eq!(
        proxy.counters().connections_accepted,
        1,
        "no longer redirected"
    );
    proxy.shutdown().await.expect("shutdown");
    assert!(net.chaosgate_leftovers(&net.client_ns).is_empty());

    let names = (net.client_ns.clone(), net.server_ns.clone());
    drop(_echo);
    drop(net);
    let namespaces = run("ip", &["netns", "list"]);
    assert!(
        !namespaces.contains(&names.0) && !namespaces.contains(&names.1),
        "{namespaces}"
    );
}

/// The other recipe: REDIRECT incoming connections of the server's namespace to a proxy
/// there (PREROUTING), which finds the real destination with SO_ORIGINAL_DST.
#[tokio::test]
async fn ingress_redirect_proxies_incoming_connections() {
    require_root!();
    let net = TestNet::new();
    let _echo = NetnsEcho::start(net.server_path(), net.echo_addr());
    let server_process = net.process_in_server_netns();
    let server_pid = server_process.0.id();
    let latency = Duration::from_millis(80);
    let proxy = latency_proxy(server_pid, "0.0.0.0:0", latency, Direction::Upstream);
    let rules = RuleSet::new(Marker::new(&run_id("ingress"), "latency").expect("marker"))
        .redirect_ingress(ECHO_PORT, proxy.local_addr().port())
        .apply(runner(), server_pid)
        .expect("apply ingress redirect");
    let rtts = client_round_trips(net.client_path(), net.echo_addr(), b"in".to_vec(), 2);
    assert!(rtts.iter().all(|r| *r >= latency), "{rtts:?}");
    let counters = proxy.counters();
    assert_eq!(
        (counters.connections_accepted, counters.original_dst_errors),
        (1, 0)
    );
    assert_eq!(rules.counters().expect("counters").rules[0].packets, 1);
    rules.remove().expect("remove");
    proxy.shutdown().await.expect("shutdown");
    assert!(net.chaosgate_leftovers(&net.server_ns).is_empty());
}

/// Proxy and redirect as one fault: a reset_peer toxic makes the app's calls fail with a
/// reset; stopping restores direct traffic and leaves nothing behind.
#[tokio::test]
async fn interception_resets_then_restores() {
    require_root!();
    let net = TestNet::new();
    let _echo = NetnsEcho::start(net.server_path(), net.echo_addr());
    let interception = Interception::start(
        InterceptSpec {
            pid: net.pid(),
            port: ECHO_PORT,
            direction: InterceptDirection::Egress {
                dest: Some(net.server_ip),
            },
            mark: PROXY_MARK,
            seed: 11,
            marker: Marker::new(&run_id("icpt"), "reset").expect("marker"),
        },
        runner(),
    )
    .expect("start interception");
    interception
        .proxy()
        .add_toxic(Toxic::new(
            "rst",
            ToxicKind::ResetPeer {
                after: Duration::ZERO,
            },
            Direction::Downstream,
        ))
        .expect("toxic");
    let to = net.echo_addr();
    let outcome = spawn_thread_in_netns(net.client_path(), move || {
        let mut stream = TcpStream::connect_timeout(&to, IO_TIMEOUT)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.write_all(b"hello")?;
        let mut buf = [0u8; 5];
        stream.read_exact(&mut buf)
    })
    .expect("enter client netns")
    .join()
    .expect("client");
    let error = outcome.expect_err("the call must fail");
    assert!(
        matches!(
            error.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
        "{error:?}"
    );
    let report = interception.stop().await.expect("stop");
    assert_eq!(report.proxy.toxics["rst"].resets_sent, 1, "{report:?}");
    assert_eq!(report.rules.rules[0].packets, 1, "{report:?}");
    assert!(can_connect(&net), "direct again after stop");
    assert!(net.chaosgate_leftovers(&net.client_ns).is_empty());
}

#[test]
fn a_missing_namespace_is_a_clear_error() {
    let result = spawn_in_netns(
        u32::MAX,
        ProxyConfig {
            listen: "127.0.0.1:0".parse().expect("literal"),
            upstream: Upstream::OriginalDst { mark: PROXY_MARK },
            seed: 0,
        },
    );
    assert!(
        matches!(result, Err(ProxyError::EnterNetns { .. })),
        "{result:?}"
    );
}

#[test]
fn loss_rule_drops_the_asked_fraction_and_counts_it() {
    require_root!();
    let net = TestNet::new();
    let rules = RuleSet::new(Marker::new(&run_id("loss"), "loss").expect("marker"))
        .loss(0.3, PacketDirection::Ingress, &[net.server_ip])
        .expect("valid")
        .apply(runner(), net.pid())
        .expect("apply loss");
    let sent: u64 = 400;
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let client_addr = SocketAddr::from((net.client_ip, UDP_PORT));
    let receiver = spawn_thread_in_netns(net.client_path(), move || {
        let socket = UdpSocket::bind(client_addr).expect("bind udp");
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        let _ = ready_tx.send(());
        let mut received = 0u64;
        let mut buf = [0u8; 64];
        while socket.recv(&mut buf).is_ok() {
            received += 1;
        }
        received
    })
    .expect("enter client netns");
    ready_rx.recv_timeout(IO_TIMEOUT).expect("receiver ready");
    spawn_thread_in_netns(net.server_path(), move || {
        let socket = UdpSocket::bind("0.0.0.0:0").expect("bind");
        for i in 0..sent {
            socket.send_to(&i.to_be_bytes(), client_addr).expect("send");
            std::thread::sleep(Duration::from_micros(200));
        }
    })
    .expect("enter server netns")
    .join()
    .expect("sender");
    let received = receiver.join().expect("receiver");
    let dropped = sent - received;
    let fraction = dropped as f64 / sent as f64;
    assert!(
        (0.18..=0.42).contains(&fraction),
        "dropped {dropped} of {sent}"
    );
    let counters = rules.counters().expect("counters");
    assert_eq!(
        counters.rules[0].packets, dropped,
        "the rule's counter is the evidence"
    );
    rules.remove().expect("remove");
    assert!(net.chaosgate_leftovers(&net.client_ns).is_empty());
}

fn can_connect(net: &TestNet) -> bool {
    let to = net.echo_addr();
    spawn_thread_in_netns(net.client_path(), move || {
        TcpStream::connect_timeout(&to, Duration::from_millis(300)).is_ok()
    })
    .expect("enter client netns")
    .join()
    .expect("client")
}

#[test]
fn partition_blocks_until_removed() {
    require_root!();
    let net = TestNet::new();
    let _echo = NetnsEcho::start(net.server_path(), net.echo_addr());
    assert!(can_connect(&net), "reachable before the partition");
    let rules = RuleSet::new(Marker::new(&run_id("part"), "partition").expect("marker"))
        .partition(PacketDirection::Both, &[net.server_ip])
        .expect("valid")
        .apply(runner(), net.pid())
        .expect("apply partition");
    assert!(!can_connect(&net), "partitioned");
    let counters = rules.counters().expect("counters");
    let output_drops = counters
        .rules
        .iter()
        .find(|r| r.chain == "OUTPUT")
        .expect("output rule");
    assert!(output_drops.packets >= 1, "{counters:?}");
    rules.remove().expect("remove");
    assert!(can_connect(&net), "reachable after the partition");
    assert!(net.chaosgate_leftovers(&net.client_ns).is_empty());
}

#[test]
fn tbf_caps_bandwidth_and_is_removed() {
    require_root!();
    let net = TestNet::new();
    let _echo = NetnsEcho::start(net.server_path(), net.echo_addr());
    let rate: u64 = 250_000;
    // The server's egress is capped, so the echoed bytes come back at `rate`.
    let server_process = net.process_in_server_netns();
    let rules = RuleSet::new(Marker::new(&run_id("bw"), "bandwidth").expect("marker"))
        .bandwidth("eth0", rate)
        .expect("valid")
        .apply(runner(), server_process.0.id())
        .expect("apply tbf");
    let payload = vec![5u8; 500_000];
    let elapsed = client_round_trips(net.client_path(), net.echo_addr(), payload.clone(), 1)[0];
    let throughput = payload.len() as f64 / elapsed.as_secs_f64();
    assert!(
        throughput <= rate as f64 * 1.15 && throughput >= rate as f64 * 0.5,
        "{throughput:.0} B/s under a {rate} B/s cap ({elapsed:?})"
    );
    let counters = rules.counters().expect("counters");
    assert!(
        counters.qdiscs[0].bytes >= payload.len() as u64,
        "{counters:?}"
    );
    rules.remove().expect("remove");
    assert!(net.chaosgate_leftovers(&net.server_ns).is_empty());
}

struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sweep_removes_what_a_killed_run_left() {
    require_root!();
    let net = TestNet::new();
    let run = run_id("sweep");
    let rules = RuleSet::new(Marker::new(&run, "loss").expect("marker"))
        .loss(0.5, PacketDirection::Both, &[])
        .expect("valid")
        .redirect_ingress(ECHO_PORT, 15001)
        .bandwidth("eth0", 100_000)
        .expect("valid")
        .apply(runner(), net.pid())
        .expect("apply");
    // A killed run never removes its rules: forget the guard.
    std::mem::forget(rules);
    assert_eq!(net.chaosgate_leftovers(&net.client_ns).len(), 4);
    let prefix = format!("chaosgate:{run}:");
    let report = sweep_leftovers(&runner(), Some(net.pid()), &prefix).expect("sweep");
    assert_eq!((report.rules_removed, report.qdiscs_removed), (3, 1));
    assert!(net.chaosgate_leftovers(&net.client_ns).is_empty());
    // Nothing of this run is left anywhere on the host either.
    let host = sweep_host(&runner(), &prefix).expect("host sweep");
    assert!(host.namespaces >= 2, "{host:?}");
    assert_eq!(host.rules_removed, 0, "{host:?}");
    assert!(
        sweep_leftovers(&runner(), None, "other-tool:").is_err(),
        "only chaosgate's prefix"
    );
}

/// A UDP responder bound in `ns` at `addr` that answers every datagram with `word` until
/// `stop` is set.
fn udp_responder(
    ns: PathBuf,
    addr: SocketAddr,
    word: &'static [u8],
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> (u16, std::thread::JoinHandle<()>) {
    let socket = spawn_thread_in_netns(ns, move || UdpSocket::bind(addr))
        .expect("enter netns")
        .join()
        .expect("bind thread")
        .expect("bind responder");
    let port = socket.local_addr().expect("addr").port();
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let thread = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while !stop.load(Ordering::Relaxed) {
            if let Ok((_, from)) = socket.recv_from(&mut buf) {
                let _ = socket.send_to(word, from);
            }
        }
    });
    (port, thread)
}

/// Who answers a lookup of `marketdata-a` sent from `source_port` (0: any) to 127.0.0.11:53
/// in `ns`; the port used.
fn who_answers(ns: PathBuf, source_port: u16) -> (String, u16) {
    spawn_thread_in_netns(ns, move || {
        let socket = UdpSocket::bind(("0.0.0.0", source_port)).expect("bind asker");
        socket.connect("127.0.0.11:53").expect("connect");
        socket.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        socket.send(b"\x43\x47\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x0cmarketdata-a\x00\x00\x01\x00\x01").expect("send");
        let mut buf = [0u8; 64];
        let n = socket.recv(&mut buf).expect("an answer");
        let port = socket.local_addr().expect("addr").port();
        (String::from_utf8_lossy(&buf[..n]).into_owned(), port)
    })
    .expect("enter netns")
    .join()
    .expect("asker")
}

/// NAT is decided once per conntrack entry: a lookup from a source port an earlier lookup
/// used (its UDP entry lives 30 s or more) went where that one went, past the fault. The
/// fault's own conntrack zone makes it a new entry: it is answered by the fault's resolver,
/// and after the revert by the real one again.
#[test]
fn dns_answer_catches_a_lookup_from_a_used_source_port_and_releases_it_at_revert() {
    require_root!();
    let net = TestNet::new();
    // Docker's embedded resolver: 127.0.0.11:53 rewritten to another port of 127.0.0.11.
    run(
        "ip",
        &[
            "-n",
            &net.client_ns,
            "addr",
            "add",
            "127.0.0.11/32",
            "dev",
            "lo",
        ],
    );
    run(
        "ip",
        &[
            "netns",
            "exec",
            &net.client_ns,
            "iptables",
            "-w",
            "5",
            "-t",
            "nat",
            "-A",
            "OUTPUT",
            "-d",
            "127.0.0.11",
            "-p",
            "udp",
            "--dport",
            "53",
            "-j",
            "DNAT",
            "--to-destination",
            "127.0.0.11:5353",
        ],
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (_, real) = udp_responder(
        net.client_path(),
        SocketAddr::from(([127, 0, 0, 11], 5353)),
        b"real",
        stop.clone(),
    );
    let (fault_port, fault) = udp_responder(
        net.client_path(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        b"fault",
        stop.clone(),
    );
    let (answer, used) = who_answers(net.client_path(), 0);
    assert_eq!(answer, "real");
    let rules = RuleSet::new(Marker::new(&run_id("dns"), "dns").expect("marker"))
        .dns_answer(&["marketdata-a".to_owned()], fault_port)
        .expect("valid")
        .apply(runner(), net.pid())
        .expect("apply");
    let during = [
        who_answers(net.client_path(), used).0,
        who_answers(net.client_path(), 0).0,
    ];
    rules.remove().expect("remove");
    let after = [
        who_answers(net.client_path(), used).0,
        who_answers(net.client_path(), 0).0,
    ];
    stop.store(true, Ordering::Relaxed);
    real.join().expect("real resolver");
    fault.join().expect("fault resolver");
    assert_eq!(
        during,
        ["fault", "fault"],
        "port {used} again, then a new one"
    );
    assert_eq!(after, ["real", "real"]);
    assert!(net.chaosgate_leftovers(&net.client_ns).is_empty());
}

#[test]
fn netem_probe_answers() {
    require_root!();
    let support = netem_available(&SystemRunner::default()).expect("probe");
    println!("netem: {support:?}");
    assert!(!support.detail.is_empty());
    let loaded = std::path::Path::new("/sys/module/sch_netem").exists();
    if loaded {
        assert!(support.available);
    }
}
