//! The HTTP front of the reference server: reads bodies (bounded in size and time),
//! routes, takes the core lock, waits for long-polls, writes headers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::faults::{CONCURRENCY_WINDOW_MS, Fault, RACE_WINDOW_MS};
use super::state::{AgentReq, BodyIn, Core, CoreCfg, Reply};
use super::variations::{REOFFER_DELAY_MS, Variation};
use super::{Variations, wire};

/// Largest accepted request body.
pub(crate) const MAX_BODY: usize = 64 * 1024;
/// How long reading a request body may take.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// State shared by every handler.
#[derive(Debug)]
pub(crate) struct Shared {
    core: Mutex<Core>,
    pub(super) cfg: CoreCfg,
    completes_in_flight: AtomicUsize,
    stop_tx: watch::Sender<bool>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Core { .. }")
    }
}

impl Shared {
    pub(crate) fn new(cfg: CoreCfg) -> Arc<Shared> {
        let (stop_tx, _) = watch::channel(false);
        Arc::new(Shared {
            core: Mutex::new(Core::new(cfg.clone())),
            cfg,
            completes_in_flight: AtomicUsize::new(0),
            stop_tx,
        })
    }

    /// The core, even if a previous holder panicked (the state stays usable).
    pub(super) fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn stop(&self) {
        self.stop_tx.send_replace(true);
    }

    pub(crate) fn sizes(&self) -> (usize, usize, usize, usize) {
        self.lock().sizes()
    }

    pub(crate) fn sweep(&self) {
        self.lock().sweep(Instant::now());
    }

    pub(super) async fn stopped(&self) {
        let mut rx = self.stop_tx.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// Serves until [`Shared::stop`].
pub(crate) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let sweeper = {
        let sh = shared.clone();
        let every = Duration::from_millis((sh.cfg.bayeux_max_interval_ms / 4).clamp(10, 1_000));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => sh.sweep(),
                    _ = sh.stopped() => break,
                }
            }
        })
    };
    let typist = shared.cfg.typing.map(|every| {
        let sh = shared.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => sh.lock().typing_tick(),
                    _ = sh.stopped() => break,
                }
            }
        })
    });
    let app = Router::new().fallback(handle).with_state(shared.clone());
    let sh = shared.clone();
    let limits = super::net::ConnLimits {
        // Idle longer than the longest legitimate wait (a held long-poll), plus slack.
        idle: Duration::from_millis(2 * sh.cfg.bayeux_timeout_ms + 5_000) + sh.cfg.latency,
        head_timeout: sh.cfg.head_read_timeout,
        max_connections: sh.cfg.max_connections,
    };
    let stop = {
        let sh = sh.clone();
        async move { sh.stopped().await }
    };
    super::net::serve(
        listener,
        app,
        limits,
        futures_util::FutureExt::shared(Box::pin(stop)),
    )
    .await;
    sweeper.abort();
    if let Some(t) = typist {
        t.abort();
    }
}

pub(super) fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

pub(super) fn session_cookie(h: &HeaderMap) -> Option<String> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix("JSESSIONID=").map(str::to_string))
}

async fn read_body(headers: &HeaderMap, body: Body, lone: bool) -> Result<BodyIn, Reply> {
    if let Some(n) = header_str(headers, "content-length").and_then(|v| v.parse::<u64>().ok())
        && n > MAX_BODY as u64
    {
        return Ok(BodyIn::TooLarge);
    }
    let bytes = match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await
    {
        Err(_) => {
            return Err(Reply::new(
                408,
                json!({"statusCode": 1, "statusMessage": "Timed out reading the request body"}),
            ));
        }
        Ok(Err(e)) => {
            let text = format!("{e:?}");
            if text.to_ascii_lowercase().contains("length") {
                return Ok(BodyIn::TooLarge);
            }
            return Err(Reply::new(
                400,
                json!({"statusCode": 2, "statusMessage": "Could not read the request body"}),
            ));
        }
        Ok(Ok(b)) => b,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(BodyIn::Empty);
    }
    let bytes = if lone {
        // `lone-surrogates`: escapes of lone surrogates are JSON (RFC 8259 §7's grammar);
        // they are carried through serde_json, which refuses them.
        Bytes::from(super::wire::carry_lone_surrogates(&bytes))
    } else {
        bytes
    };
    Ok(match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) => BodyIn::Json(v),
        Err(e) => BodyIn::Invalid(e.to_string()),
    })
}

/// The HTTP status a statusCode error gets under `errors-http-4xx`.
fn status_of_code(code: u64) -> u16 {
    match code {
        3 | 5 => 403,
        6 => 404,
        13 | 18 | 19 => 409,
        20 => 401,
        _ => 400,
    }
}

fn respond(r: Reply, vs: Variations) -> Response {
    let mut status = r.status;
    let mut body = r.body;
    if vs.has(Variation::NoReferenceId)
        && let Some(o) = body.as_object_mut()
    {
        o.remove("referenceId");
    }
    if vs.has(Variation::ErrorsHttp4xx)
        && status == 200
        && let Some(code) = body.get("statusCode").and_then(Value::as_u64)
        && code != 0
    {
        status = status_of_code(code);
    }
    let form = wire::Form {
        lone_surrogates: vs.has(Variation::LoneSurrogates),
        escaped_letters: vs.has(Variation::EscapedLetters),
    };
    let bytes = Bytes::from(wire::to_vec(&body, form));
    let ctype = if vs.has(Variation::Charset) {
        "application/json;charset=UTF-8"
    } else {
        "application/json"
    };
    let body = if vs.has(Variation::Chunked) {
        // No length known up front: hyper sends it chunked (RFC 9112 §7.1).
        Body::from_stream(futures_util::stream::once(async move {
            Ok::<_, std::io::Error>(bytes)
        }))
    } else {
        Body::from(bytes)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    let h = resp.headers_mut();
    if let Some(tok) = r.set_cookie
        && let Ok(v) = HeaderValue::from_str(&format!("JSESSIONID={tok}; Path=/; HttpOnly"))
    {
        h.append(header::SET_COOKIE, v);
    }
    if let Some(allow) = r.allow {
        h.insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    if let Some(tok) = r.csrf_token
        && let Ok(v) = HeaderValue::from_str(&tok)
    {
        h.insert("X-CSRF-HEADER", HeaderValue::from_static("X-CSRF-TOKEN"));
        h.insert("X-CSRF-TOKEN", v);
    }
    resp
}

fn not_found() -> Reply {
    Reply::new(
        404,
        json!({"statusCode": 6, "statusMessage": "Resource not found"}),
    )
}

async fn handle(State(sh): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let headers = parts.headers;
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let body = if matches!(method.as_str(), "POST" | "PUT" | "DELETE" | "PATCH") {
        match read_body(
            &headers,
            body,
            sh.cfg.variations.has(Variation::LoneSurrogates),
        )
        .await
        {
            Ok(b) => b,
            Err(r) => return closing(respond(r, sh.cfg.variations)),
        }
    } else {
        BodyIn::Empty
    };
    // A body refused unread (or read in part) leaves bytes on the connection: the
    // server closes it after this answer, and says so, so that a client does not put
    // it back in its pool and send its next request into a closing socket.
    let unread = matches!(body, BodyIn::TooLarge);
    let reply = match segs.as_slice() {
        ["api", "v2", "me", rest @ ..] => agent(&sh, &method, rest, &headers, body).await,
        // CometD clients may append the message type to the URL
        // (`/api/v2/notifications/handshake`, `/connect`, …; `appendMessageTypeToURL`).
        ["api", "v2", "notifications", ..] if segs.len() <= 4 => {
            if method != "POST" {
                Reply::method_not_allowed(
                    "POST",
                    json!({"statusCode": 3, "statusMessage": "Bayeux needs POST"}),
                )
            } else {
                super::bayeux::serve_bayeux(&sh, &headers, body).await
            }
        }
        ["api", "v2", "chats", rest @ ..] => sh.lock().customer_api(
            &method,
            rest,
            query.as_deref(),
            header_str(&headers, "ContactCenterId"),
            body,
        ),
        ["conformance", "provider-state"] => {
            if method != "POST" {
                Reply::method_not_allowed("POST", json!({"error": "provider-state needs POST"}))
            } else {
                sh.lock().provider_state(body)
            }
        }
        _ => not_found(),
    };
    if !sh.cfg.latency.is_zero() {
        // A remote deployment: the answer travels this long (cut short by a stop).
        tokio::select! {
            _ = tokio::time::sleep(sh.cfg.latency) => {}
            _ = sh.stopped() => {}
        }
    }
    let resp = respond(reply, sh.cfg.variations);
    if unread || sh.cfg.variations.has(Variation::ConnectionClose) {
        closing(resp)
    } else {
        resp
    }
}

/// `resp` with `Connection: close` (RFC 9112 §9.6): the server closes the connection
/// after it.
fn closing(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Decrements the in-flight Complete counter when dropped.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn agent(
    sh: &Arc<Shared>,
    method: &str,
    rest: &[&str],
    headers: &HeaderMap,
    body: BodyIn,
) -> Reply {
    let is_complete = matches!(rest, ["chats", _])
        && matches!(&body, BodyIn::Json(v) if v.get("operationName").and_then(Value::as_str) == Some("Complete"));
    let _guard = if is_complete {
        sh.completes_in_flight.fetch_add(1, Ordering::SeqCst);
        if sh.cfg.fault == Some(Fault::CompleteReorderUnderConcurrency) {
            // Widen the window so that Completes sent together overlap (fault only).
            tokio::time::sleep(Duration::from_millis(CONCURRENCY_WINDOW_MS)).await;
        }
        Some(InFlight(&sh.completes_in_flight))
    } else {
        None
    };
    // Fault only: check-then-act. The Complete reads the chat's state, releases the
    // lock for an await (its back end), and later acts on that stale read.
    let stale_state = match rest {
        ["chats", id] if is_complete && sh.cfg.fault == Some(Fault::DoubleCompleteRace) => {
            let seen = sh.lock().chat_state(id);
            tokio::time::sleep(Duration::from_millis(RACE_WINDOW_MS)).await;
            seen
        }
        _ => None,
    };
    let cookie = session_cookie(headers);
    let csrf_header = header_str(headers, "X-CSRF-TOKEN");
    let concurrent = is_complete && sh.completes_in_flight.load(Ordering::SeqCst) >= 2;
    let reply = sh.lock().agent_api(AgentReq {
        method,
        rest: rest.to_vec(),
        authorization: header_str(headers, "authorization"),
        session: cookie.as_deref(),
        csrf: csrf_header,
        body,
        concurrent_completes: concurrent,
        stale_state,
    });
    schedule_deferred(sh, reply)
}

fn schedule_deferred(sh: &Arc<Shared>, mut reply: Reply) -> Reply {
    for inter in std::mem::take(&mut reply.requeue) {
        let sh = sh.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(REOFFER_DELAY_MS)) => {
                    sh.lock().requeue(&inter);
                }
                _ = sh.stopped() => {}
            }
        });
    }
    for d in std::mem::take(&mut reply.deferred) {
        let sh = sh.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(d.delay_ms)) => {
                    sh.lock().publish(d.agent, d.data);
                }
                _ = sh.stopped() => {}
            }
        });
    }
    reply
}
