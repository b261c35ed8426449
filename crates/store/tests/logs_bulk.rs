//! Bulk-loaded log events and the benchmark's switch that stops recording
//! events, on SQLite and (when configured) PostgreSQL. One test function:
//! the switch is process-wide, so nothing else in this binary may write
//! events while it is off.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use castellan_domain::log_event::LogEvent;
use castellan_query::{Cond, FieldKind, Filter, Scalar};
use castellan_store::{LogSort, Store};
use common::{backends, finish};
use serde_json::json;

fn by_user(uid: &str) -> Filter {
    Filter::Field {
        path: "user_id".into(),
        kind: FieldKind::Text { case_insensitive: false },
        cond: Cond::Eq(Scalar::Text(uid.into())),
    }
}

async fn count(s: &Store, t: i64, f: &Filter) -> u64 {
    s.search_logs(t, f, LogSort { descending: true }, 0, 1, true).await.unwrap().1.unwrap()
}

#[tokio::test]
async fn bulk_load_and_the_no_events_switch() {
    let bs = backends().await;
    for b in &bs {
        let (s, n) = (&b.store, b.name);
        let t = s.create_tenant("a.example", "00", 0).await.unwrap().id;
        let other = s.create_tenant("b.example", "00", 0).await.unwrap().id;
        // A stream exists: bulk history must not be queued for it.
        s.insert_log_stream(t, "lst_1", &json!({"type": "http", "status": "active"}), 0, &[]).await.unwrap();
        let events: Vec<LogEvent> = (0..1000)
            .map(|i| {
                let mut e = LogEvent::new(if i % 10 == 0 { "fp" } else { "s" }, 1_700_000_000_000 + i * 1000);
                e.user_id = Some(format!("auth0|u{}", i % 7));
                e.client_id = Some("app".into());
                e.ip = Some("10.0.0.1".into());
                e
            })
            .collect();
        s.insert_logs_bulk(t, &events).await.unwrap();
        s.insert_logs_bulk(other, &events[..5].iter().map(|e| LogEvent::new(&e.kind, 1)).collect::<Vec<_>>())
            .await
            .unwrap();
        assert_eq!(count(s, t, &Filter::All).await, 1000, "{n}");
        assert_eq!(count(s, other, &Filter::All).await, 5, "{n}");
        assert_eq!(count(s, t, &by_user("auth0|u3")).await, 143, "{n}: 1000 events over 7 users");
        let (page, _) =
            s.search_logs(t, &by_user("auth0|u3"), LogSort { descending: true }, 0, 3, false).await.unwrap();
        assert_eq!(page[0], events[997], "{n}: newest first, stored as given");
        assert_eq!(s.get_log(t, &events[10].log_id).await.unwrap().as_ref(), Some(&events[10]), "{n}");
        assert_eq!(s.log_outbox_len(t, "lst_1").await.unwrap(), 0, "{n}: history is not streamed");

        // The switch: off, nothing is written (not even the outbox); on again, it is.
        castellan_store::set_record_events(false);
        s.insert_logs(t, &[LogEvent::new("seccft", 5)]).await.unwrap();
        castellan_store::set_record_events(true);
        assert_eq!(count(s, t, &Filter::All).await, 1000, "{n}: recorded while off");
        assert_eq!(s.log_outbox_len(t, "lst_1").await.unwrap(), 0, "{n}");
        s.insert_logs(t, &[LogEvent::new("seccft", 5)]).await.unwrap();
        assert_eq!(count(s, t, &Filter::All).await, 1001, "{n}");
        assert_eq!(s.log_outbox_len(t, "lst_1").await.unwrap(), 1, "{n}");
    }
    finish(bs).await;
}
