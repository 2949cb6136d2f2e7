//! End-to-end tests: the real server on port 0, driven over HTTP like a client would, on SQLite
//! always and on PostgreSQL when `KALAVPP_TEST_POSTGRES_URL` is set.

#![expect(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "assertions on file names the server generated itself, in lower case"
)]

mod helpers;

mod admin_browser;
mod admin_flow;
mod admin_users;
mod auth_attacks;
mod auth_flows;
mod backup_restore;
mod browser;
mod browser_support;
mod catalog_attacks;
mod catalog_browse;
mod catalog_support;
mod checkout_flow;
mod cli;
mod crash_safety;
mod dev_checkout;
mod hardening;
mod http_surface;
mod instances;
mod late_payments;
mod mail;
mod openapi;
mod panel;
mod panel_admin;
mod panel_pages;
mod panel_support;
mod payment_attacks;
mod payment_support;
mod reviews;
mod s3_storage;
mod smtp_sink;
mod storefront;
mod studio;
mod studio_browser;
mod vendor_dashboard;
mod vendor_flow;
