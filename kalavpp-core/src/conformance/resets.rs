//! `PasswordResetStore`: reset tokens, their queued email, and using them once.

use chrono::TimeDelta;

use crate::domain::{EmailFilter, OutboxEmail};
use crate::domain::{PageRequest, UserId};
use crate::storage::{Conflict, Table};
use crate::storage::{NewEmail, NewPasswordReset, RefreshOutcome, StoreError};

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_resets {
    ($callback:ident) => {
        $callback! {
            group: resets,
            store: [
                create_password_reset_queues_its_email,
                consume_password_reset_works_once,
                expired_password_reset_is_none,
                unknown_password_reset_is_none,
                consuming_one_reset_kills_the_others,
                resets_of_other_users_are_untouched,
                duplicate_password_reset_is_a_conflict_and_queues_nothing,
            ],
            sql: [],
        }
    };
}

__conformance_resets!(define_cases);

/// A reset token for `user_id`, valid for an hour from now.
fn reset_for(user_id: UserId) -> NewPasswordReset {
    let created_at = now();
    NewPasswordReset {
        token_hash: format!("reset-{}", uuid::Uuid::new_v4().simple()),
        user_id,
        created_at,
        expires_at: created_at + TimeDelta::hours(1),
    }
}

/// Creates a reset token for `address`'s account and queues its email; returns the token hash.
async fn request_reset(store: &Db, user_id: UserId, address: &str) -> String {
    let reset = reset_for(user_id);
    let hash = reset.token_hash.clone();
    store
        .create_password_reset(reset, mail(address, "password_reset"))
        .await
        .expect("create password reset");
    hash
}

async fn password_hash(store: &Db, user_id: UserId) -> String {
    store.credentials_by_id(user_id).await.unwrap().expect("user exists").password_hash
}

pub async fn create_password_reset_queues_its_email(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let message = mail("ann@example.com", "password_reset");
    store.create_password_reset(reset_for(ann.id), message.clone()).await.unwrap();

    let outbox = store.list_emails(&EmailFilter::default(), PageRequest::default()).await.unwrap();
    assert_eq!(outbox.total, 1);
    assert_eq!(
        outbox.items,
        vec![OutboxEmail {
            id: message.id,
            recipient: "ann@example.com".into(),
            template: "password_reset".into(),
            subject: message.subject.clone(),
            body_text: message.body_text.clone(),
            status: "queued".into(),
            attempts: 0,
            last_error: None,
            created_at: message.created_at,
            sent_at: None,
        }]
    );
    let by_template = EmailFilter {
        template: Some("password_reset".into()),
        ..EmailFilter::default()
    };
    assert_eq!(store.list_emails(&by_template, PageRequest::default()).await.unwrap().total, 1);
}

pub async fn consume_password_reset_works_once(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let first = login(&store, ann.id).await;
    let second = login(&store, ann.id).await;
    let token = request_reset(&store, ann.id, "ann@example.com").await;

    let at = now();
    let used = store.consume_password_reset(&token, "reset-hash", at).await.unwrap();
    assert_eq!(used, Some(ann.id));
    let credentials = store.credentials_by_id(ann.id).await.unwrap().unwrap();
    assert_eq!(credentials.password_hash, "reset-hash");
    assert_eq!(credentials.user.updated_at, at);
    assert_eq!(
        refresh(&store, &first.token).await.0,
        RefreshOutcome::Invalid,
        "a reset revokes every session"
    );
    assert_eq!(refresh(&store, &second.token).await.0, RefreshOutcome::Invalid);

    let again = store.consume_password_reset(&token, "second-hash", now()).await.unwrap();
    assert_eq!(again, None, "a token works once");
    assert_eq!(password_hash(&store, ann.id).await, "reset-hash", "the second use changed nothing");

    // A login made after the reset is not revoked by the refused second use.
    let fresh = login(&store, ann.id).await;
    assert!(store.consume_password_reset(&token, "third-hash", now()).await.unwrap().is_none());
    assert!(matches!(refresh(&store, &fresh.token).await.0, RefreshOutcome::Rotated { .. }));
}

pub async fn expired_password_reset_is_none(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let session = login(&store, ann.id).await;
    let original = password_hash(&store, ann.id).await;
    let t = now();

    let expired = NewPasswordReset {
        created_at: t - TimeDelta::hours(2),
        expires_at: t - TimeDelta::hours(1),
        ..reset_for(ann.id)
    };
    store
        .create_password_reset(expired.clone(), mail("ann@example.com", "password_reset"))
        .await
        .unwrap();
    assert_eq!(
        store.consume_password_reset(&expired.token_hash, "new-hash", t).await.unwrap(),
        None
    );

    let ending = NewPasswordReset {
        created_at: t - TimeDelta::hours(1),
        expires_at: t,
        ..reset_for(ann.id)
    };
    store
        .create_password_reset(ending.clone(), mail("ann@example.com", "password_reset"))
        .await
        .unwrap();
    assert_eq!(
        store.consume_password_reset(&ending.token_hash, "new-hash", t).await.unwrap(),
        None,
        "a token is dead at its expiry time"
    );

    assert_eq!(password_hash(&store, ann.id).await, original);
    assert!(
        matches!(refresh(&store, &session.token).await.0, RefreshOutcome::Rotated { .. }),
        "sessions are untouched"
    );

    // Just before the end it works.
    let live = NewPasswordReset {
        created_at: t,
        expires_at: t + TimeDelta::minutes(30),
        ..reset_for(ann.id)
    };
    store
        .create_password_reset(live.clone(), mail("ann@example.com", "password_reset"))
        .await
        .unwrap();
    let at = t + TimeDelta::minutes(30) - TimeDelta::microseconds(1);
    assert_eq!(
        store.consume_password_reset(&live.token_hash, "new-hash", at).await.unwrap(),
        Some(ann.id)
    );
}

pub async fn unknown_password_reset_is_none(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let original = password_hash(&store, ann.id).await;
    request_reset(&store, ann.id, "ann@example.com").await;
    assert_eq!(
        store.consume_password_reset("no-such-token", "new-hash", now()).await.unwrap(),
        None
    );
    assert_eq!(store.consume_password_reset("%", "new-hash", now()).await.unwrap(), None);
    assert_eq!(password_hash(&store, ann.id).await, original);
}

pub async fn consuming_one_reset_kills_the_others(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let older = request_reset(&store, ann.id, "ann@example.com").await;
    let newer = request_reset(&store, ann.id, "ann@example.com").await;
    assert_eq!(
        store
            .list_emails(&EmailFilter::default(), PageRequest::default())
            .await
            .unwrap()
            .total,
        2
    );

    assert_eq!(
        store.consume_password_reset(&newer, "from-newer", now()).await.unwrap(),
        Some(ann.id)
    );
    assert_eq!(
        store.consume_password_reset(&older, "from-older", now()).await.unwrap(),
        None,
        "the other link died"
    );
    assert_eq!(password_hash(&store, ann.id).await, "from-newer");
}

pub async fn resets_of_other_users_are_untouched(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let bob = new_user(&store, "bob@example.com").await;
    let bobs_session = login(&store, bob.id).await;
    let bob_original = password_hash(&store, bob.id).await;
    let anns = request_reset(&store, ann.id, "ann@example.com").await;
    let bobs = request_reset(&store, bob.id, "bob@example.com").await;

    assert_eq!(store.consume_password_reset(&anns, "ann-new", now()).await.unwrap(), Some(ann.id));
    assert_eq!(password_hash(&store, bob.id).await, bob_original);
    assert!(matches!(
        refresh(&store, &bobs_session.token).await.0,
        RefreshOutcome::Rotated { .. }
    ));
    assert_eq!(
        store.consume_password_reset(&bobs, "bob-new", now()).await.unwrap(),
        Some(bob.id),
        "bob's link still works"
    );
    assert_eq!(password_hash(&store, bob.id).await, "bob-new");
    assert_eq!(password_hash(&store, ann.id).await, "ann-new");
}

pub async fn duplicate_password_reset_is_a_conflict_and_queues_nothing(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let token = request_reset(&store, ann.id, "ann@example.com").await;
    let clash = NewPasswordReset {
        token_hash: token,
        ..reset_for(ann.id)
    };
    let message = mail("ann@example.com", "password_reset");
    match store.create_password_reset(clash, message.clone()).await {
        Err(StoreError::Conflict(what)) => assert_eq!(what, Conflict::ResetTokenTaken),
        other => panic!("expected Conflict(password_resets.token_hash), got {other:?}"),
    }
    let outbox = store.list_emails(&EmailFilter::default(), PageRequest::default()).await.unwrap();
    assert_eq!(outbox.total, 1, "the failed reset queued no email");
    assert_ne!(outbox.items[0].id, message.id);

    // And an email id clash rolls the reset token back.
    let reset = reset_for(ann.id);
    let same_id = NewEmail {
        id: outbox.items[0].id,
        ..mail("ann@example.com", "password_reset")
    };
    match store.create_password_reset(reset.clone(), same_id).await {
        Err(StoreError::Conflict(what)) => assert_eq!(what, Conflict::DuplicateId(Table::Outbox)),
        other => panic!("expected Conflict(outbox.id), got {other:?}"),
    }
    assert_eq!(
        store.consume_password_reset(&reset.token_hash, "new-hash", now()).await.unwrap(),
        None,
        "the reset token was not stored"
    );
}
