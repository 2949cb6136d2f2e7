//! `CatalogStore`: categories, products, the public catalog (filters, sorts, full-text search),
//! vendors' own lists, images and digital assets.

use std::sync::Arc;

use crate::domain::{AuditFilter, Category, Product, ProductQuery, ProductSort};
use crate::domain::{CategoryId, ImageId, Money, Page, PageRequest, ProductId, ProductKind, ProductStatus, VendorId, VendorStatus};
use crate::storage::{CategoryChange, NewCategory, NewProduct, ProductUpdate, StoreError};
use crate::storage::{Conflict, Sluggable, Table};

use crate::conformance::RawSql;
use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_catalog {
    ($callback:ident) => {
        $callback! {
            group: catalog,
            store: [
                seeded_categories_exist,
                insert_category_round_trips_with_audit_row,
                duplicate_category_slug_is_a_conflict,
                update_category_renames_moves_and_reslugs,
                update_category_conflicts_and_unknown,
                delete_category_removes_an_unused_category,
                delete_category_in_use_is_a_conflict,
                category_product_count_counts_visible_products,
                insert_product_round_trips,
                duplicate_product_slug_is_a_conflict,
                unknown_product_is_none,
                update_product_replaces_editable_fields,
                update_product_of_unknown_product_is_not_found,
                list_products_shows_published_products_of_approved_vendors,
                list_products_filters,
                list_products_sorts_price_and_newest,
                list_products_paginates,
                search_matches_stemmed_words_in_title_description_and_tags,
                search_requires_every_term,
                search_follows_updates,
                search_with_a_count_cap_keeps_items_and_order,
                search_count_cap_counts_exactly_below_it,
                search_matches_are_the_visible_matches_with_their_sort_columns,
                products_by_ids_keep_the_order_asked,
                list_vendor_products_shows_every_status,
                add_product_image_appends_up_to_the_limit,
                add_product_image_limit_holds_under_concurrency,
                add_product_image_of_unknown_product_is_not_found,
                delete_product_image_returns_the_row,
                move_product_image_reorders_and_renumbers,
                images_are_loaded_with_products_in_lists,
                set_product_asset_sets_and_replaces,
            ],
            sql: [
                list_products_sorts_by_rating_and_popularity,
            ],
        }
    };
}

__conformance_catalog!(define_cases);

/// Slugs of a public list, in order; checks that the page holds every match.
async fn public(store: &Db, query: ProductQuery) -> Vec<String> {
    let page = store.list_products(&query, PageRequest::new(1, 100)).await.expect("list products");
    assert_eq!(page.total, page.items.len() as i64, "one page holds them all");
    page.items.into_iter().map(|p| p.slug).collect()
}

/// Slugs of the public list sorted by `sort`.
async fn sorted_by(store: &Db, sort: ProductSort) -> Vec<String> {
    public(
        store,
        ProductQuery {
            sort,
            ..ProductQuery::default()
        },
    )
    .await
}

/// Slugs of the public list matching `terms`, newest first.
async fn search(store: &Db, terms: &[&str]) -> Vec<String> {
    public(
        store,
        ProductQuery {
            terms: terms.iter().map(|t| (*t).to_owned()).collect(),
            ..ProductQuery::default()
        },
    )
    .await
}

fn slugs(page: &Page<Product>) -> Vec<&str> {
    page.items.iter().map(|p| p.slug.as_str()).collect()
}

fn new_category(slug: &str, name: &str, parent_id: Option<CategoryId>) -> NewCategory {
    let id = CategoryId::new();
    NewCategory {
        id,
        slug: slug.to_owned(),
        name: name.to_owned(),
        parent_id,
        audit: audit_of(None, "category.create", "category", id, now()),
    }
}

fn category_change(id: CategoryId) -> CategoryChange {
    CategoryChange {
        id,
        name: None,
        slug: None,
        parent_id: None,
        audit: audit_of(None, "category.update", "category", id, now()),
    }
}

async fn category(store: &Db, id: CategoryId) -> Option<Category> {
    store.list_categories().await.unwrap().into_iter().find(|c| c.id == id)
}

/// The full editable state of `product`, to be changed field by field.
fn update_of(product: &Product) -> ProductUpdate {
    ProductUpdate {
        id: product.id,
        title: product.title.clone(),
        description: product.description.clone(),
        kind: product.kind,
        price: product.price,
        stock: product.stock,
        category_id: product.category.id,
        status: product.status,
        tags: product.tags.clone(),
        at: now(),
        audit: None,
    }
}

fn with_status(record: NewProduct, status: ProductStatus) -> NewProduct {
    NewProduct { status, ..record }
}

fn tagged(record: NewProduct, description: &str, tags: &[&str]) -> NewProduct {
    NewProduct {
        description: description.to_owned(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        ..record
    }
}

pub async fn seeded_categories_exist(store: Db) {
    let categories = store.list_categories().await.unwrap();
    let names: Vec<&str> = categories.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Acrylic paintings",
            "Ceramics",
            "Digital art",
            "Drawings",
            "Illustration",
            "Jewellery",
            "Mixed media",
            "Oil paintings",
            "Paintings",
            "Photography",
            "Prints",
            "Sculpture",
            "Textiles",
            "Watercolour paintings",
        ],
        "14 seeded categories, ordered by name"
    );
    let paintings = categories.iter().find(|c| c.slug == "paintings").expect("paintings");
    assert_eq!(paintings.id, seeded::paintings());
    assert_eq!(paintings.parent_id, None);
    let mut children: Vec<&str> = categories
        .iter()
        .filter(|c| c.parent_id == Some(seeded::paintings()))
        .map(|c| c.slug.as_str())
        .collect();
    children.sort_unstable();
    assert_eq!(children, ["acrylic-paintings", "oil-paintings", "watercolour-paintings"]);
    let oil = categories.iter().find(|c| c.id == seeded::oil_paintings()).unwrap();
    assert_eq!((oil.slug.as_str(), oil.name.as_str()), ("oil-paintings", "Oil paintings"));
    assert_eq!(
        category(&store, seeded::acrylic_paintings()).await.unwrap().slug,
        "acrylic-paintings"
    );
    assert_eq!(
        category(&store, seeded::watercolour_paintings()).await.unwrap().slug,
        "watercolour-paintings"
    );
    assert_eq!(category(&store, seeded::photography()).await.unwrap().slug, "photography");
    assert_eq!(category(&store, seeded::ceramics()).await.unwrap().slug, "ceramics");
    assert_eq!(categories.iter().filter(|c| c.parent_id.is_none()).count(), 11);
    assert!(categories.iter().all(|c| c.product_count == 0));
}

pub async fn insert_category_round_trips_with_audit_row(store: Db) {
    let admin = new_user(&store, "ada@example.com").await;
    let mut top = new_category("zines", "Zines", None);
    top.audit.actor_id = Some(admin.id);
    let audit = top.audit.clone();
    let inserted = store.insert_category(top.clone()).await.unwrap();
    assert_eq!(
        inserted,
        Category {
            id: top.id,
            slug: "zines".into(),
            name: "Zines".into(),
            parent_id: None,
            product_count: 0,
        }
    );
    let child = store
        .insert_category(new_category("risograph-zines", "Risograph zines", Some(top.id)))
        .await
        .unwrap();
    assert_eq!(child.parent_id, Some(top.id));
    // A lower-case name sorts by code point, the same on both backends (after every capital).
    let lower = store.insert_category(new_category("assemblage", "assemblage", None)).await.unwrap();

    let categories = store.list_categories().await.unwrap();
    assert_eq!(categories.len(), 17);
    let names: Vec<&str> = categories.iter().map(|c| c.name.as_str()).collect();
    let zines = names.iter().position(|n| *n == "Zines").unwrap();
    let riso = names.iter().position(|n| *n == "Risograph zines").unwrap();
    let textiles = names.iter().position(|n| *n == "Textiles").unwrap();
    let watercolour = names.iter().position(|n| *n == "Watercolour paintings").unwrap();
    assert!(riso < textiles && textiles < watercolour && watercolour < zines, "{names:?}");
    assert_eq!(categories.last(), Some(&lower), "{names:?}");
    assert_eq!(categories.iter().find(|c| c.id == top.id), Some(&inserted));

    let log = store.list_audit(&AuditFilter::default(), PageRequest::new(1, 100)).await.unwrap();
    assert_eq!(log.total, 3, "one audit row per category");
    let row = log.items.iter().find(|e| e.id == audit.id).expect("the audit row of `top`");
    assert_eq!(
        (row.actor_id, row.action.as_str(), row.target_type.as_str(), row.target_id.clone()),
        (Some(admin.id), "category.create", "category", top.id.to_string())
    );
}

pub async fn duplicate_category_slug_is_a_conflict(store: Db) {
    let clash = new_category("paintings", "More paintings", None);
    assert_conflict(store.insert_category(clash.clone()).await, Conflict::SlugTaken(Sluggable::Category));
    assert_eq!(store.list_categories().await.unwrap().len(), 14, "nothing was written");
    assert!(category(&store, clash.id).await.is_none());
    assert_eq!(audit_count(&store).await, 0, "no audit row for a category that was not made");

    let ok = store.insert_category(new_category("zines", "Zines", None)).await.unwrap();
    assert_conflict(
        store.insert_category(new_category("zines", "Zines again", None)).await,
        Conflict::SlugTaken(Sluggable::Category),
    );
    let same_id = NewCategory {
        id: ok.id,
        ..new_category("other", "Other", None)
    };
    assert_conflict(store.insert_category(same_id).await, Conflict::DuplicateId(Table::Categories));
    assert_eq!(store.list_categories().await.unwrap().len(), 15);
    assert_eq!(audit_count(&store).await, 1);
}

pub async fn update_category_renames_moves_and_reslugs(store: Db) {
    let zines = store.insert_category(new_category("zines", "Zines", None)).await.unwrap();
    let audits = audit_count(&store).await;

    let renamed = store
        .update_category(CategoryChange {
            name: Some("Zines & comics".into()),
            ..category_change(zines.id)
        })
        .await
        .unwrap();
    assert_eq!(
        (renamed.slug.as_str(), renamed.name.as_str(), renamed.parent_id),
        ("zines", "Zines & comics", None),
        "None keeps slug and parent"
    );

    let moved = store
        .update_category(CategoryChange {
            slug: Some("zines-and-comics".into()),
            parent_id: Some(Some(seeded::prints())),
            ..category_change(zines.id)
        })
        .await
        .unwrap();
    assert_eq!(
        (moved.slug.as_str(), moved.name.as_str(), moved.parent_id),
        ("zines-and-comics", "Zines & comics", Some(seeded::prints()))
    );
    assert_eq!(category(&store, zines.id).await, Some(moved.clone()));

    let top = store
        .update_category(CategoryChange {
            parent_id: Some(None),
            ..category_change(zines.id)
        })
        .await
        .unwrap();
    assert_eq!(top.parent_id, None, "Some(None) makes it top-level");
    assert_eq!(top.slug, "zines-and-comics");

    // A seeded category can be renamed too; its children stay.
    let paintings = store
        .update_category(CategoryChange {
            name: Some("Painting".into()),
            ..category_change(seeded::paintings())
        })
        .await
        .unwrap();
    assert_eq!(paintings.name, "Painting");
    assert_eq!(
        category(&store, seeded::oil_paintings()).await.unwrap().parent_id,
        Some(seeded::paintings())
    );
    assert_eq!(audit_count(&store).await, audits + 4, "every change is audited");
}

pub async fn update_category_conflicts_and_unknown(store: Db) {
    let zines = store.insert_category(new_category("zines", "Zines", None)).await.unwrap();
    let audits = audit_count(&store).await;
    assert_conflict(
        store
            .update_category(CategoryChange {
                slug: Some("prints".into()),
                name: Some("Renamed".into()),
                ..category_change(zines.id)
            })
            .await,
        Conflict::SlugTaken(Sluggable::Category),
    );
    assert_eq!(category(&store, zines.id).await, Some(zines.clone()), "nothing changed");
    assert_not_found(
        store
            .update_category(CategoryChange {
                name: Some("Ghost".into()),
                ..category_change(CategoryId::new())
            })
            .await,
    );
    assert_eq!(audit_count(&store).await, audits, "failed changes are not audited");
    assert_eq!(store.list_categories().await.unwrap().len(), 15);
}

pub async fn delete_category_removes_an_unused_category(store: Db) {
    let zines = store.insert_category(new_category("zines", "Zines", None)).await.unwrap();
    let audits = audit_count(&store).await;
    let audit = audit_of(None, "category.delete", "category", zines.id, now());
    store.delete_category(zines.id, audit.clone()).await.unwrap();
    assert!(category(&store, zines.id).await.is_none());
    assert_eq!(store.list_categories().await.unwrap().len(), 14);
    let log = store.list_audit(&AuditFilter::default(), PageRequest::new(1, 100)).await.unwrap();
    assert_eq!(log.total, audits + 1);
    assert!(log.items.iter().any(|e| e.id == audit.id && e.action == "category.delete"));

    // Deleted twice / unknown: NotFound, not audited. Its slug is free again.
    assert_not_found(
        store
            .delete_category(zines.id, audit_of(None, "category.delete", "category", zines.id, now()))
            .await,
    );
    let ghost = CategoryId::new();
    assert_not_found(
        store
            .delete_category(ghost, audit_of(None, "category.delete", "category", ghost, now()))
            .await,
    );
    assert_eq!(audit_count(&store).await, audits + 1);
    store.insert_category(new_category("zines", "Zines", None)).await.unwrap();

    // A seeded leaf category without products can be deleted.
    store
        .delete_category(
            seeded::ceramics(),
            audit_of(None, "category.delete", "category", seeded::ceramics(), now()),
        )
        .await
        .unwrap();
    assert!(category(&store, seeded::ceramics()).await.is_none());
}

pub async fn delete_category_in_use_is_a_conflict(store: Db) {
    let delete = |id: CategoryId| {
        let store = store.clone();
        async move {
            store
                .delete_category(id, audit_of(None, "category.delete", "category", id, now()))
                .await
        }
    };
    // A parent of other categories.
    assert_conflict(delete(seeded::paintings()).await, Conflict::CategoryInUse);
    // A category with products in any status (here a draft and an archived one of a pending vendor).
    let (_, pending) = applicant_at(&store, "ann@example.com", "Ann Atelier", now()).await;
    let draft = add_product(
        &store,
        with_status(product(pending.id, seeded::photography(), "Draft"), ProductStatus::Draft),
    )
    .await;
    assert_conflict(delete(seeded::photography()).await, Conflict::CategoryInUse);
    add_product(
        &store,
        with_status(product(pending.id, seeded::prints(), "Gone"), ProductStatus::Archived),
    )
    .await;
    assert_conflict(delete(seeded::prints()).await, Conflict::CategoryInUse);
    assert_eq!(audit_count(&store).await, 0, "refused deletions are not audited");
    assert!(category(&store, seeded::paintings()).await.is_some());
    assert!(category(&store, seeded::photography()).await.is_some());

    // Once the product moves away, the category can go.
    store
        .update_product(ProductUpdate {
            category_id: seeded::ceramics(),
            ..update_of(&draft)
        })
        .await
        .unwrap();
    delete(seeded::photography()).await.unwrap();
    // Children of `paintings` moved away make it deletable too.
    for child in [
        seeded::oil_paintings(),
        seeded::acrylic_paintings(),
        seeded::watercolour_paintings(),
    ] {
        store
            .update_category(CategoryChange {
                parent_id: Some(None),
                ..category_change(child)
            })
            .await
            .unwrap();
    }
    delete(seeded::paintings()).await.unwrap();
    assert_eq!(store.list_categories().await.unwrap().len(), 12);
}

pub async fn category_product_count_counts_visible_products(store: Db) {
    let ann = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let bob = approved_vendor(&store, "bob@example.com", "Bob Prints").await;
    let (_, pending) = applicant_at(&store, "pat@example.com", "Pat Pending", now()).await;
    let oil = seeded::oil_paintings();
    add_product(&store, product(ann.id, oil, "Harbour")).await;
    add_product(&store, product(bob.id, oil, "Mill")).await;
    add_product(&store, with_status(product(ann.id, oil, "Draft"), ProductStatus::Draft)).await;
    add_product(&store, with_status(product(ann.id, oil, "Archived"), ProductStatus::Archived)).await;
    add_product(&store, product(pending.id, oil, "Pending's")).await;
    add_product(&store, product(ann.id, seeded::prints(), "Print")).await;

    let count = |categories: &[Category], id: CategoryId| categories.iter().find(|c| c.id == id).unwrap().product_count;
    let categories = store.list_categories().await.unwrap();
    assert_eq!(count(&categories, oil), 2, "published products of approved vendors only");
    assert_eq!(count(&categories, seeded::prints()), 1);
    assert_eq!(count(&categories, seeded::paintings()), 0, "products directly in the category only");

    set_vendor_status(&store, bob.id, VendorStatus::Suspended).await;
    set_vendor_status(&store, pending.id, VendorStatus::Approved).await;
    let categories = store.list_categories().await.unwrap();
    assert_eq!(count(&categories, oil), 2, "Bob's is hidden, the newly approved vendor's shows");

    let zines = store.insert_category(new_category("zines", "Zines", None)).await.unwrap();
    assert_eq!(zines.product_count, 0);
    add_product(&store, product(ann.id, zines.id, "Zine")).await;
    let renamed = store
        .update_category(CategoryChange {
            name: Some("Zines!".into()),
            ..category_change(zines.id)
        })
        .await
        .unwrap();
    assert_eq!(renamed.product_count, 1, "update_category returns the count too");
}

pub async fn insert_product_round_trips(store: Db) {
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let at = now();
    let record = NewProduct {
        id: ProductId::new(),
        vendor_id: vendor.id,
        category_id: seeded::oil_paintings(),
        slug: "harbour-at-dusk".into(),
        title: "Harbour at dusk — “Nº 3”".into(),
        description: "Oil on linen.\nSigned 'A.L.' on the back; 50×70 cm.".into(),
        kind: ProductKind::Physical,
        price: Money(125_000),
        stock: Some(1),
        status: ProductStatus::Published,
        tags: vec!["harbour".into(), "oil".into(), "blue hour".into(), "naïve".into()],
        at,
    };
    let stored = store.insert_product(record.clone()).await.unwrap();
    assert_eq!(stored.id, record.id);
    assert_eq!(stored.slug, "harbour-at-dusk");
    assert_eq!(stored.title, record.title);
    assert_eq!(stored.description, record.description);
    assert_eq!(stored.kind, ProductKind::Physical);
    assert_eq!(stored.price, Money(125_000));
    assert_eq!(stored.stock, Some(1));
    assert_eq!(stored.status, ProductStatus::Published);
    assert_eq!(stored.tags, record.tags, "tags round-trip in order");
    assert_eq!(
        (stored.category.id, stored.category.slug.as_str(), stored.category.name.as_str()),
        (seeded::oil_paintings(), "oil-paintings", "Oil paintings")
    );
    assert_eq!(
        (
            stored.vendor.id,
            stored.vendor.slug.as_str(),
            stored.vendor.shop_name.as_str(),
            stored.vendor.status
        ),
        (vendor.id, "ann-atelier", "Ann Atelier", VendorStatus::Approved)
    );
    assert!(stored.images.is_empty());
    assert!(!stored.has_asset);
    assert_eq!((stored.rating_avg, stored.rating_count, stored.sales_count), (0.0, 0, 0));
    assert_eq!((stored.created_at, stored.updated_at), (at, at));

    assert_eq!(store.product_by_id(record.id).await.unwrap().as_ref(), Some(&stored));
    assert_eq!(store.product_by_slug("harbour-at-dusk").await.unwrap().as_ref(), Some(&stored));

    // A digital draft without stock or tags, of a vendor still pending.
    let (_, pending) = applicant_at(&store, "pat@example.com", "Pat Pending", now()).await;
    let digital = add_product(
        &store,
        NewProduct {
            kind: ProductKind::Digital,
            stock: None,
            status: ProductStatus::Draft,
            ..product(pending.id, seeded::photography(), "Night sky pack")
        },
    )
    .await;
    assert_eq!(
        (digital.kind, digital.stock, digital.status),
        (ProductKind::Digital, None, ProductStatus::Draft)
    );
    assert!(digital.tags.is_empty());
    assert_eq!(digital.vendor.status, VendorStatus::Pending);
    assert_eq!(store.product_by_slug("night-sky-pack").await.unwrap().unwrap(), digital);
    assert_eq!(store.product_by_id(record.id).await.unwrap().unwrap(), stored, "told apart");
}

pub async fn duplicate_product_slug_is_a_conflict(store: Db) {
    let ann = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let bob = approved_vendor(&store, "bob@example.com", "Bob Prints").await;
    let first = add_product(&store, product(ann.id, seeded::prints(), "Blue door")).await;
    // Slugs are unique across vendors.
    let clash = product(bob.id, seeded::prints(), "Blue door");
    assert_conflict(store.insert_product(clash.clone()).await, Conflict::SlugTaken(Sluggable::Product));
    assert!(store.product_by_id(clash.id).await.unwrap().is_none(), "nothing was written");
    let same_id = NewProduct {
        id: first.id,
        ..product(bob.id, seeded::prints(), "Other")
    };
    assert_conflict(store.insert_product(same_id).await, Conflict::DuplicateId(Table::Products));
    assert_eq!(store.product_by_slug("blue-door").await.unwrap().unwrap(), first);
    assert_eq!(store.list_vendor_products(bob.id, PageRequest::default()).await.unwrap().total, 0);
    assert_eq!(public(&store, ProductQuery::default()).await, ["blue-door"]);
}

pub async fn unknown_product_is_none(store: Db) {
    assert!(store.product_by_id(ProductId::new()).await.unwrap().is_none());
    assert!(store.product_by_slug("nothing").await.unwrap().is_none());
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    add_product(&store, product(vendor.id, seeded::prints(), "Blue door")).await;
    assert!(store.product_by_id(ProductId::new()).await.unwrap().is_none());
    assert!(store.product_by_slug("blue-doo").await.unwrap().is_none(), "exact, not a prefix");
    assert!(store.product_by_slug("blue-doo_").await.unwrap().is_none(), "not a pattern");
    assert!(store.product_by_slug("blue%").await.unwrap().is_none());
    assert!(store.product_by_slug("Blue-Door").await.unwrap().is_none(), "case-sensitive");
    assert!(store.product_asset(ProductId::new()).await.unwrap().is_none());
}

pub async fn update_product_replaces_editable_fields(store: Db) {
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let t = now();
    let original = add_product(
        &store,
        NewProduct {
            at: t,
            tags: vec!["blue".into()],
            ..product(vendor.id, seeded::prints(), "Blue door")
        },
    )
    .await;
    let other = add_product(&store, product(vendor.id, seeded::prints(), "Red door")).await;
    store.add_product_image(image(original.id, "a"), 10).await.unwrap();
    store.set_product_asset(asset(original.id, "door.zip")).await.unwrap();
    let before = store.product_by_id(original.id).await.unwrap().unwrap();

    let at = t + secs(60);
    let updated = store
        .update_product(ProductUpdate {
            title: "Blue door, second state".into(),
            description: "Digital edition".into(),
            kind: ProductKind::Digital,
            price: Money(2_500),
            stock: None,
            category_id: seeded::photography(),
            status: ProductStatus::Draft,
            tags: vec!["door".into(), "edition".into()],
            at,
            ..update_of(&original)
        })
        .await
        .unwrap();
    assert_eq!(updated.title, "Blue door, second state");
    assert_eq!(updated.description, "Digital edition");
    assert_eq!((updated.kind, updated.stock), (ProductKind::Digital, None));
    assert_eq!(updated.price, Money(2_500));
    assert_eq!(updated.status, ProductStatus::Draft);
    assert_eq!(updated.tags, ["door", "edition"]);
    assert_eq!(
        (updated.category.id, updated.category.slug.as_str()),
        (seeded::photography(), "photography"),
        "the category ref follows"
    );
    assert_eq!(updated.slug, "blue-door", "the slug is kept");
    assert_eq!(updated.created_at, t);
    assert_eq!(updated.updated_at, at);
    assert_eq!(updated.images, before.images, "images are kept");
    assert!(updated.has_asset);
    assert_eq!(store.product_by_id(original.id).await.unwrap().unwrap(), updated);
    assert_eq!(
        store.product_by_id(other.id).await.unwrap().unwrap(),
        other,
        "other products untouched"
    );
    assert_eq!(audit_count(&store).await, 1, "no audit row without one (only the approval's)");

    // Back to physical with stock, published, with an admin's audit row.
    let admin = new_user(&store, "ada@example.com").await;
    let audit = audit_of(Some(admin.id), "product.update", "product", original.id, at + secs(1));
    let again = store
        .update_product(ProductUpdate {
            kind: ProductKind::Physical,
            stock: Some(0),
            status: ProductStatus::Published,
            tags: Vec::new(),
            at: at + secs(1),
            audit: Some(audit.clone()),
            ..update_of(&updated)
        })
        .await
        .unwrap();
    assert_eq!(
        (again.kind, again.stock, again.status),
        (ProductKind::Physical, Some(0), ProductStatus::Published)
    );
    assert!(again.tags.is_empty());
    let log = store
        .list_audit(
            &AuditFilter {
                actor_id: Some(admin.id),
                ..AuditFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(log.total, 1);
    assert_eq!((log.items[0].id, log.items[0].action.as_str()), (audit.id, "product.update"));
}

pub async fn update_product_of_unknown_product_is_not_found(store: Db) {
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let existing = add_product(&store, product(vendor.id, seeded::prints(), "Blue door")).await;
    let audits = audit_count(&store).await;
    let ghost = ProductUpdate {
        id: ProductId::new(),
        title: "Ghost".into(),
        audit: Some(audit_of(None, "product.update", "product", "ghost", now())),
        ..update_of(&existing)
    };
    assert_not_found(store.update_product(ghost).await);
    assert_eq!(audit_count(&store).await, audits, "not audited");
    assert_eq!(store.product_by_id(existing.id).await.unwrap().unwrap(), existing);
}

pub async fn list_products_shows_published_products_of_approved_vendors(store: Db) {
    let t = now();
    let ann = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let (_, pending) = applicant_at(&store, "pat@example.com", "Pat Pending", t).await;
    let bob = approved_vendor(&store, "bob@example.com", "Bob Prints").await;
    let at = |n| t + secs(n);
    add_product(
        &store,
        NewProduct {
            at: at(1),
            ..product(ann.id, seeded::prints(), "Published")
        },
    )
    .await;
    add_product(
        &store,
        NewProduct {
            at: at(2),
            ..with_status(product(ann.id, seeded::prints(), "Draft"), ProductStatus::Draft)
        },
    )
    .await;
    add_product(
        &store,
        NewProduct {
            at: at(3),
            ..with_status(product(ann.id, seeded::prints(), "Archived"), ProductStatus::Archived)
        },
    )
    .await;
    add_product(
        &store,
        NewProduct {
            at: at(4),
            ..product(pending.id, seeded::prints(), "Pending vendor")
        },
    )
    .await;
    add_product(
        &store,
        NewProduct {
            at: at(5),
            ..product(bob.id, seeded::prints(), "Bob")
        },
    )
    .await;

    assert_eq!(public(&store, ProductQuery::default()).await, ["bob", "published"]);
    let listed = store.list_products(&ProductQuery::default(), PageRequest::default()).await.unwrap();
    assert_eq!(
        listed.items[1],
        store.product_by_slug("published").await.unwrap().unwrap(),
        "listed products are whole"
    );

    // A suspended vendor's products are hidden; reinstating shows them again.
    set_vendor_status(&store, bob.id, VendorStatus::Suspended).await;
    assert_eq!(public(&store, ProductQuery::default()).await, ["published"]);
    let by_bob = ProductQuery {
        vendor_id: Some(bob.id),
        ..ProductQuery::default()
    };
    assert!(public(&store, by_bob.clone()).await.is_empty(), "also when asked for by vendor");
    let hidden = store.product_by_slug("bob").await.unwrap().unwrap();
    assert_eq!(
        hidden.vendor.status,
        VendorStatus::Suspended,
        "still readable by slug, with the vendor status"
    );
    set_vendor_status(&store, bob.id, VendorStatus::Approved).await;
    assert_eq!(public(&store, by_bob).await, ["bob"]);

    set_vendor_status(&store, pending.id, VendorStatus::Approved).await;
    assert_eq!(
        public(&store, ProductQuery::default()).await,
        ["bob", "pending-vendor", "published"]
    );
    set_vendor_status(&store, pending.id, VendorStatus::Rejected).await;
    assert_eq!(public(&store, ProductQuery::default()).await, ["bob", "published"]);
}

pub async fn list_products_filters(store: Db) {
    let t = now();
    let ann = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let bob = approved_vendor(&store, "bob@example.com", "Bob Prints").await;
    let make = |vendor: VendorId, category: CategoryId, title: &str, kind: ProductKind, cents: i64, n: i64| NewProduct {
        kind,
        stock: (kind == ProductKind::Physical).then_some(3),
        price: Money(cents),
        at: t + secs(n),
        ..product(vendor, category, title)
    };
    add_product(
        &store,
        make(ann.id, seeded::oil_paintings(), "Oil one", ProductKind::Physical, 50_000, 1),
    )
    .await;
    add_product(
        &store,
        make(ann.id, seeded::acrylic_paintings(), "Acrylic one", ProductKind::Physical, 20_000, 2),
    )
    .await;
    add_product(&store, make(ann.id, seeded::prints(), "Print one", ProductKind::Digital, 1_500, 3)).await;
    add_product(&store, make(bob.id, seeded::prints(), "Print two", ProductKind::Physical, 3_000, 4)).await;
    add_product(
        &store,
        make(bob.id, seeded::photography(), "Photo one", ProductKind::Digital, 999, 5),
    )
    .await;
    add_product(
        &store,
        make(bob.id, seeded::paintings(), "Painting one", ProductKind::Physical, 20_000, 6),
    )
    .await;

    let q = |f: &dyn Fn(&mut ProductQuery)| {
        let mut query = ProductQuery::default();
        f(&mut query);
        query
    };
    assert_eq!(public(&store, ProductQuery::default()).await.len(), 6);

    // Categories: any of the ids given (the service expands descendants).
    assert_eq!(
        public(&store, q(&|q| q.category_ids = vec![seeded::prints()])).await,
        ["print-two", "print-one"]
    );
    assert_eq!(
        public(
            &store,
            q(&|q| q.category_ids = vec![seeded::paintings(), seeded::oil_paintings(), seeded::acrylic_paintings()])
        )
        .await,
        ["painting-one", "acrylic-one", "oil-one"]
    );
    assert_eq!(
        public(&store, q(&|q| q.category_ids = vec![seeded::paintings()])).await,
        ["painting-one"],
        "the store does not expand children itself"
    );
    assert!(public(&store, q(&|q| q.category_ids = vec![seeded::ceramics()])).await.is_empty());

    // Vendor, kind.
    assert_eq!(
        public(&store, q(&|q| q.vendor_id = Some(ann.id))).await,
        ["print-one", "acrylic-one", "oil-one"]
    );
    assert!(public(&store, q(&|q| q.vendor_id = Some(VendorId::new()))).await.is_empty());
    assert_eq!(
        public(&store, q(&|q| q.kind = Some(ProductKind::Digital))).await,
        ["photo-one", "print-one"]
    );
    assert_eq!(public(&store, q(&|q| q.kind = Some(ProductKind::Physical))).await.len(), 4);

    // Prices are inclusive bounds in cents.
    assert_eq!(
        public(&store, q(&|q| q.min_price = Some(20_000))).await,
        ["painting-one", "acrylic-one", "oil-one"]
    );
    assert_eq!(public(&store, q(&|q| q.max_price = Some(1_500))).await, ["photo-one", "print-one"]);
    assert_eq!(
        public(
            &store,
            q(&|q| {
                q.min_price = Some(1_500);
                q.max_price = Some(20_000);
            })
        )
        .await,
        ["painting-one", "print-two", "print-one", "acrylic-one"]
    );
    assert!(
        public(
            &store,
            q(&|q| {
                q.min_price = Some(20_001);
                q.max_price = Some(49_999);
            })
        )
        .await
        .is_empty()
    );

    // Everything together.
    assert_eq!(
        public(
            &store,
            q(&|q| {
                q.category_ids = vec![seeded::prints(), seeded::photography()];
                q.vendor_id = Some(bob.id);
                q.kind = Some(ProductKind::Digital);
                q.min_price = Some(500);
                q.max_price = Some(1_000);
                q.sort = ProductSort::PriceAsc;
            })
        )
        .await,
        ["photo-one"]
    );
    let page = store
        .list_products(&q(&|q| q.kind = Some(ProductKind::Physical)), PageRequest::new(2, 3))
        .await
        .unwrap();
    assert_eq!((page.page, page.per_page, page.total), (2, 3, 4), "total counts every match");
    assert_eq!(slugs(&page), ["oil-one"]);
}

pub async fn list_products_sorts_price_and_newest(store: Db) {
    let t = now();
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let make = |title: &str, cents: i64, n: i64| NewProduct {
        price: Money(cents),
        at: t + secs(n),
        ..product(vendor.id, seeded::prints(), title)
    };
    add_product(&store, make("Mid", 2_000, 1)).await;
    add_product(&store, make("Cheap", 500, 2)).await;
    add_product(&store, make("Dear", 9_000, 3)).await;
    // Two at the same price and time: ties are broken by id.
    let tie_a = add_product(&store, make("Tie a", 2_000, 4)).await;
    let tie_b = add_product(&store, make("Tie b", 2_000, 4)).await;
    let (low, high) = if tie_a.id < tie_b.id {
        ("tie-a", "tie-b")
    } else {
        ("tie-b", "tie-a")
    };

    assert_eq!(
        sorted_by(&store, ProductSort::Newest).await,
        [high, low, "dear", "cheap", "mid"],
        "newest first, then greatest id"
    );
    assert_eq!(
        public(&store, ProductQuery::default()).await,
        sorted_by(&store, ProductSort::Newest).await,
        "newest is the default"
    );
    let mids: Vec<&str> = {
        let mut mids = vec![
            ("mid", store.product_by_slug("mid").await.unwrap().unwrap().id),
            ("tie-a", tie_a.id),
            ("tie-b", tie_b.id),
        ];
        mids.sort_by_key(|(_, id)| *id);
        mids.into_iter().map(|(slug, _)| slug).collect()
    };
    let mut ascending = vec!["cheap"];
    ascending.extend(&mids);
    ascending.push("dear");
    assert_eq!(
        sorted_by(&store, ProductSort::PriceAsc).await,
        ascending,
        "cheapest first, then smallest id"
    );
    let mut descending = vec!["dear"];
    descending.extend(mids.iter().rev());
    descending.push("cheap");
    assert_eq!(
        sorted_by(&store, ProductSort::PriceDesc).await,
        descending,
        "dearest first, then greatest id"
    );
    // Without ratings or sales, rating and popular fall back to newest first.
    assert_eq!(
        sorted_by(&store, ProductSort::Rating).await,
        sorted_by(&store, ProductSort::Newest).await
    );
    assert_eq!(
        sorted_by(&store, ProductSort::Popular).await,
        sorted_by(&store, ProductSort::Newest).await
    );
}

pub async fn list_products_sorts_by_rating_and_popularity(store: Db, sql: Arc<dyn RawSql>) {
    let t = now();
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    for (n, title) in ["A", "B", "C", "D", "E"].into_iter().enumerate() {
        add_product(
            &store,
            NewProduct {
                at: t + secs(n as i64),
                ..product(vendor.id, seeded::prints(), title)
            },
        )
        .await;
    }
    // Ratings and sales are written by reviews and orders; set them directly here.
    let statements = "UPDATE products SET rating_avg = 4.5, rating_count = 2, sales_count = 7 WHERE slug = 'a';
         UPDATE products SET rating_avg = 4.5, rating_count = 9, sales_count = 1 WHERE slug = 'b';
         UPDATE products SET rating_avg = 3.0, rating_count = 50, sales_count = 7 WHERE slug = 'c';
         UPDATE products SET rating_avg = 4.5, rating_count = 2, sales_count = 0 WHERE slug = 'd';
         UPDATE products SET rating_avg = 0, rating_count = 0, sales_count = 30 WHERE slug = 'e';";
    sql.execute(statements).await.unwrap_or_else(|e| panic!("{statements}: {e}"));
    assert_eq!(
        sorted_by(&store, ProductSort::Rating).await,
        ["b", "d", "a", "c", "e"],
        "best average, then most reviews, then newest"
    );
    assert_eq!(
        sorted_by(&store, ProductSort::Popular).await,
        ["e", "c", "a", "b", "d"],
        "most sold, then newest"
    );
    let a = store.product_by_slug("a").await.unwrap().unwrap();
    assert_eq!((a.rating_avg, a.rating_count, a.sales_count), (4.5, 2, 7));
    let page = store
        .list_products(
            &ProductQuery {
                sort: ProductSort::Rating,
                ..ProductQuery::default()
            },
            PageRequest::new(2, 2),
        )
        .await
        .unwrap();
    assert_eq!(slugs(&page), ["a", "c"]);
    assert_eq!(page.total, 5);
}

pub async fn list_products_paginates(store: Db) {
    let empty = store
        .list_products(&ProductQuery::default(), PageRequest::new(1, 10))
        .await
        .unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.total, 0);

    let t = now();
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    for n in 0..5 {
        add_product(
            &store,
            NewProduct {
                at: t + secs(n),
                ..product(vendor.id, seeded::prints(), &format!("Print {n}"))
            },
        )
        .await;
    }
    let everything = ProductQuery::default();
    let page = |n| store.list_products(&everything, PageRequest::new(n, 2));
    let first = page(1).await.unwrap();
    assert_eq!((first.page, first.per_page, first.total), (1, 2, 5));
    assert_eq!(slugs(&first), ["print-4", "print-3"]);
    assert_eq!(slugs(&page(2).await.unwrap()), ["print-2", "print-1"]);
    assert_eq!(slugs(&page(3).await.unwrap()), ["print-0"]);
    let beyond = page(4).await.unwrap();
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 5);
}

/// Three published products and a draft for the search tests.
async fn searchable(store: &Db) {
    let t = now();
    let vendor = approved_vendor(store, "ann@example.com", "Ann Atelier").await;
    let make = |title: &str, description: &str, tags: &[&str], n: i64| NewProduct {
        at: t + secs(n),
        ..tagged(product(vendor.id, seeded::paintings(), title), description, tags)
    };
    add_product(
        store,
        make(
            "Harbour at dusk",
            "Warm sunsets painted over the old harbour walls.",
            &["seascape", "oil"],
            1,
        ),
    )
    .await;
    add_product(
        store,
        make(
            "Mountain morning",
            "Mist on the peaks at first light.",
            &["landscape", "sunrise"],
            2,
        ),
    )
    .await;
    add_product(
        store,
        make(
            "City lights",
            "Night streets in the rain, seen from a café.",
            &["urban", "neon-signs", "日本"],
            3,
        ),
    )
    .await;
    add_product(
        store,
        with_status(
            make("Sunset sketch", "Unfinished sunset study.", &["seascape"], 4),
            ProductStatus::Draft,
        ),
    )
    .await;
}

pub async fn search_matches_stemmed_words_in_title_description_and_tags(store: Db) {
    searchable(&store).await;
    assert_eq!(
        search(&store, &["sunset"]).await,
        ["harbour-at-dusk"],
        "'sunsets' in the description, stemmed"
    );
    assert_eq!(search(&store, &["sunsets"]).await, ["harbour-at-dusk"], "a plural term matches too");
    assert_eq!(
        search(&store, &["painting"]).await,
        ["harbour-at-dusk"],
        "'painted' and 'painting' share a stem"
    );
    assert_eq!(search(&store, &["mountain"]).await, ["mountain-morning"], "the title");
    assert_eq!(search(&store, &["mornings"]).await, ["mountain-morning"]);
    assert_eq!(
        search(&store, &["seascape"]).await,
        ["harbour-at-dusk"],
        "a tag (the draft is not listed)"
    );
    assert_eq!(search(&store, &["neon"]).await, ["city-lights"], "a word of a hyphenated tag");
    assert_eq!(search(&store, &["landscape"]).await, ["mountain-morning"]);
    assert_eq!(
        search(&store, &["light"]).await,
        ["city-lights", "mountain-morning"],
        "'lights' and 'light'"
    );
    assert!(search(&store, &["sun"]).await.is_empty(), "whole words, not prefixes");
    assert_eq!(search(&store, &["café"]).await, ["city-lights"], "words beyond ASCII");
    assert_eq!(search(&store, &["日本"]).await, ["city-lights"]);
    assert!(search(&store, &["ocean"]).await.is_empty());
    assert!(search(&store, &["!!!"]).await.is_empty(), "a term without a word matches nothing");

    // Search combines with the other filters.
    let query = ProductQuery {
        terms: vec!["light".into()],
        max_price: Some(500),
        ..ProductQuery::default()
    };
    assert!(public(&store, query).await.is_empty());
    let query = ProductQuery {
        terms: vec!["light".into()],
        sort: ProductSort::PriceAsc,
        category_ids: vec![seeded::paintings()],
        ..ProductQuery::default()
    };
    assert_eq!(public(&store, query).await.len(), 2);
}

pub async fn search_requires_every_term(store: Db) {
    searchable(&store).await;
    assert_eq!(search(&store, &["harbour", "sunset"]).await, ["harbour-at-dusk"]);
    assert_eq!(
        search(&store, &["seascape", "warm", "oil"]).await,
        ["harbour-at-dusk"],
        "across fields"
    );
    assert!(search(&store, &["harbour", "mist"]).await.is_empty(), "both must match");
    assert!(search(&store, &["light", "ocean"]).await.is_empty());
    assert_eq!(search(&store, &["light", "rain"]).await, ["city-lights"]);
    assert_eq!(
        search(&store, &[]).await,
        ["city-lights", "mountain-morning", "harbour-at-dusk"],
        "no terms, no search"
    );
    let page = store
        .list_products(
            &ProductQuery {
                terms: vec!["light".into()],
                ..ProductQuery::default()
            },
            PageRequest::new(1, 1),
        )
        .await
        .unwrap();
    assert_eq!((page.total, slugs(&page)), (2, vec!["city-lights"]), "total counts search matches");
}

pub async fn search_follows_updates(store: Db) {
    searchable(&store).await;
    let harbour = store.product_by_slug("harbour-at-dusk").await.unwrap().unwrap();
    store
        .update_product(ProductUpdate {
            title: "Lighthouse at noon".into(),
            description: "Bright waves and gulls.".into(),
            tags: vec!["coast".into()],
            ..update_of(&harbour)
        })
        .await
        .unwrap();
    assert!(
        search(&store, &["sunset"]).await.is_empty(),
        "the old description is gone from the index"
    );
    assert!(search(&store, &["seascape"]).await.is_empty(), "the old tags too");
    assert!(search(&store, &["harbour"]).await.is_empty(), "and the old title");
    assert_eq!(search(&store, &["gull"]).await, ["harbour-at-dusk"]);
    assert_eq!(search(&store, &["coast"]).await, ["harbour-at-dusk"]);
    assert_eq!(search(&store, &["lighthouse", "wave"]).await, ["harbour-at-dusk"]);

    // Publishing the draft makes it searchable; hiding a product removes it.
    let sketch = store.product_by_slug("sunset-sketch").await.unwrap().unwrap();
    store
        .update_product(ProductUpdate {
            status: ProductStatus::Published,
            ..update_of(&sketch)
        })
        .await
        .unwrap();
    assert_eq!(search(&store, &["sunset"]).await, ["sunset-sketch"]);
    let mountain = store.product_by_slug("mountain-morning").await.unwrap().unwrap();
    store
        .update_product(ProductUpdate {
            status: ProductStatus::Archived,
            ..update_of(&mountain)
        })
        .await
        .unwrap();
    assert!(search(&store, &["mountain"]).await.is_empty());
}

/// 36 published works, every fourth one about "light" (9 matches), created in threes at the same
/// second and priced in fives (ties in every sort order), plus a matching draft.
async fn common_and_rare(store: &Db) -> usize {
    let t = now();
    let vendor = approved_vendor(store, "ann@example.com", "Ann Atelier").await;
    for n in 0..36 {
        let title = if n % 4 == 0 {
            format!("Light study {n}")
        } else {
            format!("Dark study {n}")
        };
        add_product(
            store,
            NewProduct {
                at: t + secs(n / 3),
                price: Money(1_000 + (n % 5) * 100),
                ..product(vendor.id, seeded::prints(), &title)
            },
        )
        .await;
    }
    add_product(
        store,
        with_status(product(vendor.id, seeded::prints(), "Light draft"), ProductStatus::Draft),
    )
    .await;
    9
}

const SORTS: [ProductSort; 5] = [
    ProductSort::Newest,
    ProductSort::PriceAsc,
    ProductSort::PriceDesc,
    ProductSort::Rating,
    ProductSort::Popular,
];

pub async fn search_with_a_count_cap_keeps_items_and_order(store: Db) {
    let matches = common_and_rare(&store).await;
    for terms in [vec!["light".to_owned()], vec!["light".to_owned(), "study".to_owned()]] {
        for sort in SORTS {
            let exact = ProductQuery {
                terms: terms.clone(),
                sort,
                ..ProductQuery::default()
            };
            for cap in [0, 1, 3, 8] {
                let capped = ProductQuery {
                    count_cap: Some(cap),
                    ..exact.clone()
                };
                for per_page in [1, 2, 4] {
                    // Every page, including those past the cap and the one past the last match.
                    for n in 1..=(matches as u32 / per_page + 1) {
                        let request = PageRequest::new(n, per_page);
                        let want = store.list_products(&exact, request).await.unwrap();
                        let got = store.list_products(&capped, request).await.unwrap();
                        let what = format!("{terms:?} {sort:?} cap {cap} page {n} of {per_page}");
                        assert_eq!(slugs(&got), slugs(&want), "{what}: same items in the same order");
                        assert_eq!((want.total, want.total_capped), (matches as i64, false), "{what}");
                        assert_eq!((got.total, got.total_capped), (cap, true), "{what}: counting stops at the cap");
                    }
                }
            }
        }
    }
    // The same works in every sort order, each tie broken the same way every time.
    let all = ProductQuery {
        terms: vec!["light".into()],
        count_cap: Some(2),
        ..ProductQuery::default()
    };
    let mut pages = Vec::new();
    for n in 1..=5 {
        let page = store.list_products(&all, PageRequest::new(n, 2)).await.unwrap();
        pages.extend(slugs(&page).into_iter().map(str::to_owned));
    }
    assert_eq!(pages.len(), matches);
    let newest: Vec<String> = (0..36).rev().filter(|n| n % 4 == 0).map(|n| format!("light-study-{n}")).collect();
    assert_eq!(
        pages
            .iter()
            .map(|s| s.rsplit('-').next().unwrap().parse::<i32>().unwrap() / 3)
            .collect::<Vec<_>>(),
        newest
            .iter()
            .map(|s| s.rsplit('-').next().unwrap().parse::<i32>().unwrap() / 3)
            .collect::<Vec<_>>(),
        "newest first, by creation second"
    );
}

pub async fn search_count_cap_counts_exactly_below_it(store: Db) {
    let matches = common_and_rare(&store).await as i64;
    let query = |cap| ProductQuery {
        terms: vec!["light".into()],
        count_cap: Some(cap),
        ..ProductQuery::default()
    };
    for cap in [matches, matches + 1, 1_000] {
        let page = store.list_products(&query(cap), PageRequest::new(1, 4)).await.unwrap();
        assert_eq!((page.total, page.total_capped, page.items.len()), (matches, false, 4), "cap {cap}");
        let beyond = store.list_products(&query(cap), PageRequest::new(4, 4)).await.unwrap();
        assert_eq!((beyond.total, beyond.total_capped), (matches, false), "cap {cap}");
        assert!(beyond.items.is_empty(), "past the last match");
    }
    let page = store.list_products(&query(matches - 1), PageRequest::new(3, 4)).await.unwrap();
    assert_eq!(
        (page.total, page.total_capped, page.items.len()),
        (matches - 1, true, 1),
        "the last match past the cap"
    );
    // Filters count into the cap: one category holds every match, another none.
    let prints = ProductQuery {
        category_ids: vec![seeded::prints()],
        ..query(3)
    };
    let page = store.list_products(&prints, PageRequest::new(1, 20)).await.unwrap();
    assert_eq!((page.total, page.total_capped, page.items.len() as i64), (3, true, matches));
    let paintings = ProductQuery {
        category_ids: vec![seeded::paintings()],
        ..query(3)
    };
    let page = store.list_products(&paintings, PageRequest::new(1, 20)).await.unwrap();
    assert_eq!((page.total, page.total_capped, page.items.len()), (0, false, 0));
    // A cap on a list without search terms counts the same way.
    let everything = ProductQuery {
        count_cap: Some(10),
        ..ProductQuery::default()
    };
    let page = store.list_products(&everything, PageRequest::new(4, 10)).await.unwrap();
    assert_eq!((page.total, page.total_capped, page.items.len()), (10, true, 6));
}

pub async fn list_vendor_products_shows_every_status(store: Db) {
    let t = now();
    let (_, pending) = applicant_at(&store, "pat@example.com", "Pat Pending", t).await;
    let other = approved_vendor(&store, "bob@example.com", "Bob Prints").await;
    let empty = store.list_vendor_products(pending.id, PageRequest::default()).await.unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.total, 0);

    let make = |title: &str, status, n| NewProduct {
        at: t + secs(n),
        ..with_status(product(pending.id, seeded::prints(), title), status)
    };
    add_product(&store, make("Draft", ProductStatus::Draft, 1)).await;
    add_product(&store, make("Published", ProductStatus::Published, 2)).await;
    add_product(&store, make("Archived", ProductStatus::Archived, 3)).await;
    let same_a = add_product(&store, make("Same a", ProductStatus::Draft, 4)).await;
    let same_b = add_product(&store, make("Same b", ProductStatus::Draft, 4)).await;
    add_product(&store, product(other.id, seeded::prints(), "Bob's")).await;
    let (low, high) = if same_a.id < same_b.id {
        ("same-a", "same-b")
    } else {
        ("same-b", "same-a")
    };

    let all = store.list_vendor_products(pending.id, PageRequest::new(1, 100)).await.unwrap();
    assert_eq!(all.total, 5, "every status, of a vendor not yet approved, and only its own");
    assert_eq!(
        slugs(&all),
        [high, low, "archived", "published", "draft"],
        "newest first, then greatest id"
    );
    assert_eq!(
        all.items[2],
        store.product_by_slug("archived").await.unwrap().unwrap(),
        "whole products"
    );

    let second = store.list_vendor_products(pending.id, PageRequest::new(2, 2)).await.unwrap();
    assert_eq!((second.page, second.per_page, second.total), (2, 2, 5));
    assert_eq!(slugs(&second), ["archived", "published"]);
    let beyond = store.list_vendor_products(pending.id, PageRequest::new(4, 2)).await.unwrap();
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 5);
    assert_eq!(
        slugs(&store.list_vendor_products(other.id, PageRequest::default()).await.unwrap()),
        ["bob-s"]
    );
    assert_eq!(
        store
            .list_vendor_products(VendorId::new(), PageRequest::default())
            .await
            .unwrap()
            .total,
        0
    );
    // A suspended vendor still sees its products.
    set_vendor_status(&store, other.id, VendorStatus::Suspended).await;
    assert_eq!(store.list_vendor_products(other.id, PageRequest::default()).await.unwrap().total, 1);
}

pub async fn add_product_image_appends_up_to_the_limit(store: Db) {
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let p = add_product(&store, product(vendor.id, seeded::prints(), "Blue door")).await;
    let other = add_product(&store, product(vendor.id, seeded::prints(), "Red door")).await;

    let mut added = Vec::new();
    for key in ["front", "detail", "back"] {
        let record = image(p.id, key);
        let stored = store.add_product_image(record.clone(), 3).await.unwrap();
        assert_eq!(
            stored,
            crate::domain::ProductImage {
                position: added.len() as i32,
                ..record
            },
            "appended at the next position"
        );
        added.push(stored);
    }
    let extra = image(p.id, "extra");
    assert_conflict(store.add_product_image(extra.clone(), 3).await, Conflict::TooManyImages);
    assert_conflict(store.add_product_image(image(p.id, "extra2"), 2).await, Conflict::TooManyImages);
    assert_conflict(store.add_product_image(image(p.id, "none"), 0).await, Conflict::TooManyImages);

    let loaded = store.product_by_id(p.id).await.unwrap().unwrap();
    assert_eq!(loaded.images, added, "images in position order");
    assert_eq!(loaded.updated_at, added[2].created_at, "adding an image touches the product");
    assert_eq!(store.product_by_slug("blue-door").await.unwrap().unwrap().images, added);
    assert!(
        store.product_by_id(other.id).await.unwrap().unwrap().images.is_empty(),
        "images belong to one product"
    );
    // The limit is per product, and a larger limit lets more in.
    store.add_product_image(image(other.id, "front"), 3).await.unwrap();
    let fourth = store.add_product_image(image(p.id, "fourth"), 4).await.unwrap();
    assert_eq!(fourth.position, 3);

    // After a deletion the freed slot can be used; positions keep growing from the largest.
    store.delete_product_image(p.id, added[1].id, None).await.unwrap();
    let fifth = store.add_product_image(image(p.id, "fifth"), 4).await.unwrap();
    assert_eq!(fifth.position, 4);
    let positions: Vec<i32> = store
        .product_by_id(p.id)
        .await
        .unwrap()
        .unwrap()
        .images
        .iter()
        .map(|i| i.position)
        .collect();
    assert_eq!(positions, [0, 2, 3, 4]);
    assert_conflict(store.add_product_image(image(p.id, "sixth"), 4).await, Conflict::TooManyImages);
    let image_id_clash = crate::domain::ProductImage {
        id: fifth.id,
        ..image(other.id, "clash")
    };
    assert_conflict(
        store.add_product_image(image_id_clash, 10).await,
        Conflict::DuplicateId(Table::ProductImages),
    );
}

pub async fn add_product_image_limit_holds_under_concurrency(store: Db) {
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let p = add_product(&store, product(vendor.id, seeded::prints(), "Blue door")).await;
    let mut tasks = Vec::new();
    for n in 0..12 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.add_product_image(image(p.id, &format!("img{n}")), 5).await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Conflict(what)) => assert_eq!(what, Conflict::TooManyImages),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 5, "exactly max_images uploads succeed");
    let positions: Vec<i32> = store
        .product_by_id(p.id)
        .await
        .unwrap()
        .unwrap()
        .images
        .iter()
        .map(|i| i.position)
        .collect();
    assert_eq!(positions, [0, 1, 2, 3, 4], "distinct consecutive positions");
}

pub async fn add_product_image_of_unknown_product_is_not_found(store: Db) {
    let record = image(ProductId::new(), "ghost");
    assert_not_found(store.add_product_image(record.clone(), 5).await);
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let p = add_product(&store, product(vendor.id, seeded::prints(), "Blue door")).await;
    assert!(store.delete_product_image(p.id, record.id, None).await.unwrap().is_none());
}

pub async fn delete_product_image_returns_the_row(store: Db) {
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let p = add_product(&store, product(vendor.id, seeded::prints(), "Blue door")).await;
    let other = add_product(&store, product(vendor.id, seeded::prints(), "Red door")).await;
    let first = store.add_product_image(image(p.id, "a"), 5).await.unwrap();
    let second = store.add_product_image(image(p.id, "b"), 5).await.unwrap();
    let third = store.add_product_image(image(p.id, "c"), 5).await.unwrap();
    let others = store.add_product_image(image(other.id, "x"), 5).await.unwrap();

    // Another product's image (or an unknown one) is not found, and stays.
    assert!(store.delete_product_image(p.id, others.id, None).await.unwrap().is_none());
    assert!(store.delete_product_image(other.id, first.id, None).await.unwrap().is_none());
    assert!(store.delete_product_image(p.id, ImageId::new(), None).await.unwrap().is_none());
    assert!(
        store
            .delete_product_image(ProductId::new(), first.id, None)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.product_by_id(other.id).await.unwrap().unwrap().images, vec![others]);

    let audits = audit_count(&store).await;
    let row = || Some(audit_of(None, "product.image_delete", "product", p.id, now()));
    let deleted = store.delete_product_image(p.id, second.id, row()).await.unwrap();
    assert_eq!(deleted, Some(second.clone()), "the deleted row, for file clean-up");
    assert_eq!(audit_count(&store).await, audits + 1, "the admin's removal is audited with it");
    assert!(
        store.delete_product_image(p.id, second.id, row()).await.unwrap().is_none(),
        "only once"
    );
    assert_eq!(audit_count(&store).await, audits + 1, "nothing removed, nothing audited");
    assert_eq!(
        store.product_by_id(p.id).await.unwrap().unwrap().images,
        [first.clone(), third.clone()],
        "the others keep their positions"
    );
    assert_eq!(store.delete_product_image(p.id, first.id, None).await.unwrap(), Some(first));
    assert_eq!(store.delete_product_image(p.id, third.id, None).await.unwrap(), Some(third));
    assert!(store.product_by_id(p.id).await.unwrap().unwrap().images.is_empty());
    assert_eq!(store.add_product_image(image(p.id, "again"), 5).await.unwrap().position, 0);
}

pub async fn images_are_loaded_with_products_in_lists(store: Db) {
    let t = now();
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let a = add_product(
        &store,
        NewProduct {
            at: t,
            ..product(vendor.id, seeded::prints(), "A")
        },
    )
    .await;
    let b = add_product(
        &store,
        NewProduct {
            at: t + secs(1),
            ..product(vendor.id, seeded::prints(), "B")
        },
    )
    .await;
    let c = add_product(
        &store,
        NewProduct {
            at: t + secs(2),
            ..product(vendor.id, seeded::prints(), "C")
        },
    )
    .await;
    let a1 = store.add_product_image(image(a.id, "a1"), 5).await.unwrap();
    let c1 = store.add_product_image(image(c.id, "c1"), 5).await.unwrap();
    let a2 = store.add_product_image(image(a.id, "a2"), 5).await.unwrap();
    let c2 = store.add_product_image(image(c.id, "c2"), 5).await.unwrap();
    let a3 = store.add_product_image(image(a.id, "a3"), 5).await.unwrap();
    store.set_product_asset(asset(b.id, "b.zip")).await.unwrap();

    let expect = |page: &Page<Product>| {
        let images = |slug: &str| page.items.iter().find(|p| p.slug == slug).unwrap().images.clone();
        assert_eq!(images("a"), [a1.clone(), a2.clone(), a3.clone()]);
        assert!(images("b").is_empty());
        assert_eq!(images("c"), [c1.clone(), c2.clone()]);
        let assets: Vec<bool> = page.items.iter().map(|p| p.has_asset).collect();
        assert_eq!(assets, [false, true, false], "has_asset per product");
    };
    let public = store.list_products(&ProductQuery::default(), PageRequest::default()).await.unwrap();
    assert_eq!(slugs(&public), ["c", "b", "a"]);
    expect(&public);
    let own = store.list_vendor_products(vendor.id, PageRequest::default()).await.unwrap();
    expect(&own);
    for p in &own.items {
        assert_eq!(&store.product_by_id(p.id).await.unwrap().unwrap(), p, "lists and lookups agree");
    }
}

pub async fn set_product_asset_sets_and_replaces(store: Db) {
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let digital = NewProduct {
        kind: ProductKind::Digital,
        stock: None,
        ..product(vendor.id, seeded::photography(), "Night sky pack")
    };
    let p = add_product(&store, digital.clone()).await;
    let other = add_product(
        &store,
        NewProduct {
            id: ProductId::new(),
            slug: "other-pack".into(),
            ..digital
        },
    )
    .await;
    assert!(store.product_asset(p.id).await.unwrap().is_none());
    assert!(!p.has_asset);

    let first = asset(p.id, "night-sky.zip");
    assert_eq!(store.set_product_asset(first.clone()).await.unwrap(), None, "nothing replaced");
    assert_eq!(store.product_asset(p.id).await.unwrap(), Some(first.clone()));
    assert!(store.product_by_id(p.id).await.unwrap().unwrap().has_asset);
    assert!(store.product_asset(other.id).await.unwrap().is_none(), "per product");
    assert!(!store.product_by_id(other.id).await.unwrap().unwrap().has_asset);

    let second = crate::domain::ProductAsset {
        filename: "night-sky-v2 (final).zip".into(),
        size_bytes: 9_876_543_210,
        created_at: now() + secs(1),
        ..asset(p.id, "ignored")
    };
    assert_eq!(
        store.set_product_asset(second.clone()).await.unwrap(),
        Some(first),
        "the replaced asset, for file clean-up"
    );
    assert_eq!(store.product_asset(p.id).await.unwrap(), Some(second.clone()));
    assert!(store.product_by_slug("night-sky-pack").await.unwrap().unwrap().has_asset);

    store.set_product_asset(asset(other.id, "other.zip")).await.unwrap();
    assert_eq!(
        store.product_asset(p.id).await.unwrap(),
        Some(second),
        "the other product's upload changes nothing here"
    );

    // A product that does not exist.
    assert_not_found(store.set_product_asset(asset(ProductId::new(), "ghost.zip")).await);
}

pub async fn move_product_image_reorders_and_renumbers(store: Db) {
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let p = add_product(&store, product(vendor.id, seeded::prints(), "Blue door")).await;
    let other = add_product(&store, product(vendor.id, seeded::prints(), "Red door")).await;
    let mut ids = Vec::new();
    for key in ["a", "b", "c", "d"] {
        ids.push(store.add_product_image(image(p.id, key), 10).await.unwrap().id);
    }
    // A gap in the positions (after a removal) is closed by the next move.
    store.delete_product_image(p.id, ids.remove(1), None).await.unwrap();
    let order = |product: Product| product.images.iter().map(|i| (i.id, i.position)).collect::<Vec<_>>();

    assert!(
        store.move_product_image(p.id, ids[2], 0, None).await.unwrap(),
        "last becomes the cover"
    );
    let loaded = store.product_by_id(p.id).await.unwrap().unwrap();
    assert_eq!(order(loaded), vec![(ids[2], 0), (ids[0], 1), (ids[1], 2)]);

    assert!(
        store.move_product_image(p.id, ids[2], 99, None).await.unwrap(),
        "past the end means last"
    );
    let loaded = store.product_by_id(p.id).await.unwrap().unwrap();
    assert_eq!(order(loaded), vec![(ids[0], 0), (ids[1], 1), (ids[2], 2)]);

    // Another product's image, an unknown one: nothing moves and no audit row is written.
    let at = now();
    let audit = || Some(audit_of(None, "product.image_move", "product", p.id, at));
    assert!(!store.move_product_image(other.id, ids[0], 0, audit()).await.unwrap());
    assert!(!store.move_product_image(p.id, ImageId::new(), 0, audit()).await.unwrap());
    let log = store.list_audit(&AuditFilter::default(), PageRequest::new(1, 100)).await.unwrap();
    assert!(log.items.iter().all(|e| e.action != "product.image_move"));

    // A move with an audit row writes it in the same transaction.
    assert!(store.move_product_image(p.id, ids[1], 0, audit()).await.unwrap());
    let log = store.list_audit(&AuditFilter::default(), PageRequest::new(1, 100)).await.unwrap();
    assert_eq!(log.items.iter().filter(|e| e.action == "product.image_move").count(), 1);
    let loaded = store.product_by_id(p.id).await.unwrap().unwrap();
    assert_eq!(order(loaded), vec![(ids[1], 0), (ids[0], 1), (ids[2], 2)]);
}

pub async fn search_matches_are_the_visible_matches_with_their_sort_columns(store: Db) {
    searchable(&store).await;
    for terms in [
        vec!["light"],
        vec!["harbour", "sunset"],
        vec!["seascape"],
        vec!["ocean"],
        vec!["light", "rain"],
    ] {
        let terms: Vec<String> = terms.into_iter().map(str::to_owned).collect();
        let listed = store
            .list_products(
                &ProductQuery {
                    terms: terms.clone(),
                    ..ProductQuery::default()
                },
                PageRequest::new(1, 100),
            )
            .await
            .unwrap();
        let mut matches = store.search_matches(&terms, 100).await.unwrap().expect("under the limit");
        matches.sort_by_key(|m| std::cmp::Reverse((m.created_at, m.id)));
        let ids: Vec<ProductId> = matches.iter().map(|m| m.id).collect();
        assert_eq!(
            ids,
            listed.items.iter().map(|p| p.id).collect::<Vec<_>>(),
            "{terms:?}: the same products (newest first)"
        );
        for (m, p) in matches.iter().zip(&listed.items) {
            assert_eq!(
                (
                    m.category_id,
                    m.vendor_id,
                    m.kind,
                    m.price_cents,
                    m.created_at,
                    m.rating_avg,
                    m.rating_count,
                    m.sales_count
                ),
                (
                    p.category.id,
                    p.vendor.id,
                    p.kind,
                    p.price.cents(),
                    p.created_at,
                    p.rating_avg,
                    p.rating_count,
                    p.sales_count
                ),
                "{terms:?}: the columns of {}",
                p.slug
            );
        }
    }
    // More matches than the limit: no set.
    assert_eq!(store.search_matches(&["light".to_owned()], 1).await.unwrap(), None);
    assert_eq!(
        store.search_matches(&["light".to_owned()], 2).await.unwrap().map(|m| m.len()),
        Some(2)
    );
}

pub async fn products_by_ids_keep_the_order_asked(store: Db) {
    searchable(&store).await;
    let a = store.product_by_slug("harbour-at-dusk").await.unwrap().unwrap();
    let b = store.product_by_slug("city-lights").await.unwrap().unwrap();
    let got = store.products_by_ids(&[b.id, ProductId::new(), a.id]).await.unwrap();
    assert_eq!(
        got.iter().map(|p| p.slug.as_str()).collect::<Vec<_>>(),
        ["city-lights", "harbour-at-dusk"]
    );
    assert_eq!(got[0], b);
    assert!(store.products_by_ids(&[]).await.unwrap().is_empty());
}
