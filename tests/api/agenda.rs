//! `/agenda` (SPEC §3): the slot grid from the working hours, slot states, the clinic's
//! time zone, and holds (reservar / liberar, expiry, surviving a restart).

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;
use crate::sched_helpers::*;

/// `[(slot, state)]` → the slots only.
fn keys(slots: &[(String, String)]) -> Vec<String> {
    slots.iter().map(|(s, _)| s.clone()).collect()
}

// ---------------------------------------------------------------------------------------------
// The grid
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn slots_list_the_30_minute_starts_inside_the_horarios_on_mondays_only_in_time_order() {
    let srv = TestServer::start();
    let seg = monday(3);
    // The afternoon horário is created first, so time order is not creation order.
    let mid = medico_com_horarios(
        &srv,
        10,
        &[("segunda", "13:00", "14:00"), ("segunda", "08:00", "12:00")],
    )
    .await;

    let slots = slots_of(&srv, &mid, seg, 7).await;

    let expected: Vec<String> = [
        "08:00", "08:30", "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "13:00", "13:30",
    ]
    .iter()
    .map(|t| at(seg, t))
    .collect();
    assert_eq!(keys(&slots), expected, "grid of one Monday, in time order");
    assert!(slots.iter().all(|(_, e)| e == "disponivel"), "{slots:?}");
    let k = keys(&slots);
    assert!(k.contains(&at(seg, "11:30")), "11:30 + 30 min = 12:00 fits");
    assert!(!k.contains(&at(seg, "12:00")), "12:00 is the horário's end");
    assert!(k.contains(&at(seg, "13:30")), "13:30 + 30 min = 14:00 fits");
    assert!(!k.contains(&at(seg, "14:00")), "14:00 is the horário's end");
}

#[tokio::test]
async fn slots_over_two_weeks_hold_only_the_two_mondays_in_time_order() {
    let srv = TestServer::start();
    // Start on a Wednesday so the range begins mid-week.
    let qua = plus_days(monday(3), 2);
    let mid = medico_com_horarios(
        &srv,
        11,
        &[("segunda", "08:00", "09:00"), ("segunda", "13:00", "13:30")],
    )
    .await;

    let slots = slots_of(&srv, &mid, qua, 14).await;

    let seg1 = plus_days(qua, 5);
    let seg2 = plus_days(qua, 12);
    let expected = vec![
        at(seg1, "08:00"),
        at(seg1, "08:30"),
        at(seg1, "13:00"),
        at(seg2, "08:00"),
        at(seg2, "08:30"),
        at(seg2, "13:00"),
    ];
    assert_eq!(keys(&slots), expected);
}

#[tokio::test]
async fn a_horario_of_45_minutes_gives_exactly_one_slot() {
    let srv = TestServer::start();
    let seg = monday(3);
    let mid = medico_com_horarios(&srv, 12, &[("segunda", "08:00", "08:45")]).await;

    let slots = slots_of(&srv, &mid, seg, 1).await;

    assert_eq!(keys(&slots), vec![at(seg, "08:00")]);
}

#[tokio::test]
async fn slot_minutes_flag_changes_the_grid() {
    let srv = TestServer::start_with(&["--slot-minutes", "20"]);
    let seg = monday(3);
    let mid = medico_com_horarios(
        &srv,
        13,
        &[("segunda", "08:00", "09:00"), ("segunda", "10:00", "10:50")],
    )
    .await;

    let slots = slots_of(&srv, &mid, seg, 1).await;

    let expected: Vec<String> = ["08:00", "08:20", "08:40", "10:00", "10:20"]
        .iter()
        .map(|t| at(seg, t))
        .collect();
    assert_eq!(
        keys(&slots),
        expected,
        "20-minute steps; 10:40 + 20 > 10:50"
    );
}

#[tokio::test]
async fn slots_reject_days_outside_1_to_90_and_bad_dates_with_422() {
    let srv = TestServer::start();
    let seg = monday(3);
    // (query, field, reason)
    let cases = [
        (format!("days=0&de={seg}"), "days", "zero days"),
        (format!("days=91&de={seg}"), "days", "more than 90 days"),
        (format!("days=-1&de={seg}"), "days", "negative days"),
        (format!("days=abc&de={seg}"), "days", "days not a number"),
        ("days=7&de=2030-13-01".to_string(), "de", "month 13"),
        ("days=7&de=07/01/2030".to_string(), "de", "not ISO"),
    ];

    for (query, campo, reason) in cases {
        let r = srv.get(&format!("/agenda/slots?{query}")).await;
        assert_validation(&r, &[campo], reason);
    }
}

#[tokio::test]
async fn slots_accept_90_days_and_list_every_monday_in_them() {
    let srv = TestServer::start();
    let seg = monday(3);
    let mid = medico_com_horarios(&srv, 14, &[("segunda", "08:00", "08:30")]).await;

    let slots = slots_of(&srv, &mid, seg, 90).await;

    // Mondays at day 0, 7, ..., 84 of the range: 13.
    let expected: Vec<String> = (0..13)
        .map(|w| at(plus_days(seg, 7 * w), "08:00"))
        .collect();
    assert_eq!(keys(&slots), expected);
}

#[tokio::test]
async fn slots_without_medico_id_list_every_doctor_with_horarios_and_only_them() {
    let srv = TestServer::start();
    let qua = plus_days(monday(3), 2);
    let sem_horario = str_field(
        &criar_medico(&srv, "Dr. Sem Horário", 20, "Pediatria").await,
        "id",
    );
    let so_segunda = medico_com_horarios(&srv, 21, &[("segunda", "08:00", "09:00")]).await;
    let quarta = medico_com_horarios(&srv, 22, &[("quarta", "14:00", "15:00")]).await;

    let all = get_slots(&srv, &format!("de={qua}&days=1")).await;

    let medicos: Vec<&str> = all.iter().map(|(m, _)| m.as_str()).collect();
    assert!(
        !medicos.contains(&sem_horario.as_str()),
        "a doctor without horários is absent: {all:?}"
    );
    assert_eq!(medicos.len(), 2, "{all:?}");
    let of = |id: &str| {
        all.iter()
            .find(|(m, _)| m == id)
            .unwrap_or_else(|| panic!("{id} missing from {all:?}"))
            .1
            .clone()
    };
    assert_eq!(
        of(&so_segunda),
        vec![],
        "no Monday in a one-Wednesday range: {{}}"
    );
    assert_eq!(keys(&of(&quarta)), vec![at(qua, "14:00"), at(qua, "14:30")]);
    // The raw JSON has the empty object, not null or a missing key.
    let r = srv.get(&format!("/agenda/slots?de={qua}&days=1")).await;
    assert_eq!(r.body[&so_segunda], json!({}), "{}", r.text);
}

#[tokio::test]
async fn slots_for_an_unknown_medico_id_is_404() {
    let srv = TestServer::start();
    medico_com_horarios(&srv, 23, &[("segunda", "08:00", "09:00")]).await;

    let r = srv
        .get(&format!("/agenda/slots?medico_id={}&days=7", unknown_id()))
        .await;

    assert_problem(&r, 404, "not_found");
}

#[tokio::test]
async fn slots_default_to_today_in_the_clinic_time_zone() {
    // Kiritimati (UTC+14) and Pago Pago (UTC-11) are 25 h apart: their dates always differ.
    for tz in [
        "America/Sao_Paulo",
        "Asia/Tokyo",
        "Pacific/Kiritimati",
        "Pacific/Pago_Pago",
    ] {
        let srv = TestServer::start_with(&["--timezone", tz]);
        let mid = medico_com_horarios(
            &srv,
            24,
            &[
                ("segunda", "08:00", "08:30"),
                ("terca", "08:00", "08:30"),
                ("quarta", "08:00", "08:30"),
                ("quinta", "08:00", "08:30"),
                ("sexta", "08:00", "08:30"),
                ("sabado", "08:00", "08:30"),
                ("domingo", "08:00", "08:30"),
            ],
        )
        .await;

        let now_in = || {
            jiff::Timestamp::now()
                .in_tz(tz)
                .expect("tz")
                .datetime()
                .strftime("%Y-%m-%dT%H:%M:%S")
                .to_string()
        };
        // Retry if the clinic's date changes, or today's 08:00 starts, while asking.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (before, now_before) = (today_in(tz), now_in());
            let all = get_slots(&srv, &format!("medico_id={mid}&days=2")).await;
            let week = get_slots(&srv, &format!("medico_id={mid}")).await;
            let (after, now_after) = (today_in(tz), now_in());
            let eight = at(before, "08:00");
            let crossed = before != after || (now_before < eight) != (now_after < eight);
            if crossed && attempts < 3 {
                continue;
            }
            // Today's 08:00 is listed only while it has not started.
            let started = usize::from(now_before >= eight);
            let expected: Vec<String> = (0..2).map(|d| at(plus_days(before, d), "08:00")).collect();
            assert_eq!(
                keys(&all[0].1),
                expected[started..],
                "default de in {tz} should be today there ({before})"
            );
            // Without `days`: a week from today.
            let expected: Vec<String> = (0..7).map(|d| at(plus_days(before, d), "08:00")).collect();
            assert_eq!(
                keys(&week[0].1),
                expected[started..],
                "default days is 7 in {tz}"
            );
            break;
        }
    }
}

#[tokio::test]
async fn a_consulta_makes_the_slots_it_covers_ocupado_and_cancelling_it_frees_them() {
    let srv = TestServer::start();
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(&srv, 30, &[("segunda", "08:00", "12:00")]).await;
    let on_grid = criar_consulta(&srv, &pid, &mid, &at(seg, "09:00"), &at(seg, "09:30")).await;
    // Off the grid: 10:15-10:45 overlaps both the 10:00 and the 10:30 slot.
    let off_grid = criar_consulta(&srv, &pid, &mid, &at(seg, "10:15"), &at(seg, "10:45")).await;

    let slots = slots_of(&srv, &mid, seg, 1).await;

    let ocupados: Vec<String> = slots
        .iter()
        .filter(|(_, e)| e == "ocupado")
        .map(|(s, _)| s.clone())
        .collect();
    assert_eq!(
        ocupados,
        vec![at(seg, "09:00"), at(seg, "10:00"), at(seg, "10:30")],
        "{slots:?}"
    );
    assert!(
        slots
            .iter()
            .all(|(_, e)| e == "ocupado" || e == "disponivel"),
        "{slots:?}"
    );

    // Cancelling one and deleting the other frees their slots.
    srv.put(
        &format!("/consultas/{}", str_field(&on_grid, "id")),
        &json!({"status": "cancelada"}),
    )
    .await
    .expect_status(200);
    srv.delete(&format!("/consultas/{}", str_field(&off_grid, "id")))
        .await
        .expect_status(204);
    let slots = slots_of(&srv, &mid, seg, 1).await;
    assert!(
        slots.iter().all(|(_, e)| e == "disponivel"),
        "all free again: {slots:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Holds
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn reservar_returns_200_reservado_with_the_expiry_and_the_slot_becomes_reservado() {
    let srv = TestServer::start();
    let seg = monday(3);
    let mid = medico_com_horarios(&srv, 40, &[("segunda", "08:00", "12:00")]).await;
    let slot = at(seg, "09:00");
    let before = jiff::Timestamp::now();

    let r = reservar(&srv, &mid, &slot).await;

    r.expect_status(200);
    assert_eq!(r.body["status"], "reservado");
    assert_eq!(r.body["slot"], json!(slot));
    assert_eq!(r.body["medico_id"], json!(mid));
    let expira = str_field(&r.body, "expira_em");
    assert!(
        expira.ends_with("-03:00"),
        "expira_em carries the clinic's offset: {expira}"
    );
    let expira: jiff::Timestamp = expira.parse().expect("expira_em is RFC 3339");
    let ttl = expira.duration_since(before).as_secs();
    assert!(
        (295..=305).contains(&ttl),
        "default hold is 300 s, got {ttl} s"
    );
    assert_eq!(slot_state(&srv, &mid, &slot).await, "reservado");
    assert_eq!(
        slot_state(&srv, &mid, &at(seg, "09:30")).await,
        "disponivel"
    );
}

#[tokio::test]
async fn reservar_a_held_slot_is_409_horario_reservado() {
    let srv = TestServer::start();
    let seg = monday(3);
    let mid = medico_com_horarios(&srv, 41, &[("segunda", "08:00", "12:00")]).await;
    let slot = at(seg, "09:00");
    reservar(&srv, &mid, &slot).await.expect_status(200);

    let r = reservar(&srv, &mid, &slot).await;

    assert_problem(&r, 409, "horario_reservado");
    assert_eq!(slot_state(&srv, &mid, &slot).await, "reservado");
}

#[tokio::test]
async fn reservar_an_ocupado_slot_is_409_horario_ocupado() {
    let srv = TestServer::start();
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(&srv, 42, &[("segunda", "08:00", "12:00")]).await;
    criar_consulta(&srv, &pid, &mid, &at(seg, "09:00"), &at(seg, "09:30")).await;

    let r = reservar(&srv, &mid, &at(seg, "09:00")).await;

    assert_problem(&r, 409, "horario_ocupado");
}

#[tokio::test]
async fn reservar_rejects_slots_off_the_grid_or_in_the_past_with_422() {
    let srv = TestServer::start();
    let seg = monday(3);
    let mid = medico_com_horarios(&srv, 43, &[("segunda", "08:00", "12:00")]).await;
    // (slot, reason)
    let cases = [
        (at(seg, "08:15"), "not a grid step"),
        (at(seg, "12:00"), "the horário's end is not a start"),
        (at(seg, "07:30"), "before the horário"),
        (
            at(plus_days(seg, 1), "08:00"),
            "a Tuesday: no horário that day",
        ),
        (at(past_monday(), "08:00"), "a past Monday on the grid"),
        ("amanhã às oito".to_string(), "not a datetime"),
    ];

    for (slot, reason) in cases {
        let r = reservar(&srv, &mid, &slot).await;
        assert_validation(&r, &["slot"], reason);
    }
    let slots = slots_of(&srv, &mid, seg, 1).await;
    assert!(slots.iter().all(|(_, e)| e == "disponivel"), "{slots:?}");
}

#[tokio::test]
async fn reservar_for_an_unknown_doctor_is_404() {
    let srv = TestServer::start();

    let r = reservar(&srv, &unknown_id(), &at(monday(3), "08:00")).await;

    assert_problem(&r, 404, "not_found");
}

#[tokio::test]
async fn liberar_releases_a_hold_then_reports_the_slot_disponivel() {
    let srv = TestServer::start();
    let seg = monday(3);
    let mid = medico_com_horarios(&srv, 44, &[("segunda", "08:00", "12:00")]).await;
    let slot = at(seg, "10:30");
    reservar(&srv, &mid, &slot).await.expect_status(200);

    let first = liberar(&srv, &mid, &slot).await;
    let second = liberar(&srv, &mid, &slot).await;

    first.expect_status(200);
    assert_eq!(
        first.body,
        json!({"status": "liberado", "slot": slot, "medico_id": mid})
    );
    second.expect_status(200);
    assert_eq!(
        second.body,
        json!({"status": "disponivel", "slot": slot, "medico_id": mid})
    );
    assert_eq!(slot_state(&srv, &mid, &slot).await, "disponivel");
    // Free again: it can be held again.
    reservar(&srv, &mid, &slot).await.expect_status(200);
}

#[tokio::test]
async fn liberar_is_409_on_an_ocupado_slot_404_for_an_unknown_doctor_and_422_off_the_grid() {
    let srv = TestServer::start();
    let seg = monday(3);
    let (pid, _) = paciente_e_medico(&srv).await;
    let mid = medico_com_horarios(&srv, 45, &[("segunda", "08:00", "12:00")]).await;
    criar_consulta(&srv, &pid, &mid, &at(seg, "09:00"), &at(seg, "10:00")).await;

    let ocupado = liberar(&srv, &mid, &at(seg, "09:30")).await;
    let unknown = liberar(&srv, &unknown_id(), &at(seg, "09:30")).await;
    let off_grid = liberar(&srv, &mid, &at(seg, "09:10")).await;

    assert_problem(&ocupado, 409, "horario_ocupado");
    assert_problem(&unknown, 404, "not_found");
    assert_validation(&off_grid, &["slot"], "09:10 is not a grid start");
    assert_eq!(slot_state(&srv, &mid, &at(seg, "09:30")).await, "ocupado");
}

#[tokio::test]
async fn a_hold_expires_after_the_ttl_and_the_stream_announces_horario_liberado_expirou() {
    let srv = TestServer::start_with(&["--hold-ttl-secs", "2"]);
    let seg = monday(3);
    let mid = medico_com_horarios(&srv, 46, &[("segunda", "08:00", "12:00")]).await;
    let slot = at(seg, "11:00");
    let mut stream = SseStream::open(&srv, "/sistema/agenda/stream", None).await;

    reservar(&srv, &mid, &slot).await.expect_status(200);

    let reservado = stream
        .wait_for("horario_reservado", Duration::from_secs(10), |e| {
            is_slot_event(e, "horario_reservado", &mid, &slot)
        })
        .await;
    let liberado = stream
        .wait_for("horario_liberado (expirou)", Duration::from_secs(15), |e| {
            is_slot_event(e, "horario_liberado", &mid, &slot)
        })
        .await;
    assert_eq!(liberado.dados()["motivo"], "expirou", "{liberado:?}");
    assert!(liberado.id_num() > reservado.id_num());
    assert_eq!(slot_state(&srv, &mid, &slot).await, "disponivel");
    // Free again: it can be held again.
    reservar(&srv, &mid, &slot).await.expect_status(200);
}

#[tokio::test]
async fn a_hold_survives_a_graceful_restart_and_a_kill() {
    let mut srv = TestServer::start_with(&["--hold-ttl-secs", "3600"]);
    let seg = monday(3);
    let mid = medico_com_horarios(&srv, 47, &[("segunda", "08:00", "12:00")]).await;
    let slot = at(seg, "08:30");
    let held = reservar(&srv, &mid, &slot).await;
    held.expect_status(200);

    let status = srv.stop();
    assert!(status.success(), "SIGTERM exit: {status:?}");
    srv.restart();

    assert_eq!(slot_state(&srv, &mid, &slot).await, "reservado");
    assert_problem(&reservar(&srv, &mid, &slot).await, 409, "horario_reservado");

    srv.kill9();
    srv.restart();

    assert_eq!(slot_state(&srv, &mid, &slot).await, "reservado");
    let again = liberar(&srv, &mid, &slot).await;
    again.expect_status(200);
    assert_eq!(again.body["status"], "liberado", "{}", again.text);
}

#[tokio::test]
async fn a_hold_that_lapsed_while_the_server_was_down_is_free_after_restart() {
    let mut srv = TestServer::start_with(&["--hold-ttl-secs", "2"]);
    let seg = monday(3);
    let mid = medico_com_horarios(&srv, 48, &[("segunda", "08:00", "12:00")]).await;
    let slot = at(seg, "09:30");
    reservar(&srv, &mid, &slot).await.expect_status(200);
    srv.stop();

    tokio::time::sleep(Duration::from_millis(2500)).await;
    srv.restart();

    // The expiry sweep runs a few times a second; give it a moment (bounded).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let estado = slot_state(&srv, &mid, &slot).await;
        if estado == "disponivel" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "lapsed hold still {estado} after restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    reservar(&srv, &mid, &slot).await.expect_status(200);
}

/// `dt` rounded to the 30-minute grid (down or up), kept within 00:00..=23:00.
fn to_grid(dt: jiff::civil::DateTime, up: bool) -> String {
    let mins = i32::from(dt.hour()) * 60 + i32::from(dt.minute());
    let mut m = mins - mins % 30;
    if up && (m < mins || dt.second() > 0) {
        m += 30;
    }
    let mut date = dt.date();
    if m > 23 * 60 {
        if up {
            date = date.tomorrow().expect("date");
            m = 0;
        } else {
            m = 23 * 60;
        }
    }
    format!("{date}T{:02}:{:02}:00", m / 60, m % 60)
}

#[tokio::test]
async fn reservar_judges_the_past_in_the_clinic_time_zone() {
    let every_day: Vec<(&str, &str, &str)> = [
        "segunda", "terca", "quarta", "quinta", "sexta", "sabado", "domingo",
    ]
    .iter()
    .map(|d| (*d, "00:00", "23:30"))
    .collect();
    // Kiritimati is UTC+14: two hours ago there is still hours ahead in UTC or São Paulo.
    let kiri = TestServer::start_with(&["--timezone", "Pacific/Kiritimati"]);
    let mid = medico_com_horarios(&kiri, 49, &every_day).await;
    let now = jiff::Timestamp::now()
        .in_tz("Pacific/Kiritimati")
        .expect("tz")
        .datetime();
    let past = to_grid(now - jiff::SignedDuration::from_hours(2), false);
    let r = reservar(&kiri, &mid, &past).await;
    assert_validation(&r, &["slot"], "two hours ago in Kiritimati is past");

    // Pago Pago is UTC-11: two hours ahead there is hours behind in UTC or São Paulo.
    let pago = TestServer::start_with(&["--timezone", "Pacific/Pago_Pago"]);
    let mid = medico_com_horarios(&pago, 49, &every_day).await;
    let now = jiff::Timestamp::now()
        .in_tz("Pacific/Pago_Pago")
        .expect("tz")
        .datetime();
    let future = to_grid(now + jiff::SignedDuration::from_hours(2), true);
    let r = reservar(&pago, &mid, &future).await;
    r.expect_status(200);
    assert!(
        str_field(&r.body, "expira_em").ends_with("-11:00"),
        "expira_em in Pago Pago's offset: {}",
        r.text
    );
}

/// The seven weekdays, each 00:00-23:30: every day has 47 slots of 30 minutes.
const TODOS_OS_DIAS: [(&str, &str, &str); 7] = [
    ("segunda", "00:00", "23:30"),
    ("terca", "00:00", "23:30"),
    ("quarta", "00:00", "23:30"),
    ("quinta", "00:00", "23:30"),
    ("sexta", "00:00", "23:30"),
    ("sabado", "00:00", "23:30"),
    ("domingo", "00:00", "23:30"),
];

#[tokio::test]
async fn slots_that_have_already_started_today_are_left_out_of_the_grid() {
    let srv = TestServer::start();
    let mid = medico_com_horarios(&srv, 30, &TODOS_OS_DIAS).await;
    let now = || {
        jiff::Timestamp::now()
            .in_tz("America/Sao_Paulo")
            .expect("tz")
            .datetime()
            .strftime("%Y-%m-%dT%H:%M:%S")
            .to_string()
    };

    let before = now();
    let today: jiff::civil::Date = before[..10].parse().expect("date");
    let slots = slots_of(&srv, &mid, today, 2).await;

    // Today's 00:00 has started (unless this runs at exactly 00:00:00); the server's now
    // is at or after `before`, so nothing before `before` may be listed.
    let started: Vec<&(String, String)> = slots.iter().filter(|(s, _)| *s < before).collect();
    assert!(started.is_empty(), "started slots listed: {started:?}");
    let tomorrow = plus_days(today, 1);
    assert!(
        keys(&slots).contains(&at(tomorrow, "00:00")),
        "tomorrow's slots are all there: {slots:?}"
    );
    // Every listed slot can really be held: the first one of the answer.
    let first = &slots[0].0;
    reservar(&srv, &mid, first).await.expect_status(200);
}

#[tokio::test]
async fn slots_past_max_slots_are_refused_with_422_naming_the_limit_and_how_to_narrow() {
    // 47 slots a day: 2 days (94) fit under 100, 3 days (141) do not.
    let srv = TestServer::start_with(&["--max-slots", "100"]);
    let mid = medico_com_horarios(&srv, 31, &TODOS_OS_DIAS).await;
    let de = monday(3);

    for query in [
        format!("medico_id={mid}&de={de}&days=3"),
        format!("de={de}&days=3"),
    ] {
        let r = srv.get(&format!("/agenda/slots?{query}")).await;
        let body = assert_problem(&r, 422, "agenda_too_large");
        let detail = body["detail"].as_str().expect("detail");
        assert!(
            detail.contains("141") && detail.contains("100") && detail.contains("days"),
            "{detail}"
        );
    }

    let ok = slots_of(&srv, &mid, de, 2).await;
    assert_eq!(ok.len(), 94, "two whole days fit the limit");
}
