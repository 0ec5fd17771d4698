//! Real clients: `dig` (BIND) and `kdig` (Knot) parse every altodisc answer of the differential
//! query list and report the same status.

use std::process::Command;

use altodisc_testpeers::require_tool_or_skip;
use hickory_proto::op::ResponseCode;

use crate::common::Running;
use crate::differential::{Via, ask, query_list};

fn status_word(rcode: ResponseCode) -> &'static str {
    match rcode {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        other => panic!("unexpected rcode {other:?}"),
    }
}

fn run_client(tool: &str, package: &str) {
    if !require_tool_or_skip(tool, package) {
        return;
    }
    let r = Running::bundled();
    let port = r.addr.port().to_string();
    for (name, t, via, what) in query_list() {
        let mut args = vec![
            format!("@{}", r.addr.ip()),
            "-p".to_owned(),
            port.clone(),
            name.clone(),
            t.to_string(),
            "+norec".to_owned(),
        ];
        if tool == "dig" {
            args.extend(["+tries=1".to_owned(), "+time=3".to_owned()]);
        } else {
            args.extend(["+retry=0".to_owned(), "+timeout=3".to_owned()]);
        }
        match via {
            // +ignore: show the truncated UDP answer instead of retrying over TCP.
            Via::NoEdns => args.extend(["+noedns".to_owned(), "+ignore".to_owned()]),
            Via::Edns1232 => args.push("+bufsize=1232".to_owned()),
            Via::Tcp => args.push("+tcp".to_owned()),
        }
        let out = Command::new(tool)
            .args(&args)
            .output()
            .expect("client runs");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{tool} {args:?} ({what}) failed:\n{text}"
        );
        for bad in [
            "malformed",
            "parse error",
            "Got bad packet",
            "failed",
            "Warning",
            "WARNING",
        ] {
            assert!(!text.contains(bad), "{tool} ({what}) says {bad:?}:\n{text}");
        }
        let expected = status_word(ask(r.addr, &name, t, via).rcode);
        assert!(
            text.contains(&format!("status: {expected}")),
            "{tool} ({what}) expected status {expected}:\n{text}"
        );
    }
}

#[test]
fn dig_parses_every_answer() {
    run_client("dig", "dnsutils");
}

#[test]
fn kdig_parses_every_answer() {
    run_client("kdig", "knot-dnsutils");
}
