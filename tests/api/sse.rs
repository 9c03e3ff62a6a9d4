//! Live events (SPEC §5): the agenda stream's unnamed events with increasing ids, replay
//! after `Last-Event-ID`, and the logs (list and stream).

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;
use crate::sched_helpers::*;

/// How long a test waits for one expected event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(15);

/// Asserts the raw stream has no `event:` line (unnamed events reach `onmessage`).
#[track_caller]
fn assert_unnamed(stream: &SseStream) {
    assert!(
        !stream.raw.lines().any(|l| l.starts_with("event:")),
        "events must be unnamed (no `event:` line):\n{}",
        stream.raw
    );
    assert!(stream.seen.iter().all(|e| e.event.is_none()));
}

/// Asserts the ids of the events seen so far strictly increase.
#[track_caller]
fn assert_increasing_ids(events: &[SseEvent]) {
    let ids: Vec<u64> = events.iter().map(SseEvent::id_num).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids should strictly increase: {ids:?}"
    );
}

#[tokio::test]
async fn agenda_stream_shows_horario_reservado_then_horario_ocupado_for_a_booking() {
    let srv = TestServer::start();
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(&srv, 80, &[("segunda", "08:00", "12:00")]).await;
    let slot = at(seg, "09:00");
    let mut stream = SseStream::open(&srv, "/sistema/agenda/stream", None).await;
    assert!(
        stream.content_type.starts_with("text/event-stream"),
        "content type {:?}",
        stream.content_type
    );

    let task_id = agendar_ok(&srv, &pid, &mid, &slot, &at(seg, "09:30")).await;

    stream
        .wait_for("tarefa_atualizada concluida", EVENT_TIMEOUT, |e| {
            e.tipo() == "tarefa_atualizada"
                && e.dados()["task_id"] == json!(task_id)
                && e.dados()["status"] == "concluida"
        })
        .await;
    let seen = stream.seen.clone();
    assert_unnamed(&stream);
    assert_increasing_ids(&seen);
    assert!(
        seen.iter()
            .all(|e| e.json()["tipo"].is_string() && e.json().get("dados").is_some()),
        "every data is {{tipo, dados}}: {seen:#?}"
    );
    let pos = |pred: &dyn Fn(&SseEvent) -> bool| {
        seen.iter()
            .position(pred)
            .unwrap_or_else(|| panic!("event missing from {seen:#?}"))
    };
    let reservado = pos(&|e| is_slot_event(e, "horario_reservado", &mid, &slot));
    let ocupado = pos(&|e| is_slot_event(e, "horario_ocupado", &mid, &slot));
    assert!(reservado < ocupado, "reservado before ocupado: {seen:#?}");
    assert!(seen[reservado].dados()["expira_em"].is_string());
    let task = wait_task(&srv, &task_id, TASK_TIMEOUT).await;
    assert_eq!(
        seen[ocupado].dados()["consulta"]["id"],
        task["resultado"]["consulta"]["id"],
        "horario_ocupado names the booked consulta"
    );
    pos(&|e| e.tipo() == "consulta_atualizada" && e.dados()["medico_id"] == json!(mid));
    let statuses: Vec<String> = seen
        .iter()
        .filter(|e| e.tipo() == "tarefa_atualizada" && e.dados()["task_id"] == json!(task_id))
        .map(|e| e.dados()["status"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(statuses, vec!["pendente", "executando", "concluida"]);
}

#[tokio::test]
async fn agenda_stream_replays_exactly_the_events_after_last_event_id_then_live_ones() {
    let srv = TestServer::start();
    let seg = monday(3);
    let mid = medico_com_horarios(&srv, 81, &[("segunda", "08:00", "12:00")]).await;
    let s: Vec<String> = ["08:00", "08:30", "09:00", "09:30"]
        .iter()
        .map(|t| at(seg, t))
        .collect();
    let mut continuous = SseStream::open(&srv, "/sistema/agenda/stream", None).await;
    reservar(&srv, &mid, &s[0]).await.expect_status(200);
    reservar(&srv, &mid, &s[1]).await.expect_status(200);
    reservar(&srv, &mid, &s[2]).await.expect_status(200);
    liberar(&srv, &mid, &s[0]).await.expect_status(200);
    liberar(&srv, &mid, &s[1]).await.expect_status(200);
    continuous
        .wait_for("the last liberar", EVENT_TIMEOUT, |e| {
            is_slot_event(e, "horario_liberado", &mid, &s[1])
        })
        .await;
    let history = continuous.seen.clone();
    assert_eq!(history.len(), 5, "five events so far: {history:#?}");
    assert_increasing_ids(&history);

    // Reconnect after the 2nd event (header) and after the 4th (query parameter).
    let mut by_header =
        SseStream::open(&srv, "/sistema/agenda/stream", history[1].id.as_deref()).await;
    let mut by_query = SseStream::open(
        &srv,
        &format!(
            "/sistema/agenda/stream?last_event_id={}",
            history[3].id_num()
        ),
        None,
    )
    .await;
    let replayed = by_header.take(3, EVENT_TIMEOUT).await;
    let replayed_q = by_query.take(1, EVENT_TIMEOUT).await;

    let pairs = |evs: &[SseEvent]| -> Vec<(u64, String)> {
        evs.iter().map(|e| (e.id_num(), e.data.clone())).collect()
    };
    assert_eq!(
        pairs(&replayed),
        pairs(&history[2..]),
        "replay after the 2nd"
    );
    assert_eq!(
        pairs(&replayed_q),
        pairs(&history[4..]),
        "replay after the 4th"
    );

    // Then live events, the same for everyone and with nothing in between.
    reservar(&srv, &mid, &s[3]).await.expect_status(200);
    let live = continuous.take(1, EVENT_TIMEOUT).await;
    let live_h = by_header.take(1, EVENT_TIMEOUT).await;
    let live_q = by_query.take(1, EVENT_TIMEOUT).await;
    assert!(
        is_slot_event(&live[0], "horario_reservado", &mid, &s[3]),
        "{live:?}"
    );
    assert_eq!(pairs(&live_h), pairs(&live));
    assert_eq!(pairs(&live_q), pairs(&live));
    assert!(live[0].id_num() > history[4].id_num());
    assert_unnamed(&continuous);
    assert_unnamed(&by_header);
}

/// `[YYYY-MM-DD HH:MM:SS] [LEVEL] ` at the start of a log line.
fn has_log_prefix(line: &str) -> bool {
    let b = line.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let stamp = at(0, b'[')
        && digits(1..5)
        && at(5, b'-')
        && digits(6..8)
        && at(8, b'-')
        && digits(9..11)
        && at(11, b' ')
        && digits(12..14)
        && at(14, b':')
        && digits(15..17)
        && at(17, b':')
        && digits(18..20)
        && at(20, b']')
        && at(21, b' ');
    stamp
        && ["[INFO] ", "[WARN] ", "[ERROR] ", "[DEBUG] "]
            .iter()
            .any(|lvl| line[22..].starts_with(lvl))
}

#[test]
fn log_prefix_matcher_accepts_the_spec_example_only() {
    assert!(has_log_prefix(
        "[2026-01-31 14:05:09] [INFO] alvo: mensagem"
    ));
    assert!(has_log_prefix(
        "[2026-01-31 14:05:09] [ERROR] alvo: mensagem"
    ));
    assert!(!has_log_prefix(
        "[2026-01-31T14:05:09] [INFO] alvo: mensagem"
    ));
    assert!(!has_log_prefix(
        "[2026-01-31 14:05:09] [info] alvo: mensagem"
    ));
    assert!(!has_log_prefix("2026-01-31 14:05:09 INFO alvo: mensagem"));
}

#[tokio::test]
async fn logs_list_lines_in_the_spec_format_newest_first_without_personal_data() {
    let srv = TestServer::start();
    let seg = monday(3);
    let paciente = criar_paciente(&srv, "Zuleica Privadíssima", 4).await;
    let pid = str_field(&paciente, "id");
    let cpf = str_field(&paciente, "cpf");
    let mid = medico_com_horarios(&srv, 82, &[("segunda", "08:00", "12:00")]).await;
    let first = agendar_ok(&srv, &pid, &mid, &at(seg, "08:00"), &at(seg, "08:30")).await;
    let second = agendar_ok(&srv, &pid, &mid, &at(seg, "09:00"), &at(seg, "09:30")).await;

    let r = srv.get("/sistema/logs").await;

    r.expect_status(200);
    let logs: Vec<String> = r.body["logs"]
        .as_array()
        .unwrap_or_else(|| panic!("{{\"logs\": [...]}} expected, got {}", r.text))
        .iter()
        .map(|l| l.as_str().expect("log line is a string").to_string())
        .collect();
    assert!(!logs.is_empty());
    for line in &logs {
        assert!(has_log_prefix(line), "log line format: {line:?}");
        assert!(
            !line.contains("Zuleica") && !line.contains(&cpf),
            "personal data in a log line: {line:?}"
        );
    }
    let accepted = |task: &str| {
        logs.iter()
            .position(|l| l.contains("task accepted") && l.contains(task))
            .unwrap_or_else(|| panic!("no `task accepted` line for {task} in {logs:#?}"))
    };
    assert!(accepted(&second) < accepted(&first), "newest first");
    let one = srv.get("/sistema/logs?limit=1").await;
    one.expect_status(200);
    assert_eq!(one.body["logs"].as_array().map(Vec::len), Some(1));
    assert_validation(
        &srv.get("/sistema/logs?limit=0").await,
        &["limit"],
        "limit 0",
    );
}

#[tokio::test]
async fn logs_stream_delivers_a_line_when_a_booking_is_accepted() {
    let srv = TestServer::start_with(&["--worker-paused"]);
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(&srv, 83, &[("segunda", "08:00", "12:00")]).await;
    let mut stream = SseStream::open(&srv, "/sistema/logs/stream", None).await;
    assert!(
        stream.content_type.starts_with("text/event-stream"),
        "content type {:?}",
        stream.content_type
    );

    let task_id = agendar_ok(&srv, &pid, &mid, &at(seg, "08:00"), &at(seg, "08:30")).await;

    let line = stream
        .wait_for("task accepted log line", EVENT_TIMEOUT, |e| {
            e.data.contains("task accepted") && e.data.contains(&task_id)
        })
        .await;
    assert!(has_log_prefix(&line.data), "{line:?}");
    assert!(line.data.contains("[INFO] "), "{line:?}");
    assert_unnamed(&stream);
}

#[tokio::test]
async fn consulta_and_horario_changes_publish_slot_events_with_their_motivo() {
    let srv = TestServer::start();
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = str_field(
        &criar_medico(&srv, "Dra. Eventos", 84, "Cardiologia").await,
        "id",
    );
    let mut stream = SseStream::open(&srv, "/sistema/agenda/stream", None).await;

    criar_horario(&srv, &mid, "segunda", "08:00", "12:00").await;
    let c = criar_consulta(&srv, &pid, &mid, &at(seg, "08:00"), &at(seg, "08:30")).await;
    let cid = str_field(&c, "id");
    srv.put(
        &format!("/consultas/{cid}"),
        &json!({"inicio": at(seg, "09:00"), "fim": at(seg, "09:30")}),
    )
    .await
    .expect_status(200);
    srv.put(
        &format!("/consultas/{cid}"),
        &json!({"status": "cancelada"}),
    )
    .await
    .expect_status(200);
    let d = criar_consulta(&srv, &pid, &mid, &at(seg, "10:00"), &at(seg, "10:30")).await;
    srv.delete(&format!("/consultas/{}", str_field(&d, "id")))
        .await
        .expect_status(204);

    let slot_ev = |tipo: &'static str, hhmm: &'static str| {
        let slot = at(seg, hhmm);
        let mid = mid.clone();
        move |e: &SseEvent| is_slot_event(e, tipo, &mid, &slot)
    };
    let atualizado = stream
        .wait_for("horario_atualizado", EVENT_TIMEOUT, |e| {
            e.tipo() == "horario_atualizado" && e.dados()["medico_id"] == json!(mid)
        })
        .await;
    let taken = stream
        .wait_for(
            "horario_ocupado 08:00",
            EVENT_TIMEOUT,
            slot_ev("horario_ocupado", "08:00"),
        )
        .await;
    let remarcada = stream
        .wait_for(
            "horario_disponivel 08:00",
            EVENT_TIMEOUT,
            slot_ev("horario_disponivel", "08:00"),
        )
        .await;
    let moved = stream
        .wait_for(
            "horario_ocupado 09:00",
            EVENT_TIMEOUT,
            slot_ev("horario_ocupado", "09:00"),
        )
        .await;
    let cancelada = stream
        .wait_for(
            "horario_disponivel 09:00",
            EVENT_TIMEOUT,
            slot_ev("horario_disponivel", "09:00"),
        )
        .await;
    let excluida = stream
        .wait_for(
            "horario_disponivel 10:00",
            EVENT_TIMEOUT,
            slot_ev("horario_disponivel", "10:00"),
        )
        .await;

    assert_eq!(taken.dados()["consulta"]["id"], json!(cid));
    assert_eq!(remarcada.dados()["motivo"], "remarcada", "{remarcada:?}");
    assert_eq!(moved.dados()["consulta"]["id"], json!(cid));
    assert_eq!(cancelada.dados()["motivo"], "cancelada", "{cancelada:?}");
    assert_eq!(excluida.dados()["motivo"], "excluida", "{excluida:?}");
    assert!(atualizado.id_num() < taken.id_num());
    assert!(
        stream
            .seen
            .iter()
            .any(|e| e.tipo() == "consulta_atualizada" && e.dados()["status"] == "cancelada"),
        "consulta_atualizada for the cancellation: {:#?}",
        stream.seen
    );
    assert_increasing_ids(&stream.seen);
    assert_unnamed(&stream);
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_is_dropped_without_holding_back_others_and_catches_up_with_last_event_id()
 {
    // 2,500 events of ~8 KB (20 MB): far more than socket buffers and the server's
    // per-subscriber buffer hold, yet all within the replay ring (4,096 events).
    const EVENTS: usize = 2500;
    let srv = TestServer::start();
    let seg = monday(3);
    let (pid, mid) = paciente_e_medico(&srv).await;
    let c = criar_consulta(&srv, &pid, &mid, &at(seg, "08:00"), &at(seg, "08:30")).await;
    let path = format!("/consultas/{}", str_field(&c, "id"));
    // 2,000 characters (the maximum) of 4-byte UTF-8 each, two versions so every PUT changes it.
    let big = ["🩺".repeat(1999) + "a", "🩺".repeat(1999) + "b"];
    let mut slow = SseStream::open(&srv, "/sistema/agenda/stream", None).await;
    let mut fast = SseStream::open(&srv, "/sistema/agenda/stream", None).await;
    let fast_reader = tokio::spawn(async move {
        let evs = fast.take(EVENTS, Duration::from_secs(180)).await;
        (evs, fast)
    });

    for i in 0..EVENTS {
        srv.put(&path, &json!({"observacoes": big[i % 2]}))
            .await
            .expect_status(200);
    }

    let (all, _fast) = fast_reader.await.expect("fast reader");
    let ids: Vec<u64> = all.iter().map(SseEvent::id_num).collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "the reading subscriber got every event, in order, with no gap"
    );
    assert!(all.iter().all(|e| e.tipo() == "consulta_atualizada"));
    // The one that did not read: whatever it got is a prefix of the full sequence, then
    // the server ended its stream (it fell too far behind).
    let mut got = Vec::new();
    while let Some(ev) = slow.next(Duration::from_secs(10)).await {
        got.push(ev);
        if got.len() == EVENTS {
            break;
        }
    }
    assert!(
        got.len() < EVENTS,
        "a subscriber {EVENTS} events behind should have been dropped, it got them all"
    );
    // Compared by id and a digest of the data: the payloads are too big to print.
    let pairs = |evs: &[SseEvent]| -> Vec<(u64, usize, u64)> {
        evs.iter()
            .map(|e| {
                let digest = e
                    .data
                    .bytes()
                    .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
                (e.id_num(), e.data.len(), digest)
            })
            .collect()
    };
    assert!(
        pairs(&got) == pairs(&all[..got.len()]),
        "the dropped subscriber got a prefix of the events, in order"
    );
    // Reconnecting with Last-Event-ID delivers exactly the rest.
    let last = got.last().map(|e| e.id.clone().expect("id"));
    let mut again = SseStream::open(&srv, "/sistema/agenda/stream", last.as_deref()).await;
    let rest = again
        .take(EVENTS - got.len(), Duration::from_secs(60))
        .await;
    assert!(
        pairs(&rest) == pairs(&all[got.len()..]),
        "the reconnected subscriber got exactly the {} missed events",
        EVENTS - got.len()
    );
}
