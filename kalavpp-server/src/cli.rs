//! The `kalavpp` command line: serve (default), migrate, create-admin, seed-demo, backup, check-config.

use std::collections::HashMap;
use std::io::BufRead as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kalavpp_core::auth::Actor;
use kalavpp_core::{Error, Marketplace, Mode};

use crate::app::Application;
use crate::settings::{self, Settings};

/// KALAVPP: a multi-vendor marketplace in one binary.
#[derive(Debug, Parser)]
#[command(name = "kalavpp", version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve {
        /// Fill an empty database with the demo marketplace first (the default in development;
        /// refused in production).
        #[arg(long, conflicts_with = "no_demo")]
        demo: bool,
        /// Start on an empty database as it is (no demo marketplace).
        #[arg(long)]
        no_demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create an administrator account; the password is read from standard input.
    CreateAdmin {
        /// The admin's email address.
        #[arg(long)]
        email: String,
        /// The admin's display name.
        #[arg(long)]
        name: String,
        /// Read the password from the first line of standard input (required).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Fill a development database with demo artists, works and a customer (idempotent).
    SeedDemo,
    /// Write a consistent copy of the database and the uploaded files into a new directory.
    Backup {
        /// The directory to create (it must not exist or be empty).
        #[arg(long)]
        output: std::path::PathBuf,
    },
    /// Put a SQLite backup (a `backup --output` directory) into an empty data directory.
    Restore {
        /// The backup directory.
        from: std::path::PathBuf,
    },
    /// Check the configuration and print each problem on its own line.
    CheckConfig,
}

/// Runs the parsed command with the given environment.
pub async fn run(cli: Cli, vars: HashMap<String, String>) -> ExitCode {
    let default = Command::Serve {
        demo: false,
        no_demo: false,
    };
    match cli.command.unwrap_or(default) {
        Command::Serve { demo, no_demo } => serve(&vars, demo, no_demo).await,
        Command::Migrate => migrate(&vars).await,
        Command::CreateAdmin {
            email,
            name,
            password_stdin,
        } => create_admin(&vars, &email, &name, password_stdin).await,
        Command::SeedDemo => match load(&vars, false) {
            Ok(settings) => crate::demo::run(settings).await,
            Err(code) => code,
        },
        Command::Backup { output } => match load(&vars, false) {
            Ok(settings) => crate::backup::run(&settings, &output).await,
            Err(code) => code,
        },
        Command::Restore { from } => match load(&vars, false) {
            Ok(settings) => crate::backup::run_restore(&settings, &from).await,
            Err(code) => code,
        },
        Command::CheckConfig => check_config(&vars),
    }
}

fn load(vars: &HashMap<String, String>, generate_secrets: bool) -> Result<Settings, ExitCode> {
    settings::load(vars, generate_secrets).map_err(|problems| {
        eprintln!("kalavpp: the configuration has {} problem(s):", problems.len());
        for problem in problems {
            eprintln!("{problem}");
        }
        ExitCode::FAILURE
    })
}

async fn serve(vars: &HashMap<String, String>, demo: bool, no_demo: bool) -> ExitCode {
    if demo && settings::is_production(vars) {
        eprintln!("kalavpp: --demo only runs in development (the demo accounts share a published password)");
        return ExitCode::FAILURE;
    }
    let settings = match load(vars, true) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let production = settings.core.mode == Mode::Production;
    let want_demo = !production && !no_demo;
    let max_asset = settings.core.max_asset_bytes;
    let mut banner = banner_lines(&settings);
    let base = format!("http://{}:{{port}}", settings.host);
    for note in &settings.notes {
        eprintln!("kalavpp: note: {note}");
    }
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("kalavpp: cannot start: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    if want_demo {
        match fill_demo(app.marketplace(), max_asset, &base).await {
            Ok(Some(lines)) => {
                // Before the secrets line, which stays last.
                let at = banner.iter().position(|l| l.starts_with("  Secrets:")).unwrap_or(banner.len());
                banner.splice(at..at, lines);
            }
            Ok(None) => {}
            Err(err) => {
                eprintln!("kalavpp: cannot fill the demo marketplace: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    let port = app.port();
    // Installed before the banner: whoever acts on the banner may stop the server at once.
    let stop = crate::app::shutdown_signal();
    for line in banner {
        println!("{}", line.replace("{port}", &port.to_string()));
    }
    match app.run_until(stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kalavpp: server error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Fills an empty database with the demo marketplace; the banner lines that say how to sign in,
/// or `None` when the database was not empty.
async fn fill_demo(market: &Marketplace, max_asset: u64, base: &str) -> Result<Option<Vec<String>>, Error> {
    use crate::demo::{DEMO_CUSTOMER, DEMO_PASSWORD};
    use crate::demo_shop::{DEMO_ADMIN, DEMO_ARTIST};
    if !crate::demo_shop::is_empty(market).await? {
        return Ok(None);
    }
    eprintln!("kalavpp: an empty database: filling in the demo marketplace (--no-demo to skip)");
    let works = crate::demo_shop::fill(market, max_asset).await?;
    let artists = crate::demo_shop::approved_artist_emails().count();
    Ok(Some(vec![
        format!("  Demo:      {works} works by {artists} artists; every demo account's password is {DEMO_PASSWORD}"),
        format!("             admin    {DEMO_ADMIN}  ({base}/admin)"),
        format!("             artist   {DEMO_ARTIST}  ({base}/studio)"),
        format!("             customer {DEMO_CUSTOMER}"),
    ]))
}

/// The server's address in the banner; `{port}` is filled in once the port is bound.
fn banner_base(settings: &Settings) -> String {
    format!("http://{}:{{port}}", settings.host)
}

fn banner_lines(settings: &Settings) -> Vec<String> {
    let base = banner_base(settings);
    let mode = match settings.core.mode {
        Mode::Development => "development",
        Mode::Production => "production",
    };
    let database = settings.core.database_url.redacted();
    let mut lines = vec![
        format!("KALAVPP {} ({mode}) listening on {base}", env!("CARGO_PKG_VERSION")),
        format!("  API:       {base}/api/v1"),
        format!("  OpenAPI:   {base}/api/v1/openapi.json"),
        format!("  Health:    {base}/healthz  {base}/readyz"),
        format!("  Database:  {database}"),
        format!("  Data dir:  {}", settings.core.data_dir.display()),
        match &settings.core.mail.smtp_url {
            Some(_) => format!("  Email:     sent over SMTP as {}", settings.core.mail.from_address),
            None => "  Email:     logged only (set SMTP_URL or SENDGRID_API_KEY to deliver)".to_owned(),
        },
    ];
    if let Some(backups) = &settings.backups {
        lines.push(format!(
            "  Backups:   every {}s into {}, newest {} kept",
            backups.interval.as_secs(),
            backups.dir.display(),
            backups.keep
        ));
    }
    if settings.generated_secrets {
        lines.push(format!(
            "  Secrets:   generated for development in {}",
            settings.core.data_dir.join("secrets.env").display()
        ));
    }
    lines
}

async fn migrate(vars: &HashMap<String, String>) -> ExitCode {
    let settings = match load(vars, false) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let applied = kalavpp_core::maintenance::migrate(&settings.core.database_url).await;
    match applied {
        Ok(versions) if versions.is_empty() => {
            println!("database is up to date");
            ExitCode::SUCCESS
        }
        Ok(versions) => {
            println!("applied migrations: {versions:?}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("kalavpp: migration failed: {}", kalavpp_core::error::report(&err));
            ExitCode::FAILURE
        }
    }
}

async fn create_admin(vars: &HashMap<String, String>, email: &str, name: &str, password_stdin: bool) -> ExitCode {
    if !password_stdin {
        eprintln!("error: pass --password-stdin and write the password on standard input");
        return ExitCode::FAILURE;
    }
    let mut password = String::new();
    if let Err(err) = std::io::stdin().lock().read_line(&mut password) {
        eprintln!("error: cannot read the password from standard input: {err}");
        return ExitCode::FAILURE;
    }
    let password = password.trim_end_matches(['\n', '\r']);
    let settings = match load(vars, false) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let market = match Marketplace::open(settings.core).await {
        Ok(market) => market,
        Err(err) => {
            eprintln!("error: cannot open the database: {err}");
            return ExitCode::FAILURE;
        }
    };
    match market.accounts().create_admin(&Actor::System, email, password, name).await {
        Ok(user) => {
            println!("created admin {} ({})", user.email, user.id);
            ExitCode::SUCCESS
        }
        Err(Error::Validation(errors)) => {
            for e in errors {
                let field = if e.field == "password" { "password (stdin)" } else { &e.field };
                eprintln!("error: {field}: {}", e.message);
            }
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(vars: &HashMap<String, String>) -> ExitCode {
    match settings::load(vars, false) {
        Ok(settings) => {
            let mode = if settings.core.mode == Mode::Production {
                "production"
            } else {
                "development"
            };
            println!("configuration OK ({mode})");
            for note in &settings.notes {
                println!("note: {note}");
            }
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for problem in problems {
                println!("{problem}");
            }
            ExitCode::FAILURE
        }
    }
}
