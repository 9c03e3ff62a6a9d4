//! `agendamento saude` (the container `HEALTHCHECK`, issue 15): exit 0 against a running
//! server, 1 when nothing listens; the address comes from the argument or `AGENDAMENTO_ADDR`.

use std::process::Command;

use crate::helpers::*;

fn probe(args: &[&str], env_addr: Option<&str>) -> std::process::Output {
    let mut c = Command::new(binary());
    c.arg("saude").args(args).env_remove("AGENDAMENTO_ADDR");
    if let Some(a) = env_addr {
        c.env("AGENDAMENTO_ADDR", a);
    }
    c.output().expect("the binary runs")
}

#[test]
fn saude_subcommand_exits_0_against_a_running_server_and_1_without_one() {
    let srv = TestServer::start();
    let addr = srv.base.trim_start_matches("http://").to_owned();

    let by_arg = probe(&[&addr], None);
    let by_env = probe(&[], Some(&addr));
    drop(srv);
    let closed = probe(&[&addr], None);

    assert!(by_arg.status.success(), "{by_arg:?}");
    assert!(by_env.status.success(), "{by_env:?}");
    assert_eq!(closed.status.code(), Some(1), "{closed:?}");
    assert!(String::from_utf8_lossy(&closed.stderr).contains("não saudável"));
}
