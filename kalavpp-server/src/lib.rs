//! `kalavpp-server`: the KALAVPP marketplace over HTTP — REST API, storefront, artist studio, admin panel and CLI.

pub mod admin;
pub mod admin_gate;
pub mod api;
pub mod app;
pub mod backup;
pub mod backup_schedule;
pub mod cli;
pub mod deadline;
pub mod demo;
pub mod demo_shop;
pub mod edge;
pub mod extract;
pub mod guard;
pub mod http_error;
pub mod metrics;
pub mod rate_limit;
pub mod response_cache;
pub mod settings;
pub mod stored_file;
pub mod storefront;
pub mod studio;
pub mod upload_limits;
pub mod web;

pub use app::{AppState, Application, BackgroundJobs, Mountable};
pub use settings::Settings;
