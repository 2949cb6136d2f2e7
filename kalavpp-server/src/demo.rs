//! `kalavpp seed-demo`: a small shop to try the marketplace with (development only): three approved
//! artists with published works (physical and digital, with downloadable files) and a customer.
//! Running it again changes nothing.

use std::process::ExitCode;

use bytes::Bytes;
use kalavpp_core::auth::Actor;
use kalavpp_core::services::{ProductDraft, Registration, VendorApplication};
use kalavpp_core::{Error, Marketplace, Mode};

use crate::settings::Settings;

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "demo-password-123";
/// The demo customer.
pub const DEMO_CUSTOMER: &str = "customer@demo.kalavpp.test";

/// (email, name, shop, bio, works: (title, kind, price cents, category slug, tags))
type Artist = (&'static str, &'static str, &'static str, &'static str, &'static [Work]);
type Work = (&'static str, &'static str, i64, &'static str, &'static [&'static str]);

const ARTISTS: &[Artist] = &[
    (
        "aria@demo.kalavpp.test",
        "Aria Moreau",
        "Aria Oils",
        "Large oil landscapes of harbours and hills.",
        &[
            (
                "Harbour at dawn",
                "physical",
                48_000,
                "oil-paintings",
                &["harbour", "landscape", "blue"],
            ),
            ("Hills after rain", "physical", 36_500, "oil-paintings", &["landscape", "green"]),
            (
                "Harbour study (high-resolution scan)",
                "digital",
                1_500,
                "digital-art",
                &["harbour", "study"],
            ),
        ],
    ),
    (
        "bruno@demo.kalavpp.test",
        "Bruno Sato",
        "Bruno Ceramics",
        "Wheel-thrown stoneware with celadon and ash glazes.",
        &[
            ("Celadon vase", "physical", 12_000, "ceramics", &["vase", "celadon"]),
            ("Ash-glazed tea bowl", "physical", 6_500, "ceramics", &["tea", "bowl"]),
        ],
    ),
    (
        "chen@demo.kalavpp.test",
        "Chen Li",
        "Chen Prints",
        "Risograph prints and digital brushes.",
        &[
            ("Night market (risograph)", "physical", 4_500, "prints", &["city", "night", "print"]),
            ("Watercolour brush pack", "digital", 1_999, "digital-art", &["brushes", "procreate"]),
            ("Ink textures", "digital", 999, "digital-art", &["textures", "ink"]),
        ],
    ),
];

/// Seeds the demo data into the configured database.
pub async fn run(settings: Settings) -> ExitCode {
    if settings.core.mode == Mode::Production {
        eprintln!("kalavpp: seed-demo only runs in development (it creates accounts with a known password)");
        return ExitCode::FAILURE;
    }
    let max_asset = settings.core.max_asset_bytes;
    let market = match Marketplace::open(settings.core).await {
        Ok(market) => market,
        Err(err) => {
            eprintln!("kalavpp: cannot open the database: {err}");
            return ExitCode::FAILURE;
        }
    };
    match seed(&market, max_asset).await {
        Ok(0) => {
            println!("the demo data is already there");
            ExitCode::SUCCESS
        }
        Ok(works) => {
            println!("seeded {} artists with {works} published works and a customer", ARTISTS.len());
            println!("sign in as {DEMO_CUSTOMER} (or aria@, bruno@, chen@demo.kalavpp.test) with the password {DEMO_PASSWORD}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("kalavpp: seeding failed: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn register(market: &Marketplace, email: &str, name: &str) -> Result<Option<Actor>, Error> {
    let registration = Registration {
        email: email.into(),
        password: DEMO_PASSWORD.into(),
        name: name.into(),
    };
    match market.accounts().register(registration).await {
        Ok(session) => Ok(Some(market.accounts().authenticate(&session.tokens.access_token).await?)),
        Err(Error::Conflict { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Creates what is missing; returns how many works were created (0 when everything existed).
async fn seed(market: &Marketplace, max_asset: u64) -> Result<usize, Error> {
    let mut works = 0;
    register(market, DEMO_CUSTOMER, "Demo Customer").await?;
    for (email, name, shop, bio, items) in ARTISTS {
        let Some(applicant) = register(market, email, name).await? else {
            continue;
        };
        let application = VendorApplication {
            shop_name: (*shop).into(),
            bio: Some((*bio).into()),
            payout_details: None,
        };
        let vendor = market.vendors().apply(&applicant, application).await?;
        market.vendors().approve(&Actor::System, vendor.id).await?;
        // The role changed: sign in again for a vendor actor.
        let session = market.accounts().login(email, DEMO_PASSWORD).await?;
        let artist = market.accounts().authenticate(&session.tokens.access_token).await?;
        for (title, kind, price, category, tags) in items.iter() {
            let draft = ProductDraft {
                title: (*title).into(),
                description: format!("{title} by {name}. {bio}"),
                kind: (*kind).into(),
                price_cents: *price,
                stock: (*kind == "physical").then_some(3),
                category_id: (*category).into(),
                tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                status: Some("published".into()),
            };
            let product = market.catalog().create_product(&artist, draft).await?;
            if *kind == "digital" {
                let file = Bytes::from(format!("{title}\nA demo download from {shop}.\n"));
                let body = futures_util::stream::iter([Ok::<_, std::io::Error>(file)]);
                let filename = format!("{}.txt", product.slug);
                market.media().upload_asset(&artist, product.id, &filename, body, max_asset).await?;
            }
            works += 1;
        }
    }
    Ok(works)
}
