//! The demo's notes app: two instances behind a router that answers like Cloud Foundry's
//! gorouter. A request on the app's route goes to one of the instances mapped to it, in turn;
//! with none mapped the router answers `404 Not Found: Requested route ('notes.demo') does not
//! exist.`, and a mapped instance that is not running gives `502 Bad Gateway`. Each instance
//! answers with its app version in `X-App-Version` (`v1` for the old one, `v2` for the new), which
//! `blip demo` tracks to show the cutover.
//!
//! A second listener, the admin one, maps, unmaps, starts and stops instances; the simulated
//! deploy drives it from a child process, exactly as a real deploy tool drives a platform.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The route the demo app is mapped on, as a router would name it.
pub const ROUTE: &str = "notes.demo";
/// The path blip probes.
pub const PATH: &str = "/api/notes";
/// The instance serving when the demo starts, and the one a deploy brings up.
pub const BLUE: &str = "notes-blue";
pub const GREEN: &str = "notes-green";
/// The header each instance names its app version in.
pub const VERSION_HEADER: &str = "X-App-Version";

#[derive(Debug)]
struct Instance {
    name: &'static str,
    /// What it answers in [`VERSION_HEADER`].
    version: &'static str,
    running: bool,
    mapped: bool,
}

#[derive(Debug)]
struct Platform {
    instances: Mutex<Vec<Instance>>,
    turn: AtomicUsize,
}

/// A running demo platform on two loopback ports of its own.
pub struct DemoApp {
    router: SocketAddr,
    admin: SocketAddr,
}

impl DemoApp {
    /// Binds 127.0.0.1 on two free ports and serves until the runtime ends.
    pub async fn start() -> std::io::Result<DemoApp> {
        let platform = Arc::new(Platform {
            instances: Mutex::new(vec![
                Instance { name: BLUE, version: "v1", running: true, mapped: true },
                Instance { name: GREEN, version: "v2", running: false, mapped: false },
            ]),
            turn: AtomicUsize::new(0),
        });
        let router = TcpListener::bind("127.0.0.1:0").await?;
        let admin = TcpListener::bind("127.0.0.1:0").await?;
        let app = DemoApp { router: router.local_addr()?, admin: admin.local_addr()? };
        tokio::spawn(serve(router, platform.clone(), route));
        tokio::spawn(serve(admin, platform, administer));
        Ok(app)
    }

    pub fn url(&self) -> String {
        format!("http://{}{PATH}", self.router)
    }

    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin)
    }
}

async fn serve(listener: TcpListener, platform: Arc<Platform>, handle: fn(&Platform, &Uri) -> Reply) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let platform = platform.clone();
        let service = service_fn(move |request| {
            let reply = handle(&platform, request.uri());
            async move { Ok::<_, Infallible>(response(reply)) }
        });
        tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
    }
}

fn lock(platform: &Platform) -> std::sync::MutexGuard<'_, Vec<Instance>> {
    // A panic while holding the lock cannot leave the instance list half-changed: every change
    // is a single field write.
    platform.instances.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An answer: status, body, the router's error (`X-Cf-Routererror`) and the app version of the
/// instance that answered.
type Reply = (StatusCode, String, Option<&'static str>, Option<&'static str>);

/// The router: what a client of the app sees.
fn route(platform: &Platform, uri: &Uri) -> Reply {
    let instances = lock(platform);
    let mapped: Vec<&Instance> = instances.iter().filter(|i| i.mapped).collect();
    if mapped.is_empty() {
        let text = format!("404 Not Found: Requested route ('{ROUTE}') does not exist.\n");
        return (StatusCode::NOT_FOUND, text, Some("unknown_route"), None);
    }
    let instance = mapped[platform.turn.fetch_add(1, Ordering::Relaxed) % mapped.len()];
    if !instance.running {
        let text = "502 Bad Gateway: Registered endpoint failed to handle the request.\n".to_string();
        return (StatusCode::BAD_GATEWAY, text, Some("endpoint_failure"), None);
    }
    if uri.path() != PATH {
        return (StatusCode::NOT_FOUND, "no such page\n".to_string(), None, Some(instance.version));
    }
    let body = format!(r#"[{{"id":1,"text":"ship it","instance":"{}"}}]"#, instance.name);
    (StatusCode::OK, body, None, Some(instance.version))
}

/// The admin listener: `/{map|unmap|start|stop}/{instance}`.
fn administer(platform: &Platform, uri: &Uri) -> Reply {
    let mut parts = uri.path().trim_matches('/').split('/');
    let (Some(verb), Some(name)) = (parts.next(), parts.next()) else {
        return (StatusCode::NOT_FOUND, "use /{map|unmap|start|stop}/{instance}\n".into(), None, None);
    };
    let mut instances = lock(platform);
    let Some(instance) = instances.iter_mut().find(|i| i.name == name) else {
        return (StatusCode::NOT_FOUND, format!("no instance {name}\n"), None, None);
    };
    match verb {
        "map" => instance.mapped = true,
        "unmap" => instance.mapped = false,
        "start" => instance.running = true,
        "stop" => instance.running = false,
        _ => return (StatusCode::NOT_FOUND, format!("no action {verb}\n"), None, None),
    }
    (StatusCode::OK, "ok\n".into(), None, None)
}

fn response((status, body, router_error, version): Reply) -> Response<Full<Bytes>> {
    let mut response = Response::builder().status(status);
    if let Some(error) = router_error {
        response = response.header("X-Cf-Routererror", error);
    }
    if let Some(version) = version {
        response = response.header(VERSION_HEADER, version);
    }
    response
        .header("Content-Type", if status == StatusCode::OK { "application/json" } else { "text/plain" })
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}
