use std::process::ExitCode;

use anyhow::Context as _;
use burnin_server::config::{Cli, Command};
use clap::Parser as _;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
