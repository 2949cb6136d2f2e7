//! The vendor dashboard, the admin dashboard and marketplace analytics.
//!
//! The database aggregates (per UTC day); this service only fills the days without sales and folds
//! days into weeks or months, so no order is ever loaded into memory.

use std::collections::HashMap;

use chrono::{Datelike, Days, Duration, Months, NaiveDate, TimeDelta};
use serde::Serialize;
use tracing::instrument;

use crate::auth::Actor;
use crate::domain::{
    AnalyticsData, Balance, CategoryRanking, MarketplaceTotals, ProductSales, StatsWindow, Timestamp, VendorRanking, VendorSales,
};
use crate::domain::{Money, now};
use crate::error::{Error, Result};
use crate::marketplace::Inner;

/// Days shown in a vendor's `sales_by_day` (today included).
pub const DASHBOARD_DAYS: u64 = 30;
/// Entries of each "top" list.
pub const TOP_ENTRIES: i64 = 10;
/// The most periods one analytics request may span.
pub const MAX_PERIODS: usize = 400;

/// A vendor's dashboard: sales figures from its order lines, balances from its ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VendorDashboard {
    /// Sales figures; `by_day` holds every one of the last [`DASHBOARD_DAYS`] days, oldest first.
    pub sales: VendorSales,
    /// Balances (sums of the ledger).
    pub balance: Balance,
}

/// How analytics group days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    /// One period per UTC day, named `YYYY-MM-DD`.
    Day,
    /// Weeks starting on Monday, named by their Monday `YYYY-MM-DD`.
    Week,
    /// Calendar months, named `YYYY-MM`.
    Month,
}

impl Interval {
    /// Parses `day`, `week` or `month`.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        match text {
            "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            _ => Err("must be one of day, week, month".into()),
        }
    }

    /// The first day of the period holding `date`.
    fn start_of(self, date: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => date,
            Self::Week => date - Days::new(u64::from(date.weekday().num_days_from_monday())),
            Self::Month => date.with_day(1).unwrap_or(date),
        }
    }

    /// The first day of the next period.
    fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => start + Days::new(1),
            Self::Week => start + Days::new(7),
            Self::Month => start + Months::new(1),
        }
    }

    fn label(self, start: NaiveDate) -> String {
        match self {
            Self::Month => start.format("%Y-%m").to_string(),
            _ => start.format("%Y-%m-%d").to_string(),
        }
    }
}

/// One period of the analytics series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// `YYYY-MM-DD` (day, week) or `YYYY-MM` (month).
    pub period: String,
    /// First day of the period.
    pub start: NaiveDate,
    /// Paid orders (not refunded since).
    pub orders: i64,
    /// Their totals.
    pub gmv: Money,
    /// The platform's commission on them.
    pub commission: Money,
    /// Accounts created.
    pub new_users: i64,
}

/// Marketplace analytics between two instants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Analytics {
    /// Window start.
    pub from: Timestamp,
    /// Window end (inclusive).
    pub to: Timestamp,
    /// Grouping.
    pub interval: Interval,
    /// Every period of the window, oldest first (empty ones included).
    pub series: Vec<Period>,
    /// Best vendors by gross.
    pub top_vendors: Vec<VendorRanking>,
    /// Best products by gross.
    pub top_products: Vec<ProductSales>,
    /// Best categories by gross.
    pub top_categories: Vec<CategoryRanking>,
}

/// Dashboards and analytics; get one from [`crate::Marketplace::stats`].
pub struct Stats<'a> {
    inner: &'a Inner,
}

fn start_of_day(date: NaiveDate) -> Timestamp {
    date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

impl<'a> Stats<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }

    /// The actor's (approved vendor) dashboard.
    #[instrument(skip_all)]
    pub async fn vendor_dashboard(&self, actor: &Actor) -> Result<VendorDashboard> {
        let vendor = super::Vendors::new(self.inner).require_approved(actor).await?;
        let today = now().date_naive();
        let first = today - Days::new(DASHBOARD_DAYS - 1);
        let window = StatsWindow {
            from: start_of_day(first),
            to: start_of_day(today + Days::new(1)),
            top: TOP_ENTRIES,
        };
        let mut sales = self.inner.store.vendor_sales(vendor.id(), window).await?;
        let balance = self.inner.store.vendor_balance(vendor.id()).await?;
        let known: HashMap<NaiveDate, _> = sales.by_day.iter().map(|d| (d.date, *d)).collect();
        sales.by_day = first
            .iter_days()
            .take_while(|d| *d <= today)
            .map(|date| {
                known.get(&date).copied().unwrap_or(crate::domain::DaySales {
                    date,
                    orders: 0,
                    gross: Money(0),
                    commission: Money(0),
                })
            })
            .collect();
        Ok(VendorDashboard { sales, balance })
    }

    /// The admin dashboard's counts and sums (`new_users` = the last 30 days).
    #[instrument(skip_all)]
    pub async fn marketplace(&self, actor: &Actor) -> Result<MarketplaceTotals> {
        actor.require_admin()?;
        let since = now() - Duration::days(30);
        Ok(self.inner.store.marketplace_totals(since).await?)
    }

    /// Analytics between `from` and `to` (both inclusive; default: the last 30 days up to now).
    /// `422` when `from` is after `to` or the window holds more than [`MAX_PERIODS`] periods.
    #[instrument(skip_all)]
    pub async fn analytics(&self, actor: &Actor, from: Option<Timestamp>, to: Option<Timestamp>, interval: Interval) -> Result<Analytics> {
        actor.require_admin()?;
        let to = to.unwrap_or_else(now);
        let from = from.unwrap_or_else(|| start_of_day(to.date_naive() - Days::new(DASHBOARD_DAYS - 1)));
        if from > to {
            return Err(Error::invalid("from", "must not be after `to`"));
        }
        let mut starts = Vec::new();
        let mut start = interval.start_of(from.date_naive());
        while start <= to.date_naive() {
            if starts.len() == MAX_PERIODS {
                return Err(Error::invalid(
                    "from",
                    format!(
                        "the window holds more than {MAX_PERIODS} periods of a {interval:?}; use a shorter window or a longer interval"
                    )
                    .to_lowercase(),
                ));
            }
            starts.push(start);
            start = interval.next(start);
        }
        let window = StatsWindow {
            from,
            to: to + TimeDelta::microseconds(1),
            top: TOP_ENTRIES,
        };
        let data = self.inner.store.analytics(window).await?;
        Ok(fold(data, from, to, interval, &starts))
    }
}

fn fold(data: AnalyticsData, from: Timestamp, to: Timestamp, interval: Interval, starts: &[NaiveDate]) -> Analytics {
    let mut series: Vec<Period> = starts
        .iter()
        .map(|&start| Period {
            period: interval.label(start),
            start,
            orders: 0,
            gmv: Money(0),
            commission: Money(0),
            new_users: 0,
        })
        .collect();
    let index: HashMap<NaiveDate, usize> = starts.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    for day in &data.sales {
        if let Some(period) = index.get(&interval.start_of(day.date)).map(|&i| &mut series[i]) {
            period.orders += day.orders;
            period.gmv = Money(period.gmv.cents() + day.gross.cents());
            period.commission = Money(period.commission.cents() + day.commission.cents());
        }
    }
    for (date, count) in &data.new_users {
        if let Some(period) = index.get(&interval.start_of(*date)).map(|&i| &mut series[i]) {
            period.new_users += count;
        }
    }
    Analytics {
        from,
        to,
        interval,
        series,
        top_vendors: data.top_vendors,
        top_products: data.top_products,
        top_categories: data.top_categories,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        assert_eq!(Interval::Week.start_of(date("2026-11-26")), date("2026-11-23"));
        assert_eq!(Interval::Week.start_of(date("2026-11-23")), date("2026-11-23"));
        assert_eq!(Interval::Month.start_of(date("2026-11-26")), date("2026-11-01"));
        assert_eq!(Interval::Month.next(date("2026-12-01")), date("2027-01-01"));
        assert_eq!(Interval::Month.label(date("2026-12-01")), "2026-12");
    }

    #[test]
    fn days_fold_into_their_periods() {
        let data = AnalyticsData {
            sales: vec![
                crate::domain::DaySales {
                    date: date("2026-11-02"),
                    orders: 1,
                    gross: Money(100),
                    commission: Money(10),
                },
                crate::domain::DaySales {
                    date: date("2026-11-08"),
                    orders: 2,
                    gross: Money(300),
                    commission: Money(30),
                },
                crate::domain::DaySales {
                    date: date("2026-11-09"),
                    orders: 1,
                    gross: Money(50),
                    commission: Money(5),
                },
            ],
            new_users: vec![(date("2026-11-03"), 4)],
            ..AnalyticsData::default()
        };
        let starts = vec![date("2026-10-26"), date("2026-11-02"), date("2026-11-09")];
        let from = start_of_day(date("2026-11-01"));
        let to = start_of_day(date("2026-11-09"));
        let out = fold(data, from, to, Interval::Week, &starts);
        let got: Vec<_> = out
            .series
            .iter()
            .map(|p| (p.period.as_str(), p.orders, p.gmv.cents(), p.new_users))
            .collect();
        assert_eq!(
            got,
            vec![("2026-10-26", 0, 0, 0), ("2026-11-02", 3, 400, 4), ("2026-11-09", 1, 50, 0)]
        );
    }
}
