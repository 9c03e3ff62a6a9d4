//! Daylight saving (issue 8 §11): with a zone that changes its clocks, clinic-local times
//! are resolved in the zone (a skipped time does not exist; a repeated one is its earlier
//! occurrence unless an RFC 3339 offset picks the later) and compared as instants.
//! America/New_York in 2027: clocks jump 02:00 → 03:00 on 14 March and fall back
//! 02:00 → 01:00 on 7 November.

use crate::helpers::*;
use crate::sched_helpers::*;

const NY: [&str; 2] = ["--timezone", "America/New_York"];
const SPRING: &str = "2027-03-14";
const FALL: &str = "2027-11-07";

fn day(d: &str) -> jiff::civil::Date {
    d.parse().expect("date")
}

#[tokio::test]
async fn the_spring_forward_gap_is_not_on_the_grid_and_cannot_be_held_booked_or_recorded() {
    let srv = TestServer::start_with(&NY);
    let mid = medico_com_horarios(&srv, 60, &[("domingo", "00:00", "05:00")]).await;
    let pid = str_field(&criar_paciente(&srv, "Paciente Primavera", 60).await, "id");

    let slots = slots_of(&srv, &mid, day(SPRING), 1).await;

    let expected: Vec<String> = [
        "00:00", "00:30", "01:00", "01:30", "03:00", "03:30", "04:00", "04:30",
    ]
    .iter()
    .map(|t| at(day(SPRING), t))
    .collect();
    let got: Vec<String> = slots.iter().map(|(s, _)| s.clone()).collect();
    assert_eq!(got, expected, "02:00 and 02:30 do not exist that day");
    for t in ["02:00", "02:30"] {
        let r = reservar(&srv, &mid, &at(day(SPRING), t)).await;
        assert_validation(&r, &["slot"], "a held slot that does not exist");
        let r = agendar(
            &srv,
            &pid,
            &mid,
            &at(day(SPRING), t),
            &at(day(SPRING), "03:30"),
        )
        .await;
        assert_validation(
            &r,
            &["inicio"],
            "a booking that starts at a time that does not exist",
        );
    }
    let r = srv
        .post(
            "/consultas",
            &consulta_body(
                &pid,
                &mid,
                &at(day(SPRING), "02:30"),
                &at(day(SPRING), "03:30"),
            ),
        )
        .await;
    assert_validation(
        &r,
        &["inicio"],
        "the front desk cannot record a time that does not exist",
    );
    // 01:30 EST + 30 min is 03:00 EDT: the slot before the gap books normally.
    let task = agendar_ok(
        &srv,
        &pid,
        &mid,
        &at(day(SPRING), "01:30"),
        &at(day(SPRING), "03:00"),
    )
    .await;
    let t = wait_task(&srv, &task, TASK_TIMEOUT).await;
    assert_eq!(t["status"], "concluida", "{t}");
}

#[tokio::test]
async fn the_repeated_fall_back_hour_is_compared_as_instants_and_the_later_offset_survives_a_restart()
 {
    let mut srv = TestServer::start_with(&NY);
    let m1 = medico_com_horarios(&srv, 61, &[("domingo", "00:00", "03:00")]).await;
    let m2 = medico_com_horarios(&srv, 62, &[("domingo", "00:00", "03:00")]).await;
    let p: Vec<String> = criar_pacientes(&srv, 3, 61).await;
    let post = async |pac: &str, med: &str, ini: &str, fim: &str| {
        srv.post("/consultas", &consulta_body(pac, med, ini, fim))
            .await
    };

    // 01:00-01:30 EDT, then 01:00-01:30 EST an hour later: no overlap.
    let a = post(
        &p[0],
        &m1,
        "2027-11-07T01:00:00-04:00",
        "2027-11-07T01:30:00-04:00",
    )
    .await;
    a.expect_status(201);
    assert_eq!(
        a.body["inicio"], "2027-11-07T01:00:00",
        "wire format stays clinic-local"
    );
    assert!(
        is_absent(&a.body, "inicio_offset"),
        "earlier occurrence: {}",
        a.text
    );
    let b = post(
        &p[1],
        &m1,
        "2027-11-07T01:00:00-05:00",
        "2027-11-07T01:30:00-05:00",
    )
    .await;
    b.expect_status(201);
    assert_eq!(b.body["inicio"], "2027-11-07T01:00:00");
    assert_eq!(b.body["inicio_offset"], "-05:00", "{}", b.text);
    assert_eq!(b.body["fim_offset"], "-05:00", "{}", b.text);
    let b_id = b.id();

    // One real hour across the change reads 01:30 → 01:30 and is accepted.
    let c = post(
        &p[2],
        &m2,
        "2027-11-07T01:30:00-04:00",
        "2027-11-07T01:30:00-05:00",
    )
    .await;
    c.expect_status(201);
    assert_eq!(c.body["inicio"], c.body["fim"], "{}", c.text);

    // Real overlaps are still found: a naive 01:00 is the earlier one (A); 01:15 EST hits B.
    let r = post(&p[2], &m1, &at(day(FALL), "01:00"), &at(day(FALL), "01:30")).await;
    assert_problem(&r, 409, "doctor_overlap");
    let r = post(
        &p[2],
        &m1,
        "2027-11-07T01:15:00-05:00",
        "2027-11-07T01:45:00-05:00",
    )
    .await;
    let body = assert_problem(&r, 409, "doctor_overlap");
    assert!(
        body["detail"].as_str().unwrap_or_default().contains(&b_id),
        "{body}"
    );

    // The grid lists each clock time once (the earlier occurrence), judged as instants.
    let g1 = slots_of(&srv, &m1, day(FALL), 1).await;
    let want1: Vec<(String, String)> = [
        ("00:00", "disponivel"),
        ("00:30", "disponivel"),
        ("01:00", "ocupado"),
        ("01:30", "disponivel"),
        ("02:00", "disponivel"),
        ("02:30", "disponivel"),
    ]
    .iter()
    .map(|(t, e)| (at(day(FALL), t), e.to_string()))
    .collect();
    assert_eq!(g1, want1);
    let g2 = slots_of(&srv, &m2, day(FALL), 1).await;
    let estado = |t: &str| {
        g2.iter()
            .find(|(s, _)| *s == at(day(FALL), t))
            .map(|(_, e)| e.clone())
    };
    assert_eq!(estado("01:30").as_deref(), Some("ocupado"), "{g2:?}");
    assert_eq!(estado("02:00").as_deref(), Some("disponivel"), "{g2:?}");

    // The later occurrence is kept on disk.
    srv.stop();
    srv.restart();
    let r = srv
        .post(
            "/consultas",
            &consulta_body(
                &p[2],
                &m1,
                "2027-11-07T01:15:00-05:00",
                "2027-11-07T01:45:00-05:00",
            ),
        )
        .await;
    assert_problem(&r, 409, "doctor_overlap");
    let got = srv.get(&format!("/consultas/{b_id}")).await;
    assert_eq!(got.body["inicio_offset"], "-05:00", "{}", got.text);
    assert_eq!(
        srv.post(
            "/consultas",
            &consulta_body(&p[2], &m1, "2027-11-07T02:00:00", "2027-11-07T02:30:00"),
        )
        .await
        .status,
        201,
        "02:00 EST, after the repeated hour, is free"
    );
}
