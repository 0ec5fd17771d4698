//! IRD verification (RFC 7285 §9.2) against a real nginx serving over TLS with a test
//! CA: the RFC 7285 §9.2.3 IRD, the RFC's copy with its trailing comma, wrong media type, missing
//! default network map, an alto-error+json 400, redirects and loops, 50 MB bodies, TLS failures,
//! plain http, nested IRDs, and backtracking over a candidate list.

use std::time::{Duration, Instant};

use altodisc_resolver::verify::{
    IrdError, IrdVerifier, ServiceKind, TransportKind, VerifyError, VerifyOptions,
};
use altodisc_testpeers::nginx::{Nginx, Route};
use altodisc_testpeers::require_tool_or_skip;

const DIR: &str = "application/alto-directory+json";
const ERR: &str = "application/alto-error+json";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/fixtures/ird/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// The routes every test server has.
fn routes() -> Vec<Route> {
    vec![
        Route::body("/ird", DIR, fixture("rfc7285-9.2.3.json")),
        // Parameters and case of the media type are ignored (RFC 9110 §8.3.1).
        Route::body(
            "/ird-params",
            "Application/ALTO-Directory+JSON; charset=utf-8",
            fixture("rfc7285-9.2.3.json"),
        ),
        Route::body("/as-printed", DIR, fixture("rfc7285-9.2.3-as-printed.json")),
        Route::body(
            "/wrong-type",
            "application/json",
            fixture("rfc7285-9.2.3.json"),
        ),
        Route::body("/no-default", DIR, fixture("no-default-network-map.json")),
        Route::status(
            "/alto-error",
            400,
            ERR,
            std::str::from_utf8(&fixture("alto-error-e-syntax.json")).unwrap(),
        ),
        Route::redirect("/loop-a", 302, "/loop-b"),
        Route::redirect("/loop-b", 302, "/loop-a"),
        Route::redirect("/hop1", 301, "/hop2"),
        Route::redirect("/hop2", 307, "/hop3"),
        Route::redirect("/hop3", 302, "/ird"),
        Route::redirect("/to-http", 302, "http://{http}/ird"),
        Route::body("/nested-root", DIR, fixture("nested-root.json")),
        Route::body("/nested/ird", DIR, fixture("nested-child.json")),
    ]
}

/// Starts nginx with `routes`, or returns `None` (locally) when nginx/openssl are missing.
fn start(routes: &[Route]) -> Option<Nginx> {
    if !require_tool_or_skip("nginx", "nginx") || !require_tool_or_skip("openssl", "openssl") {
        return None;
    }
    Some(Nginx::start(routes).expect("nginx starts"))
}

fn options(nginx: &Nginx) -> VerifyOptions {
    let mut o = VerifyOptions::default();
    o.ca_files.push(nginx.ca_file().to_owned());
    o.connect_timeout = Duration::from_secs(5);
    o.timeout = Duration::from_secs(20);
    o
}

async fn verify(
    nginx: &Nginx,
    o: &VerifyOptions,
    path: &str,
) -> Result<altodisc_resolver::verify::IrdReport, VerifyError> {
    IrdVerifier::new(o)
        .unwrap()
        .verify(&nginx.https_url(path))
        .await
}

// TV-I 1 over TLS: the fixed RFC example verifies; services and the nested IRD are reported.
#[tokio::test]
async fn rfc7285_example_ird_verifies_over_tls() {
    let Some(nginx) = start(&routes()) else {
        return;
    };
    let o = options(&nginx);
    for path in ["/ird", "/ird-params"] {
        let report = verify(&nginx, &o, path).await.unwrap();
        assert_eq!(report.uri, nginx.https_url(path));
        assert_eq!(
            report.ird.default_network_map.as_deref(),
            Some("my-default-network-map")
        );
        assert!(report.has(ServiceKind::EndpointCost));
        assert!(report.has(ServiceKind::EndpointProperty));
        assert!(report.has(ServiceKind::NetworkMap));
        assert!(report.has(ServiceKind::CostMap));
        assert_eq!(report.nested.len(), 1);
        let nested = &report.nested[0];
        assert_eq!(nested.id, "custom-maps-resources");
        assert_eq!(nested.uri, "http://custom.alto.example.com/maps");
        assert!(!nested.followed, "nested IRDs are followed only on request");
    }
    // The request carried the Accept header of RFC 7285 §9.2.3.
    let log = nginx.access_log();
    let line = log.lines().find(|l| l.starts_with("/ird ")).unwrap();
    assert!(
        line.ends_with("\"application/alto-directory+json,application/alto-error+json\""),
        "{line}"
    );
}

// TV-I 2: the RFC's copy with the trailing comma is a strict JSON error, reported with position.
#[tokio::test]
async fn rfc_copy_with_trailing_comma_is_a_json_error() {
    let Some(nginx) = start(&routes()) else {
        return;
    };
    let err = verify(&nginx, &options(&nginx), "/as-printed")
        .await
        .unwrap_err();
    let VerifyError::Json(j) = &err else {
        panic!("expected a JSON error, got {err:?}")
    };
    assert_eq!(j.line, 57);
    assert!(j.message.contains("trailing comma"), "{err}");
    assert_eq!(err.kind(), "json");
}

// TV-I 3: 200 with application/json is not an IRD (RFC 7285 §8.3.4.2).
#[tokio::test]
async fn wrong_media_type_fails() {
    let Some(nginx) = start(&routes()) else {
        return;
    };
    let err = verify(&nginx, &options(&nginx), "/wrong-type")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        VerifyError::WrongMediaType {
            got: Some("application/json".into())
        }
    );
}

// TV-I 4: a root IRD without meta.default-alto-network-map fails (RFC 7285 §9.2.2).
#[tokio::test]
async fn missing_default_network_map_fails() {
    let Some(nginx) = start(&routes()) else {
        return;
    };
    let err = verify(&nginx, &options(&nginx), "/no-default")
        .await
        .unwrap_err();
    assert_eq!(err, VerifyError::Ird(IrdError::DefaultNetworkMapMissing));
}

// TV-I 6: a 400 alto-error+json reports meta.code.
#[tokio::test]
async fn alto_error_response_reports_meta_code() {
    let Some(nginx) = start(&routes()) else {
        return;
    };
    let err = verify(&nginx, &options(&nginx), "/alto-error")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        VerifyError::AltoError {
            status: 400,
            code: Some("E_SYNTAX".into())
        }
    );
    let err = verify(&nginx, &options(&nginx), "/not-there")
        .await
        .unwrap_err();
    assert_eq!(err, VerifyError::HttpStatus { status: 404 });
}

#[tokio::test]
async fn redirects_are_followed_within_the_limit_and_loops_refused() {
    let Some(nginx) = start(&routes()) else {
        return;
    };
    let mut o = options(&nginx);
    let report = verify(&nginx, &o, "/hop1").await.unwrap();
    assert_eq!(report.final_uri, nginx.https_url("/ird"));

    let err = verify(&nginx, &o, "/loop-a").await.unwrap_err();
    assert_eq!(err.kind(), "redirect", "{err:?}");
    assert!(err.to_string().contains("loop"), "{err}");

    o.max_redirects = 2;
    let err = verify(&nginx, &o, "/hop1").await.unwrap_err();
    assert_eq!(
        err,
        VerifyError::Redirect {
            detail: "more than 2 redirects".into()
        }
    );

    // https → http would drop the certificate check: refused unless http is allowed.
    let o = options(&nginx);
    let err = verify(&nginx, &o, "/to-http").await.unwrap_err();
    assert_eq!(err.kind(), "redirect", "{err:?}");
    assert!(err.to_string().contains("non-https"), "{err}");
}

// A 50 MB body is aborted at the limit, with and without Content-Length, without reading it all.
#[tokio::test]
async fn fifty_megabyte_body_is_aborted_at_the_size_limit() {
    const FIFTY_MB: u64 = 50 * 1024 * 1024;
    let mut r = routes();
    r.push(Route::large("/big", DIR, FIFTY_MB, false));
    r.push(Route::large("/big-chunked", DIR, FIFTY_MB, true));
    let Some(nginx) = start(&r) else { return };
    let o = options(&nginx);
    let limit = o.max_body_bytes;
    for path in ["/big", "/big-chunked"] {
        let started = Instant::now();
        let err = verify(&nginx, &o, path).await.unwrap_err();
        assert_eq!(err, VerifyError::TooLarge { limit }, "{path}");
        eprintln!("{path}: aborted after {:?}", started.elapsed());
    }
    // nginx logs what it sent when the connection is closed; the chunked transfer must have
    // been cut short, far below 50 MB.
    let deadline = Instant::now() + Duration::from_secs(10);
    let sent = loop {
        let log = nginx.access_log();
        let line = log.lines().find(|l| l.starts_with("/big-chunked "));
        if let Some(line) = line {
            break line
                .split_whitespace()
                .nth(2)
                .unwrap()
                .parse::<u64>()
                .unwrap();
        }
        assert!(Instant::now() < deadline, "no access log line: {log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("nginx sent {sent} bytes of the chunked 50 MB body");
    assert!(sent < FIFTY_MB / 2, "sent {sent}");
}

#[tokio::test]
async fn untrusted_ca_and_wrong_host_are_tls_errors() {
    let Some(nginx) = start(&routes()) else {
        return;
    };
    // System roots only: the test CA is not trusted.
    let err = IrdVerifier::new(&VerifyOptions::default())
        .unwrap()
        .verify(&nginx.https_url("/ird"))
        .await
        .unwrap_err();
    assert!(err.is_tls(), "{err:?}");

    // The certificate names 127.0.0.1 and alto.test, not localhost (RFC 6125 name check).
    let uri = format!("https://localhost:{}/ird", nginx.https_port());
    let err = IrdVerifier::new(&options(&nginx))
        .unwrap()
        .verify(&uri)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Transport {
                kind: TransportKind::Tls,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn plain_http_only_when_allowed() {
    let Some(nginx) = start(&routes()) else {
        return;
    };
    let uri = nginx.http_url("/ird");
    let mut o = options(&nginx);
    let err = IrdVerifier::new(&o)
        .unwrap()
        .verify(&uri)
        .await
        .unwrap_err();
    assert_eq!(err, VerifyError::InsecureScheme { uri: uri.clone() });
    assert!(err.is_usage());
    o.allow_http = true;
    let report = IrdVerifier::new(&o).unwrap().verify(&uri).await.unwrap();
    assert_eq!(
        report.ird.default_network_map.as_deref(),
        Some("my-default-network-map")
    );
}

#[tokio::test]
async fn nested_irds_are_followed_when_asked_and_cycles_stop() {
    let Some(nginx) = start(&routes()) else {
        return;
    };
    let mut o = options(&nginx);
    o.follow_nested = true;
    let report = verify(&nginx, &o, "/nested-root").await.unwrap();
    assert!(report.has(ServiceKind::FilteredNetworkMap));
    assert_eq!(report.nested.len(), 1);
    let child = &report.nested[0];
    assert_eq!(child.uri, nginx.https_url("/nested/ird"));
    assert!(child.followed && child.error.is_none(), "{child:?}");
    let child_report = child.report.as_ref().unwrap();
    assert!(child_report.has(ServiceKind::FilteredCostMap));
    // The child points back at the root: not fetched again.
    assert_eq!(child_report.nested.len(), 1);
    assert!(!child_report.nested[0].followed);
    assert_eq!(
        child_report.nested[0].not_followed_reason.as_deref(),
        Some("already visited")
    );

    // Depth bound: depth 0 follows nothing.
    o.max_nested_depth = 0;
    let report = verify(&nginx, &o, "/nested-root").await.unwrap();
    assert!(!report.nested[0].followed);
}

// RFC 3958 §2.2.4 backtracking: a broken candidate is reported and the next one is tried.
#[tokio::test]
async fn verify_in_order_backtracks_to_the_next_candidate() {
    let Some(nginx) = start(&routes()) else {
        return;
    };
    let verifier = IrdVerifier::new(&options(&nginx)).unwrap();
    let candidates = [
        nginx.https_url("/wrong-type"),
        nginx.https_url("/ird"),
        nginx.https_url("/never-tried"),
    ];
    let tried = verifier.verify_in_order(&candidates).await;
    assert_eq!(tried.len(), 2);
    assert!(!tried[0].verified);
    assert_eq!(tried[0].error.as_ref().unwrap().kind, "wrong-media-type");
    assert!(tried[1].verified);
    assert_eq!(tried[1].uri, candidates[1]);
    assert!(!tried[1].services.is_empty());
    assert!(!nginx.access_log().contains("/never-tried"));
}

// A server that trickles its body hits the whole-request timeout; one that accepts TCP but never
// speaks TLS hits it during the handshake.
#[tokio::test]
async fn stalled_servers_time_out() {
    let mut r = routes();
    r.push(Route::slow("/slow", DIR, 64 * 1024, 2048));
    let Some(nginx) = start(&r) else { return };
    let mut o = options(&nginx);
    o.timeout = Duration::from_millis(800);
    let started = Instant::now();
    let err = verify(&nginx, &o, "/slow").await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // Listening socket that never accepts: the kernel completes the TCP handshake, TLS stalls.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("https://{}/ird", silent.local_addr().unwrap());
    let err = IrdVerifier::new(&o)
        .unwrap()
        .verify(&uri)
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    drop(silent);
}
