//! The `user` and `token` commands: the way in when nobody can sign in, and tokens for
//! automation made where the server runs. They open the database directly, like `migrate`.

use anyhow::Context as _;
use burnin::access::{Role, Scope};

use crate::{
    auth::{Auth, AuthOptions},
    config::{Config, TokenCommand, UserCommand},
    db::Db,
};

async fn open(config: &Config) -> anyhow::Result<Auth> {
    let db = Db::open(&config.database_url).await?;
    Auth::new(db.pool().clone(), AuthOptions::default()).context("cannot set up sign-in")
}

/// The password from `BURNIN_PASSWORD`, or typed twice on the terminal (not echoed).
fn password(prompt: &str) -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("BURNIN_PASSWORD") {
        return Ok(password);
    }
    let first = rpassword::prompt_password(prompt)
        .context("cannot read a password from the terminal; set BURNIN_PASSWORD instead")?;
    let again = rpassword::prompt_password("Again: ")
        .context("cannot read a password from the terminal; set BURNIN_PASSWORD instead")?;
    anyhow::ensure!(first == again, "the two passwords differ; nothing was changed");
    Ok(first)
}

pub async fn user(config: &Config, command: UserCommand) -> anyhow::Result<()> {
    let auth = open(config).await?;
    match command {
        UserCommand::Add { name, role } => {
            let role = Role::parse(&role)
                .with_context(|| format!("unknown role {role:?}: use viewer, operator or admin"))?;
            let password = password(&format!("Password for {name}: "))?;
            let user = auth.add_user(&name, role, &password, "cli", false).await?;
            println!("added {} ({})", user.name, user.role);
        }
        UserCommand::ResetPassword { name } => {
            let password = password(&format!("New password for {name}: "))?;
            auth.set_password(&name, &password, "cli").await?;
            println!(
                "the password of {name} is set; its sessions are ended and its lockout lifted"
            );
        }
        UserCommand::List => {
            for user in auth.list_users().await? {
                println!(
                    "{}\t{}\t{}{}",
                    user.name,
                    user.role,
                    user.source,
                    if user.disabled { "\tdisabled" } else { "" }
                );
            }
        }
    }
    Ok(())
}

pub async fn token(config: &Config, command: TokenCommand) -> anyhow::Result<()> {
    let auth = open(config).await?;
    match command {
        TokenCommand::Create { user, scope, name } => {
            let scope = Scope::parse(&scope)
                .with_context(|| format!("unknown scope {scope:?}: use read, operate or admin"))?;
            let (token, secret) = auth.create_token(&user, &name, scope, "cli").await?;
            eprintln!(
                "token #{} for {} ({}): shown once, store it now. Send it as `Authorization: Bearer <token>`.",
                token.id, token.user_name, token.scope
            );
            println!("{secret}");
        }
        TokenCommand::List => {
            for token in auth.list_tokens().await? {
                println!(
                    "#{}\t{}\t{}\t{}\t{}…\tlast used {}{}",
                    token.id,
                    token.user_name,
                    token.name,
                    token.scope,
                    token.prefix,
                    token.last_used_at.unwrap_or_else(|| "never".into()),
                    if token.revoked_at.is_some() { "\trevoked" } else { "" }
                );
            }
        }
        TokenCommand::Revoke { id } => {
            auth.revoke_token(id, "cli").await?;
            println!("token #{id} is revoked");
        }
    }
    Ok(())
}

/// The secret columns of `hosts`, with the field name their associated data carries.
const SECRET_COLUMNS: [(&str, &str); 3] =
    [("api_key_enc", "api_key"), ("ssh_key_enc", "ssh_key"), ("ssh_password_enc", "ssh_password")];

/// A host's id, uid, name and its three encrypted secrets.
type HostSecrets = (i64, String, String, Option<String>, Option<String>, Option<String>);

/// One sealed secret in the database: where it is, what it is bound to, and its value.
struct Sealed {
    table: &'static str,
    id: i64,
    column: &'static str,
    aad: String,
    value: String,
    /// "host nas-01 (#3): its api_key", for a message that says which one.
    owner: String,
    fix: &'static str,
}

/// Every sealed secret: the hosts' and the notification channels'.
async fn sealed_secrets(pool: &sqlx::SqlitePool) -> anyhow::Result<Vec<Sealed>> {
    use crate::secrets::host_aad;
    let hosts: Vec<HostSecrets> = sqlx::query_as(
        "SELECT id, uid, name, api_key_enc, ssh_key_enc, ssh_password_enc FROM hosts ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    let mut out = Vec::new();
    for (id, uid, name, api_key, ssh_key, ssh_password) in hosts {
        for (value, (column, field)) in
            [api_key, ssh_key, ssh_password].into_iter().zip(SECRET_COLUMNS)
        {
            let Some(value) = value else { continue };
            out.push(Sealed {
                table: "hosts",
                id,
                column,
                aad: host_aad(&uid, field),
                value,
                owner: format!("host {name} (#{id}): its {field}"),
                fix: "Enter that secret again in the host's settings (or clear it)",
            });
        }
    }
    let channels: Vec<(i64, String, String, Option<String>)> =
        sqlx::query_as("SELECT id, uid, name, secret FROM channels ORDER BY id")
            .fetch_all(pool)
            .await?;
    for (id, uid, name, secret) in channels {
        let Some(value) = secret else { continue };
        out.push(Sealed {
            table: "channels",
            id,
            column: "secret",
            aad: crate::notify::secret_aad(&uid),
            value,
            owner: format!("notification channel {name} (#{id}): its secret"),
            fix: "Enter that secret again on Settings → Notifications (or clear it)",
        });
    }
    Ok(out)
}

/// Re-encrypts every stored secret under a new master key.
///
/// Crash-safe in this order: the new key is written beside the old one (`….new`), every
/// secret is re-encrypted in one transaction (all or nothing), then the new key file replaces
/// the old. A run that stopped after the commit left `….new` holding the key the database
/// now needs: the next run sees that and only finishes the swap.
pub async fn rotate_master_key(config: &Config) -> anyhow::Result<()> {
    use crate::secrets::{MasterKey, write_private};
    let path = config.master_key_path();
    let pending = std::path::PathBuf::from(format!("{}.new", path.display()));
    anyhow::ensure!(
        path.exists(),
        "there is no master key at {}: nothing to rotate (it is made on first start)",
        path.display()
    );
    let db = Db::open(&config.database_url).await?;
    let old = MasterKey::load_or_create(&path)?;
    let sealed = sealed_secrets(db.pool()).await?;
    let readable_with =
        |key: &MasterKey| sealed.iter().all(|s| key.decrypt(&s.value, &s.aad).is_ok());
    if pending.exists() {
        let new = MasterKey::load_or_create(&pending)?;
        if !sealed.is_empty() && readable_with(&new) && !readable_with(&old) {
            std::fs::rename(&pending, &path).with_context(|| {
                format!("cannot move {} over {}", pending.display(), path.display())
            })?;
            println!("finished an interrupted rotation: {} is the new master key", path.display());
            return Ok(());
        }
        std::fs::remove_file(&pending)
            .with_context(|| format!("cannot remove the unused {}", pending.display()))?;
    }
    let key = crate::secrets::random_bytes::<32>()?;
    write_private(&pending, &key)
        .with_context(|| format!("cannot write the new key to {}", pending.display()))?;
    let new = MasterKey::from_bytes(&key);
    let mut tx = crate::db::begin_write(db.pool()).await?;
    let mut count = 0;
    for sealed in &sealed {
        let secret = old.decrypt(&sealed.value, &sealed.aad).with_context(|| {
            format!(
                "{} does not decrypt with the current key, so nothing was changed. {}, then rotate",
                sealed.owner, sealed.fix
            )
        })?;
        sqlx::query(&format!("UPDATE {} SET {} = $1 WHERE id = $2", sealed.table, sealed.column))
            .bind(new.encrypt(&secret, &sealed.aad)?)
            .bind(sealed.id)
            .execute(&mut *tx)
            .await?;
        count += 1;
    }
    crate::audit::record(
        &mut *tx,
        "cli",
        "secrets.rotated",
        "",
        &serde_json::json!({"secrets": count}),
    )
    .await?;
    tx.commit().await?;
    std::fs::rename(&pending, &path)
        .with_context(|| format!("the secrets are re-encrypted but {} could not replace {}: move it there by hand before starting the server", pending.display(), path.display()))?;
    println!(
        "re-encrypted {count} secrets with a new master key at {}; back it up with the database",
        path.display()
    );
    Ok(())
}

/// Replaces the signing key with a new one and retires the old in the database (where it stays
/// listed). The new key is written beside the old (`….new`) and moved over it in one rename,
/// so the file always holds a whole key; the database follows, and the next start would
/// record the change anyway (`signing::remember`) should that step fail.
pub async fn rotate_signing_key(config: &Config) -> anyhow::Result<()> {
    use crate::signing::Signer;
    let path = config.signing_key_path();
    anyhow::ensure!(
        path.exists(),
        "there is no signing key at {}: nothing to rotate (it is made on first start)",
        path.display()
    );
    let db = Db::open(&config.database_url).await?;
    let old = Signer::load_or_create(&path)?;
    let (new, seed) = Signer::generate()?;
    let pending = std::path::PathBuf::from(format!("{}.new", path.display()));
    if pending.exists() {
        std::fs::remove_file(&pending)
            .with_context(|| format!("cannot remove the unused {}", pending.display()))?;
    }
    crate::secrets::write_private(&pending, &seed)
        .with_context(|| format!("cannot write the new key to {}", pending.display()))?;
    std::fs::rename(&pending, &path).with_context(|| {
        format!("cannot move {} over {}; nothing changed", pending.display(), path.display())
    })?;
    crate::signing::remember(db.pool(), &new).await.with_context(|| {
        format!(
            "{} holds the new key, but the database could not record it: the next start does",
            path.display()
        )
    })?;
    crate::audit::record(
        db.pool(),
        "cli",
        "signing_key.rotated",
        "",
        &serde_json::json!({"retired": old.fingerprint(), "new": new.fingerprint()}),
    )
    .await?;
    println!(
        "the evidence signing key is now {} (fingerprint {}); the old key {} is retired and still verifies the bundles it signed. Back up {} with the database",
        new.public_key_text(),
        new.fingerprint(),
        old.fingerprint(),
        path.display()
    );
    Ok(())
}

/// `verify BUNDLE [--key KEY] [--json]`: checks an evidence bundle offline, with nothing but
/// the file (and, given, the key it must be signed by). Answers the exit code: 0 verified, 1 a
/// mismatch (each named), 2 the file or key cannot be read.
pub fn verify(bundle: &std::path::Path, key: Option<&str>, json: bool) -> std::process::ExitCode {
    use std::io::Read as _;
    use std::process::ExitCode;
    let text = if bundle.as_os_str() == "-" {
        let mut text = Vec::new();
        std::io::stdin().read_to_end(&mut text).map(|_| text)
    } else {
        std::fs::read(bundle)
    };
    let text = match text {
        Ok(text) => text,
        Err(error) => {
            eprintln!("burnin-server verify: cannot read {}: {error}", bundle.display());
            return ExitCode::from(2);
        }
    };
    let expected = match key.map(burnin::evidence::parse_public_key).transpose() {
        Ok(key) => key,
        Err(message) => {
            eprintln!(
                "burnin-server verify: --key: {message}; pass the key as /api/v1/signing-key shows it"
            );
            return ExitCode::from(2);
        }
    };
    let bundle = match burnin::evidence::parse(&text) {
        Ok(bundle) => bundle,
        Err(message) => {
            eprintln!("burnin-server verify: {}: {message}", bundle.display());
            return ExitCode::from(2);
        }
    };
    let report = burnin::evidence::verify(&bundle, expected.as_ref());
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(error) => {
                eprintln!("burnin-server verify: cannot write the result: {error}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", verification_text(&bundle.manifest, &report));
    }
    if report.valid { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// The verification as a person reads it.
pub fn verification_text(
    manifest: &burnin::evidence::Manifest,
    report: &burnin::evidence::Verification,
) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(format!(
        "Evidence bundle of job {} (drive {} {}, host {}), outcome {}, sealed {} by {}",
        manifest.job_id,
        manifest.drive_model,
        manifest.drive_serial,
        manifest.host_name,
        manifest.outcome.to_uppercase(),
        manifest.sealed_at,
        manifest.issuer
    ));
    line(format!("SHA-256 (as printed on the certificate): {}", report.hash));
    line(format!(
        "Signed by Ed25519 key {} ({})",
        report.public_key,
        match report.key_matches_expected {
            Some(true) => "the expected key",
            Some(false) => "NOT the expected key",
            None => "not compared: pass --key with the dashboard's public key to check who signed",
        }
    ));
    line(format!("Parts matching their signed digests: {}", report.checked.len()));
    if !report.missing.is_empty() {
        line(format!(
            "Parts the dashboard no longer keeps (retention); their digests are still signed: {}",
            report.missing.join(", ")
        ));
    }
    if report.valid {
        line(format!(
            "VERIFIED{}",
            if report.complete { "" } else { " (incomplete: see the parts above)" }
        ));
    } else {
        line(format!("NOT VERIFIED: {} problem(s)", report.problems.len()));
        for problem in &report.problems {
            line(format!("  {}: {}", problem.location, problem.message));
        }
    }
    out
}
