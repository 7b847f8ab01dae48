//! Transport of a real deployment: TLS with a CA given by `--cacert` (a loopback TLS
//! server with a certificate made here), bad CA files, and redirects that must never
//! carry credentials to another origin.

use gws_conform::client::{AgentClient, CaFile, Credentials, TargetConfig};
use gws_conform::history::Recorder;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::TcpListener;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A CA and a server certificate for 127.0.0.1/localhost signed by it (PEM cert, PEM
/// key), plus the CA's PEM.
fn make_pki(ca_name: &str) -> (String, String, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    (leaf.pem(), leaf_key.serialize_pem(), ca.pem())
}

/// A loopback HTTPS server answering every request `200 {"statusCode":0}`, keep-alive.
async fn tls_server(cert_pem: &str, key_pem: &str) -> String {
    use tokio_rustls::rustls::{self, pki_types::pem::PemObject};
    let certs =
        vec![rustls::pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap()];
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut io = BufReader::new(tls);
                while let Some(len) = read_head(&mut io).await {
                    if !answer_ok(&mut io, len).await {
                        return;
                    }
                }
            });
        }
    });
    format!("https://127.0.0.1:{port}")
}

/// Reads a request head (a blank line before the request line is skipped) and gives
/// its `Content-Length` (0 when absent); `None` at EOF or on a read error.
async fn read_head<R: AsyncBufRead + Unpin>(io: &mut R) -> Option<usize> {
    let mut len = 0usize;
    let mut line = String::new();
    let mut first = true;
    loop {
        line.clear();
        match io.read_line(&mut line).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        if line == "\r\n" && !first {
            return Some(len);
        }
        first = false;
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
}

/// Reads a body of `len` bytes and answers `200 {"statusCode":0}`, keep-alive; false
/// when the connection broke.
async fn answer_ok<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufReader<S>, len: usize) -> bool {
    let mut body = vec![0; len];
    if io.read_exact(&mut body).await.is_err() {
        return false;
    }
    let b = r#"{"statusCode":0}"#;
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
        b.len()
    );
    io.get_mut().write_all(resp.as_bytes()).await.is_ok()
}

fn cfg(base: &str, ca: Option<CaFile>) -> TargetConfig {
    let mut c = TargetConfig::new(base).unwrap();
    c.request_timeout = Duration::from_secs(5);
    c.ca = ca;
    c
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test]
async fn cacert_makes_a_private_ca_trusted_and_a_wrong_one_is_a_harness_error_naming_both() {
    let (cert, key, ca_pem) = make_pki("gws-conform test CA");
    let (_, _, other_ca) = make_pki("some other CA");
    let base = tls_server(&cert, &key).await;
    let dir = tempfile_dir();

    let good = CaFile::load(&write(dir.path(), "ca.pem", &ca_pem)).unwrap();
    let rec = Recorder::new();
    let agent = AgentClient::login(
        &cfg(&base, Some(good)),
        Credentials::new("a", "pw-1234"),
        &rec,
    )
    .await;
    assert!(agent.is_ok(), "{:?}", agent.err());

    let wrong_path = write(dir.path(), "wrong-ca.pem", &other_ca);
    let wrong = CaFile::load(&wrong_path).unwrap();
    let e = AgentClient::login(
        &cfg(&base, Some(wrong)),
        Credentials::new("a", "pw-1234"),
        &rec,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("UnknownIssuer"), "{e}");
    assert!(e.contains(&wrong_path.display().to_string()), "{e}");
    assert!(!e.contains("pw-1234"), "{e}");

    // Without --cacert: the system roots do not know the test CA either.
    let e = AgentClient::login(&cfg(&base, None), Credentials::new("a", "pw-1234"), &rec)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("UnknownIssuer") && e.contains("--cacert"), "{e}");

    // --insecure accepts it.
    let mut c = cfg(&base, None);
    c.insecure = true;
    assert!(
        AgentClient::login(&c, Credentials::new("a", "pw-1234"), &rec)
            .await
            .is_ok()
    );
}

#[test]
fn bad_ca_files_are_errors_naming_the_file() {
    let dir = tempfile_dir();
    let missing = dir.path().join("missing.pem");
    let e = CaFile::load(&missing).unwrap_err().to_string();
    assert!(
        e.contains("missing.pem") && e.contains("cannot read"),
        "{e}"
    );
    let junk = write(dir.path(), "junk.pem", "not a certificate\n");
    let e = CaFile::load(&junk).unwrap_err().to_string();
    assert!(e.contains("junk.pem") && e.contains("not a PEM"), "{e}");
}

#[test]
fn cli_refuses_a_bad_cacert_with_a_usage_error() {
    let dir = tempfile_dir();
    let junk = write(dir.path(), "junk.pem", "-----BEGIN NOTHING-----\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gws-conform"))
        .args([
            "run",
            "--target",
            "https://127.0.0.1:9",
            "--agent",
            "a:b",
            "--cacert",
        ])
        .arg(&junk)
        .arg("--reports")
        .arg(dir.path())
        .env_remove("GWS_AGENTS")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("junk.pem"), "{err}");
}

#[tokio::test]
async fn redirects_are_never_followed_so_credentials_stay_on_the_origin() {
    let elsewhere = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"statusCode":0})))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let origin = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/api/v2/me", elsewhere.uri())),
        )
        .mount(&origin)
        .await;
    let rec = Recorder::new();
    let e = AgentClient::login(
        &cfg(&origin.uri(), None),
        Credentials::new("a", "pw-1234"),
        &rec,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("307"), "{e}");
    let seen = elsewhere.received_requests().await.unwrap_or_default();
    assert!(
        seen.iter()
            .all(|r| !r.headers.contains_key("authorization")),
        "Authorization reached another origin"
    );
    assert!(
        seen.is_empty(),
        "{} requests reached the other origin",
        seen.len()
    );
}

/// A keep-alive server whose idle timer (1 s here, 2 s in Gunicorn, 5 s in Apache and
/// Node) fires just as a request arrives on an idle connection: it closes without an
/// answer. Made deterministic: a request that arrives on a connection idle for 1 s or
/// more is dropped unanswered (and counted in the returned counter); every other is
/// answered `200 {"statusCode":0}`. Gives its base URL.
pub(crate) async fn idle_closing_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let dropped = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let d = dropped.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let d = d.clone();
            tokio::spawn(async move {
                let mut io = BufReader::new(tcp);
                let mut last: Option<std::time::Instant> = None;
                while let Some(len) = read_head(&mut io).await {
                    if last.is_some_and(|t| t.elapsed() >= Duration::from_secs(1)) {
                        d.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        return;
                    }
                    if !answer_ok(&mut io, len).await {
                        return;
                    }
                    last = Some(std::time::Instant::now());
                }
            });
        }
    });
    (format!("http://127.0.0.1:{port}"), dropped)
}

/// The harness never sends on a connection idle for a second or more (its pool keeps
/// idle ones 1.5 s), so every request to [`idle_closing_server`] is answered. With the
/// pool's former 90 s, the request after a pause was an I/O "no answer": an Error of
/// the case, for a server that did nothing wrong.
#[tokio::test]
async fn a_connection_the_server_closes_when_idle_is_never_reused() {
    let (base, dropped) = idle_closing_server().await;
    let rec = Recorder::new();
    let agent = AgentClient::login(&cfg(&base, None), Credentials::new("a", "pw-1234"), &rec)
        .await
        .expect("login");
    for gap_ms in [1_700, 100, 1_700] {
        tokio::time::sleep(Duration::from_millis(gap_ms)).await;
        let o = agent.get(&rec, "/api/v2/me/chats").await;
        assert_eq!(o.status(), Some(200), "after {gap_ms} ms idle: {o:?}");
    }
    assert_eq!(
        dropped.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a request went on a connection idle for over a second"
    );
}

/// A temporary folder removed on drop.
struct TempDir(std::path::PathBuf);
impl TempDir {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
fn tempfile_dir() -> TempDir {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let p = std::env::temp_dir().join(format!(
        "gws-conform-transport-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&p).unwrap();
    TempDir(p)
}
