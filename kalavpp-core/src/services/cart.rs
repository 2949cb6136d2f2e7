//! The server-side cart of a signed-in user.

use serde::Serialize;
use tracing::instrument;

use crate::auth::Actor;
use crate::domain::CartLine;
use crate::domain::{Money, ProductId, ProductStatus, VendorStatus, now};
use crate::error::{Error, Result};
use crate::marketplace::Inner;

/// Most units of one product in a cart.
pub const MAX_CART_QUANTITY: i64 = 1000;

/// A cart with current prices.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CartView {
    /// Lines, oldest first.
    pub lines: Vec<CartLine>,
    /// Sum of `unit_price × quantity` over the lines.
    pub subtotal: Money,
    /// The installation currency.
    pub currency: String,
}

/// Cart services; get one from [`crate::Marketplace::cart`].
pub struct Cart<'a> {
    inner: &'a Inner,
}

fn parse_product(id: &str) -> Result<ProductId> {
    ProductId::parse(id).ok_or_else(|| Error::not_found("product_not_found", "product not found"))
}

fn check_quantity(quantity: i64, allow_zero: bool) -> Result<()> {
    let min = i64::from(!allow_zero);
    if quantity < min || quantity > MAX_CART_QUANTITY {
        return Err(Error::invalid("quantity", format!("must be between {min} and {MAX_CART_QUANTITY}")));
    }
    Ok(())
}

fn insufficient_stock(stock: i64) -> Error {
    Error::conflict("insufficient_stock", format!("only {stock} left in stock"))
}

impl<'a> Cart<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }

    /// The actor's cart.
    #[instrument(skip_all)]
    pub async fn view(&self, actor: &Actor) -> Result<CartView> {
        let user = actor.require_user()?;
        let lines = self.inner.store.cart_lines(user).await?;
        let subtotal = Money(lines.iter().map(|l| l.unit_price.cents() * l.quantity).sum());
        Ok(CartView {
            lines,
            subtotal,
            currency: self.inner.config.currency.clone(),
        })
    }

    /// Adds `quantity` of a product (adding to what is already there). The product must be for
    /// sale and not the actor's own (`422`); more than the stock is `409`.
    #[instrument(skip_all)]
    pub async fn add(&self, actor: &Actor, product_id: &str, quantity: i64) -> Result<CartView> {
        let user = actor.require_user()?;
        check_quantity(quantity, false)?;
        let id = parse_product(product_id)?;
        let product = self
            .inner
            .store
            .product_by_id(id)
            .await?
            .ok_or_else(|| Error::not_found("product_not_found", "product not found"))?;
        if product.status != ProductStatus::Published || product.vendor.status != VendorStatus::Approved {
            return Err(Error::invalid("product_id", "this product is not for sale"));
        }
        if let Some(vendor) = self.inner.store.vendor_by_user(user).await?
            && vendor.id == product.vendor.id
        {
            return Err(Error::invalid("product_id", "you cannot buy your own work"));
        }
        let in_cart = self
            .inner
            .store
            .cart_lines(user)
            .await?
            .iter()
            .find(|l| l.product_id == id)
            .map_or(0, |l| l.quantity);
        if in_cart + quantity > MAX_CART_QUANTITY {
            return Err(Error::invalid("quantity", format!("at most {MAX_CART_QUANTITY} of one product")));
        }
        if let Some(stock) = product.stock
            && in_cart + quantity > stock
        {
            return Err(insufficient_stock(stock));
        }
        self.inner.store.add_to_cart(user, id, quantity, now()).await?;
        self.view(actor).await
    }

    /// Sets a line's quantity; 0 removes it. More than the stock is `409`.
    #[instrument(skip_all)]
    pub async fn set(&self, actor: &Actor, product_id: &str, quantity: i64) -> Result<CartView> {
        let user = actor.require_user()?;
        check_quantity(quantity, true)?;
        let id = parse_product(product_id)?;
        if quantity > 0
            && let Some(product) = self.inner.store.product_by_id(id).await?
            && let Some(stock) = product.stock
            && quantity > stock
        {
            return Err(insufficient_stock(stock));
        }
        if !self.inner.store.set_cart_quantity(user, id, quantity).await? && quantity > 0 {
            return Err(Error::not_found("not_in_cart", "this product is not in your cart"));
        }
        self.view(actor).await
    }

    /// Removes a line (absent lines are fine).
    #[instrument(skip_all)]
    pub async fn remove(&self, actor: &Actor, product_id: &str) -> Result<CartView> {
        let user = actor.require_user()?;
        let id = parse_product(product_id)?;
        self.inner.store.remove_from_cart(user, id).await?;
        self.view(actor).await
    }
}
