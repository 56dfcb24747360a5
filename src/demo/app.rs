//! The demo's notes app, behind a router that answers like Cloud Foundry's gorouter: while the
//! app's route is unmapped, every request gets `404 Not Found: Requested route ('notes.demo')
//! does not exist.`, which is what users see during a `cf push` without blue-green.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The route the demo app is mapped on, as a router would name it.
pub const ROUTE: &str = "notes.demo";
/// The path blip probes.
pub const PATH: &str = "/api/notes";

/// A running demo app on a loopback port of its own.
pub struct DemoApp {
    addr: SocketAddr,
    mapped: Arc<AtomicBool>,
}

impl DemoApp {
    /// Binds 127.0.0.1 on a free port and serves until the runtime ends.
    pub async fn start() -> std::io::Result<DemoApp> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mapped = Arc::new(AtomicBool::new(true));
        tokio::spawn(serve(listener, mapped.clone()));
        Ok(DemoApp { addr, mapped })
    }

    pub fn url(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }

    /// Maps or unmaps the app's route.
    pub fn set_mapped(&self, mapped: bool) {
        self.mapped.store(mapped, Ordering::SeqCst);
    }
}

async fn serve(listener: TcpListener, mapped: Arc<AtomicBool>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let mapped = mapped.clone();
        let service = service_fn(move |request| {
            let mapped = mapped.load(Ordering::SeqCst);
            async move { Ok::<_, Infallible>(answer(&request, mapped)) }
        });
        tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
    }
}

fn answer(request: &Request<Incoming>, mapped: bool) -> Response<Full<Bytes>> {
    let (status, body, router_error) = if !mapped {
        let text = format!("404 Not Found: Requested route ('{ROUTE}') does not exist.\n");
        (StatusCode::NOT_FOUND, text, Some("unknown_route"))
    } else if request.uri().path() == PATH {
        (StatusCode::OK, r#"[{"id":1,"text":"ship it"}]"#.to_string(), None)
    } else {
        (StatusCode::NOT_FOUND, "no such page\n".to_string(), None)
    };
    let mut response = Response::builder().status(status);
    if let Some(error) = router_error {
        response = response.header("X-Cf-Routererror", error);
    }
    response
        .header(
            "Content-Type",
            if status == StatusCode::OK {
                "application/json"
            } else {
                "text/plain"
            },
        )
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}
