//! The agenda event stream through the production router.

use std::time::Duration;

use http_body_util::BodyExt as _;

use crate::harness::TestApp;

/// The `id:` and `data:` of the next event on `body` (keep-alive comments skipped).
async fn proximo(body: &mut axum::body::Body, buf: &mut String) -> (u64, String) {
    loop {
        if let Some(fim) = buf.find("\n\n") {
            let bloco: String = buf.drain(..fim + 2).collect();
            let campo = |nome: &str| {
                bloco
                    .lines()
                    .find_map(|l| l.strip_prefix(nome))
                    .map(|v| v.trim().to_owned())
            };
            if let (Some(id), Some(data)) = (campo("id:"), campo("data:")) {
                return (id.parse().expect("numeric id"), data);
            }
            continue;
        }
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an event within 10 s")
            .expect("the stream is open")
            .expect("a frame");
        if let Some(dados) = frame.data_ref() {
            buf.push_str(&String::from_utf8_lossy(dados));
        }
    }
}

/// A dashboard reconnecting with `Last-Event-ID` to an instance still behind the one it came
/// from (SPEC-2 §16) must not get again the events it already has: that instance publishes
/// them live, with the same ids, as it catches up. Played here by publishing, after the
/// subscription, one event at the client's `Last-Event-ID` and one after it: only the second
/// arrives. (The first used to arrive too.)
#[tokio::test]
async fn live_events_up_to_last_event_id_are_not_sent_again() {
    let app = TestApp::new().await;
    // A few ids ahead of this server's newest: one it has not reached yet.
    let visto = app.state.events.newest_id() + 10;
    let (status, mut body) = app
        .stream(
            "/sistema/agenda/stream",
            &[("last-event-id", &visto.to_string())],
        )
        .await;
    assert_eq!(status, 200);
    let events = &app.state.events;
    events.publish_at(
        visto - 1,
        r#"{"tipo":"horario_reservado","dados":{"antigo":1}}"#,
    );
    events.publish_at(
        visto,
        r#"{"tipo":"horario_reservado","dados":{"antigo":2}}"#,
    );
    events.publish_at(
        visto + 1,
        r#"{"tipo":"horario_reservado","dados":{"novo":true}}"#,
    );
    let mut buf = String::new();
    let (id, data) = proximo(&mut body, &mut buf).await;
    assert_eq!((id, data.contains("novo")), (visto + 1, true), "{data}");
}

/// A `Last-Event-ID` far ahead of every id this server has is not one of its own (another
/// store's, or from before the clock was set back): the stream goes on with live events
/// instead of staying silent until ids catch up with it (possibly never).
#[tokio::test]
async fn a_last_event_id_from_elsewhere_does_not_silence_the_stream() {
    let app = TestApp::new().await;
    let alheio = app.state.events.newest_id() + 5_000_000_000;
    let (status, mut body) = app
        .stream(
            "/sistema/agenda/stream",
            &[("last-event-id", &alheio.to_string())],
        )
        .await;
    assert_eq!(status, 200);
    app.state.events.publish(
        "horario_atualizado",
        &serde_json::json!({"medico_id": "m1"}),
    );
    let mut buf = String::new();
    let (_, data) = proximo(&mut body, &mut buf).await;
    assert!(data.contains("horario_atualizado"), "{data}");
}
