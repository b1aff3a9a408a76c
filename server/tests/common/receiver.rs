//! Real receivers on loopback for the notification tests: an HTTP endpoint that records every
//! request and answers from a script (503, 503, then 200…), and the SMTP server (Debian's
//! aiosmtpd, `smtp_sink.py`) in a child process.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    response::IntoResponse,
};

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Answers still to give, in order: (status, Retry-After); then 200.
    script: Vec<(u16, Option<String>)>,
}

#[derive(Clone)]
pub struct HttpReceiver {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

async fn take(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let mut inner = inner.lock().expect("receiver lock");
    inner.received.push(Received { path: uri.path().to_owned(), headers, body });
    let (status, retry_after) =
        if inner.script.is_empty() { (200, None) } else { inner.script.remove(0) };
    let mut answer = (StatusCode::from_u16(status).expect("a status"), "answer").into_response();
    if let Some(after) = retry_after {
        answer.headers_mut().insert("retry-after", after.parse().expect("a header value"));
    }
    answer
}

impl HttpReceiver {
    pub async fn start() -> HttpReceiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new().fallback(take).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        HttpReceiver { base, inner }
    }

    /// The next answers (then 200 again).
    pub fn script(&self, answers: &[(u16, Option<&str>)]) {
        self.inner.lock().expect("lock").script =
            answers.iter().map(|(s, r)| (*s, r.map(str::to_owned))).collect();
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("lock").received.clone()
    }

    /// Waits until `done` holds for what arrived at `path`, or fails after 20 s.
    pub async fn wait(&self, path: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let got: Vec<Received> =
                self.received().into_iter().filter(|r| r.path == path).collect();
            if done(&got) {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} did not receive what was expected; got {:?}",
                got.iter()
                    .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// aiosmtpd in a child process, killed on drop.
pub struct SmtpSink {
    pub port: u16,
    pub dir: PathBuf,
    /// The certificate it presents (PEM), when it speaks STARTTLS.
    pub cert_pem: Option<String>,
    child: std::process::Child,
    _files: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpSink {
    /// `tls`: STARTTLS required, with a fresh self-signed certificate for `localhost`;
    /// `login`: `user:password` required.
    pub async fn start(tls: bool, login: Option<&str>) -> SmtpSink {
        SmtpSink::start_with(tls, false, login).await
    }

    /// [`SmtpSink::start`], with `implicit`: TLS from the first byte (SMTPS) instead of STARTTLS.
    pub async fn start_with(tls: bool, implicit: bool, login: Option<&str>) -> SmtpSink {
        let files = tempfile::tempdir().expect("temp dir");
        let dir = files.path().join("mail");
        std::fs::create_dir(&dir).expect("mail dir");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut command = std::process::Command::new("/usr/bin/python3");
        // The sink picks its own free port (retrying if another process takes it first) and
        // names it on its first line: no port is freed here for someone else to take.
        command.arg(&script).arg("--dir").arg(&dir);
        let mut cert_pem = None;
        if tls {
            let made = rcgen::generate_simple_self_signed(vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
            ])
            .expect("a certificate");
            let (cert, key) = (made.cert, made.signing_key);
            let (cert_path, key_path) =
                (files.path().join("cert.pem"), files.path().join("key.pem"));
            std::fs::write(&cert_path, cert.pem()).expect("write cert");
            std::fs::write(&key_path, key.serialize_pem()).expect("write key");
            command.arg("--cert").arg(&cert_path).arg("--key").arg(&key_path);
            if implicit {
                command.arg("--implicit");
            }
            cert_pem = Some(cert.pem());
        }
        if let Some(login) = login {
            command.arg("--login").arg(login);
        }
        let mut child = command.stdout(std::process::Stdio::piped()).spawn().expect(
            "/usr/bin/python3 runs (scripts/setup.sh --with-test-tools installs python3-aiosmtpd)",
        );
        let stdout = child.stdout.take().expect("the sink's stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("ready ") {
                    let _ = tx.send(port.trim().parse::<u16>());
                }
            }
        });
        let port = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(20)))
            .await
            .expect("the reader")
            .expect("the SMTP sink did not start (is python3-aiosmtpd installed?)")
            .expect("the sink names its port");
        SmtpSink { port, dir, cert_pem, child, _files: files }
    }

    /// The messages stored so far, oldest first.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .expect("mail dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                serde_json::from_slice(&std::fs::read(p).expect("read mail")).expect("mail JSON")
            })
            .collect()
    }

    /// Waits for at least `n` messages, or fails after 30 s.
    pub async fn wait_for(&self, n: usize) -> Vec<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {n} messages arrived",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
