use super::*;
use std::time::Duration;

#[test]
fn history_round_trips_through_json() {
    let rec = Recorder::new();
    rec.record(
        "runner",
        EventKind::Step {
            index: 0,
            step: Step::AgentPost {
                chat: ChatRef::Alias("c1".into()),
                by_other_agent: false,
                auth: AuthVariant::Normal,
                body: Body::Json(serde_json::json!({"operationName":"Complete"})),
            },
        },
    );
    rec.record(
        "rest:agent1",
        EventKind::Request {
            req: 1,
            actor: Actor::Agent("agent1".into()),
            method: "POST".into(),
            path: "/api/v2/me/chats/X".into(),
            headers: vec![("Authorization".into(), "Basic c2VjcmV0".into())],
            body: Body::Raw("{".into()),
            part: None,
        },
    );
    let h = rec.snapshot();
    let text = serde_json::to_string(&h).unwrap();
    assert!(!text.contains("c2VjcmV0"), "secret leaked: {text}");
    let back: History = serde_json::from_str(&text).unwrap();
    assert_eq!(back, h);
    assert_eq!(back.events[1].stream_seq, 0);
    assert_eq!(back.events[1].seq, 1);
}

#[tokio::test]
async fn wait_for_wakes_on_a_new_event_and_times_out_otherwise() {
    let rec = Recorder::new();
    let r2 = rec.clone();
    let h = tokio::spawn(async move {
        r2.wait_for(0, Duration::from_secs(5), |e| {
            matches!(e.kind, EventKind::HarnessError { .. })
        })
        .await
    });
    tokio::task::yield_now().await;
    rec.record(
        "runner",
        EventKind::HarnessError {
            message: "x".into(),
        },
    );
    let got = h.await.unwrap();
    assert!(got.is_some());
    let none = rec.wait_for(1, Duration::from_millis(20), |_| true).await;
    assert!(none.is_none());
}

#[tokio::test]
async fn a_chat_waiter_sees_only_its_chat() {
    use serde_json::json;
    let rec = Recorder::new();
    let note = |id: &str| EventKind::Notification {
        agent: "a".into(),
        channel: "/v2/me/chats".into(),
        data: json!({"chat": {"id": id}}),
    };
    rec.record("bayeux:a", note("other"));
    let none = rec
        .wait_for_chats(&["mine"], 0, Duration::from_millis(20), |_| true)
        .await;
    assert!(none.is_none());
    let r2 = rec.clone();
    let h = tokio::spawn(async move {
        r2.wait_for_chats(&["mine"], 0, Duration::from_secs(5), |_| true)
            .await
    });
    tokio::task::yield_now().await;
    rec.record("bayeux:a", note("mine"));
    let got = h.await.unwrap().expect("woken by its chat");
    assert_eq!(got, 1);
    let about = rec.notifications_about(&["mine", "other"], 0, 2);
    assert_eq!(about.len(), 2);
    assert!(rec.notifications_about(&["mine"], 0, 1).is_empty());
}

#[tokio::test]
async fn a_trimmed_record_keeps_global_indexes_and_forgets_retired_chats() {
    use serde_json::json;
    let rec = Recorder::new();
    let note = |id: &str| EventKind::Notification {
        agent: "a".into(),
        channel: "/v2/me/chats".into(),
        data: json!({"chat": {"id": id}}),
    };
    for _ in 0..3 {
        rec.record("bayeux:a", note("done"));
        rec.record("bayeux:a", note("stray"));
    }
    rec.record("bayeux:a", note("live"));
    assert_eq!(rec.len(), 7);
    rec.retire(&["done"]);
    // A batch larger than what can go: nothing is trimmed yet.
    rec.trim(6, 100, |_| true);
    assert_eq!(rec.stored(), 7);
    // Keep the strays, drop the rest below 6; "done" is retired, so it goes too.
    rec.trim(6, 1, |e| matches!(&e.kind, EventKind::Notification { data, .. } if data["chat"]["id"] == "stray"));
    assert_eq!(rec.len(), 7, "indexes stay global");
    assert_eq!(rec.stored(), 4);
    let snap = rec.snapshot();
    let ids: Vec<&str> = snap
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Notification { data, .. } => data["chat"]["id"].as_str(),
            _ => None,
        })
        .collect();
    assert_eq!(ids, ["stray", "stray", "stray", "live"]);
    // A retired chat's later notifications are not stored; the counter still counts.
    rec.record("bayeux:a", note("done"));
    assert_eq!(rec.len(), 7);
    assert_eq!(rec.notification_count(), 8);
    // Waiters and lookups still work by global index after the trim.
    let got = rec
        .wait_for_chats(&["live"], 6, Duration::from_millis(20), |_| true)
        .await
        .expect("the live chat's notification is above the floor");
    assert_eq!(got, 6);
    assert_eq!(rec.notifications_about(&["live"], 0, 7).len(), 1);
    assert!(rec.events_since(6).len() == 1);
    // Taking the record moves what is stored (kept ones first) and keeps indexes
    // global.
    let taken = rec.take();
    assert_eq!(taken.events.len(), 4);
    assert_eq!(rec.len(), 7);
    assert_eq!(rec.stored(), 0);
    assert_eq!(rec.record("runner", note("next")), 7);
}

#[tokio::test]
async fn notifications_taken_for_a_case_leave_the_record_and_session_ends_are_found() {
    use serde_json::json;
    let rec = Recorder::new();
    let note = |id: &str| EventKind::Notification {
        agent: "a".into(),
        channel: "/v2/me/chats".into(),
        data: json!({"chat": {"id": id}}),
    };
    rec.record("bayeux:a", note("c1")); // 0
    rec.record("bayeux:a", note("other")); // 1
    rec.record(
        "bayeux:a",
        EventKind::Bayeux {
            agent: "a".into(),
            event: BayeuxEvent::Closed {
                reason: "advised none".into(),
            },
        },
    ); // 2
    rec.record("bayeux:a", note("c1")); // 3
    let taken = rec.take_notifications(&["c1"], 0, 4);
    assert_eq!(taken.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 3]);
    // Moved, not copied: the record no longer holds them, and indexes stay global.
    assert_eq!(rec.len(), 4);
    assert_eq!(rec.stored(), 2);
    assert!(rec.notifications_about(&["c1"], 0, 4).is_empty());
    // c1 is retired: a later notification about it is not stored.
    rec.record("bayeux:a", note("c1"));
    assert_eq!(rec.stored(), 2);
    // The session's end is found in range only.
    assert_eq!(rec.session_ends(0, 4).len(), 1);
    assert_eq!(rec.session_ends(0, 2).len(), 0);
    assert_eq!(rec.session_ends(3, 4).len(), 0);
    // A tag watch sees only the notifications carrying its tag, recorded after it.
    rec.record(
        "bayeux:a",
        EventKind::Notification {
            agent: "a".into(),
            channel: "/v2/me/chats".into(),
            data: json!({"chat": {"id": "t0", "userData": {TAG_KEY: "early"}}}),
        },
    );
    let w = rec.watch_tag("mine");
    let tagged = |id: &str, tag: &str| EventKind::Notification {
        agent: "a".into(),
        channel: "/v2/me/chats".into(),
        data: json!({"chat": {"id": id, "userData": {TAG_KEY: tag}}}),
    };
    rec.record("bayeux:a", tagged("t1", "theirs"));
    rec.record("bayeux:a", tagged("t2", "mine"));
    let got = w
        .wait(Duration::from_millis(50), |e| Some(e.clone()))
        .await
        .expect("the tagged notification");
    assert_eq!(got.kind, tagged("t2", "mine"));
    assert!(
        w.wait(Duration::from_millis(20), |e| (e.seq > got.seq)
            .then_some(()))
            .await
            .is_none()
    );
    drop(w);
    assert!(
        rec.watches_no_tag(),
        "a dropped watch routes nothing any more"
    );
}

fn note_about(rec: &Recorder, chat: Option<&str>, pad: usize) {
    let data = match chat {
        Some(id) => serde_json::json!({"chat": {"id": id}, "pad": "p".repeat(pad)}),
        None => serde_json::json!({"bogus": 1, "pad": "p".repeat(pad)}),
    };
    rec.record(
        "bayeux:a",
        EventKind::Notification {
            agent: "a".into(),
            channel: "/v2/me/chats".into(),
            data,
        },
    );
}

#[test]
fn notifications_are_charged_by_size_and_beyond_the_budget_only_counted() {
    let rec = Recorder::new();
    // Unbudgeted (the default): everything is stored, nothing is charged.
    note_about(&rec, None, 1000);
    assert_eq!(rec.note_bytes_held(), 0);
    rec.set_note_budget(Some(5_500));
    let one = rec.note_bytes_held();
    assert!(one > 1000 && one < 1100, "{one}");
    for _ in 0..10 {
        note_about(&rec, Some("X"), 1000);
    }
    // Four of them fit (5 × ~1 KB in all), the other six are counted only.
    assert_eq!(rec.stored(), 5);
    assert!(rec.note_bytes_held() <= 5_500);
    let d = rec.dropped_notes();
    assert_eq!(d.over_budget, 6);
    assert!(d.over_budget_bytes > 6_000);
    assert_eq!(d.beyond_sample, 0);
    assert!(d.describe().unwrap().contains("6 notifications"));
    assert_eq!(rec.notification_count(), 11);
    // Taken for a case, they give their bytes back: room again.
    let taken = rec.take_notifications(&["X"], 0, rec.len());
    assert_eq!(taken.len(), 4);
    assert_eq!(rec.note_bytes_held(), one);
    note_about(&rec, Some("Y"), 1000);
    assert_eq!(rec.stored(), 2);
    assert_eq!(rec.dropped_notes().over_budget, 6);
}

#[test]
fn trimming_keeps_a_bounded_sample_and_counts_the_rest() {
    let rec = Recorder::new();
    rec.set_note_budget(Some(u64::MAX / 2));
    let n = recorder::MAX_KEPT_NOTES + 50;
    for _ in 0..n {
        note_about(&rec, None, 10);
    }
    rec.trim(rec.len(), 1, |_| true);
    assert_eq!(rec.stored(), recorder::MAX_KEPT_NOTES);
    let d = rec.dropped_notes();
    assert_eq!(d.beyond_sample, 50);
    assert_eq!(d.over_budget, 0);
    let kept: u64 = rec
        .snapshot()
        .iter()
        .map(|e| match &e.kind {
            EventKind::Notification { data, .. } => json_len(data),
            _ => 0,
        })
        .sum();
    assert_eq!(rec.note_bytes_held(), kept);
    assert!(d.describe().unwrap().contains("50 invalid notifications"));
    // What trimming does not keep gives its bytes back.
    note_about(&rec, None, 10);
    rec.trim(rec.len(), 1, |_| false);
    assert_eq!(rec.note_bytes_held(), kept);
    assert!(Recorder::new().dropped_notes().describe().is_none());
}

#[test]
fn kept_histories_take_a_quarter_of_the_budget_at_most() {
    let rec = Recorder::new();
    let case = Recorder::new();
    note_about(&case, Some("X"), 1000);
    let h = case.take();
    // Without a budget every history may be kept.
    assert!(rec.charge_kept(&h));
    rec.set_note_budget(Some(13_500));
    let one = json_len(match &h.events[0].kind {
        EventKind::Notification { data, .. } => data,
        _ => unreachable!(),
    });
    // 3 × ~1 KB fit in a quarter of 13,500 bytes; the fourth does not.
    assert!(rec.charge_kept(&h) && rec.charge_kept(&h) && rec.charge_kept(&h));
    assert!(!rec.charge_kept(&h));
    assert_eq!(rec.note_bytes_held(), 3 * one);
    let d = rec.dropped_notes();
    assert_eq!((d.histories, d.history_bytes), (1, one));
    assert!(
        d.describe()
            .unwrap()
            .contains("the histories of 1 judged cases")
    );
    // The record itself still has room for a running case's notification.
    note_about(&rec, Some("Y"), 100);
    assert_eq!(rec.stored(), 1);
    // A history without notifications costs nothing.
    assert!(rec.charge_kept(&History::default()));
}

#[test]
fn the_kept_sample_is_bounded_in_bytes_and_a_heavy_record_is_trimmed_in_small_batches() {
    let rec = Recorder::new();
    rec.set_note_budget(Some(16 * 1024 * 1024));
    // Five notifications of 1 MiB: a batch of 4,096 events never comes, but they hold
    // more than a quarter of the budget, so trimming runs; the sample keeps 2 MiB.
    for _ in 0..5 {
        note_about(&rec, None, 1024 * 1024);
    }
    rec.trim(rec.len(), 4096, |_| true);
    assert_eq!(rec.stored(), 1, "one fits in 2 MiB with its braces");
    let d = rec.dropped_notes();
    assert_eq!(d.beyond_sample, 4);
    // Light, the record waits for its batch.
    note_about(&rec, None, 10);
    rec.trim(rec.len(), 4096, |_| false);
    assert_eq!(rec.stored(), 2);
}
