//! `JobLeaseStore`: one holder per job and period, take-over after the lease runs out.

use chrono::Duration;

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_leases {
    ($callback:ident) => {
        $callback! {
            group: leases,
            store: [
                a_free_job_is_leased_to_the_first_asker_only,
                an_expired_lease_is_taken_over,
                the_holder_releases_its_own_lease_only,
                concurrent_askers_get_one_lease,
            ],
            sql: [],
        }
    };
}

__conformance_leases!(define_cases);

pub async fn a_free_job_is_leased_to_the_first_asker_only(store: Db) {
    let now = chrono::Utc::now();
    assert_eq!(store.lease("backup").await.unwrap(), None);
    assert!(store.acquire_lease("backup", "a", now, now + Duration::hours(1)).await.unwrap());
    assert!(!store.acquire_lease("backup", "b", now, now + Duration::hours(1)).await.unwrap());
    assert!(
        !store
            .acquire_lease("backup", "b", now + Duration::minutes(59), now + Duration::hours(2))
            .await
            .unwrap()
    );
    let (holder, until) = store.lease("backup").await.unwrap().unwrap();
    assert_eq!(holder, "a");
    assert_eq!(until.timestamp_micros(), (now + Duration::hours(1)).timestamp_micros());
    // Another job is independent.
    assert!(store.acquire_lease("other", "b", now, now + Duration::hours(1)).await.unwrap());
}

pub async fn an_expired_lease_is_taken_over(store: Db) {
    let now = chrono::Utc::now();
    assert!(store.acquire_lease("backup", "a", now, now + Duration::minutes(5)).await.unwrap());
    let later = now + Duration::minutes(5);
    assert!(
        store
            .acquire_lease("backup", "b", later, later + Duration::minutes(5))
            .await
            .unwrap()
    );
    assert_eq!(store.lease("backup").await.unwrap().unwrap().0, "b");
    assert!(
        !store
            .acquire_lease("backup", "a", later, later + Duration::minutes(5))
            .await
            .unwrap()
    );
}

pub async fn the_holder_releases_its_own_lease_only(store: Db) {
    let now = chrono::Utc::now();
    assert!(store.acquire_lease("backup", "a", now, now + Duration::minutes(5)).await.unwrap());
    assert!(
        !store
            .acquire_lease("backup", "a", now + Duration::minutes(1), now + Duration::minutes(10))
            .await
            .unwrap(),
        "not even the holder runs the job twice in one lease"
    );
    store.release_lease("backup", "b", now).await.unwrap();
    assert!(
        !store.acquire_lease("backup", "b", now, now + Duration::minutes(5)).await.unwrap(),
        "b cannot release a's lease"
    );
    store.release_lease("backup", "a", now).await.unwrap();
    assert!(
        store.acquire_lease("backup", "b", now, now + Duration::minutes(5)).await.unwrap(),
        "released at once"
    );
    store.release_lease("missing", "a", now).await.unwrap();
}

pub async fn concurrent_askers_get_one_lease(store: Db) {
    let now = chrono::Utc::now();
    let askers = (0..8).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .acquire_lease("backup", &format!("instance-{n}"), now, now + Duration::hours(1))
                .await
                .unwrap()
        })
    });
    let mut granted = 0;
    for asker in askers {
        granted += usize::from(asker.await.unwrap());
    }
    assert_eq!(granted, 1);
}
