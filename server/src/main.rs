use std::process::ExitCode;

use anyhow::Context as _;
use burnin_server::config::{Cli, Command};
use clap::Parser as _;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Offline and quiet: needs no runtime, database or log set-up, and answers with its own
    // exit codes (0 verified, 1 mismatch, 2 unreadable).
    if let Some(Command::Verify { bundle, key, json }) = &cli.command {
        return burnin_server::cli::verify(bundle, key.as_deref(), *json);
    }
    burnin_server::telemetry::init(&cli.config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("burnin-server: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `verify` is answered in `main` before the runtime starts.
fn unreachable_verify() -> anyhow::Result<()> {
    anyhow::bail!("verify runs without the server; this is a bug")
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            burnin_server::db::Db::open(&config.database_url).await?;
            Ok(())
        }
        Command::User(command) => burnin_server::cli::user(&config, command).await,
        Command::Token(command) => burnin_server::cli::token(&config, command).await,
        Command::RotateMasterKey => burnin_server::cli::rotate_master_key(&config).await,
        Command::RotateSigningKey => burnin_server::cli::rotate_signing_key(&config).await,
        Command::Verify { .. } => unreachable_verify(),
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(config.listen).await.with_context(|| {
                format!(
                    "cannot listen on {}: is another program using it? Choose another with --listen",
                    config.listen
                )
            })?;
            burnin_server::serve(&config, listener, burnin_server::shutdown_signal()).await
        }
    }
}
