//! Configuration: flags, each with an environment variable and a default shown in `--help`.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Clone, Debug, Parser)]
#[command(
    name = "burnin-server",
    version,
    about = "The burn-in dashboard: burns in drives in TrueNAS servers over SSH and the TrueNAS API."
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Clone, Debug, Subcommand)]
pub enum Command {
    /// Serve the dashboard (the default).
    Serve,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Manage users: `user add NAME --role ROLE`, `user reset-password NAME`, `user list`.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens: `token create --user NAME --scope read|operate|admin`.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Makes a new master key and re-encrypts every stored secret with it, in one
    /// transaction; the old key file is then replaced. Stop the server first.
    RotateMasterKey,
    /// Makes a new key for signing evidence and retires the old one, which stays listed (in
    /// `/api/v1/signing-key` and on Settings) so that bundles it signed still verify. Stop the
    /// server first; back up the new key file with the database.
    RotateSigningKey,
    /// Checks an evidence bundle offline (the JSON from `/api/v1/burnin/{id}/evidence`):
    /// the signature, every part against its digest. Exit 0 when it verifies, 1 when something
    /// does not match (each mismatch is named), 2 when the file cannot be read.
    Verify {
        /// The bundle file, or `-` for standard input.
        bundle: PathBuf,
        /// The public key the bundle must be signed by (base64, as `/api/v1/signing-key` and
        /// the Settings page show it). Without it the bundle's own key is checked and shown.
        #[arg(long)]
        key: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Debug, Subcommand)]
pub enum UserCommand {
    /// Adds a local user; the password is read from BURNIN_PASSWORD, or asked for on the
    /// terminal (twice).
    Add {
        name: String,
        /// viewer, operator or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
    },
    /// Sets a new password (from BURNIN_PASSWORD or the terminal) and ends the user's
    /// sessions and lockout. The way back in when the only admin forgot theirs.
    ResetPassword { name: String },
    /// Lists users and their roles.
    List,
}

#[derive(Clone, Debug, Subcommand)]
pub enum TokenCommand {
    /// Makes an API token for a user and prints it once (it is stored hashed).
    Create {
        #[arg(long)]
        user: String,
        /// read, operate or admin (never more than the user's role).
        #[arg(long, default_value = "read")]
        scope: String,
        /// What the token is for, e.g. `n8n`.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// Lists tokens (never their secrets).
    List,
    /// Revokes a token by id.
    Revoke { id: i64 },
}

#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    /// Address and port to listen on. Use 0.0.0.0:3000 to accept other machines (put a TLS
    /// reverse proxy in front).
    #[arg(long, env = "BURNIN_LISTEN", default_value = "127.0.0.1:3000", global = true)]
    pub listen: SocketAddr,

    /// Database URL. A SQLite file is created, with its folder, if missing.
    #[arg(
        long,
        env = "BURNIN_DATABASE_URL",
        default_value = "sqlite://data/burnin.db",
        global = true
    )]
    pub database_url: String,

    /// Folder with the built site (wasm, JS, CSS, static assets), as cargo-leptos writes it.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site", global = true)]
    pub site_root: PathBuf,

    /// Extra origins (scheme://host[:port]) browsers may use to reach the dashboard, e.g. the
    /// address of a reverse proxy that rewrites the Host header. Comma-separated.
    #[arg(long, env = "BURNIN_PUBLIC_ORIGINS", value_delimiter = ',', global = true)]
    pub public_origins: Vec<String>,

    /// Deployment environment: `production` logs JSON, `development` logs readable lines.
    #[arg(long, env = "BURNIN_ENV", value_enum, default_value_t = Environment::Development, global = true)]
    pub environment: Environment,

    /// Log format; `auto` follows the environment.
    #[arg(long, env = "BURNIN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto, global = true)]
    pub log_format: LogFormat,

    /// Log filter in tracing's EnvFilter syntax, e.g. `info,burnin_server=debug`.
    #[arg(long, env = "BURNIN_LOG", default_value = "info", global = true)]
    pub log: String,

    /// The key that encrypts stored API keys, SSH keys and passwords; created on first start.
    /// Defaults to master.key beside the SQLite database. Back it up with the database.
    #[arg(long, env = "BURNIN_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,

    /// The Ed25519 key that signs evidence bundles; created on first start. Defaults to
    /// signing.key beside the SQLite database. Back it up: certificates name its public half.
    #[arg(long, env = "BURNIN_SIGNING_KEY_FILE", global = true)]
    pub signing_key_file: Option<PathBuf>,

    /// The built-in simulated TrueNAS fleet: `auto` starts it when no real host is
    /// configured, `always` starts it beside real hosts, `never` never does.
    #[arg(long, env = "BURNIN_SIMULATOR", value_enum, default_value_t = SimulatorMode::Auto, global = true)]
    pub simulator: SimulatorMode,

    /// Speed of the simulated fleet: simulated seconds per real second (3600 makes a 12 TB
    /// surface test take about two minutes).
    #[arg(long, env = "BURNIN_SIMULATOR_SPEED", default_value_t = 3600.0, global = true)]
    pub simulator_speed: f64,

    /// Seconds between reads of each host's drive list (hosts without drive events).
    #[arg(long, env = "BURNIN_POLL_INTERVAL_SECS", default_value_t = 30, global = true)]
    pub poll_interval_secs: u64,

    /// Seconds between temperature reads of each host.
    #[arg(long, env = "BURNIN_TEMPERATURE_INTERVAL_SECS", default_value_t = 10, global = true)]
    pub temperature_interval_secs: u64,

    /// Milliseconds between polls of a running burn-in stage.
    #[arg(long, env = "BURNIN_STAGE_POLL_MS", default_value_t = 5000, global = true)]
    pub stage_poll_ms: u64,

    /// Burn-in jobs running at once on one host.
    #[arg(long, env = "BURNIN_JOBS_PER_HOST", default_value_t = 32, global = true)]
    pub jobs_per_host: usize,

    /// Milliseconds between two job starts on one host (staggered spin-up).
    #[arg(long, env = "BURNIN_STAGGER_MS", default_value_t = 2000, global = true)]
    pub stagger_ms: u64,

    /// The dashboard's address as people reach it (`https://burnin.example.lan`), for the
    /// links in notifications; a first value, changeable on the Settings page.
    #[arg(long, env = "BURNIN_PUBLIC_URL", default_value = "", global = true)]
    pub public_url: String,

    /// Seconds without progress before a stage is flagged stuck.
    #[arg(long, env = "BURNIN_STUCK_AFTER_SECS", default_value_t = 1800, global = true)]
    pub stuck_after_secs: u64,

    /// Seconds without progress before a stuck SMART self-test is aborted and its stage
    /// failed (0: never).
    #[arg(long, env = "BURNIN_STUCK_ABORT_AFTER_SECS", default_value_t = 21600, global = true)]
    pub stuck_abort_after_secs: u64,

    /// Seconds a drive may stay at or above its kind's `fail_c` (the temperature table in
    /// /api/v1/settings/verdict) before its job is stopped.
    #[arg(long, env = "BURNIN_CRITICAL_SUSTAIN_SECS", default_value_t = 300, global = true)]
    pub critical_sustain_secs: u64,

    /// Seconds an unreachable NAS is waited for before a stage that runs no writer (a SMART
    /// check or self-test) is interrupted. A surface test whose badblocks may still be running
    /// waits for its NAS however long it takes.
    #[arg(long, env = "BURNIN_REATTACH_TIMEOUT_SECS", default_value_t = 3600, global = true)]
    pub reattach_timeout_secs: u64,

    /// Seconds a stopped badblocks gets to end after SIGTERM before it is sent SIGKILL.
    #[arg(long, env = "BURNIN_STOP_GRACE_SECS", default_value_t = 30, global = true)]
    pub stop_grace_secs: u64,

    /// Seconds a start whose answer was lost gets to show in its folder on the NAS before the
    /// folder is claimed as abandoned (after which that start can never run).
    #[arg(long, env = "BURNIN_START_CONFIRM_GRACE_SECS", default_value_t = 60, global = true)]
    pub start_confirm_grace_secs: u64,

    /// Seconds between SMART reads of idle drives (health column, SMART tab).
    #[arg(long, env = "BURNIN_SMART_INTERVAL_SECS", default_value_t = 600, global = true)]
    pub smart_interval_secs: u64,

    /// badblocks -c (blocks per read/write); 0 chooses 4 MiB per transfer, the fastest size the
    /// surface benchmark measured (scripts/bench-surface.sh).
    #[arg(long, env = "BURNIN_BLOCKS_AT_ONCE", default_value_t = 0, global = true)]
    pub blocks_at_once: u32,

    /// The first admin, made at start when no user exists (otherwise the page asks for one).
    #[arg(long, env = "BURNIN_INITIAL_ADMIN_USER", global = true)]
    pub initial_admin_user: Option<String>,

    /// The first admin's password. Prefer BURNIN_INITIAL_ADMIN_PASSWORD_FILE.
    #[arg(long, env = "BURNIN_INITIAL_ADMIN_PASSWORD", hide_env_values = true, global = true)]
    pub initial_admin_password: Option<String>,

    /// A file holding the first admin's password (a Docker secret, say).
    #[arg(long, env = "BURNIN_INITIAL_ADMIN_PASSWORD_FILE", global = true)]
    pub initial_admin_password_file: Option<PathBuf>,

    /// Hours without a request after which a browser session ends.
    #[arg(long, env = "BURNIN_SESSION_IDLE_HOURS", default_value_t = 12, global = true)]
    pub session_idle_hours: u64,

    /// Days after sign-in after which a browser session ends, however busy.
    #[arg(long, env = "BURNIN_SESSION_MAX_DAYS", default_value_t = 7, global = true)]
    pub session_max_days: u64,

    /// Addresses (CIDR, comma-separated) of reverse proxies whose forwarded headers are
    /// believed: the single sign-on user header, X-Forwarded-For and X-Forwarded-Proto. Empty:
    /// none is.
    #[arg(long, env = "BURNIN_TRUSTED_PROXIES", value_delimiter = ',', global = true)]
    pub trusted_proxies: Vec<String>,

    /// Client networks (CIDR, comma-separated) allowed to reach the dashboard at all; others
    /// get 403 before anything else. Empty: any. Loopback is always allowed (health checks).
    #[arg(long, env = "BURNIN_ALLOWED_NETWORKS", value_delimiter = ',', global = true)]
    pub allowed_networks: Vec<String>,

    /// Single sign-on behind a proxy (Authelia, authentik, oauth2-proxy): the header naming the
    /// user, believed only from --trusted-proxies. Unset: off.
    #[arg(long, env = "BURNIN_SSO_USER_HEADER", global = true)]
    pub sso_user_header: Option<String>,

    /// The header listing the user's groups (comma- or pipe-separated).
    #[arg(long, env = "BURNIN_SSO_GROUPS_HEADER", default_value = "Remote-Groups", global = true)]
    pub sso_groups_header: String,

    /// Groups whose members are admins (comma-separated).
    #[arg(long, env = "BURNIN_SSO_ADMIN_GROUPS", value_delimiter = ',', global = true)]
    pub sso_admin_groups: Vec<String>,

    /// Groups whose members are operators.
    #[arg(long, env = "BURNIN_SSO_OPERATOR_GROUPS", value_delimiter = ',', global = true)]
    pub sso_operator_groups: Vec<String>,

    /// Groups whose members are viewers; empty: anyone the proxy signs in is a viewer.
    #[arg(long, env = "BURNIN_SSO_VIEWER_GROUPS", value_delimiter = ',', global = true)]
    pub sso_viewer_groups: Vec<String>,

    /// Destructive starts plus cancels allowed on one host within 15 minutes; more are refused
    /// (429) and audited.
    #[arg(long, env = "BURNIN_DESTRUCTIVE_LIMIT", default_value_t = 120, global = true)]
    pub destructive_limit: usize,

    /// Serve HTTPS itself from this certificate chain (PEM); needs --tls-key. Unset: plain
    /// HTTP (put a TLS reverse proxy in front when other machines connect).
    #[arg(long, env = "BURNIN_TLS_CERT_FILE", global = true)]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "BURNIN_TLS_KEY_FILE", global = true)]
    pub tls_key: Option<PathBuf>,

    /// Seconds running requests get to finish after SIGTERM or SIGINT.
    #[arg(long, env = "BURNIN_SHUTDOWN_GRACE_SECS", default_value_t = 10, global = true)]
    pub shutdown_grace_secs: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SimulatorMode {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Auto,
    Json,
    Text,
}

impl Config {
    /// Defaults, as `--help` shows them; for tests and embedding.
    pub fn defaults() -> Config {
        Cli::parse_from(["burnin-server"]).config
    }

    /// The folder of the SQLite file (`None` for in-memory databases).
    pub fn data_dir(&self) -> Option<PathBuf> {
        let path = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))?;
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() || path.contains(":memory:") {
            return None;
        }
        Some(std::path::Path::new(path).parent().map(PathBuf::from).unwrap_or_default())
    }

    /// The SQLite file (`None` for in-memory databases).
    pub fn database_file(&self) -> Option<PathBuf> {
        let path = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))?;
        let path = path.split('?').next().unwrap_or(path);
        (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
    }

    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file.clone().unwrap_or_else(|| {
            self.data_dir().unwrap_or_else(|| PathBuf::from("data")).join("master.key")
        })
    }

    pub fn signing_key_path(&self) -> PathBuf {
        self.signing_key_file.clone().unwrap_or_else(|| {
            self.data_dir().unwrap_or_else(|| PathBuf::from("data")).join("signing.key")
        })
    }

    /// The sign-in settings, checked: a trusted proxy that is not an address or network is an
    /// error naming it.
    pub fn auth_options(&self) -> Result<crate::auth::AuthOptions, String> {
        let networks = |flag: &str, list: &[String]| -> Result<Vec<ipnet::IpNet>, String> {
            let mut out = Vec::new();
            for text in list.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
                let net = text
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        format!(
                            "{flag}: {text:?} is not an address or network; write e.g. 172.18.0.2 or 10.0.0.0/24"
                        )
                    })?;
                out.push(net);
            }
            Ok(out)
        };
        let trusted_proxies = networks("--trusted-proxies", &self.trusted_proxies)?;
        let allowed_networks = networks("--allowed-networks", &self.allowed_networks)?;
        let clean = |list: &[String]| -> Vec<String> {
            list.iter().map(|g| g.trim().to_owned()).filter(|g| !g.is_empty()).collect()
        };
        let sso = self.sso_user_header.as_ref().filter(|h| !h.trim().is_empty()).map(|header| {
            crate::auth::SsoOptions {
                user_header: header.trim().to_ascii_lowercase(),
                groups_header: self.sso_groups_header.trim().to_ascii_lowercase(),
                admin_groups: clean(&self.sso_admin_groups),
                operator_groups: clean(&self.sso_operator_groups),
                viewer_groups: clean(&self.sso_viewer_groups),
            }
        });
        if sso.is_some() && trusted_proxies.is_empty() {
            return Err("--sso-user-header is set but --trusted-proxies is empty: single sign-on would be believed from nobody. Give the proxy's address".into());
        }
        Ok(crate::auth::AuthOptions {
            allowed_networks,
            trusted_proxies,
            sso,
            ..crate::auth::AuthOptions::default()
        })
    }

    /// The run-time settings' first values, from the flags; stored settings are laid over
    /// them at start (see `crate::settings::load`).
    pub fn first_settings(&self) -> burnin::settings::Settings {
        let small = |value: u64| u32::try_from(value).unwrap_or(u32::MAX);
        burnin::settings::Settings {
            jobs_per_host: small(self.jobs_per_host as u64),
            stagger_ms: self.stagger_ms,
            stuck_after_secs: self.stuck_after_secs,
            stuck_abort_after_secs: self.stuck_abort_after_secs,
            critical_sustain_secs: self.critical_sustain_secs,
            poll_interval_secs: self.poll_interval_secs,
            temperature_interval_secs: self.temperature_interval_secs,
            smart_interval_secs: self.smart_interval_secs,
            destructive_limit: small(self.destructive_limit as u64),
            session_idle_hours: small(self.session_idle_hours),
            session_max_days: small(self.session_max_days),
            public_url: self.public_url.trim().to_owned(),
            ..burnin::settings::Settings::default()
        }
    }

    /// The first admin's name and password from the environment, if both are given.
    pub fn initial_admin(&self) -> Result<Option<(String, String)>, String> {
        let Some(user) = self.initial_admin_user.as_ref().filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        let password = match (&self.initial_admin_password, &self.initial_admin_password_file) {
            (Some(password), _) => password.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| {
                    format!(
                        "cannot read BURNIN_INITIAL_ADMIN_PASSWORD_FILE {}: {e}",
                        path.display()
                    )
                })?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
            (None, None) => {
                return Err("BURNIN_INITIAL_ADMIN_USER is set without BURNIN_INITIAL_ADMIN_PASSWORD or BURNIN_INITIAL_ADMIN_PASSWORD_FILE".into());
            }
        };
        Ok(Some((user.trim().to_owned(), password)))
    }

    pub fn json_logs(&self) -> bool {
        match self.log_format {
            LogFormat::Json => true,
            LogFormat::Text => false,
            LogFormat::Auto => self.environment == Environment::Production,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_loopback_with_a_sqlite_file_under_data() {
        let config = Config::defaults();
        assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(config.database_url, "sqlite://data/burnin.db");
        assert!(!config.json_logs());
    }

    #[test]
    fn production_logs_json_unless_told_otherwise() {
        let cli = Cli::parse_from(["burnin-server", "--environment", "production"]);
        assert!(cli.config.json_logs());
        let cli = Cli::parse_from([
            "burnin-server",
            "--environment",
            "production",
            "--log-format",
            "text",
        ]);
        assert!(!cli.config.json_logs());
    }

    #[test]
    fn the_master_key_lives_beside_the_database_unless_told_otherwise() {
        let mut config = Config::defaults();
        assert_eq!(config.master_key_path(), PathBuf::from("data/master.key"));
        config.database_url = "sqlite:///srv/burnin/db.sqlite?mode=rwc".into();
        assert_eq!(config.master_key_path(), PathBuf::from("/srv/burnin/master.key"));
        config.master_key_file = Some(PathBuf::from("/run/secrets/burnin_key"));
        assert_eq!(config.master_key_path(), PathBuf::from("/run/secrets/burnin_key"));
    }

    #[test]
    fn public_origins_split_on_commas() {
        let cli = Cli::parse_from([
            "burnin-server",
            "--public-origins",
            "https://burnin.example.net,http://10.0.0.5:3000",
        ]);
        assert_eq!(cli.config.public_origins.len(), 2);
    }
}
