//! A real HTTPS peer for IRD verification tests (RFC 7285 §9.2): nginx from Debian, in the
//! foreground, on loopback high ports, with a test CA and server certificate made by `openssl`.
//!
//! ```text
//!   Nginx::start(&[Route::body("/ird", MEDIA, bytes), Route::redirect("/a", 302, "/b"), ...])
//!     ├─ temp dir: ca.pem/ca.key, server.pem/server.key (SAN IP:127.0.0.1, DNS:alto.test),
//!     │            nginx.conf, www/ bodies, pid, error.log, access.log, temp paths
//!     ├─ two free ports: HTTPS and plain HTTP (for --allow-http and downgrade tests)
//!     ├─ spawn `nginx -p DIR -e DIR/error.log -c DIR/nginx.conf -g 'daemon off;'`
//!     │    with `master_process off`, so the PID we started is the only nginx process
//!     └─ wait until the HTTPS port accepts TCP, or fail with the error log
//!   nginx.https_url("/ird"), nginx.ca_file()
//!   drop(nginx) ─▶ kill(pid) + wait, temp dir removed (ALTODISC_KEEP_PEER_DIRS=1 keeps it)
//! ```
//!
//! Location strings of redirects may contain `{https}` and `{http}`, replaced by
//! `127.0.0.1:PORT` of the respective listener.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{find_binary, free_port, log_tail_of, peer_dir_path, remove_peer_dir, stop_peer};

/// The SAN of the test server certificate.
pub const SERVER_SAN: &str = "IP:127.0.0.1,DNS:alto.test";

/// How long [`Nginx::start`] waits for the listener.
pub const NGINX_STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

/// What nginx answers on one exact path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// 200 with this `Content-Type` and body (served from a file, with `Content-Length`).
    Body {
        /// `Content-Type` sent.
        content_type: String,
        /// The body.
        body: Vec<u8>,
    },
    /// A status with an inline text body (nginx `return STATUS "text"`).
    Status {
        /// HTTP status.
        status: u16,
        /// `Content-Type` sent.
        content_type: String,
        /// The body; must not contain `$`, `'` or `\` (nginx config quoting).
        text: String,
    },
    /// A redirect (nginx `return 30x LOCATION`).
    Redirect {
        /// 301, 302, 303, 307 or 308.
        status: u16,
        /// `Location`; `{https}` / `{http}` become `127.0.0.1:PORT`.
        location: String,
    },
    /// 200 with a generated body of `len` bytes (spaces), written to a file once.
    Large {
        /// `Content-Type` sent.
        content_type: String,
        /// Size in bytes.
        len: u64,
        /// Send it without `Content-Length` (chunked, through the SSI filter), so the client
        /// cannot refuse it up front and must count while reading.
        chunked: bool,
    },
    /// 200 with a generated body of `len` bytes sent at `bytes_per_second` (nginx `limit_rate`):
    /// a server that trickles, for timeout tests.
    Slow {
        /// `Content-Type` sent.
        content_type: String,
        /// Size in bytes.
        len: u64,
        /// Rate limit.
        bytes_per_second: u32,
    },
}

/// One exact-match location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Request path, e.g. `/ird`.
    pub path: String,
    /// The answer.
    pub reply: Reply,
}

impl Route {
    /// 200 with `body` as `content_type`.
    pub fn body(path: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            path: path.to_owned(),
            reply: Reply::Body {
                content_type: content_type.to_owned(),
                body: body.into(),
            },
        }
    }

    /// `status` with an inline `text` body.
    pub fn status(path: &str, status: u16, content_type: &str, text: &str) -> Self {
        Self {
            path: path.to_owned(),
            reply: Reply::Status {
                status,
                content_type: content_type.to_owned(),
                text: text.to_owned(),
            },
        }
    }

    /// A redirect to `location`.
    pub fn redirect(path: &str, status: u16, location: &str) -> Self {
        Self {
            path: path.to_owned(),
            reply: Reply::Redirect {
                status,
                location: location.to_owned(),
            },
        }
    }

    /// A generated body of `len` bytes sent at `bytes_per_second`.
    pub fn slow(path: &str, content_type: &str, len: u64, bytes_per_second: u32) -> Self {
        Self {
            path: path.to_owned(),
            reply: Reply::Slow {
                content_type: content_type.to_owned(),
                len,
                bytes_per_second,
            },
        }
    }

    /// A generated body of `len` bytes.
    pub fn large(path: &str, content_type: &str, len: u64, chunked: bool) -> Self {
        Self {
            path: path.to_owned(),
            reply: Reply::Large {
                content_type: content_type.to_owned(),
                len,
                chunked,
            },
        }
    }
}

/// A test CA and a server certificate signed by it, made with the `openssl` command.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate (PEM): what a client passes as `--ca-file`.
    pub ca_cert: PathBuf,
    /// The server certificate (PEM).
    pub server_cert: PathBuf,
    /// The server key (PEM).
    pub server_key: PathBuf,
}

impl TestPki {
    /// Makes a P-256 CA and a server certificate for `san` (e.g. [`SERVER_SAN`]) in `dir`.
    ///
    /// # Errors
    /// When `openssl` is missing or fails (its stderr is in the error).
    pub fn generate(dir: &Path, san: &str) -> io::Result<Self> {
        let openssl = find_binary("openssl")
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "openssl not installed"))?;
        let p = |f: &str| dir.join(f);
        let ext = p("server.ext");
        fs::write(
            &ext,
            format!(
                "subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\n\
                 keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
            ),
        )?;
        let run = |args: &[&str]| -> io::Result<()> {
            let out = Command::new(&openssl)
                .args(args)
                .current_dir(dir)
                .stdin(Stdio::null())
                .output()?;
            if out.status.success() {
                Ok(())
            } else {
                Err(io::Error::other(format!(
                    "openssl {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                )))
            }
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509"];
        ca.extend(ec);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=altodisc test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        run(&ca)?;
        let mut csr = vec!["req"];
        csr.extend(ec);
        csr.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=altodisc test server",
        ]);
        run(&csr)?;
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "2",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ])?;
        Ok(Self {
            ca_cert: p("ca.pem"),
            server_cert: p("server.pem"),
            server_key: p("server.key"),
        })
    }
}

/// A running nginx. Dropping it kills the process by its PID, reaps it, removes its directory.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    https_port: u16,
    http_port: u16,
    pki: TestPki,
}

impl Nginx {
    /// Starts nginx serving `routes` over HTTPS and plain HTTP; every other path is 404.
    ///
    /// # Errors
    /// When nginx or openssl is missing, or nginx exits or does not listen in time (the error
    /// carries its error log).
    pub fn start(routes: &[Route]) -> io::Result<Self> {
        let binary = find_binary("nginx")
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "nginx not installed"))?;
        let dir = make_dir()?;
        let pki = TestPki::generate(&dir, SERVER_SAN)?;
        // A port found free can be taken before nginx binds it: retry a few times.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::start_once(&binary, &dir, &pki, routes) {
                Ok(n) => return Ok(n),
                Err(e) if attempt < 3 => eprintln!("nginx attempt {attempt} failed: {e}"),
                Err(e) => {
                    remove_peer_dir(&dir);
                    return Err(e);
                }
            }
        }
    }

    fn start_once(binary: &Path, dir: &Path, pki: &TestPki, routes: &[Route]) -> io::Result<Self> {
        let https_port = free_port()?;
        let http_port = loop {
            let p = free_port()?;
            if p != https_port {
                break p;
            }
        };
        let www = dir.join("www");
        fs::create_dir_all(&www)?;
        fs::create_dir_all(dir.join("tmp"))?;
        let conf = nginx_conf(dir, pki, https_port, http_port, routes)?;
        let conf_path = dir.join("nginx.conf");
        fs::write(&conf_path, conf)?;
        let _ = fs::remove_file(dir.join("error.log"));
        let mut cmd = Command::new(binary);
        cmd.arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .arg("-g")
            .arg("daemon off;")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(fs::File::create(dir.join("stderr.log"))?));
        let child = cmd.spawn()?;
        let mut nginx = Self {
            child,
            dir: dir.to_owned(),
            https_port,
            http_port,
            pki: pki.clone(),
        };
        nginx.wait_ready()?;
        Ok(nginx)
    }

    fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + NGINX_STARTUP_TIMEOUT;
        let addrs =
            [self.https_port, self.http_port].map(|p| SocketAddr::from((Ipv4Addr::LOCALHOST, p)));
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "nginx exited during start-up ({status}); log:\n{}",
                    self.log_tail()
                )));
            }
            if addrs
                .iter()
                .all(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok())
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "nginx did not listen within {NGINX_STARTUP_TIMEOUT:?}; log:\n{}",
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `https://127.0.0.1:PORT{path}`.
    #[must_use]
    pub fn https_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.https_port)
    }

    /// `http://127.0.0.1:PORT{path}` (the plain listener).
    #[must_use]
    pub fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    /// The HTTPS port.
    #[must_use]
    pub fn https_port(&self) -> u16 {
        self.https_port
    }

    /// The test CA certificate to trust.
    #[must_use]
    pub fn ca_file(&self) -> &Path {
        &self.pki.ca_cert
    }

    /// nginx's PID (the only nginx process: `master_process off`).
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The access log so far, one line per request:
    /// `$request_uri $status $body_bytes_sent "$http_accept"`.
    #[must_use]
    pub fn access_log(&self) -> String {
        fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }

    /// The end of the error log and stderr.
    #[must_use]
    pub fn log_tail(&self) -> String {
        let mut s = String::new();
        for f in ["error.log", "stderr.log"] {
            if let Ok(mut file) = fs::File::open(self.dir.join(f)) {
                let _ = file.read_to_string(&mut s);
            }
        }
        log_tail_of(&s)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        stop_peer(&mut self.child, &self.dir);
    }
}

fn make_dir() -> io::Result<PathBuf> {
    let dir = peer_dir_path("nginx");
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// nginx quoting: a double-quoted string with `"` and `\` escaped.
fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn nginx_conf(
    dir: &Path,
    pki: &TestPki,
    https_port: u16,
    http_port: u16,
    routes: &[Route],
) -> io::Result<String> {
    let d = |f: &str| q(&dir.join(f).display().to_string());
    let mut s = format!(
        "master_process off;\nworker_processes 1;\npid {pid};\nerror_log {err} info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  log_format t '$request_uri $status $body_bytes_sent \"$http_accept\"';\n  access_log {acc} t;\n  \
         client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n  \
         fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n  \
         types {{ }}\n  default_type application/octet-stream;\n  server_tokens off;\n  \
         absolute_redirect off;\n  \
         server {{\n    listen 127.0.0.1:{https_port} ssl;\n    listen 127.0.0.1:{http_port};\n    \
         server_name alto.test;\n    ssl_certificate {cert};\n    ssl_certificate_key {key};\n    \
         root {www};\n    location / {{ return 404; }}\n",
        pid = d("nginx.pid"),
        err = d("error.log"),
        acc = d("access.log"),
        tmp = dir.join("tmp").display(),
        cert = q(&pki.server_cert.display().to_string()),
        key = q(&pki.server_key.display().to_string()),
        www = d("www"),
    );
    let subst = |loc: &str| {
        loc.replace("{https}", &format!("127.0.0.1:{https_port}"))
            .replace("{http}", &format!("127.0.0.1:{http_port}"))
    };
    for (i, route) in routes.iter().enumerate() {
        let file = dir.join("www").join(format!("r{i}.body"));
        let path = q(&route.path);
        match &route.reply {
            Reply::Body { content_type, body } => {
                fs::write(&file, body)?;
                let _ = writeln!(
                    s,
                    "    location = {path} {{ default_type {}; alias {}; }}",
                    q(content_type),
                    q(&file.display().to_string())
                );
            }
            Reply::Status {
                status,
                content_type,
                text,
            } => {
                if text.contains(['$', '\'', '\\']) {
                    return Err(io::Error::other(
                        "Reply::Status text must not contain $ ' \\",
                    ));
                }
                let _ = writeln!(
                    s,
                    "    location = {path} {{ default_type {}; return {status} '{text}'; }}",
                    q(content_type)
                );
            }
            Reply::Redirect { status, location } => {
                let _ = writeln!(
                    s,
                    "    location = {path} {{ return {status} {}; }}",
                    q(&subst(location))
                );
            }
            Reply::Large {
                content_type,
                len,
                chunked,
            } => {
                write_spaces(&file, *len)?;
                // The SSI filter drops Content-Length, so nginx sends the file chunked.
                let ssi = if *chunked {
                    "ssi on; ssi_types *; "
                } else {
                    ""
                };
                let _ = writeln!(
                    s,
                    "    location = {path} {{ {ssi}default_type {}; alias {}; }}",
                    q(content_type),
                    q(&file.display().to_string())
                );
            }
            Reply::Slow {
                content_type,
                len,
                bytes_per_second,
            } => {
                write_spaces(&file, *len)?;
                let _ = writeln!(
                    s,
                    "    location = {path} {{ limit_rate {bytes_per_second}; default_type {}; alias {}; }}",
                    q(content_type),
                    q(&file.display().to_string())
                );
            }
        }
    }
    s.push_str("  }\n}\n");
    Ok(s)
}

fn write_spaces(path: &Path, len: u64) -> io::Result<()> {
    use std::io::Write as _;
    let mut f = io::BufWriter::new(fs::File::create(path)?);
    let block = [b' '; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(block.len() as u64)).unwrap_or(block.len());
        f.write_all(&block[..n])?;
        left -= n as u64;
    }
    f.flush()
}
