//! The server secret (SPEC-2 §13) with the real binary: created at the first start in the
//! data folder with mode 0600, the same bytes after a restart (links keep working), never in
//! a backup, and a corrupt file stops start-up instead of being replaced.

use std::time::Duration;

use agendamento::infra::segredo::SegredoServidor;

use crate::backups::{conteudo_backup, fazer_backup};
use crate::common::str_field;
use crate::helpers::{TestServer, criar_consulta, paciente_e_medico};

#[tokio::test]
async fn the_secret_is_created_0600_kept_across_restarts_and_never_in_a_backup() {
    let mut srv = TestServer::start();
    let arquivo = srv.data_dir().join("segredo.bin");
    let antes = std::fs::read(&arquivo).expect("segredo.bin created at start");
    assert_eq!(antes.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&arquivo)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
    // A link signed with the file's secret opens the appointment's page, before and after
    // a restart: the server signs with that file and reads it back.
    let (pid, mid) = paciente_e_medico(&srv).await;
    let amanha = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(48))
        .expect("time");
    let local = amanha.in_tz("America/Sao_Paulo").expect("tz").datetime();
    let ini = local.strftime("%Y-%m-%dT%H:00:00").to_string();
    let fim = local.strftime("%Y-%m-%dT%H:30:00").to_string();
    let c = criar_consulta(&srv, &pid, &mid, &ini, &fim).await;
    let chave = SegredoServidor::de_bytes(antes.clone().try_into().expect("32 bytes"));
    let token = agendamento::services::links::assinar(
        &chave,
        &str_field(&c, "id"),
        amanha.as_second() + 3600,
    )
    .expect("uuid");
    srv.get(&format!("/c/{token}")).await.expect_status(200);
    srv.stop();
    srv.restart();
    assert_eq!(std::fs::read(&arquivo).expect("still there"), antes);
    srv.get(&format!("/c/{token}")).await.expect_status(200);

    // A backup holds the clinic's records, not the server's secret.
    let (_, nome) = fazer_backup(&srv, "/backup/executar").await;
    let (entries, _) = conteudo_backup(&srv, &nome).await;
    for (n, bytes) in &entries {
        assert!(!n.contains("segredo"), "{n} in the backup");
        assert!(
            !bytes.windows(antes.len()).any(|w| w == antes.as_slice()),
            "the secret's bytes are in {n}"
        );
    }
    // Nor its bytes written as text anywhere in the archive (hex or base64 of it).
    let hex: String = antes.iter().map(|b| format!("{b:02x}")).collect();
    for (n, bytes) in &entries {
        assert!(
            !String::from_utf8_lossy(bytes).contains(&hex),
            "hex secret in {n}"
        );
    }
    // Nothing about it reaches the log.
    assert!(!srv.stderr().contains(&hex));
}

#[tokio::test]
async fn a_corrupt_secret_stops_start_up_and_is_left_as_it_was() {
    let mut srv = TestServer::start();
    srv.stop();
    let arquivo = srv.data_dir().join("segredo.bin");
    std::fs::write(&arquivo, b"curto demais").expect("corrupt it");
    let f = srv.start_expecting_failure(Duration::from_secs(20));
    assert!(
        f.status.is_some_and(|s| !s.success()),
        "the server must not start: {f:?}"
    );
    assert!(f.stderr.contains("segredo"), "a clear error: {}", f.stderr);
    assert!(f.stderr.contains("corrompido"), "{}", f.stderr);
    assert_eq!(std::fs::read(&arquivo).expect("kept"), b"curto demais");
}
