//! Response bodies of vendors, categories and products.

use chrono::{DateTime, Utc};
use kalavpp_core::domain::{Category, Product, ProductAsset, ProductImage, Vendor};
use kalavpp_core::services::CategoryView;
use serde::Serialize;
use utoipa::ToSchema;

/// A vendor's public profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorPublicBody {
    /// Vendor id.
    pub id: String,
    /// URL slug.
    pub slug: String,
    /// Shop name.
    pub shop_name: String,
    /// Description.
    pub bio: Option<String>,
    /// Average review rating.
    pub rating_avg: f64,
    /// Number of reviews.
    pub rating_count: i64,
    /// Published products.
    pub product_count: i64,
    /// Since when the shop exists.
    pub created_at: DateTime<Utc>,
}

impl From<&Vendor> for VendorPublicBody {
    fn from(v: &Vendor) -> Self {
        Self {
            id: v.id.to_string(),
            slug: v.slug.clone(),
            shop_name: v.shop_name.clone(),
            bio: v.bio.clone(),
            rating_avg: v.rating_avg,
            rating_count: v.rating_count,
            product_count: v.product_count,
            created_at: v.created_at,
        }
    }
}

/// A vendor as its owner and admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorBody {
    /// Vendor id.
    pub id: String,
    /// Owning user.
    pub user_id: String,
    /// URL slug.
    pub slug: String,
    /// Shop name.
    pub shop_name: String,
    /// Description.
    pub bio: Option<String>,
    /// Private payout details.
    #[schema(value_type = Option<Object>)]
    pub payout_details: Option<serde_json::Value>,
    /// `pending`, `approved`, `rejected` or `suspended`.
    #[schema(value_type = super::enums::VendorStatus)]
    pub status: String,
    /// Why the application was rejected.
    pub rejection_reason: Option<String>,
    /// Commission override in basis points (none: the installation default).
    pub commission_bps: Option<i32>,
    /// Average review rating.
    pub rating_avg: f64,
    /// Number of reviews.
    pub rating_count: i64,
    /// Published products.
    pub product_count: i64,
    /// Application time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// First approval.
    pub approved_at: Option<DateTime<Utc>>,
}

impl From<Vendor> for VendorBody {
    fn from(v: Vendor) -> Self {
        Self {
            id: v.id.to_string(),
            user_id: v.user_id.to_string(),
            slug: v.slug,
            shop_name: v.shop_name,
            bio: v.bio,
            payout_details: v.payout_details,
            status: v.status.as_str().to_owned(),
            rejection_reason: v.rejection_reason,
            commission_bps: v.commission_bps,
            rating_avg: v.rating_avg,
            rating_count: v.rating_count,
            product_count: v.product_count,
            created_at: v.created_at,
            updated_at: v.updated_at,
            approved_at: v.approved_at,
        }
    }
}

/// A category.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryBody {
    /// Category id.
    pub id: String,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Parent category.
    pub parent_id: Option<String>,
    /// Visible products in it and its sub-categories.
    pub product_count: i64,
}

impl From<CategoryView> for CategoryBody {
    fn from(c: CategoryView) -> Self {
        Self {
            id: c.id.to_string(),
            slug: c.slug,
            name: c.name,
            parent_id: c.parent_id.map(|p| p.to_string()),
            product_count: c.product_count,
        }
    }
}

impl From<Category> for CategoryBody {
    fn from(c: Category) -> Self {
        Self {
            id: c.id.to_string(),
            slug: c.slug,
            name: c.name,
            parent_id: c.parent_id.map(|p| p.to_string()),
            product_count: c.product_count,
        }
    }
}

/// A product image.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageBody {
    /// Image id.
    pub id: String,
    /// Full-size image URL.
    pub url: String,
    /// Thumbnail URL (fits 400×400).
    pub thumb_url: String,
    /// Width in pixels.
    pub width: i32,
    /// Height in pixels.
    pub height: i32,
    /// Order among the product's images.
    pub position: i32,
}

/// Turns file-store keys into public URLs.
#[derive(Debug, Clone)]
pub struct MediaUrls {
    base: String,
}

impl MediaUrls {
    /// URLs under `{backend_url}/media/`.
    pub fn new(backend_url: &str) -> Self {
        Self {
            base: backend_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The public URL of a `media/...` key.
    pub fn url(&self, key: &str) -> String {
        format!("{}/{}", self.base, key)
    }

    /// An image body.
    pub fn image(&self, image: &ProductImage) -> ImageBody {
        ImageBody {
            id: image.id.to_string(),
            url: self.url(&image.key),
            thumb_url: self.url(&image.thumb_key),
            width: image.width,
            height: image.height,
            position: image.position,
        }
    }

    /// A product body.
    pub fn product(&self, p: &Product, currency: &str) -> ProductBody {
        ProductBody {
            id: p.id.to_string(),
            slug: p.slug.clone(),
            title: p.title.clone(),
            description: p.description.clone(),
            kind: p.kind.as_str(),
            price_cents: p.price.cents(),
            currency: currency.to_owned(),
            stock: p.stock,
            category: CategoryRefBody {
                id: p.category.id.to_string(),
                slug: p.category.slug.clone(),
                name: p.category.name.clone(),
            },
            tags: p.tags.clone(),
            images: p.images.iter().map(|i| self.image(i)).collect(),
            vendor: VendorRefBody {
                id: p.vendor.id.to_string(),
                slug: p.vendor.slug.clone(),
                shop_name: p.vendor.shop_name.clone(),
            },
            rating_avg: p.rating_avg,
            rating_count: p.rating_count,
            status: p.status.as_str(),
            has_asset: p.has_asset,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// The category shown with a product.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryRefBody {
    /// Category id.
    pub id: String,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
}

/// The vendor shown with a product.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorRefBody {
    /// Vendor id.
    pub id: String,
    /// Slug.
    pub slug: String,
    /// Shop name.
    pub shop_name: String,
}

/// A product.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductBody {
    /// Product id.
    pub id: String,
    /// URL slug.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Description (plain text; escape it when rendering).
    pub description: String,
    /// `physical` or `digital`.
    #[schema(value_type = super::enums::ProductKind)]
    pub kind: &'static str,
    /// Price in cents.
    pub price_cents: i64,
    /// ISO 4217 currency, lower case.
    pub currency: String,
    /// Units left (physical; null = unlimited).
    pub stock: Option<i64>,
    /// Category.
    pub category: CategoryRefBody,
    /// Tags.
    pub tags: Vec<String>,
    /// Images in order.
    pub images: Vec<ImageBody>,
    /// Vendor.
    pub vendor: VendorRefBody,
    /// Average review rating.
    pub rating_avg: f64,
    /// Number of reviews.
    pub rating_count: i64,
    /// `draft`, `published` or `archived`.
    #[schema(value_type = super::enums::ProductStatus)]
    pub status: &'static str,
    /// Whether a digital download was uploaded.
    pub has_asset: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// An uploaded digital asset.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetBody {
    /// The file name buyers will download.
    pub filename: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
}

impl From<ProductAsset> for AssetBody {
    fn from(a: ProductAsset) -> Self {
        Self {
            filename: a.filename,
            size_bytes: a.size_bytes,
            sha256: a.sha256,
        }
    }
}
