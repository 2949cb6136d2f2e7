//! Categories: the tree with its product counts (cached), and its editing by admins.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use tracing::instrument;

use crate::auth::Actor;
use crate::domain::Category;
use crate::domain::{CategoryId, slugify};
use crate::error::{Error, Result, Violations};
use crate::storage::{CategoryChange, NewCategory, StoreError};
use crate::storage::{Conflict, Sluggable};

use super::{Catalog, audit};

/// A category with the count of visible products in it and its descendants.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CategoryView {
    /// Category id.
    pub id: CategoryId,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Parent.
    pub parent_id: Option<CategoryId>,
    /// Visible products here and in every descendant.
    pub product_count: i64,
}

/// A category to create or rename.
#[derive(Debug, Clone, Default)]
pub struct CategoryInput {
    /// Display name, 1 to 80 characters.
    pub name: Option<String>,
    /// Slug; made from the name when absent on create.
    pub slug: Option<String>,
    /// Parent id or slug (`Some(None)` makes it top-level).
    pub parent: Option<Option<String>>,
}

fn category_not_found() -> Error {
    Error::not_found("category_not_found", "category not found")
}

impl Catalog<'_> {
    pub(super) async fn raw_categories(&self) -> Result<Arc<Vec<Category>>> {
        let cache = &self.inner.cache;
        let generation = cache.generation();
        if let Some(hit) = cache.categories.get(&generation).await {
            cache.record(true, "categories");
            return Ok(hit);
        }
        cache.record(false, "categories");
        // Read once per generation: visitors arriving while it is read wait for that read (the
        // counts group every visible product) instead of each starting their own.
        let store = self.inner.store.clone();
        cache
            .categories
            .try_get_with(generation, async move { store.list_categories().await.map(Arc::new) })
            .await
            .map_err(|shared| match Arc::try_unwrap(shared) {
                Ok(err) => Error::from(err),
                Err(shared) => Error::Internal(format!("reading the categories failed: {shared}")),
            })
    }

    /// Every category with visible product counts that include descendants, ordered by name.
    #[instrument(skip_all)]
    pub async fn categories(&self) -> Result<Vec<CategoryView>> {
        let categories = self.raw_categories().await?;
        Ok(categories
            .iter()
            .map(|c| CategoryView {
                id: c.id,
                slug: c.slug.clone(),
                name: c.name.clone(),
                parent_id: c.parent_id,
                product_count: descendants(&categories, c.id)
                    .iter()
                    .filter_map(|id| categories.iter().find(|x| x.id == *id))
                    .map(|x| x.product_count)
                    .sum(),
            })
            .collect())
    }

    pub(super) async fn find_category(&self, id_or_slug: &str) -> Result<Option<Category>> {
        let categories = self.raw_categories().await?;
        let wanted = id_or_slug.trim().to_lowercase();
        let by_id = CategoryId::parse(&wanted);
        Ok(categories.iter().find(|c| Some(c.id) == by_id || c.slug == wanted).cloned())
    }

    /// Creates a category (admin).
    #[instrument(skip_all)]
    pub async fn create_category(&self, actor: &Actor, input: CategoryInput) -> Result<Category> {
        let admin = actor.require_admin()?;
        let mut violations = Violations::new();
        let name = match input.name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() && n.chars().count() <= 80 => Some(n.to_owned()),
            _ => {
                violations.add("name", "must be 1 to 80 characters");
                None
            }
        };
        let slug = input
            .slug
            .as_deref()
            .map(slugify)
            .or_else(|| name.as_deref().map(slugify))
            .unwrap_or_default();
        if slug.is_empty() && name.is_some() {
            violations.add("slug", "must contain letters or digits");
        }
        let parent = match input.parent.flatten() {
            Some(p) => match self.find_category(&p).await? {
                Some(c) => Some(c.id),
                None => {
                    violations.add("parent_id", "no such category");
                    None
                }
            },
            None => None,
        };
        violations.finish()?;
        let id = CategoryId::new();
        let category = NewCategory {
            id,
            slug: slug.clone(),
            name: name.clone().unwrap_or_default(),
            parent_id: parent,
            audit: audit(
                &admin,
                "category.create",
                "category",
                id.to_string(),
                json!({ "name": name, "slug": slug, "parent_id": parent }),
            ),
        };
        let created = self.inner.store.insert_category(category).await.map_err(slug_conflict)?;
        self.inner.cache.invalidate();
        Ok(created)
    }

    /// Renames or moves a category (admin). A category cannot become its own descendant.
    #[instrument(skip_all)]
    pub async fn update_category(&self, actor: &Actor, id: CategoryId, input: CategoryInput) -> Result<Category> {
        let admin = actor.require_admin()?;
        let categories = self.raw_categories().await?;
        if !categories.iter().any(|c| c.id == id) {
            return Err(category_not_found());
        }
        let mut violations = Violations::new();
        let name = match input.name.as_deref().map(str::trim) {
            Some(n) if n.is_empty() || n.chars().count() > 80 => {
                violations.add("name", "must be 1 to 80 characters");
                None
            }
            other => other.map(str::to_owned),
        };
        let slug = input.slug.as_deref().map(slugify);
        if slug.as_deref() == Some("") {
            violations.add("slug", "must contain letters or digits");
        }
        let parent = match &input.parent {
            Some(Some(p)) => match self.find_category(p).await? {
                Some(c) if descendants(&categories, id).contains(&c.id) => {
                    violations.add("parent_id", "a category cannot be moved under itself or its descendants");
                    None
                }
                Some(c) => Some(Some(c.id)),
                None => {
                    violations.add("parent_id", "no such category");
                    None
                }
            },
            Some(None) => Some(None),
            None => None,
        };
        violations.finish()?;
        let details = json!({ "name": name, "slug": slug, "parent_id": parent });
        let change = CategoryChange {
            id,
            name,
            slug,
            parent_id: parent,
            audit: audit(&admin, "category.update", "category", id.to_string(), details),
        };
        let updated = self.inner.store.update_category(change).await.map_err(slug_conflict)?;
        self.inner.cache.invalidate();
        Ok(updated)
    }

    /// Deletes a category that has no products and no children (admin).
    #[instrument(skip_all)]
    pub async fn delete_category(&self, actor: &Actor, id: CategoryId) -> Result<()> {
        let admin = actor.require_admin()?;
        let record = audit(&admin, "category.delete", "category", id.to_string(), json!({}));
        self.inner.store.delete_category(id, record).await.map_err(|e| match e {
            StoreError::NotFound => category_not_found(),
            StoreError::Conflict(Conflict::CategoryInUse) => {
                Error::conflict("category_in_use", "the category still has products or child categories")
            }
            other => other.into(),
        })?;
        self.inner.cache.invalidate();
        Ok(())
    }
}

/// `root` and every category below it.
pub(super) fn descendants(categories: &[Category], root: CategoryId) -> Vec<CategoryId> {
    let mut children: HashMap<CategoryId, Vec<CategoryId>> = HashMap::new();
    for c in categories {
        if let Some(parent) = c.parent_id {
            children.entry(parent).or_default().push(c.id);
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i]) {
            for kid in kids {
                if !out.contains(kid) {
                    out.push(*kid);
                }
            }
        }
        i += 1;
    }
    out
}

fn slug_conflict(err: StoreError) -> Error {
    match err {
        StoreError::Conflict(Conflict::SlugTaken(Sluggable::Category)) => {
            Error::conflict("slug_taken", "a category with this slug already exists")
        }
        StoreError::NotFound => category_not_found(),
        other => other.into(),
    }
}
