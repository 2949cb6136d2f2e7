//! `kalavpp serve --demo`: the first run of a development server is a shop.
//!
//! On an empty database (no accounts at all) the server fills in, through the marketplace's own
//! services: the `seed-demo` data (three artists, eight works, a customer), five more approved
//! artists with about fifty works across the categories (each with a generated picture; digital
//! works with a download), two artists whose applications wait for review, two more customers, an
//! administrator, paid orders (through checkout and the development payment provider), shipped
//! lines, reviews by the buyers, and a payout request. Every account shares
//! [`DEMO_PASSWORD`](crate::demo::DEMO_PASSWORD).

use bytes::Bytes;
use kalavpp_core::auth::Actor;
use kalavpp_core::domain::UserFilter;
use kalavpp_core::domain::{PageRequest, ProductKind};
use kalavpp_core::payments::{PaymentEvent, PaymentEventKind};
use kalavpp_core::services::{BrowseFilters, ProductDraft, ReviewDraft, VendorApplication};
use kalavpp_core::{Error, Marketplace};

use crate::demo::{DEMO_CUSTOMER, DEMO_PASSWORD, artwork, register, seed};

/// The demo administrator.
pub const DEMO_ADMIN: &str = "admin@demo.kalavpp.test";
/// The demo artist the banner names.
pub const DEMO_ARTIST: &str = "aria@demo.kalavpp.test";

/// (email, name, shop, bio, category slug, price range in cents, digital every nth work, titles)
type Artist = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    (i64, i64),
    usize,
    &'static [&'static str],
);

const MORE_ARTISTS: &[Artist] = &[
    (
        "dara@demo.kalavpp.test",
        "Dara Okafor",
        "Dara Acrylics",
        "Bold acrylic abstracts in layered colour fields.",
        "acrylic-paintings",
        (18_000, 95_000),
        4,
        &[
            "Field of ochre",
            "Red weather",
            "Quiet geometry",
            "Tidal blue",
            "Midsummer grid",
            "Lantern orange",
            "Slow river",
            "Copper dusk",
            "Blue hour study",
            "Open window",
        ],
    ),
    (
        "elin@demo.kalavpp.test",
        "Elin Voss",
        "Elin Watercolours",
        "Loose watercolours of coasts, birds and northern light.",
        "watercolour-paintings",
        (6_500, 32_000),
        3,
        &[
            "Gulls over the pier",
            "Birch shadows",
            "Fjord morning",
            "Heron in the reeds",
            "Lighthouse, late",
            "Snow on the dunes",
            "Fishing huts",
            "Cloud study no. 4",
            "Salt marsh",
            "Puffin cliffs",
        ],
    ),
    (
        "farid@demo.kalavpp.test",
        "Farid Haddad",
        "Farid Photography",
        "Street and architecture photography, printed on cotton rag.",
        "photography",
        (4_000, 28_000),
        2,
        &[
            "Stairwell, Lisbon",
            "Rain on Nevsky",
            "Market at six",
            "Concrete cathedral",
            "Tram lines",
            "The last ferry",
            "Rooftops in fog",
            "Neon laundromat",
            "Window seat",
            "Morning bakery",
        ],
    ),
    (
        "greta@demo.kalavpp.test",
        "Greta Lind",
        "Greta Drawings",
        "Charcoal and graphite drawings of hands, plants and people.",
        "drawings",
        (3_500, 24_000),
        3,
        &[
            "Hands at rest",
            "Fern, graphite",
            "Portrait of M.",
            "Seed heads",
            "The reader",
            "Sleeping cat",
            "Old oak",
            "Study of folds",
            "Dancer, charcoal",
            "Thistle",
        ],
    ),
    (
        "hiro@demo.kalavpp.test",
        "Hiro Tanaka",
        "Hiro Textiles & Jewellery",
        "Hand-woven textiles and small silver pieces.",
        "textiles",
        (2_500, 42_000),
        5,
        &[
            "Indigo runner",
            "Wool throw, moss",
            "Silver leaf ring",
            "Shibori scarf",
            "Tapestry: tide",
            "Linen cushion",
            "Hammered cuff",
            "Wall hanging, rust",
            "Seed pearl studs",
            "Weaving pattern pack",
        ],
    ),
];

/// Works of the textile artist that are jewellery.
const JEWELLERY: &[&str] = &["Silver leaf ring", "Hammered cuff", "Seed pearl studs"];

/// Artists whose applications wait for the admin: (email, name, shop, bio).
const PENDING_ARTISTS: &[(&str, &str, &str, &str)] = &[
    (
        "ines@demo.kalavpp.test",
        "Ines Duarte",
        "Ines Sculpture",
        "Bronze and driftwood sculpture from the Atlantic coast.",
    ),
    (
        "jonas@demo.kalavpp.test",
        "Jonas Berg",
        "Jonas Mixed Media",
        "Collage and mixed media on found paper.",
    ),
];

/// More customers: (email, name).
const MORE_CUSTOMERS: &[(&str, &str)] = &[("maya@demo.kalavpp.test", "Maya Chen"), ("tom@demo.kalavpp.test", "Tom Baker")];

/// What the buyers write about what they bought: (rating, title, body).
const REVIEWS: &[(i64, &str, &str)] = &[
    (
        5,
        "Even better in person",
        "The colours are deeper than on screen. Beautifully packed, too.",
    ),
    (4, "Lovely work", "Arrived quickly and looks wonderful in our hallway."),
    (5, "A favourite", "I look at it every morning. Thank you!"),
    (5, "Exactly as described", "Careful packing and a handwritten note from the artist."),
    (4, "Very happy", "Smaller than I imagined, but the detail is superb."),
];

/// Every approved demo artist: the `seed-demo` ones and the ones added here.
pub fn approved_artist_emails() -> impl Iterator<Item = &'static str> {
    crate::demo::artist_emails().chain(MORE_ARTISTS.iter().map(|artist| artist.0))
}

/// Whether the database has no accounts at all (a first run).
pub async fn is_empty(market: &Marketplace) -> Result<bool, Error> {
    let users = market
        .admin()
        .list_users(&Actor::System, UserFilter::default(), PageRequest::new(1, 1))
        .await?;
    Ok(users.total == 0)
}

/// Fills an empty database with the demo marketplace; returns the published works.
pub async fn fill(market: &Marketplace, max_asset: u64) -> Result<usize, Error> {
    let mut works = seed(market, max_asset).await?;
    market
        .accounts()
        .create_admin(&Actor::System, DEMO_ADMIN, DEMO_PASSWORD, "Demo Admin")
        .await?;
    let mut artists = Vec::new();
    for artist in MORE_ARTISTS {
        let (email, name, shop, bio, ..) = artist;
        let Some(applicant) = register(market, email, name).await? else {
            continue;
        };
        let application = VendorApplication {
            shop_name: (*shop).into(),
            bio: Some((*bio).into()),
            payout_details: Some(serde_json::json!({"method": "bank_transfer", "iban": "DE89 3704 0044 0532 0130 00"})),
        };
        let vendor = market.vendors().apply(&applicant, application).await?;
        market.vendors().approve(&Actor::System, vendor.id).await?;
        artists.push((artist, sign_in(market, email).await?));
    }
    // One work of each artist in turn, so "new works" shows every shop.
    let longest = MORE_ARTISTS.iter().map(|a| a.7.len()).max().unwrap_or(0);
    for n in 0..longest {
        for ((_, name, shop, bio, category, (low, high), digital_every, titles), artist) in &artists {
            let Some(title) = titles.get(n) else {
                continue;
            };
            let digital = (n + 1) % digital_every == 0;
            // Prices spread over the artist's range, rounded to whole units.
            let span = (high - low) / titles.len().max(1) as i64;
            let whole = ((low + span * ((n * 7) % titles.len()) as i64) / 100).max(1);
            // Downloads cost a tenth, ending in .99.
            let price = if digital { (whole / 10).max(5) * 100 - 1 } else { whole * 100 };
            let category = if JEWELLERY.contains(title) { "jewellery" } else { category };
            let draft = ProductDraft {
                title: (*title).into(),
                description: format!("{title} by {name}. {bio}"),
                kind: if digital { "digital" } else { "physical" }.into(),
                price_cents: price,
                stock: (!digital).then_some(1 + (n as i64 % 3)),
                category_id: category.to_string(),
                tags: title
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.len() > 3)
                    .map(str::to_lowercase)
                    .take(3)
                    .collect(),
                status: Some("published".into()),
            };
            let product = market.catalog().create_product(artist, draft).await?;
            market.media().add_image(artist, product.id, artwork(title)).await?;
            if digital {
                let file = Bytes::from(format!("{title}\nA demo download from {shop}.\n"));
                let body = futures_util::stream::iter([Ok::<_, std::io::Error>(file)]);
                let filename = format!("{}.txt", product.slug);
                market.media().upload_asset(artist, product.id, &filename, body, max_asset).await?;
            }
            works += 1;
        }
    }
    for (email, name, shop, bio) in PENDING_ARTISTS {
        if let Some(applicant) = register(market, email, name).await? {
            let application = VendorApplication {
                shop_name: (*shop).into(),
                bio: Some((*bio).into()),
                payout_details: None,
            };
            market.vendors().apply(&applicant, application).await?;
        }
    }
    for (email, name) in MORE_CUSTOMERS {
        register(market, email, name).await?;
    }
    if market.payments().name() == "dev" {
        sell(market).await?;
    }
    Ok(works)
}

async fn sign_in(market: &Marketplace, email: &str) -> Result<Actor, Error> {
    let session = market.accounts().login(email, DEMO_PASSWORD).await?;
    market.accounts().authenticate(&session.tokens.access_token).await
}

/// Paid orders, shipped lines, reviews and a payout request, through the services.
async fn sell(market: &Marketplace) -> Result<(), Error> {
    let listed = market
        .catalog()
        .browse(BrowseFilters::default(), PageRequest::new(1, 100))
        .await?
        .items
        .clone();
    let customers: Vec<&str> = std::iter::once(DEMO_CUSTOMER)
        .chain(MORE_CUSTOMERS.iter().map(|(e, _)| *e))
        .collect();
    let address = serde_json::json!({"name": "Demo Customer", "line1": "1 Gallery Road", "city": "Porto", "postal_code": "4000-001", "country": "PT"});
    let mut review = 0;
    // Every approved artist, signed in, by shop: they ship their own sales.
    let mut sellers: std::collections::HashMap<kalavpp_core::domain::VendorId, Actor> = std::collections::HashMap::new();
    for email in approved_artist_emails() {
        let artist = sign_in(market, email).await?;
        sellers.insert(market.vendors().mine(&artist).await?.id, artist);
    }
    for (c, email) in customers.iter().enumerate() {
        let buyer = sign_in(market, email).await?;
        // Three orders each, two works per order, spread over the catalogue.
        for o in 0..3 {
            let picks = [
                listed.get((c * 11 + o * 5) % listed.len()),
                listed.get((c * 11 + o * 5 + 3) % listed.len()),
            ];
            for product in picks.into_iter().flatten() {
                // A sold-out work is skipped.
                let _ = market.cart().add(&buyer, &product.id.to_string(), 1).await;
            }
            let Ok(outcome) = market.orders().checkout(&buyer, Some(address.clone())).await else {
                continue;
            };
            let order = outcome.order;
            market
                .orders()
                .apply_event(PaymentEvent {
                    event_id: format!("demo_evt_{}", uuid::Uuid::new_v4().simple()),
                    kind: PaymentEventKind::Succeeded,
                    session_id: Some(outcome.payment_session_id.clone()),
                    payment_intent_id: Some(format!("dev_pi_{}", outcome.payment_session_id)),
                    order_id: Some(order.id),
                    amount_cents: Some(order.total.cents()),
                    currency: Some(order.currency.clone()),
                })
                .await?;
            for item in &order.items {
                if item.kind == ProductKind::Physical && o < 2 {
                    let Some(seller) = sellers.get(&item.vendor_id) else {
                        continue;
                    };
                    let tracking = format!("DEMO{:06}", review * 37 + 11);
                    market
                        .orders()
                        .fulfil(seller, order.id, item.id, Some(tracking), Some("DHL".into()))
                        .await?;
                }
                let (rating, title, body) = REVIEWS[review % REVIEWS.len()];
                review += 1;
                let draft = ReviewDraft {
                    rating,
                    title: Some(title.into()),
                    body: body.into(),
                };
                market.reviews().create(&buyer, &item.product_id.to_string(), draft).await?;
            }
        }
    }
    // The demo skips the refund window: shipped and digital sales are available at once, so a
    // payout can be requested.
    market.orders().release_all_sales_now(&Actor::System).await?;
    // The artist with the most to draw asks for half of it.
    let mut richest: Option<(i64, Actor)> = None;
    for email in approved_artist_emails() {
        let artist = sign_in(market, email).await?;
        let available = market
            .orders()
            .earnings(&artist, PageRequest::new(1, 1))
            .await?
            .balance
            .available
            .cents();
        if richest.as_ref().is_none_or(|(most, _)| available > *most) {
            richest = Some((available, artist));
        }
    }
    if let Some((available, artist)) = richest.filter(|(available, _)| *available > 1) {
        market.payouts().request(&artist, available / 2).await?;
    }
    Ok(())
}
