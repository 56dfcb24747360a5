//! `--resolve` and `--connect-to`: probing a name at addresses of the test's choosing, against
//! loopback servers on 127.0.0.2 and 127.0.0.3 that count the requests they got and the `Host`
//! each carried; and which peer answered when, as traffic moved from one address to another.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use crate::support::{assert_refused, blip_json, ms};

/// A server that answers every request with 200 and keeps the `Host` of each request (plain
/// http), or the name its TLS client asked for (https, with a certificate for any name).
struct Named {
    addr: SocketAddr,
    hosts: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Named {
    async fn start(addr: &str) -> Named {
        Named::serve(TcpListener::bind(addr).await.unwrap(), None)
    }

    async fn start_tls(addr: &str) -> Named {
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        let certified = rcgen::generate_simple_self_signed(vec!["notes.test".to_string()]).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .unwrap();
        Named::serve(TcpListener::bind(addr).await.unwrap(), Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
    }

    fn serve(listener: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>) -> Named {
        let addr = listener.local_addr().unwrap();
        let hosts = Arc::new(Mutex::new(Vec::new()));
        let seen = hosts.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let (tls, seen) = (tls.clone(), seen.clone());
                tokio::spawn(async move {
                    match tls {
                        None => answer(tcp, seen, None, addr).await,
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(tcp).await else { return };
                            let sni = stream.get_ref().1.server_name().map(str::to_string);
                            answer(stream, seen, Some(sni.unwrap_or_default()), addr).await;
                        }
                    }
                });
            }
        });
        Named { addr, hosts, task }
    }

    fn hosts(&self) -> Vec<String> {
        self.hosts.lock().unwrap().clone()
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers each request on `stream` with 200 and `X-Served-By: ` the server's own address,
/// keeping the request's `Host` (and `sni`, the TLS name).
async fn answer(
    mut stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    seen: Arc<Mutex<Vec<String>>>,
    sni: Option<String>,
    me: SocketAddr,
) {
    let reply = format!("HTTP/1.1 200 OK\r\nx-served-by: {}\r\ncontent-length: 2\r\n\r\nok", me.ip());
    let mut buf = Vec::new();
    let mut chunk = [0; 4096];
    while let Ok(n) = stream.read(&mut chunk).await {
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            buf.drain(..end + 4);
            let host = head
                .lines()
                .find_map(|l| l.split_once(':').filter(|(name, _)| name.eq_ignore_ascii_case("host")))
                .map_or("(none)".to_string(), |(_, v)| v.trim().to_string());
            let host = match &sni {
                Some(sni) => format!("{host} sni={sni}"),
                None => host,
            };
            seen.lock().unwrap().push(host);
            if stream.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn resolve_reaches_the_address_given_with_the_urls_name_as_host() {
    let server = Named::start("127.0.0.2:0").await;
    let port = server.addr.port();
    let url = format!("http://notes.test:{port}/health");
    let route = format!("notes.test:{port}:127.0.0.2");
    let report = blip_json(&["-r", "20", "-d", "1s", "--connections", "fresh", "--resolve", &route, &url], 0).await;
    let t = &report.targets[0];
    let hosts = server.hosts();
    // Every probe reached the server, each with the URL's name, none by way of a lookup.
    assert!(t.probes >= 15 && t.ok == t.probes, "{t:#?}");
    assert_eq!(hosts.len() as u64, t.probes, "{hosts:?}");
    assert!(hosts.iter().all(|h| *h == format!("notes.test:{port}")), "{hosts:?}");
    assert!(!t.phases_ms.contains_key("dns"), "{:?}", t.phases_ms);
    assert_eq!(t.peers.len(), 1, "{:?}", t.peers);
    assert_eq!(t.peers[0].address, server.addr.to_string());
    assert_eq!(report.routes, [format!("--resolve {route}")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_to_keeps_the_urls_name_for_tls() {
    let server = Named::start_tls("127.0.0.3:0").await;
    let url = "https://notes.test/";
    let route = format!("notes.test:443:127.0.0.3:{}", server.addr.port());
    let report = blip_json(&["-r", "20", "-d", "500ms", "-k", "--connect-to", &route, url], 0).await;
    let t = &report.targets[0];
    let hosts = server.hosts();
    assert!(t.probes >= 8 && t.ok == t.probes, "{t:#?}");
    assert_eq!(hosts.len() as u64, t.probes, "{hosts:?}");
    // The default port is left out of Host, as the URL leaves it out.
    assert!(hosts.iter().all(|h| h == "notes.test sni=notes.test"), "{hosts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_routes_give_two_targets_with_their_own_figures() {
    let (blue, green) = tokio::join!(Named::start("127.0.0.1:0"), Named::start("127.0.0.1:0"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let urls = ["http://blue.test/", "http://green.test/"];
    let to_blue = format!("blue.test:80:127.0.0.1:{}", blue.addr.port());
    // An empty HOST2 keeps the name, and only the port changes: a port nothing listens on.
    let to_nowhere = format!("green.test:80:127.0.0.1:{closed}");
    let report = blip_json(
        &[
            "-r",
            "20",
            "-d",
            "1s",
            "--measure-only",
            "--connect-to",
            &to_blue,
            "--connect-to",
            &to_nowhere,
            urls[0],
            urls[1],
        ],
        0,
    )
    .await;
    let (b, g) = (&report.targets[0], &report.targets[1]);
    assert_eq!((b.url.as_str(), g.url.as_str()), (urls[0], urls[1]));
    assert!(b.probes >= 15 && b.ok == b.probes, "{b:#?}");
    assert_eq!(blue.hosts().len() as u64, b.probes);
    assert!(blue.hosts().iter().all(|h| h == "blue.test"), "{:?}", blue.hosts());
    assert!(g.probes >= 15 && g.failed == g.probes, "{g:#?}");
    assert_eq!(g.error_counts.get("refused"), Some(&g.probes), "{g:#?}");
    assert!(green.hosts().is_empty());
    assert_eq!(report.routes, [format!("--connect-to {to_blue}"), format!("--connect-to {to_nowhere}")]);

    // Pointed at green's port by --connect-to, and at its address by --resolve of where that
    // leads (curl's order), the same URL list reaches both.
    let to_green = format!("green.test:80::{}", green.addr.port());
    let report = blip_json(
        &[
            "-r",
            "20",
            "-d",
            "500ms",
            "--connect-to",
            &to_blue,
            "--connect-to",
            &to_green,
            "--resolve",
            &format!("green.test:{}:127.0.0.1", green.addr.port()),
            urls[0],
            urls[1],
        ],
        0,
    )
    .await;
    let g = &report.targets[1];
    assert!(g.probes >= 8 && g.ok == g.probes, "{g:#?}");
    assert_eq!(green.hosts().len() as u64, g.probes);
    assert!(green.hosts().iter().all(|h| h == "green.test"), "{:?}", green.hosts());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_routed_url_goes_where_its_route_says_not_through_a_proxy() {
    let (server, proxy) = tokio::join!(Named::start("127.0.0.2:0"), Named::start("127.0.0.1:0"));
    let route = format!("notes.test:80:127.0.0.2:{}", server.addr.port());
    let out = tokio::process::Command::new(crate::support::BLIP)
        .args(["-r", "20", "-d", "500ms", "--json", "-", "--connect-to", &route, "http://notes.test/"])
        .env("HTTP_PROXY", format!("http://{}", proxy.addr))
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: crate::support::Report = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(server.hosts().len() as u64, report.targets[0].probes);
    assert!(proxy.hosts().is_empty(), "{:?}", proxy.hosts());
}

/// Two servers on one port, at 127.0.0.2 and 127.0.0.3: a name at two addresses. `None`, with a
/// line saying so, when the port the first got is taken at the second.
async fn one_port_on_two_addresses() -> Option<(Named, Named)> {
    let first = Named::start("127.0.0.2:0").await;
    let port = first.addr.port();
    let Ok(listener) = TcpListener::bind(("127.0.0.3", port)).await else {
        eprintln!("skipped: port {port} is taken on 127.0.0.3");
        return None;
    };
    Some((first, Named::serve(listener, None)))
}

/// A name at two addresses, the first of which stops listening partway: the fresh lane's
/// connections move to the second, and each peer's first and last answer say when.
#[tokio::test(flavor = "multi_thread")]
async fn each_peer_says_when_it_answered_as_traffic_moves() {
    let Some((first, second)) = one_port_on_two_addresses().await else { return };
    let port = first.addr.port();
    let url = format!("http://notes.test:{port}/");
    let route = format!("notes.test:{port}:127.0.0.2,127.0.0.3");
    let rate = 50.0;
    let run = blip_json(
        &["-r", "50", "-d", "2s", "--connections", "fresh", "--track-header", "X-Served-By", "--resolve", &route, &url],
        0,
    );
    let started = Instant::now();
    let stop = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(first);
        Instant::now()
    };
    let (report, stopped) = tokio::join!(run, stop);
    let t = &report.targets[0];
    let [a, b] = &t.peers[..] else { panic!("two peers: {:?}", t.peers) };
    assert_eq!(
        (a.address.as_str(), b.address.as_str()),
        (format!("127.0.0.2:{port}").as_str(), format!("127.0.0.3:{port}").as_str())
    );
    // Every probe was answered, by one or the other, as the servers counted them.
    assert_eq!(t.failed, 0, "{t:#?}");
    assert_eq!(a.probes + b.probes, t.probes);
    assert_eq!(b.probes, second.hosts().len() as u64);
    // Each address with the value it answered with: the server's own address, as it said it.
    assert_eq!((a.tracked.as_deref(), b.tracked.as_deref()), (Some("127.0.0.2"), Some("127.0.0.3")));
    // The first address answered from the start until it stopped, the second from then on,
    // with no probe between them lost: one interval apart, plus the run's own lateness.
    let interval = 1000.0 / rate;
    let lag = t.send_lag_ms.max + 5.0;
    assert!(a.first_seen_offset_ms <= interval + lag, "{a:?}");
    assert!(a.last_seen_offset_ms < b.first_seen_offset_ms, "{a:?} {b:?}");
    assert!(b.first_seen_offset_ms - a.last_seen_offset_ms <= interval + lag, "{a:?} {b:?}");
    // blip started before the test's clock did, so the stop is no later than this on its clock.
    let stop = ms(stopped - started);
    assert!(a.last_seen_offset_ms <= stop + lag, "{a:?}: stopped at about +{stop:.0} ms");
    assert!(b.last_seen_offset_ms >= report.duration_ms - interval - lag, "{b:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_that_apply_to_no_url_or_do_not_parse_are_refused() {
    assert_refused(&[
        (
            &["--resolve", "notes.test:8080:127.0.0.2", "http://notes.test/"],
            "--resolve notes.test:8080:127.0.0.2 applies to none of the URLs",
        ),
        (&["--connect-to", "other.test:80:127.0.0.1:1", "http://notes.test/"], "(http://notes.test/ is notes.test:80)"),
        (&["--resolve", "notes.test:443", "https://notes.test/"], "HOST:PORT:ADDR"),
        (&["--resolve", "notes.test:443:localhost", "https://notes.test/"], "`localhost` is not an IP address"),
        (&["--connect-to", "notes.test:443:127.0.0.1", "https://notes.test/"], "HOST:PORT:HOST2:PORT2"),
        (&["--connect-to", "notes.test:0:a:1", "https://notes.test/"], "`0` is not a port"),
        (
            &["--connect-to", "a.test:80:127.0.0.1:1", "--connect-to", "a.test:80:127.0.0.1:2", "http://a.test/"],
            "--connect-to a.test:80:127.0.0.1:2 is never used: --connect-to a.test:80:127.0.0.1:1, given before it",
        ),
    ])
    .await;
}

/// Whether the test can make a mount namespace of its own (root, and `unshare` there). CI runs
/// as root: only a developer's machine may skip.
fn can_unshare() -> bool {
    let made = std::process::Command::new("unshare").args(["-m", "true"]).output().is_ok_and(|o| o.status.success());
    if !made {
        assert!(std::env::var_os("CI").is_none(), "unshare -m fails in CI");
        eprintln!("skipped: cannot make a mount namespace (unshare -m)");
    }
    made
}

/// A name whose answer moves partway: the test's own /etc/hosts, bind-mounted over the real
/// one in a mount namespace blip runs in, is rewritten from 127.0.0.2 to 127.0.0.3 one second
/// in. The fresh lane looks the name up for every probe, and the report says when it moved.
#[tokio::test(flavor = "multi_thread")]
async fn a_name_that_moves_shows_in_dns_changes_within_one_interval() {
    if !can_unshare() {
        return;
    }
    let Some((first, second)) = one_port_on_two_addresses().await else { return };
    let port = first.addr.port();
    let hosts = crate::support::tempdir("dns-changes").join("hosts");
    std::fs::write(&hosts, "127.0.0.2 notes.test\n").unwrap();
    let url = format!("http://notes.test:{port}/");
    let rate = 50.0;
    let run = tokio::process::Command::new("unshare")
        .args(["-m", "--", "sh", "-c", r#"mount --bind "$0" /etc/hosts && exec "$@""#])
        .arg(&hosts)
        .args([crate::support::BLIP, "-r", "50", "-d", "2s", "--connections", "fresh", "--json", "-", &url])
        .kill_on_drop(true)
        .output();
    let hosts_file = hosts.clone();
    let switch = async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Written in place: the bind mount holds the file, not its name.
        std::fs::write(&hosts_file, "127.0.0.3 notes.test\n").unwrap();
        std::time::SystemTime::now()
    };
    let (out, switched) = tokio::join!(run, switch);
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: crate::support::Report = serde_json::from_slice(&out.stdout).unwrap();
    let t = &report.targets[0];
    let changes: Vec<(&[String], &[String])> = t.dns_changes.iter().map(|c| (&c.added[..], &c.removed[..])).collect();
    let (a, b) = ("127.0.0.2".to_string(), "127.0.0.3".to_string());
    assert_eq!(changes, [(&[a.clone()][..], &[][..]), (&[b][..], &[a][..])], "{:?}", t.dns_changes);
    // When the name moved, on blip's clock: its start is `started_at`, to the millisecond.
    let started = humantime::parse_rfc3339(&report.started_at).unwrap();
    let moved = ms(switched.duration_since(started).unwrap());
    let at = t.dns_changes[1].at_ms;
    // A probe due before the move may be sent after it, by the run's send lag; the first probe
    // due after it sees it.
    let lag = t.send_lag_ms.max + 2.0;
    assert!(at >= moved - lag && at <= moved + 1000.0 / rate + lag, "moved at +{moved:.1} ms, reported +{at} ms");
    // Every probe went where the name pointed when it was sent, as the servers counted them.
    assert_eq!(t.failed, 0, "{t:#?}");
    assert_eq!(first.hosts().len() + second.hosts().len(), t.probes as usize);
    assert!(!first.hosts().is_empty() && !second.hosts().is_empty());
}
