//! `SessionStore`: refresh-token families, rotation, reuse detection and revocation.

use chrono::TimeDelta;
use uuid::Uuid;

use crate::storage::{Conflict, Table};
use crate::storage::{NewRefreshToken, RefreshOutcome, RotatedToken, SessionOwner, StoreError};

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_sessions {
    ($callback:ident) => {
        $callback! {
            group: sessions,
            store: [
                rotate_refresh_token_rotates_in_the_same_family,
                reused_token_revokes_the_family,
                expired_session_is_invalid,
                unknown_token_is_invalid,
                concurrent_rotation_rotates_once,
                revoke_session_revokes_the_family,
                revoke_session_of_unknown_token_is_false,
                duplicate_refresh_token_is_a_conflict,
                duplicate_session_family_is_a_conflict,
                rotation_to_a_taken_hash_changes_nothing,
                current_session_reads_live_current_tokens_only,
                current_session_ends_with_revocation_and_expiry,
                idle_session_ends_at_its_idle_deadline,
                touch_session_pushes_only_live_idle_deadlines,
                end_idle_session_ends_only_idle_sessions,
            ],
            sql: [],
        }
    };
}

__conformance_sessions!(define_cases);

pub async fn rotate_refresh_token_rotates_in_the_same_family(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let session = login(&store, ann.id).await;
    let rotated = RefreshOutcome::Rotated {
        user_id: ann.id,
        family: session.family,
    };

    let (outcome, second) = refresh(&store, &session.token).await;
    assert_eq!(outcome, rotated);
    let (outcome, third) = refresh(&store, &second).await;
    assert_eq!(outcome, rotated, "the replacement rotates too, in the same family");
    let (outcome, _) = refresh(&store, &third).await;
    assert_eq!(outcome, rotated);

    // A second login of the same user is a different family.
    let other = login(&store, ann.id).await;
    assert_ne!(other.family, session.family);
    assert_eq!(
        refresh(&store, &other.token).await.0,
        RefreshOutcome::Rotated {
            user_id: ann.id,
            family: other.family
        }
    );
}

pub async fn reused_token_revokes_the_family(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let session = login(&store, ann.id).await;
    let bystander = login(&store, ann.id).await;

    let (outcome, second) = refresh(&store, &session.token).await;
    assert!(matches!(outcome, RefreshOutcome::Rotated { .. }));
    let (outcome, offered) = refresh(&store, &session.token).await;
    assert_eq!(outcome, RefreshOutcome::Reused, "the old token again is a reuse");

    assert_eq!(
        refresh(&store, &second).await.0,
        RefreshOutcome::Invalid,
        "the whole family is revoked"
    );
    assert_eq!(
        refresh(&store, &offered).await.0,
        RefreshOutcome::Invalid,
        "the reuse stored no replacement"
    );
    assert_eq!(
        refresh(&store, &session.token).await.0,
        RefreshOutcome::Invalid,
        "a revoked family stays dead"
    );
    assert_eq!(
        refresh(&store, &bystander.token).await.0,
        RefreshOutcome::Rotated {
            user_id: ann.id,
            family: bystander.family
        },
        "other sessions of the user are untouched"
    );
}

pub async fn expired_session_is_invalid(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let t = now();

    // Expired before it is presented.
    let expired = NewRefreshToken {
        issued_at: t - TimeDelta::hours(2),
        expires_at: t - TimeDelta::hours(1),
        ..refresh_token(ann.id)
    };
    store.insert_refresh_token(expired.clone()).await.unwrap();
    assert_eq!(refresh_at(&store, &expired.token_hash, t).await.0, RefreshOutcome::Invalid);

    // Presented exactly at its end.
    let ending = NewRefreshToken {
        issued_at: t - TimeDelta::hours(1),
        expires_at: t,
        ..refresh_token(ann.id)
    };
    store.insert_refresh_token(ending.clone()).await.unwrap();
    assert_eq!(refresh_at(&store, &ending.token_hash, t).await.0, RefreshOutcome::Invalid);

    // Rotations keep the session's absolute end.
    let live = NewRefreshToken {
        issued_at: t,
        expires_at: t + TimeDelta::minutes(10),
        ..refresh_token(ann.id)
    };
    store.insert_refresh_token(live.clone()).await.unwrap();
    let (outcome, next) = refresh_at(&store, &live.token_hash, t + TimeDelta::minutes(9)).await;
    assert!(matches!(outcome, RefreshOutcome::Rotated { .. }));
    assert_eq!(
        refresh_at(&store, &next, t + TimeDelta::minutes(10) + TimeDelta::microseconds(1))
            .await
            .0,
        RefreshOutcome::Invalid,
        "the replacement expires with its session"
    );
    // A microsecond before the end it still works.
    let (outcome, _) = refresh_at(&store, &next, t + TimeDelta::minutes(10) - TimeDelta::microseconds(1)).await;
    assert!(matches!(outcome, RefreshOutcome::Rotated { .. }));
}

pub async fn unknown_token_is_invalid(store: Db) {
    assert_eq!(refresh(&store, &token()).await.0, RefreshOutcome::Invalid);
    let ann = new_user(&store, "ann@example.com").await;
    let session = login(&store, ann.id).await;
    assert_eq!(refresh(&store, &token()).await.0, RefreshOutcome::Invalid);
    assert_eq!(refresh(&store, "").await.0, RefreshOutcome::Invalid);
    assert_eq!(refresh(&store, "%").await.0, RefreshOutcome::Invalid);
    // Nothing happened to the real session.
    assert!(matches!(refresh(&store, &session.token).await.0, RefreshOutcome::Rotated { .. }));
}

pub async fn concurrent_rotation_rotates_once(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    for round in 0..8 {
        let session = login(&store, ann.id).await;
        let race = |store: Db, presented: String| tokio::spawn(async move { refresh(&store, &presented).await });
        let first = race(store.clone(), session.token.clone());
        let second = race(store.clone(), session.token.clone());
        let (first, second) = (first.await.unwrap(), second.await.unwrap());

        let outcomes = [first.0, second.0];
        let rotated: Vec<_> = outcomes.iter().filter(|o| matches!(o, RefreshOutcome::Rotated { .. })).collect();
        assert_eq!(rotated.len(), 1, "round {round}: exactly one rotation, got {outcomes:?}");
        assert_eq!(
            *rotated[0],
            RefreshOutcome::Rotated {
                user_id: ann.id,
                family: session.family
            }
        );
        let (winner, loser) = if matches!(first.0, RefreshOutcome::Rotated { .. }) {
            (first, second)
        } else {
            (second, first)
        };
        assert!(
            matches!(loser.0, RefreshOutcome::Reused | RefreshOutcome::Invalid),
            "round {round}: the other presentation is Reused or Invalid, got {:?}",
            loser.0
        );
        assert_eq!(
            refresh(&store, &loser.1).await.0,
            RefreshOutcome::Invalid,
            "the loser's replacement was not stored"
        );
        if loser.0 == RefreshOutcome::Reused {
            assert_eq!(
                refresh(&store, &winner.1).await.0,
                RefreshOutcome::Invalid,
                "a reuse revokes the family"
            );
        }
    }
}

pub async fn revoke_session_revokes_the_family(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let session = login(&store, ann.id).await;
    let bystander = login(&store, ann.id).await;

    assert!(store.revoke_session(&session.token, now()).await.unwrap());
    assert_eq!(refresh(&store, &session.token).await.0, RefreshOutcome::Invalid);
    assert!(
        store.revoke_session(&session.token, now()).await.unwrap(),
        "a known token, even if already revoked"
    );

    // Any token of the family revokes it, including one already rotated away.
    let other = login(&store, ann.id).await;
    let (_, second) = refresh(&store, &other.token).await;
    let (_, third) = refresh(&store, &second).await;
    assert!(store.revoke_session(&other.token, now()).await.unwrap());
    assert_eq!(refresh(&store, &third).await.0, RefreshOutcome::Invalid);

    assert!(
        matches!(refresh(&store, &bystander.token).await.0, RefreshOutcome::Rotated { family, .. } if family == bystander.family),
        "other sessions are untouched"
    );
}

pub async fn revoke_session_of_unknown_token_is_false(store: Db) {
    assert!(!store.revoke_session(&token(), now()).await.unwrap());
    let ann = new_user(&store, "ann@example.com").await;
    let session = login(&store, ann.id).await;
    assert!(!store.revoke_session(&token(), now()).await.unwrap());
    assert!(matches!(refresh(&store, &session.token).await.0, RefreshOutcome::Rotated { .. }));
}

pub async fn duplicate_refresh_token_is_a_conflict(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let session = login(&store, ann.id).await;
    let clash = NewRefreshToken {
        token_hash: session.token.clone(),
        ..refresh_token(ann.id)
    };
    match store.insert_refresh_token(clash.clone()).await {
        Err(StoreError::Conflict(what)) => assert_eq!(what, Conflict::RefreshTokenTaken),
        other => panic!("expected Conflict(refresh_tokens.token_hash), got {other:?}"),
    }
    // All or nothing: the session row of the failed insert was not left behind, so its family id is free.
    let retry = NewRefreshToken {
        token_hash: token(),
        ..clash
    };
    store
        .insert_refresh_token(retry.clone())
        .await
        .expect("the family id is still free");
    assert_eq!(
        refresh(&store, &retry.token_hash).await.0,
        RefreshOutcome::Rotated {
            user_id: ann.id,
            family: retry.family
        }
    );
}

pub async fn duplicate_session_family_is_a_conflict(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let session = login(&store, ann.id).await;
    let clash = NewRefreshToken {
        family: session.family,
        ..refresh_token(ann.id)
    };
    match store.insert_refresh_token(clash.clone()).await {
        Err(StoreError::Conflict(what)) => assert_eq!(what, Conflict::DuplicateId(Table::Sessions)),
        other => panic!("expected Conflict(sessions.id), got {other:?}"),
    }
    assert_eq!(
        refresh(&store, &clash.token_hash).await.0,
        RefreshOutcome::Invalid,
        "the token was not stored"
    );
}

pub async fn rotation_to_a_taken_hash_changes_nothing(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let session = login(&store, ann.id).await;
    let other = login(&store, ann.id).await;

    let clash = RotatedToken {
        id: Uuid::now_v7(),
        token_hash: other.token.clone(),
        at: now(),
    };
    match store.rotate_refresh_token(&session.token, clash).await {
        Err(StoreError::Conflict(what)) => assert_eq!(what, Conflict::RefreshTokenTaken),
        other => panic!("expected Conflict(refresh_tokens.token_hash), got {other:?}"),
    }
    // The presented token was not marked used: presenting it again rotates (no reuse detected).
    assert_eq!(
        refresh(&store, &session.token).await.0,
        RefreshOutcome::Rotated {
            user_id: ann.id,
            family: session.family
        }
    );
    assert!(matches!(refresh(&store, &other.token).await.0, RefreshOutcome::Rotated { family, .. } if family == other.family));
}

pub async fn current_session_reads_live_current_tokens_only(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let session = login(&store, ann.id).await;
    let owner = SessionOwner {
        user_id: ann.id,
        family: session.family,
        idle_expires_at: None,
    };
    assert_eq!(store.current_session(&session.token, now()).await.unwrap(), Some(owner));
    assert_eq!(
        store.current_session(&session.token, now()).await.unwrap(),
        Some(owner),
        "reading does not use the token up"
    );
    assert_eq!(
        refresh(&store, &session.token).await.0,
        RefreshOutcome::Rotated {
            user_id: ann.id,
            family: session.family
        },
        "reading rotated nothing: the token still rotates, without a reuse"
    );

    // After a rotation only the replacement is current.
    let other = login(&store, ann.id).await;
    let (_, next) = refresh(&store, &other.token).await;
    assert_eq!(store.current_session(&other.token, now()).await.unwrap(), None);
    assert_eq!(
        store.current_session(&next, now()).await.unwrap(),
        Some(SessionOwner {
            user_id: ann.id,
            family: other.family,
            idle_expires_at: None,
        })
    );

    // Unknown tokens are nobody's.
    assert_eq!(store.current_session(&token(), now()).await.unwrap(), None);
    assert_eq!(store.current_session("", now()).await.unwrap(), None);
    assert_eq!(store.current_session("%", now()).await.unwrap(), None);
}

pub async fn current_session_ends_with_revocation_and_expiry(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let session = login(&store, ann.id).await;
    let bystander = login(&store, ann.id).await;
    assert!(store.revoke_session(&session.token, now()).await.unwrap());
    assert_eq!(store.current_session(&session.token, now()).await.unwrap(), None, "revoked");
    assert!(
        store.current_session(&bystander.token, now()).await.unwrap().is_some(),
        "other sessions are untouched"
    );

    // The session's absolute end: live a microsecond before, dead at it.
    let t = now();
    let ending = NewRefreshToken {
        issued_at: t - TimeDelta::hours(1),
        expires_at: t + TimeDelta::minutes(10),
        ..refresh_token(ann.id)
    };
    store.insert_refresh_token(ending.clone()).await.unwrap();
    let end = t + TimeDelta::minutes(10);
    assert!(
        store
            .current_session(&ending.token_hash, end - TimeDelta::microseconds(1))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.current_session(&ending.token_hash, end).await.unwrap(), None);
}

/// A login session of `user` started at `t` with an idle deadline `idle` after it.
async fn idle_login(store: &Db, user: crate::domain::UserId, t: Timestamp, idle: TimeDelta) -> NewRefreshToken {
    let record = NewRefreshToken {
        issued_at: t,
        expires_at: t + TimeDelta::hours(8),
        idle_expires_at: Some(t + idle),
        ..refresh_token(user)
    };
    store.insert_refresh_token(record.clone()).await.unwrap();
    record
}

pub async fn idle_session_ends_at_its_idle_deadline(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let t = now();
    let panel = idle_login(&store, ann.id, t, TimeDelta::minutes(30)).await;
    let deadline = t + TimeDelta::minutes(30);
    let just_before = deadline - TimeDelta::microseconds(1);
    assert_eq!(
        store.current_session(&panel.token_hash, just_before).await.unwrap(),
        Some(SessionOwner {
            user_id: ann.id,
            family: panel.family,
            idle_expires_at: Some(deadline),
        }),
        "live a microsecond before its idle deadline, which is read back exactly"
    );
    assert!(store.session_is_live(panel.family, ann.id, just_before).await.unwrap());
    assert_eq!(
        store.current_session(&panel.token_hash, deadline).await.unwrap(),
        None,
        "idle at it"
    );
    assert!(
        !store.session_is_live(panel.family, ann.id, deadline).await.unwrap(),
        "access tokens of the session die with it"
    );
    assert_eq!(
        refresh_at(&store, &panel.token_hash, deadline).await.0,
        RefreshOutcome::Invalid,
        "an idle session does not rotate either"
    );
    assert!(matches!(
        refresh_at(&store, &panel.token_hash, just_before).await.0,
        RefreshOutcome::Rotated { .. }
    ));

    // Sessions without an idle limit only have their absolute end.
    let plain = login(&store, ann.id).await;
    let later = t + TimeDelta::hours(20);
    assert_eq!(
        store.current_session(&plain.token, later).await.unwrap().map(|o| o.idle_expires_at),
        Some(None)
    );
    assert!(store.session_is_live(plain.family, ann.id, later).await.unwrap());
}

pub async fn touch_session_pushes_only_live_idle_deadlines(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let t = now();
    let panel = idle_login(&store, ann.id, t, TimeDelta::minutes(10)).await;
    let idle_of = |at: Timestamp| {
        let store = &store;
        let hash = panel.token_hash.clone();
        async move { store.current_session(&hash, at).await.unwrap().and_then(|o| o.idle_expires_at) }
    };

    // Activity at t+5 pushes the deadline to t+20: alive at t+15, past the first deadline.
    assert!(
        store
            .touch_session(panel.family, t + TimeDelta::minutes(20), t + TimeDelta::minutes(5))
            .await
            .unwrap()
    );
    assert_eq!(idle_of(t + TimeDelta::minutes(15)).await, Some(t + TimeDelta::minutes(20)));
    // Never back.
    store
        .touch_session(panel.family, t + TimeDelta::minutes(12), t + TimeDelta::minutes(6))
        .await
        .unwrap();
    assert_eq!(idle_of(t + TimeDelta::minutes(15)).await, Some(t + TimeDelta::minutes(20)));
    // Past the deadline nothing revives it.
    assert!(
        !store
            .touch_session(panel.family, t + TimeDelta::hours(1), t + TimeDelta::minutes(20))
            .await
            .unwrap()
    );
    assert_eq!(idle_of(t + TimeDelta::minutes(20)).await, None);
    assert_eq!(
        idle_of(t + TimeDelta::minutes(19)).await,
        Some(t + TimeDelta::minutes(20)),
        "unchanged"
    );

    // Nor past the absolute end, nor after a revocation.
    let other = idle_login(&store, ann.id, t, TimeDelta::minutes(10)).await;
    assert!(
        !store
            .touch_session(other.family, t + TimeDelta::hours(9), t + TimeDelta::hours(8))
            .await
            .unwrap()
    );
    store.revoke_session(&other.token_hash, t).await.unwrap();
    assert!(
        !store
            .touch_session(other.family, t + TimeDelta::minutes(30), t + TimeDelta::minutes(1))
            .await
            .unwrap()
    );
    assert_eq!(
        store.current_session(&other.token_hash, t + TimeDelta::minutes(1)).await.unwrap(),
        None
    );

    // A session without an idle limit does not get one.
    let plain = login(&store, ann.id).await;
    assert!(!store.touch_session(plain.family, t + TimeDelta::minutes(30), t).await.unwrap());
    assert_eq!(
        store.current_session(&plain.token, now()).await.unwrap().map(|o| o.idle_expires_at),
        Some(None)
    );
    // Unknown sessions: nothing.
    assert!(!store.touch_session(crate::domain::SessionFamilyId::new(), t, t).await.unwrap());
}

pub async fn end_idle_session_ends_only_idle_sessions(store: Db) {
    let ann = new_user(&store, "ann@example.com").await;
    let t = now();
    let panel = idle_login(&store, ann.id, t, TimeDelta::minutes(30)).await;
    let deadline = t + TimeDelta::minutes(30);
    assert!(
        !store
            .end_idle_session(&panel.token_hash, deadline - TimeDelta::microseconds(1))
            .await
            .unwrap(),
        "not idle yet"
    );
    assert!(store.current_session(&panel.token_hash, t).await.unwrap().is_some());
    assert!(store.end_idle_session(&panel.token_hash, deadline).await.unwrap());
    assert_eq!(
        store.current_session(&panel.token_hash, t).await.unwrap(),
        None,
        "ended for good: revoked, even at an earlier time"
    );
    assert!(!store.end_idle_session(&panel.token_hash, deadline).await.unwrap(), "once");

    // Sessions without an idle limit and unknown tokens are never ended here.
    let plain = login(&store, ann.id).await;
    assert!(!store.end_idle_session(&plain.token, t + TimeDelta::hours(20)).await.unwrap());
    assert!(store.current_session(&plain.token, now()).await.unwrap().is_some());
    assert!(!store.end_idle_session(&token(), now()).await.unwrap());
}
