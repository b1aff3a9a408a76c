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
