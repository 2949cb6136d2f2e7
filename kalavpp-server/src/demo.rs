//! `kalavpp seed-demo`: a small shop to try the marketplace with (development only): three approved
//! artists with published works (physical and digital, with downloadable files and a generated
//! picture each, so the storefront has something to show) and a customer.
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

/// The emails of the `seed-demo` artists.
pub(crate) fn artist_emails() -> impl Iterator<Item = &'static str> {
    ARTISTS.iter().map(|artist| artist.0)
}

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

pub(crate) async fn register(market: &Marketplace, email: &str, name: &str) -> Result<Option<Actor>, Error> {
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

/// A deterministic picture for `title`: a sky, a sun and three rolling hills in a palette chosen
/// by the title, as a PNG of 600 × 750 pixels.
///
/// # Panics
/// Never: encoding a PNG in memory cannot fail.
pub fn artwork(title: &str) -> Bytes {
    let seed = title
        .bytes()
        .fold(2_166_136_261_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(16_777_619));
    let palettes: [[[u8; 3]; 5]; 4] = [
        [[244, 211, 163], [231, 146, 107], [111, 92, 120], [62, 74, 104], [33, 40, 61]],
        [[206, 229, 236], [164, 201, 196], [104, 158, 134], [59, 112, 92], [31, 62, 54]],
        [[250, 236, 214], [233, 196, 150], [196, 131, 86], [140, 82, 56], [74, 44, 35]],
        [[222, 218, 240], [186, 160, 214], [137, 112, 170], [84, 74, 128], [40, 36, 70]],
    ];
    let palette = palettes[(seed % 4) as usize];
    let (width, height) = (600_u32, 750_u32);
    let phase = f64::from(seed % 628) / 100.0;
    let sun = (
        f64::from(120 + seed % 360),
        f64::from(140 + (seed >> 8) % 160),
        55.0 + f64::from((seed >> 16) % 30),
    );
    let mix = |a: [u8; 3], b: [u8; 3], t: f64| -> [u8; 3] {
        let lerp = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * t.clamp(0.0, 1.0)).round() as u8;
        [lerp(a[0], b[0]), lerp(a[1], b[1]), lerp(a[2], b[2])]
    };
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (f64::from(x), f64::from(y));
        let mut colour = mix(palette[0], palette[1], fy / (f64::from(height) * 0.6));
        if ((fx - sun.0).powi(2) + (fy - sun.1).powi(2)).sqrt() < sun.2 {
            colour = mix([255, 246, 224], palette[1], 0.15);
        }
        for (layer, base) in [(0.0, 0.48), (1.0, 0.62), (2.0, 0.78)] {
            let ridge = f64::from(height)
                * (base + 0.05 * (fx / (90.0 + layer * 40.0) + phase * (layer + 1.0)).sin() + 0.02 * (fx / 23.0 + layer).sin());
            if fy > ridge {
                colour = mix(palette[2 + layer as usize], palette[4], (fy - ridge) / f64::from(height) * 0.8);
            }
        }
        // A little grain, like paper.
        let grain = ((x.wrapping_mul(7_919) ^ y.wrapping_mul(104_729) ^ seed) % 9) as i16 - 4;
        image::Rgb(colour.map(|c| (i16::from(c) + grain).clamp(0, 255) as u8))
    });
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encoding a PNG in memory cannot fail");
    Bytes::from(png)
}

/// Creates what is missing; returns how many works were created (0 when everything existed).
pub async fn seed(market: &Marketplace, max_asset: u64) -> Result<usize, Error> {
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
        for (title, kind, price, category, tags) in *items {
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
            market.media().add_image(&artist, product.id, artwork(title)).await?;
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
