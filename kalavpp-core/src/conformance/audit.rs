//! `AuditStore`: the audit log, written by admin changes and listed with filters.

use crate::domain::{AuditEntry, AuditFilter};
use crate::domain::{AuditId, PageRequest, Role, UserId, UserStatus};
use crate::storage::AdminUserChange;

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_audit {
    ($callback:ident) => {
        $callback! {
            group: audit,
            store: [
                list_audit_round_trips_rows,
                list_audit_filters_actor_action_and_time,
                list_audit_paginates_newest_first,
            ],
            sql: [],
        }
    };
}

__conformance_audit!(define_cases);

/// Writes an audit row through an admin change of `target` (the only way rows are written).
async fn audited(store: &Db, actor: Option<UserId>, action: &str, target: UserId, at: Timestamp) -> AuditId {
    let audit = audit_row(actor, action, target, at);
    let id = audit.id;
    store
        .admin_update_user(AdminUserChange {
            user_id: target,
            status: None,
            role: None,
            audit,
        })
        .await
        .expect("admin update");
    id
}

/// Ids of a list, in the order returned.
async fn listed(store: &Db, filter: AuditFilter) -> Vec<AuditId> {
    let page = store.list_audit(&filter, PageRequest::new(1, 100)).await.expect("list audit");
    assert_eq!(page.total, page.items.len() as i64, "one page holds them all");
    page.items.into_iter().map(|e| e.id).collect()
}

pub async fn list_audit_round_trips_rows(store: Db) {
    let empty = store.list_audit(&AuditFilter::default(), PageRequest::default()).await.unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.total, 0);

    let admin = new_user(&store, "ada@example.com").await;
    let target = new_user(&store, "tom@example.com").await;
    let at = now();
    let details = serde_json::json!({
        "status": { "from": "active", "to": "suspended" },
        "role": null,
        "count": 3,
        "ratio": 0.25,
        "flags": [true, false],
        "note": "naïve “quotes” \\ and 'single'",
    });
    let mut change = admin_change(Some(admin.id), target.id, Some(UserStatus::Suspended), Some(Role::Vendor), at);
    change.audit.action = "user.suspend".into();
    change.audit.details = details.clone();
    let audit = change.audit.clone();
    store.admin_update_user(change).await.unwrap();

    let log = store.list_audit(&AuditFilter::default(), PageRequest::default()).await.unwrap();
    assert_eq!((log.page, log.per_page, log.total), (1, 20, 1));
    assert_eq!(
        log.items,
        vec![AuditEntry {
            id: audit.id,
            at,
            actor_id: Some(admin.id),
            action: "user.suspend".into(),
            target_type: "user".into(),
            target_id: target.id.to_string(),
            details,
        }]
    );
}

pub async fn list_audit_filters_actor_action_and_time(store: Db) {
    let ada = new_user(&store, "ada@example.com").await;
    let max = new_user(&store, "max@example.com").await;
    let target = new_user(&store, "tom@example.com").await;
    let t = now();
    let r0 = audited(&store, Some(ada.id), "user.update", target.id, t).await;
    let r1 = audited(&store, Some(max.id), "user.update", target.id, t + secs(10)).await;
    let r2 = audited(&store, Some(ada.id), "user.suspend", target.id, t + secs(20)).await;
    let r3 = audited(&store, None, "user.update", target.id, t + secs(30)).await;
    let r4 = audited(&store, Some(max.id), "user.suspend", target.id, t + secs(40)).await;

    let filter = |actor_id: Option<UserId>, action: Option<&str>, from: Option<Timestamp>, to: Option<Timestamp>| AuditFilter {
        actor_id,
        action: action.map(Into::into),
        from,
        to,
    };
    assert_eq!(listed(&store, filter(None, None, None, None)).await, [r4, r3, r2, r1, r0]);
    assert_eq!(listed(&store, filter(Some(ada.id), None, None, None)).await, [r2, r0]);
    assert_eq!(listed(&store, filter(Some(max.id), None, None, None)).await, [r4, r1]);
    assert!(listed(&store, filter(Some(target.id), None, None, None)).await.is_empty());
    assert_eq!(listed(&store, filter(None, Some("user.suspend"), None, None)).await, [r4, r2]);
    assert_eq!(listed(&store, filter(None, Some("user.update"), None, None)).await, [r3, r1, r0]);
    assert!(
        listed(&store, filter(None, Some("user."), None, None)).await.is_empty(),
        "action is an exact match"
    );
    assert!(listed(&store, filter(None, Some("user.%"), None, None)).await.is_empty());
    assert_eq!(listed(&store, filter(Some(max.id), Some("user.suspend"), None, None)).await, [r4]);

    // from and to are inclusive.
    assert_eq!(listed(&store, filter(None, None, Some(t + secs(20)), None)).await, [r4, r3, r2]);
    assert_eq!(listed(&store, filter(None, None, None, Some(t + secs(20)))).await, [r2, r1, r0]);
    assert_eq!(
        listed(&store, filter(None, None, Some(t + secs(10)), Some(t + secs(30)))).await,
        [r3, r2, r1]
    );
    let micro = chrono::TimeDelta::microseconds(1);
    assert_eq!(
        listed(&store, filter(None, None, Some(t + secs(10) + micro), Some(t + secs(30) - micro))).await,
        [r2],
        "bounds are exact to the microsecond"
    );
    assert!(listed(&store, filter(None, None, Some(t + secs(41)), None)).await.is_empty());
    assert!(listed(&store, filter(None, None, None, Some(t - secs(1)))).await.is_empty());
    assert_eq!(
        listed(&store, filter(Some(ada.id), Some("user.update"), Some(t), Some(t))).await,
        [r0]
    );
}

pub async fn list_audit_paginates_newest_first(store: Db) {
    let target = new_user(&store, "tom@example.com").await;
    let t = now();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(audited(&store, None, "user.update", target.id, t + secs(i)).await);
    }
    let page_of = |page: &crate::domain::Page<AuditEntry>| page.items.iter().map(|e| e.id).collect::<Vec<_>>();

    let first = store.list_audit(&AuditFilter::default(), PageRequest::new(1, 2)).await.unwrap();
    assert_eq!((first.page, first.per_page, first.total), (1, 2, 5));
    assert_eq!(page_of(&first), [ids[4], ids[3]]);
    let second = store.list_audit(&AuditFilter::default(), PageRequest::new(2, 2)).await.unwrap();
    assert_eq!(page_of(&second), [ids[2], ids[1]]);
    let last = store.list_audit(&AuditFilter::default(), PageRequest::new(3, 2)).await.unwrap();
    assert_eq!((page_of(&last), last.total), (vec![ids[0]], 5));
    let beyond = store.list_audit(&AuditFilter::default(), PageRequest::new(4, 2)).await.unwrap();
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 5);

    let window = AuditFilter {
        from: Some(t + secs(1)),
        to: Some(t + secs(3)),
        ..AuditFilter::default()
    };
    let windowed = store.list_audit(&window, PageRequest::new(2, 2)).await.unwrap();
    assert_eq!((page_of(&windowed), windowed.total), (vec![ids[1]], 3), "total counts matches only");

    // Rows written in the same microsecond come in a stable order: greatest id first.
    let a = audited(&store, None, "user.update", target.id, t + secs(10)).await;
    let b = audited(&store, None, "user.update", target.id, t + secs(10)).await;
    let mut expected = vec![a, b];
    expected.sort_by(|x, y| y.cmp(x));
    let top = store.list_audit(&AuditFilter::default(), PageRequest::new(1, 2)).await.unwrap();
    assert_eq!(page_of(&top), expected);
}
