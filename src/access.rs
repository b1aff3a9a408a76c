//! Who may do what. The one home for authorisation rules: the roles, the actions the service
//! performs, the role each action needs, which actions ask for the password again (step-up),
//! and what an API token's scope allows. Pure: the server resolves who is calling, then asks
//! here; every door and every service method asks the same table.

use serde::{Deserialize, Serialize};

/// A user's role. Each includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees everything, changes nothing.
    Viewer,
    /// Edits drives, starts and cancels burn-ins.
    Operator,
    /// Hosts, credentials, settings, users, tokens, history deletion.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// What the role may do, for the users page.
    pub fn summary(self) -> &'static str {
        match self {
            Role::Viewer => "sees everything, changes nothing",
            Role::Operator => "edits drives, starts and cancels burn-ins",
            Role::Admin => "also hosts, credentials, settings, users, tokens and history",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an API token may do. A token never does more than its user's role allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Read,
    Operate,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Operate, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Operate => "operate",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// The role the scope stands for.
    pub fn role(self) -> Role {
        match self {
            Scope::Read => Role::Viewer,
            Scope::Operate => Role::Operator,
            Scope::Admin => Role::Admin,
        }
    }

    /// The role a token of this scope acts with: the lower of the scope and its user's role.
    pub fn effective(self, user: Role) -> Role {
        self.role().min(user)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the service does on a caller's behalf that needs more than being signed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read the fleet, jobs, records, settings (never secrets).
    View,
    /// Set a drive's location or notes.
    EditDrive,
    /// Queue burn-ins without a surface test.
    StartBurnin,
    /// Queue a destructive surface test.
    StartSurface,
    CancelBurnin,
    /// Add, change, enable, test, pin and archive hosts.
    ManageHosts,
    /// Enter or replace a host's API key, SSH key or password.
    ChangeCredentials,
    /// Delete an archived host's history for good.
    DeleteHistory,
    ChangeSettings,
    ManageUsers,
    ManageTokens,
    /// Open a shell on a NAS in the page (the terminal).
    OpenTerminal,
    /// Acknowledge or resolve alerts.
    HandleAlerts,
    /// Read the audit log: who signed in from where (a failed sign-in records the name as
    /// typed, which may be a mistyped password), user and token changes, every mutation.
    /// More than `View`'s "the fleet and its records", so admins only.
    ReadAudit,
}

impl Action {
    pub const ALL: [Action; 14] = [
        Action::View,
        Action::EditDrive,
        Action::StartBurnin,
        Action::StartSurface,
        Action::CancelBurnin,
        Action::ManageHosts,
        Action::ChangeCredentials,
        Action::DeleteHistory,
        Action::ChangeSettings,
        Action::ManageUsers,
        Action::ManageTokens,
        Action::OpenTerminal,
        Action::HandleAlerts,
        Action::ReadAudit,
    ];

    /// The least role that may do it.
    pub fn role(self) -> Role {
        match self {
            Action::View => Role::Viewer,
            Action::EditDrive
            | Action::StartBurnin
            | Action::StartSurface
            | Action::CancelBurnin
            | Action::HandleAlerts => Role::Operator,
            Action::ManageHosts
            | Action::ChangeCredentials
            | Action::DeleteHistory
            | Action::ChangeSettings
            | Action::ManageUsers
            | Action::ManageTokens
            | Action::OpenTerminal
            | Action::ReadAudit => Role::Admin,
        }
    }

    /// Whether a signed-in user must have entered the password within [`STEP_UP_SECS`].
    pub fn needs_step_up(self) -> bool {
        matches!(
            self,
            Action::StartSurface
                | Action::ChangeCredentials
                | Action::DeleteHistory
                | Action::ManageUsers
                | Action::ManageTokens
                | Action::OpenTerminal
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::View => "view",
            Action::EditDrive => "edit drives",
            Action::StartBurnin => "start burn-ins",
            Action::StartSurface => "start a destructive surface test",
            Action::CancelBurnin => "cancel burn-ins",
            Action::ManageHosts => "manage hosts",
            Action::ChangeCredentials => "change host credentials",
            Action::DeleteHistory => "delete history",
            Action::ChangeSettings => "change settings",
            Action::ManageUsers => "manage users",
            Action::OpenTerminal => "open a terminal on a NAS",
            Action::HandleAlerts => "acknowledge and resolve alerts",
            Action::ManageTokens => "manage API tokens",
            Action::ReadAudit => "read the audit log",
        }
    }
}

/// Seconds a password entry counts for actions that ask for it again.
pub const STEP_UP_SECS: i64 = 600;

/// What a door (a page's server function, an `/api/v1` route, a WebSocket) asks of its caller
/// before its handler runs. Declared for every door; a door without one is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Door {
    /// Anyone, signed in or not: health, signing in, the first admin's creation, who am I.
    Open,
    /// A signed-in caller allowed to do this.
    Needs(Action),
}

/// How the caller proved who they are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Via {
    /// A browser session; `authenticated_at` is when the password was last entered (unix s).
    Session { authenticated_at: i64 },
    /// An API token.
    Token { token_id: i64 },
    /// A trusted reverse proxy's single sign-on header, checked by the proxy on every request.
    Proxy,
    /// The server itself or its command line.
    System,
}

/// The caller of a service method.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user_id: i64,
    pub name: String,
    pub role: Role,
    pub via: Via,
}

/// Why an action was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Denied {
    /// The caller's role (or token scope) is below what the action needs.
    Role { action: Action, needed: Role, have: Role },
    /// The password must be entered again first.
    StepUp { action: Action },
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Denied::Role { action, needed, have } => write!(
                f,
                "to {} you need the {needed} role; you are signed in as {have}. Ask an admin",
                action.as_str()
            ),
            Denied::StepUp { action } => write!(
                f,
                "to {} enter your password again (your last sign-in is older than {} minutes)",
                action.as_str(),
                STEP_UP_SECS / 60
            ),
        }
    }
}

impl Principal {
    /// The server acting on its own (start-up, the command line, the engine).
    pub fn system(name: &str) -> Principal {
        Principal { user_id: 0, name: name.to_owned(), role: Role::Admin, via: Via::System }
    }

    /// Whether the role allows the action (the step-up is checked by [`Principal::check`]).
    pub fn may(&self, action: Action) -> bool {
        self.role >= action.role()
    }

    /// The whole rule: role, then step-up for a browser session. A token is a credential of its
    /// own and a proxy re-checks its users on every request, so neither is asked again.
    pub fn check(&self, action: Action, now_unix: i64) -> Result<(), Denied> {
        if !self.may(action) {
            return Err(Denied::Role { action, needed: action.role(), have: self.role });
        }
        if action.needs_step_up()
            && let Via::Session { authenticated_at } = self.via
            && now_unix.saturating_sub(authenticated_at) > STEP_UP_SECS
        {
            return Err(Denied::StepUp { action });
        }
        Ok(())
    }

    /// The name written to the audit log.
    pub fn actor(&self) -> String {
        match &self.via {
            Via::Session { .. } | Via::System => self.name.clone(),
            Via::Token { token_id } => format!("{} (token #{token_id})", self.name),
            Via::Proxy => format!("{} (sso)", self.name),
        }
    }
}

/// The person behind an actor as [`Principal::actor`] writes it: `alice (token #3)` and
/// `alice (sso)` are both `alice`. User names hold no spaces ([`user_name_problem`]), so the
/// name ends at the first one.
pub fn actor_name(actor: &str) -> &str {
    let actor = actor.trim();
    actor.split(' ').next().unwrap_or(actor)
}

/// A user as pages and the API show it (never the password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: String,
    pub last_login_at: Option<String>,
    /// `local` (password) or `sso` (created by the proxy's header).
    pub source: String,
}

/// An API token as shown after it was made (never its secret, never its hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: i64,
    pub user_name: String,
    pub name: String,
    pub scope: Scope,
    /// The token's first characters, to tell tokens apart.
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEdit {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    /// A new password, set by an admin; ends the user's sessions.
    pub password: Option<String>,
}

/// A token just made: its secret is shown once, in this answer, and never again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub token: TokenView,
    pub secret: String,
}

/// Who the page is talking to, for the header and for hiding what the role may not do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whoami {
    /// `None` when nobody is signed in.
    pub user: Option<SignedIn>,
    /// No user exists yet: the page asks for the first admin.
    pub needs_setup: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub name: String,
    pub role: Role,
    /// Seconds left before actions that ask for the password again do so (0: they will).
    pub step_up_left_secs: i64,
    /// Signed in through the proxy's single sign-on (no password, no sign-out here).
    pub sso: bool,
}

impl SignedIn {
    pub fn may(&self, action: Action) -> bool {
        self.role >= action.role()
    }
}

/// A password is accepted when it is 12 to 1024 characters (ASVS 6.2.1 asks for at least 8;
/// this dashboard can wipe disks) and not one of the most common ones. Checked as typed, never
/// trimmed or case-folded.
pub fn password_problem(password: &str, user_name: &str) -> Option<String> {
    let length = password.chars().count();
    if length < 12 {
        return Some(format!(
            "the password has {length} characters; use at least 12 (a few words make a good one)"
        ));
    }
    if length > 1024 {
        return Some("the password is longer than 1024 characters".into());
    }
    let lower = password.to_lowercase();
    if !user_name.is_empty() && lower.contains(&user_name.to_lowercase()) {
        return Some("the password contains the user name; choose another".into());
    }
    let distinct = password.chars().collect::<std::collections::BTreeSet<_>>().len();
    if distinct < 4 || COMMON.iter().any(|common| lower.starts_with(common)) {
        return Some("that password is too easy to guess; choose another".into());
    }
    None
}

/// Beginnings of the passwords that top breach lists and are at least 12 characters long.
const COMMON: &[&str] = &[
    "123456789012",
    "1234567890qw",
    "qwertyuiop",
    "password",
    "passw0rd",
    "iloveyou",
    "admin",
    "administrator",
    "changeme",
    "letmein",
    "welcome",
    "truenas",
    "freenas",
    "burnin",
    "qwerty",
    "abc123",
    "111111",
    "000000",
];

/// The longest user name (see [`user_name_problem`]).
pub const USER_NAME_MAX: usize = 64;

/// A user name: 1 to 64 letters, digits, `.`, `_`, `-` or `@`, as proxies and people write them.
pub fn user_name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > USER_NAME_MAX {
        return Some(format!("a user name has 1 to {USER_NAME_MAX} characters"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')) {
        return Some(format!(
            "{:?} is not a user name: use letters, digits and . _ - @ only",
            name_for_record(name)
        ));
    }
    None
}

/// What the audit log, the log and messages keep of a name someone typed, which may be
/// anything an unauthenticated client sends: at most [`USER_NAME_MAX`] characters, control
/// characters dropped, `…` where it was cut. Bounded, so a sign-in form cannot fill the disk.
pub fn name_for_record(name: &str) -> String {
    let mut kept: String =
        name.chars().filter(|c| !c.is_control()).take(USER_NAME_MAX + 1).collect();
    if kept.chars().count() > USER_NAME_MAX {
        kept = kept.chars().take(USER_NAME_MAX).collect();
        kept.push('…');
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(role: Role, authenticated_at: i64) -> Principal {
        Principal { user_id: 1, name: "ann".into(), role, via: Via::Session { authenticated_at } }
    }

    #[test]
    fn a_typed_name_is_recorded_bounded_and_without_control_characters() {
        assert_eq!(name_for_record("ann"), "ann");
        assert_eq!(name_for_record("a\tn\u{0}n\r\n"), "ann");
        let long = "x".repeat(100_000);
        let kept = name_for_record(&long);
        assert_eq!(kept.chars().count(), USER_NAME_MAX + 1);
        assert!(kept.ends_with('…'));
        assert_eq!(name_for_record(&"y".repeat(USER_NAME_MAX)), "y".repeat(USER_NAME_MAX));
        let problem = user_name_problem(&format!("{long}!")).expect("refused");
        assert!(problem.len() < 200, "{problem}");
    }

    #[test]
    fn an_actor_names_its_person_however_they_signed_in() {
        let ann = |via| Principal { via, ..session(Role::Operator, 0) };
        for via in [
            Via::Session { authenticated_at: 0 },
            Via::Token { token_id: 7 },
            Via::Proxy,
            Via::System,
        ] {
            assert_eq!(actor_name(&ann(via).actor()), "ann");
        }
        assert_eq!(actor_name("system"), "system");
    }

    #[test]
    fn each_role_may_do_exactly_its_actions() {
        for action in Action::ALL {
            let allowed: Vec<Role> =
                Role::ALL.into_iter().filter(|role| session(*role, 0).may(action)).collect();
            let expected: Vec<Role> = match action {
                Action::View => vec![Role::Viewer, Role::Operator, Role::Admin],
                Action::EditDrive
                | Action::StartBurnin
                | Action::StartSurface
                | Action::CancelBurnin
                | Action::HandleAlerts => vec![Role::Operator, Role::Admin],
                _ => vec![Role::Admin],
            };
            assert_eq!(allowed, expected, "{action:?}");
        }
    }

    #[test]
    fn destructive_and_credential_actions_ask_for_the_password_after_ten_minutes() {
        let now = 100_000;
        let fresh = session(Role::Admin, now - STEP_UP_SECS);
        let stale = session(Role::Admin, now - STEP_UP_SECS - 1);
        for action in [Action::StartSurface, Action::ChangeCredentials, Action::ManageTokens] {
            assert_eq!(fresh.check(action, now), Ok(()));
            assert_eq!(stale.check(action, now), Err(Denied::StepUp { action }));
        }
        assert_eq!(stale.check(Action::StartBurnin, now), Ok(()));
        assert_eq!(stale.check(Action::CancelBurnin, now), Ok(()));
        let token = Principal { via: Via::Token { token_id: 4 }, ..stale.clone() };
        assert_eq!(token.check(Action::StartSurface, now), Ok(()));
        assert_eq!(token.actor(), "ann (token #4)");
    }

    #[test]
    fn the_role_is_checked_before_the_step_up() {
        let viewer = session(Role::Viewer, 0);
        assert_eq!(
            viewer.check(Action::StartSurface, 10_000),
            Err(Denied::Role {
                action: Action::StartSurface,
                needed: Role::Operator,
                have: Role::Viewer
            })
        );
    }

    #[test]
    fn a_token_never_exceeds_its_user() {
        assert_eq!(Scope::Admin.effective(Role::Operator), Role::Operator);
        assert_eq!(Scope::Read.effective(Role::Admin), Role::Viewer);
        assert_eq!(Scope::Operate.effective(Role::Admin), Role::Operator);
        assert_eq!(Scope::parse(" Operate "), Some(Scope::Operate));
        assert_eq!(Role::parse("ADMIN"), Some(Role::Admin));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn weak_passwords_are_refused_with_the_reason() {
        assert!(password_problem("short", "ann").expect("refused").contains("at least 12"));
        assert!(password_problem("Password1234!", "ann").expect("refused").contains("easy"));
        assert!(password_problem("aaaaaaaaaaaaaaa", "ann").expect("refused").contains("easy"));
        assert!(password_problem("ann-likes-disks", "ann").expect("refused").contains("user name"));
        assert_eq!(password_problem("correct horse battery", "ann"), None);
        assert!(user_name_problem("ann smith").is_some());
        assert_eq!(user_name_problem("ann.smith@lab"), None);
    }
}

/// A one-time ticket to open a terminal: bound to its user, session and host, for
/// [`TERMINAL_TICKET_SECS`]; the WebSocket upgrade at `/terminal?ticket=…` consumes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalTicket {
    pub ticket: String,
    pub host_id: i64,
    pub expires_in_secs: u32,
}

/// Seconds a terminal ticket lives.
pub const TERMINAL_TICKET_SECS: u32 = 30;
