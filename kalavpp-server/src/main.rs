//! The `kalavpp` binary.

use std::process::ExitCode;

use clap::Parser;
use kalavpp_server::cli::{Cli, run};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal; the real environment wins over it.
    let _ = dotenvy::dotenv();
    let vars: std::collections::HashMap<String, String> = std::env::vars().collect();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=info"));
    let json = vars.get("LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    if json {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .init();
    }
    run(Cli::parse(), vars).await
}
