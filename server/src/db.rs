//! The database: opening, schema checks and migrations. Only `server` knows SQL, and within it
//! each service owns its tables.

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    SqlitePool,
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

/// The schema this binary knows, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "the database URL must start with `sqlite:` (got a `{scheme}` URL). Use e.g. \
         sqlite://data/burnin.db"
    )]
    UnsupportedScheme { scheme: String },
    #[error("the database URL `{url}` is not usable: {source}. Use e.g. sqlite://data/burnin.db")]
    BadUrl { url: String, source: sqlx::Error },
    #[error("cannot create the database folder {path}: {source}. Check that the path is writable")]
    CreateDir { path: String, source: std::io::Error },
    #[error(
        "cannot create the database file {location}: {source}. Check that the folder is writable"
    )]
    CreateFile { location: String, source: std::io::Error },
    #[error("cannot open the database at {location}: {source}")]
    Open { location: String, source: sqlx::Error },
    #[error(
        "the database schema is version {database}, newer than this binary knows (up to {binary}). \
         It was written by a newer burn-in dashboard: run that version, or restore a backup made \
         before the upgrade"
    )]
    SchemaNewer { database: i64, binary: i64 },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
}

#[derive(Clone, Debug)]
pub struct Db {
    pool: SqlitePool,
}

impl Db {
    /// Opens (creating if needed) the database, refuses a schema newer than this binary, and
    /// applies pending migrations.
    pub async fn open(url: &str) -> Result<Db, DbError> {
        // SQLite would take any string as a file name and create it; a URL with another scheme
        // is a mistake to report, not a file to create. Only the scheme is echoed, since other
        // database URLs can carry a password.
        if !url.starts_with("sqlite:") {
            let scheme = url.split_once(':').map_or("unknown", |(scheme, _)| scheme).to_owned();
            return Err(DbError::UnsupportedScheme { scheme });
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|source| DbError::BadUrl { url: url.to_owned(), source })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let location = options.get_filename().display().to_string();
        if let Some(parent) = Path::new(&location).parent()
            && !parent.as_os_str().is_empty()
            && location != ":memory:"
        {
            create_private_dir(parent).map_err(|source| DbError::CreateDir {
                path: parent.display().to_string(),
                source,
            })?;
        }
        // The record, the audit log and the encrypted secrets are the server's alone: a new
        // database file is made readable by its user only (SQLite gives its WAL and shared
        // memory files the database file's mode). An existing file keeps the mode it has.
        if location != ":memory:" && !location.is_empty() && !Path::new(&location).exists() {
            create_private_file(Path::new(&location))
                .map_err(|source| DbError::CreateFile { location: location.clone(), source })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|source| DbError::Open { location: location.clone(), source })?;
        let db = Db { pool };
        db.refuse_newer_schema().await?;
        MIGRATOR.run(&db.pool).await?;
        tracing::info!(db.location = %location, db.schema_version = binary_schema_version(), "database ready");
        Ok(db)
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Answers when the database does; for `/readyz`.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// sqlx would fail later with "migration N was previously applied but is missing", which
    /// does not tell the operator what happened; say it plainly before touching anything.
    async fn refuse_newer_schema(&self) -> Result<(), DbError> {
        let has_table: Option<(String,)> = sqlx::query_as(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_optional(&self.pool)
        .await?;
        if has_table.is_none() {
            return Ok(());
        }
        let (database,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
                .fetch_one(&self.pool)
                .await?;
        let binary = binary_schema_version();
        match database {
            Some(database) if database > binary => Err(DbError::SchemaNewer { database, binary }),
            _ => Ok(()),
        }
    }
}

/// Creates `path` and the folders above it that are missing, each readable by this user only.
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Creates an empty file readable and writable by this user only; one that appeared meanwhile
/// is left as it is.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// The newest migration this binary carries.
pub fn binary_schema_version() -> i64 {
    MIGRATOR.iter().map(|migration| migration.version).max().unwrap_or(0)
}

/// Starts a transaction that writes. `BEGIN IMMEDIATE` takes the write lock up front: a
/// deferred transaction that reads first and writes later fails with "database is locked"
/// when another connection wrote in between, and SQLite's busy timeout cannot help it.
pub async fn begin_write(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}
