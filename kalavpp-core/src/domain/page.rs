use serde::Serialize;

/// Largest page size a caller may ask for; larger requests are clamped.
pub const MAX_PER_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1_000_000;

/// Which page of a list to return: 1-based `page`, `per_page` clamped to 1..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    per_page: u32,
}

impl PageRequest {
    /// Clamps both numbers into range (page ≥ 1, 1 ≤ per_page ≤ 100).
    pub fn new(page: u32, per_page: u32) -> Self {
        Self {
            page: page.clamp(1, MAX_PAGE),
            per_page: per_page.clamp(1, MAX_PER_PAGE),
        }
    }
    /// The 1-based page number.
    pub fn page(self) -> u32 {
        self.page
    }
    /// Items per page.
    pub fn per_page(self) -> u32 {
        self.per_page
    }
    /// Rows to skip.
    pub fn offset(self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.per_page)
    }
    /// Rows to take.
    pub fn limit(self) -> i64 {
        i64::from(self.per_page)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::new(1, 20)
    }
}

/// One page of a list plus the total number of matching items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// The 1-based page number.
    pub page: u32,
    /// The page size used.
    pub per_page: u32,
    /// How many items match in all; when [`Page::total_capped`] is set, only that at least this
    /// many do (counting stopped there).
    pub total: i64,
    /// Whether counting stopped at a cap: more than `total` items match, and pages past
    /// `total` can still hold items.
    pub total_capped: bool,
}

impl<T> Page<T> {
    /// Assembles a page from its parts.
    pub fn new(items: Vec<T>, request: PageRequest, total: i64) -> Self {
        Self {
            items,
            page: request.page(),
            per_page: request.per_page(),
            total,
            total_capped: false,
        }
    }

    /// Assembles a page whose count stopped at a cap when `capped` is set (see
    /// [`Page::total_capped`]).
    pub fn capped(items: Vec<T>, request: PageRequest, total: i64, capped: bool) -> Self {
        Self {
            total_capped: capped,
            ..Self::new(items, request, total)
        }
    }

    /// Converts every item.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            page: self.page,
            per_page: self.per_page,
            total: self.total,
            total_capped: self.total_capped,
        }
    }
}
