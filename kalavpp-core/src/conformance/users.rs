//! `UserStore`: accounts, credentials, renames, password changes, the admin list and admin changes.

use crate::domain::{AuditEntry, AuditFilter, EmailFilter, UserFilter};
use crate::domain::{PageRequest, Role, UserId, UserStatus};
use crate::storage::{Conflict, Table};
use crate::storage::{NewEmail, NewUser, PasswordChange, RefreshOutcome, StoreError};

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_users {
    ($callback:ident) => {
        $callback! {
            group: users,
            store: [
                insert_user_round_trips,
                insert_user_queues_its_welcome_email_in_the_same_transaction,
                duplicate_email_is_a_conflict,
                duplicate_user_id_is_a_conflict,
                unknown_user_is_none,
                update_user_name_renames,
                update_user_name_of_unknown_user_is_not_found,
                change_password_keeps_only_the_given_session,
                change_password_without_keep_revokes_every_session,
                change_password_of_unknown_user_is_not_found,
                list_users_q_matches_email_or_name_ignoring_case,
                list_users_q_folds_non_ascii_case,
                list_users_q_wildcards_are_literal,
                list_users_filters_role_and_status,
                list_users_paginates_newest_first,
                admin_update_user_changes_status_and_role_with_one_audit_row,
                admin_update_user_role_only_keeps_sessions,
                admin_update_user_reactivates,
                admin_update_user_of_unknown_user_is_not_found_and_not_audited,
            ],
            sql: [],
        }
    };
}

__conformance_users!(define_cases);

fn q(text: &str) -> UserFilter {
    UserFilter {
        q: Some(text.to_owned()),
        ..UserFilter::default()
    }
}

/// Emails of a list, in the order returned.
async fn listed(store: &Db, filter: UserFilter) -> Vec<String> {
    let page = store.list_users(&filter, PageRequest::new(1, 100)).await.expect("list users");
    assert_eq!(page.total, page.items.len() as i64, "one page holds them all");
    page.items.into_iter().map(|u| u.email).collect()
}

fn sorted(mut emails: Vec<String>) -> Vec<String> {
    emails.sort();
    emails
}

pub async fn insert_user_round_trips(store: Db) {
    let created_at = now();
    let record = NewUser {
        role: Role::Vendor,
        created_at,
        ..user("ann@example.com")
    };
    let inserted = store.insert_user(record.clone()).await.unwrap();
    assert_eq!(inserted.id, record.id);
    assert_eq!(inserted.email, "ann@example.com");
    assert_eq!(inserted.name, "ann");
    assert_eq!(inserted.role, Role::Vendor);
    assert_eq!(inserted.status, UserStatus::Active, "new accounts are active");
    assert_eq!(inserted.created_at, created_at, "created_at round-trips to the microsecond");
    assert_eq!(inserted.updated_at, created_at);

    let by_id = store.user_by_id(record.id).await.unwrap().expect("user by id");
    assert_eq!(by_id, inserted);

    let by_email = store
        .credentials_by_email(&email("ann@example.com"))
        .await
        .unwrap()
        .expect("credentials by email");
    assert_eq!(by_email.user, inserted);
    assert_eq!(by_email.password_hash, record.password_hash);

    let by_id = store.credentials_by_id(record.id).await.unwrap().expect("credentials by id");
    assert_eq!(by_id.user, inserted);
    assert_eq!(by_id.password_hash, record.password_hash);

    // Another account is told apart.
    let bob = new_user(&store, "bob@example.com").await;
    assert_eq!(
        store.credentials_by_email(&email("bob@example.com")).await.unwrap().unwrap().user,
        bob
    );
    assert_eq!(store.user_by_id(inserted.id).await.unwrap().unwrap().email, "ann@example.com");
}

pub async fn insert_user_queues_its_welcome_email_in_the_same_transaction(store: Db) {
    let welcome = mail("ann@example.com", "welcome");
    let ann = store
        .insert_user(NewUser {
            welcome_email: Some(welcome.clone()),
            ..user("ann@example.com")
        })
        .await
        .unwrap();
    assert_eq!(ann.email, "ann@example.com");
    let queued = store.list_emails(&EmailFilter::default(), PageRequest::default()).await.unwrap();
    assert_eq!(queued.total, 1);
    let message = &queued.items[0];
    assert_eq!(
        (
            message.id,
            message.recipient.as_str(),
            message.template.as_str(),
            message.status.as_str()
        ),
        (welcome.id, "ann@example.com", "welcome", "queued")
    );
    assert_eq!(message.body_text, welcome.body_text);

    // A clash on the email writes neither the account nor its message.
    let clash = NewUser {
        welcome_email: Some(mail("ann@example.com", "welcome")),
        ..user("ann@example.com")
    };
    assert_conflict(store.insert_user(clash.clone()).await, Conflict::EmailTaken);
    assert!(store.user_by_id(clash.id).await.unwrap().is_none());
    assert_eq!(email_count(&store).await, 1, "the second welcome email was rolled back");

    // A clash on the message id rolls the account back too.
    let bob = NewUser {
        welcome_email: Some(NewEmail {
            id: welcome.id,
            ..mail("bob@example.com", "welcome")
        }),
        ..user("bob@example.com")
    };
    assert_conflict(store.insert_user(bob.clone()).await, Conflict::DuplicateId(Table::Outbox));
    assert!(store.user_by_id(bob.id).await.unwrap().is_none(), "no account without its email");
    assert_eq!(email_count(&store).await, 1);

    // Without a message (the CLI's create-admin), nothing is queued.
    new_user(&store, "carol@example.com").await;
    assert_eq!(email_count(&store).await, 1);
}

pub async fn duplicate_email_is_a_conflict(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    // Emails are normalised before they reach the store, so a differently cased address clashes.
    let again = NewUser {
        name: name("Another Ann"),
        ..user("ANN@Example.com")
    };
    match store.insert_user(again.clone()).await {
        Err(StoreError::Conflict(what)) => assert_eq!(what, Conflict::EmailTaken),
        other => panic!("expected Conflict(users.email), got {other:?}"),
    }
    assert!(store.user_by_id(again.id).await.unwrap().is_none(), "nothing was written");
    let page = store.list_users(&UserFilter::default(), PageRequest::default()).await.unwrap();
    assert_eq!(page.items, vec![ann]);
}

pub async fn duplicate_user_id_is_a_conflict(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let clash = NewUser {
        id: ann.id,
        ..user("bob@example.com")
    };
    match store.insert_user(clash).await {
        Err(StoreError::Conflict(what)) => assert_eq!(what, Conflict::DuplicateId(Table::Users)),
        other => panic!("expected Conflict(users.id), got {other:?}"),
    }
    assert!(store.credentials_by_email(&email("bob@example.com")).await.unwrap().is_none());
}

pub async fn unknown_user_is_none(store: Db) {
    assert!(store.user_by_id(UserId::new()).await.unwrap().is_none());
    assert!(store.credentials_by_id(UserId::new()).await.unwrap().is_none());
    assert!(store.credentials_by_email(&email("nobody@example.com")).await.unwrap().is_none());

    new_user(&store, "ann@example.com").await;
    assert!(store.user_by_id(UserId::new()).await.unwrap().is_none());
    assert!(store.credentials_by_id(UserId::new()).await.unwrap().is_none());
    assert!(store.credentials_by_email(&email("nobody@example.com")).await.unwrap().is_none());
    // Email lookup is exact, not a prefix or pattern match.
    assert!(store.credentials_by_email(&email("ann@example.co")).await.unwrap().is_none());
    assert!(store.credentials_by_email(&email("an%@example.com")).await.unwrap().is_none());
}

pub async fn update_user_name_renames(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let bob = new_user(&store, "bob@example.com").await;
    let at = ann.created_at + secs(90);
    let renamed = store.update_user_name(ann.id, &name("Ann Lee"), at).await.unwrap();
    assert_eq!(renamed.name, "Ann Lee");
    assert_eq!(renamed.updated_at, at);
    assert_eq!(renamed.created_at, ann.created_at, "created_at is kept");
    assert_eq!(
        (renamed.id, &renamed.email, renamed.role, renamed.status),
        (ann.id, &ann.email, ann.role, ann.status)
    );
    assert_eq!(store.user_by_id(ann.id).await.unwrap().unwrap(), renamed);
    assert_eq!(
        store.user_by_id(bob.id).await.unwrap().unwrap(),
        bob,
        "other accounts are untouched"
    );
}

pub async fn update_user_name_of_unknown_user_is_not_found(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    match store.update_user_name(UserId::new(), &name("Ghost"), now()).await {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(store.user_by_id(ann.id).await.unwrap().unwrap(), ann);
}

pub async fn change_password_keeps_only_the_given_session(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let bob = new_user(&store, "bob@example.com").await;
    let current = login(&store, ann.id).await;
    let other = login(&store, ann.id).await;
    let third = login(&store, ann.id).await;
    let bobs = login(&store, bob.id).await;

    let at = now();
    store
        .change_password(PasswordChange {
            user_id: ann.id,
            password_hash: "new-hash".into(),
            keep_session: Some(current.family),
            at,
        })
        .await
        .unwrap();

    let credentials = store.credentials_by_id(ann.id).await.unwrap().unwrap();
    assert_eq!(credentials.password_hash, "new-hash");
    assert_eq!(credentials.user.updated_at, at);
    assert_eq!(credentials.user.created_at, ann.created_at);
    assert_ne!(store.credentials_by_id(bob.id).await.unwrap().unwrap().password_hash, "new-hash");

    let (kept, _) = refresh(&store, &current.token).await;
    assert_eq!(
        kept,
        RefreshOutcome::Rotated {
            user_id: ann.id,
            family: current.family
        }
    );
    assert_eq!(refresh(&store, &other.token).await.0, RefreshOutcome::Invalid);
    assert_eq!(refresh(&store, &third.token).await.0, RefreshOutcome::Invalid);
    assert!(
        matches!(refresh(&store, &bobs.token).await.0, RefreshOutcome::Rotated { user_id, .. } if user_id == bob.id),
        "another user's sessions are untouched"
    );
}

pub async fn change_password_without_keep_revokes_every_session(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let first = login(&store, ann.id).await;
    let second = login(&store, ann.id).await;
    store
        .change_password(PasswordChange {
            user_id: ann.id,
            password_hash: "new-hash".into(),
            keep_session: None,
            at: now(),
        })
        .await
        .unwrap();
    assert_eq!(store.credentials_by_id(ann.id).await.unwrap().unwrap().password_hash, "new-hash");
    assert_eq!(refresh(&store, &first.token).await.0, RefreshOutcome::Invalid);
    assert_eq!(refresh(&store, &second.token).await.0, RefreshOutcome::Invalid);
}

pub async fn change_password_of_unknown_user_is_not_found(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let session = login(&store, ann.id).await;
    let change = PasswordChange {
        user_id: UserId::new(),
        password_hash: "new-hash".into(),
        keep_session: None,
        at: now(),
    };
    match store.change_password(change).await {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_ne!(store.credentials_by_id(ann.id).await.unwrap().unwrap().password_hash, "new-hash");
    assert!(matches!(refresh(&store, &session.token).await.0, RefreshOutcome::Rotated { .. }));
}

pub async fn list_users_q_matches_email_or_name_ignoring_case(store: Db) {
    let t = now();
    new_user_at(&store, "ann@example.com", "Ann Lee", t).await;
    new_user_at(&store, "bob@example.org", "Bobby ANNE", t + secs(1)).await;
    new_user_at(&store, "carol@shop.io", "Carol", t + secs(2)).await;

    assert_eq!(
        listed(&store, q("ANN")).await,
        ["bob@example.org", "ann@example.com"],
        "email or name, any case"
    );
    assert_eq!(listed(&store, q("lee")).await, ["ann@example.com"], "matches the name");
    assert_eq!(listed(&store, q("Shop.IO")).await, ["carol@shop.io"], "matches the email");
    assert_eq!(listed(&store, q("by an")).await, ["bob@example.org"], "a substring across a space");
    assert_eq!(listed(&store, q("example")).await, ["bob@example.org", "ann@example.com"]);
    assert!(listed(&store, q("zed")).await.is_empty());
    assert_eq!(
        listed(&store, q("  carol  ")).await,
        ["carol@shop.io"],
        "surrounding blanks are ignored"
    );
    assert_eq!(listed(&store, q("")).await.len(), 3, "an empty q does not filter");
    assert_eq!(listed(&store, q("   ")).await.len(), 3, "a blank q does not filter");

    let page = store.list_users(&q("ann"), PageRequest::new(1, 1)).await.unwrap();
    assert_eq!(page.total, 2, "total counts every match, not just the page");
    assert_eq!(page.items.len(), 1);
}

pub async fn list_users_q_folds_non_ascii_case(store: Db) {
    let t = now();
    new_user_at(&store, "elodie@example.com", "ÉLODIE Ängström", t).await;
    new_user_at(&store, "other@example.com", "Elodie Angstrom", t + secs(1)).await;
    // PostgreSQL folds non-ASCII case only under a UTF-8 LC_CTYPE (C.UTF-8, en_US.UTF-8, ...), not under "C".
    assert_eq!(
        listed(&store, q("élodie")).await,
        ["elodie@example.com"],
        "q folds case beyond ASCII"
    );
    assert_eq!(listed(&store, q("ÄNGSTRÖM")).await, ["elodie@example.com"]);
    assert_eq!(
        listed(&store, q("elodie")).await,
        ["other@example.com", "elodie@example.com"],
        "the email matches both"
    );
}

pub async fn list_users_q_wildcards_are_literal(store: Db) {
    let t = now();
    new_user_at(&store, "percent@example.com", "50% off", t).await;
    new_user_at(&store, "a_b@example.com", "Underscore", t + secs(1)).await;
    new_user_at(&store, "axb@example.com", "Plain", t + secs(2)).await;
    new_user_at(&store, "slash@example.com", r"back\slash", t + secs(3)).await;

    assert_eq!(listed(&store, q("%")).await, ["percent@example.com"]);
    assert_eq!(listed(&store, q("0%")).await, ["percent@example.com"]);
    assert_eq!(listed(&store, q("_")).await, ["a_b@example.com"]);
    assert_eq!(
        listed(&store, q("a_b")).await,
        ["a_b@example.com"],
        "'_' does not match any one character"
    );
    assert!(
        listed(&store, q("5%f")).await.is_empty(),
        "'%' does not match any run of characters"
    );
    assert_eq!(listed(&store, q(r"\")).await, ["slash@example.com"], "a backslash is literal too");
    assert_eq!(listed(&store, q(r"k\s")).await, ["slash@example.com"]);
}

pub async fn list_users_filters_role_and_status(store: Db) {
    let t = now();
    new_user_at(&store, "cathy@example.com", "Cathy", t).await;
    store
        .insert_user(NewUser {
            role: Role::Vendor,
            created_at: t + secs(1),
            ..user("vince@example.com")
        })
        .await
        .unwrap();
    let admin = store
        .insert_user(NewUser {
            role: Role::Admin,
            created_at: t + secs(2),
            ..user("ada@example.com")
        })
        .await
        .unwrap();
    let suspended_vendor = store
        .insert_user(NewUser {
            role: Role::Vendor,
            created_at: t + secs(3),
            ..user("vera@example.com")
        })
        .await
        .unwrap();
    store
        .admin_update_user(admin_change(
            Some(admin.id),
            suspended_vendor.id,
            Some(UserStatus::Suspended),
            None,
            t + secs(4),
        ))
        .await
        .unwrap();

    let by = |role: Option<Role>, status: Option<UserStatus>| UserFilter { q: None, role, status };
    assert_eq!(
        listed(&store, by(Some(Role::Vendor), None)).await,
        ["vera@example.com", "vince@example.com"]
    );
    assert_eq!(listed(&store, by(Some(Role::Customer), None)).await, ["cathy@example.com"]);
    assert_eq!(listed(&store, by(Some(Role::Admin), None)).await, ["ada@example.com"]);
    assert_eq!(listed(&store, by(None, Some(UserStatus::Suspended))).await, ["vera@example.com"]);
    assert_eq!(
        sorted(listed(&store, by(None, Some(UserStatus::Active))).await),
        ["ada@example.com", "cathy@example.com", "vince@example.com"]
    );
    assert_eq!(
        listed(&store, by(Some(Role::Vendor), Some(UserStatus::Active))).await,
        ["vince@example.com"]
    );
    assert!(
        listed(&store, by(Some(Role::Customer), Some(UserStatus::Suspended)))
            .await
            .is_empty()
    );
    let vendors_named_v = UserFilter {
        q: Some("VIN".into()),
        role: Some(Role::Vendor),
        status: None,
    };
    assert_eq!(listed(&store, vendors_named_v).await, ["vince@example.com"]);
    let customers_named_v = UserFilter {
        q: Some("vin".into()),
        role: Some(Role::Customer),
        status: None,
    };
    assert!(listed(&store, customers_named_v).await.is_empty());
}

pub async fn list_users_paginates_newest_first(store: Db) {
    let empty = store.list_users(&UserFilter::default(), PageRequest::new(1, 10)).await.unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.total, 0);

    let t = now();
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(new_user_at(&store, &format!("user{i}@example.com"), &format!("User {i}"), t + secs(i)).await);
    }
    let ids = |page: &crate::domain::Page<crate::domain::User>| page.items.iter().map(|u| u.id).collect::<Vec<_>>();

    let first = store.list_users(&UserFilter::default(), PageRequest::new(1, 2)).await.unwrap();
    assert_eq!((first.page, first.per_page, first.total), (1, 2, 5));
    assert_eq!(ids(&first), [users[4].id, users[3].id], "newest first");
    assert_eq!(first.items[0], users[4], "listed users are whole and equal to what was inserted");

    let second = store.list_users(&UserFilter::default(), PageRequest::new(2, 2)).await.unwrap();
    assert_eq!((second.page, second.per_page, second.total), (2, 2, 5));
    assert_eq!(ids(&second), [users[2].id, users[1].id]);

    let last = store.list_users(&UserFilter::default(), PageRequest::new(3, 2)).await.unwrap();
    assert_eq!(ids(&last), [users[0].id]);
    assert_eq!(last.total, 5);

    let beyond = store.list_users(&UserFilter::default(), PageRequest::new(4, 2)).await.unwrap();
    assert!(beyond.items.is_empty());
    assert_eq!((beyond.page, beyond.total), (4, 5));

    // Accounts created in the same microsecond come in a stable order: greatest id first.
    let same_time = t + secs(10);
    let a = new_user_at(&store, "same1@example.com", "Same", same_time).await;
    let b = new_user_at(&store, "same2@example.com", "Same", same_time).await;
    let top = store.list_users(&UserFilter::default(), PageRequest::new(1, 2)).await.unwrap();
    let mut expected = vec![a.id, b.id];
    expected.sort_by(|x, y| y.cmp(x));
    assert_eq!(ids(&top), expected);
    let again = store.list_users(&UserFilter::default(), PageRequest::new(1, 2)).await.unwrap();
    assert_eq!(ids(&again), expected);
}

pub async fn admin_update_user_changes_status_and_role_with_one_audit_row(store: Db) {
    let admin = new_user(&store, "ada@example.com").await;
    let target = new_user(&store, "tom@example.com").await;
    let first = login(&store, target.id).await;
    let second = login(&store, target.id).await;
    let admins = login(&store, admin.id).await;

    let at = now();
    let mut change = admin_change(Some(admin.id), target.id, Some(UserStatus::Suspended), Some(Role::Vendor), at);
    change.audit.details = serde_json::json!({ "status": "suspended", "role": "vendor", "reason": "fraud ✓" });
    let audit = change.audit.clone();
    let updated = store.admin_update_user(change).await.unwrap();

    assert_eq!(updated.status, UserStatus::Suspended);
    assert_eq!(updated.role, Role::Vendor);
    assert_eq!(updated.updated_at, at);
    assert_eq!(updated.created_at, target.created_at);
    assert_eq!((&updated.email, &updated.name), (&target.email, &target.name));
    assert_eq!(store.user_by_id(target.id).await.unwrap().unwrap(), updated);

    let log = store.list_audit(&AuditFilter::default(), PageRequest::default()).await.unwrap();
    assert_eq!(log.total, 1, "exactly one audit row");
    assert_eq!(
        log.items,
        vec![AuditEntry {
            id: audit.id,
            at,
            actor_id: Some(admin.id),
            action: "user.update".into(),
            target_type: "user".into(),
            target_id: target.id.to_string(),
            details: serde_json::json!({ "status": "suspended", "role": "vendor", "reason": "fraud ✓" }),
        }]
    );

    assert_eq!(
        refresh(&store, &first.token).await.0,
        RefreshOutcome::Invalid,
        "suspension revokes sessions"
    );
    assert_eq!(refresh(&store, &second.token).await.0, RefreshOutcome::Invalid);
    assert!(
        matches!(refresh(&store, &admins.token).await.0, RefreshOutcome::Rotated { user_id, .. } if user_id == admin.id),
        "only the suspended account's sessions"
    );
}

pub async fn admin_update_user_role_only_keeps_sessions(store: Db) {
    let admin = new_user(&store, "ada@example.com").await;
    let target = new_user(&store, "tom@example.com").await;
    let session = login(&store, target.id).await;

    let updated = store
        .admin_update_user(admin_change(Some(admin.id), target.id, None, Some(Role::Admin), now()))
        .await
        .unwrap();
    assert_eq!(updated.role, Role::Admin);
    assert_eq!(updated.status, UserStatus::Active, "status is kept when not given");
    assert!(
        matches!(refresh(&store, &session.token).await.0, RefreshOutcome::Rotated { .. }),
        "a role change keeps sessions"
    );

    let updated = store
        .admin_update_user(admin_change(Some(admin.id), target.id, Some(UserStatus::Active), None, now()))
        .await
        .unwrap();
    assert_eq!(updated.role, Role::Admin, "role is kept when not given");
    assert_eq!(
        store
            .list_audit(&AuditFilter::default(), PageRequest::default())
            .await
            .unwrap()
            .total,
        2
    );
}

pub async fn admin_update_user_reactivates(store: Db) {
    let target = new_user(&store, "tom@example.com").await;
    let t = now();
    store
        .admin_update_user(admin_change(None, target.id, Some(UserStatus::Suspended), None, t))
        .await
        .unwrap();
    let back = store
        .admin_update_user(admin_change(None, target.id, Some(UserStatus::Active), None, t + secs(1)))
        .await
        .unwrap();
    assert_eq!(back.status, UserStatus::Active);
    assert_eq!(back.updated_at, t + secs(1));
    // A new login after reactivation works.
    let session = login(&store, target.id).await;
    assert!(matches!(refresh(&store, &session.token).await.0, RefreshOutcome::Rotated { .. }));
    let log = store.list_audit(&AuditFilter::default(), PageRequest::default()).await.unwrap();
    assert_eq!(log.total, 2);
    assert!(log.items.iter().all(|e| e.actor_id.is_none()), "system changes have no actor");
}

pub async fn admin_update_user_of_unknown_user_is_not_found_and_not_audited(store: Db) {
    let admin = new_user(&store, "ada@example.com").await;
    let change = admin_change(Some(admin.id), UserId::new(), Some(UserStatus::Suspended), Some(Role::Admin), now());
    match store.admin_update_user(change).await {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    let log = store.list_audit(&AuditFilter::default(), PageRequest::default()).await.unwrap();
    assert_eq!(log.total, 0, "no audit row for a change that did not happen");
    assert!(log.items.is_empty());
    assert_eq!(store.user_by_id(admin.id).await.unwrap().unwrap(), admin);
}
