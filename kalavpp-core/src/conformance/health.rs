//! `HealthStore::ping`. (`Store::backend_name` differs by backend on purpose, so the built-in
//! backends check it in their own runner rather than here.)

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_health {
    ($callback:ident) => {
        $callback! {
            group: health,
            store: [
                ping_succeeds,
            ],
            sql: [],
        }
    };
}

__conformance_health!(define_cases);

pub async fn ping_succeeds(store: Db) {
    store.ping().await.expect("ping an empty database");
    new_user(&store, "ann@example.com").await;
    store.ping().await.expect("ping again");
}
