//! `/api/v1`: the JSON API for automation (n8n flows, scripts). Thin handlers over the same
//! service layer as the UI's server functions, so the two cannot disagree.

use axum::http::Method;
use axum::{
    Json, Router,
    extract::{Path, Query, State, rejection::JsonRejection},
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::get,
};
use burnin::access::{Action, Door, Principal};
use burnin::{
    DriveFilter, DriveRow, DriveState,
    host::HostView,
    job::{JobView, SmartSnapshot, StartRequest},
};
use burnin_app::{
    AppError,
    backend::{Backend, Caller, DriveEdit},
};
use serde::Deserialize;

use super::AppState;
use crate::service::Services;

type Handler = axum::routing::MethodRouter<AppState>;

/// Every route with what it asks of its caller: the one place a route and its rule are
/// written, read by the router and by the route inventory test.
fn table() -> Vec<(Method, &'static str, Door, Handler)> {
    use axum::routing::{delete, patch, post, put};
    let view = Door::Needs(Action::View);
    vec![
        (Method::GET, "/openapi.json", Door::Open, get(openapi)),
        (Method::GET, "/hosts", view, get(list_hosts)),
        (Method::POST, "/hosts", Door::Needs(Action::ManageHosts), post(create_host)),
        (Method::GET, "/hosts/{id}", view, get(get_host)),
        (Method::PUT, "/hosts/{id}", Door::Needs(Action::ManageHosts), put(update_host)),
        (Method::DELETE, "/hosts/{id}", Door::Needs(Action::ManageHosts), delete(archive_host)),
        (Method::GET, "/hosts/{id}/record", view, get(host_record)),
        (Method::POST, "/hosts/{id}/test", Door::Needs(Action::ManageHosts), post(test_host)),
        (Method::POST, "/hosts/{id}/trust", Door::Needs(Action::ManageHosts), post(trust_host)),
        (
            Method::POST,
            "/hosts/{id}/terminal",
            Door::Needs(Action::OpenTerminal),
            post(terminal_ticket),
        ),
        (Method::POST, "/hosts/{id}/enable", Door::Needs(Action::ManageHosts), post(enable_host)),
        (Method::POST, "/hosts/{id}/disable", Door::Needs(Action::ManageHosts), post(disable_host)),
        (
            Method::DELETE,
            "/hosts/{id}/history",
            Door::Needs(Action::DeleteHistory),
            delete(delete_history),
        ),
        (Method::GET, "/drives", view, get(list_drives)),
        (Method::GET, "/drives/{id}", view, get(get_drive)),
        (Method::PATCH, "/drives/{id}", Door::Needs(Action::EditDrive), patch(patch_drive)),
        (Method::GET, "/drives/{id}/smart", view, get(drive_smart)),
        (Method::GET, "/drives/by-serial/{serial}", view, get(drive_record)),
        (Method::GET, "/burnin", view, get(list_jobs)),
        (Method::GET, "/burnin.csv", view, get(jobs_csv)),
        (Method::GET, "/burnin/certificates.pdf", view, get(batch_certificates_pdf)),
        (Method::POST, "/burnin/start", Door::Needs(Action::StartBurnin), post(start_burnin)),
        (Method::POST, "/burnin/cancel", Door::Needs(Action::CancelBurnin), post(cancel_many)),
        (Method::GET, "/burnin/{id}", view, get(get_job)),
        (Method::POST, "/burnin/{id}/cancel", Door::Needs(Action::CancelBurnin), post(cancel_job)),
        (Method::DELETE, "/burnin/{id}", Door::Needs(Action::DeleteHistory), delete(delete_job)),
        (Method::GET, "/burnin/{id}/report", view, get(job_report)),
        (Method::GET, "/burnin/{id}/evidence", view, get(job_evidence)),
        (Method::GET, "/burnin/{id}/certificate", view, get(job_certificate)),
        (Method::GET, "/burnin/{id}/certificate.pdf", view, get(job_certificate_pdf)),
        (Method::GET, "/burnin/{id}/smart/{when}", view, get(job_smart)),
        (Method::GET, "/burnin/{id}/stages/{position}/output/{stream}", view, get(stage_output)),
        (Method::GET, "/alerts", view, get(list_alerts)),
        (Method::GET, "/alerts/{id}", view, get(get_alert)),
        (
            Method::POST,
            "/alerts/{id}/acknowledge",
            Door::Needs(Action::HandleAlerts),
            post(acknowledge_alert),
        ),
        (
            Method::POST,
            "/alerts/{id}/resolve",
            Door::Needs(Action::HandleAlerts),
            post(resolve_alert),
        ),
        (Method::GET, "/channels", view, get(list_channels)),
        (Method::POST, "/channels", Door::Needs(Action::ChangeSettings), post(create_channel)),
        (Method::GET, "/channels/{id}", view, get(get_channel)),
        (Method::PUT, "/channels/{id}", Door::Needs(Action::ChangeSettings), put(update_channel)),
        (
            Method::DELETE,
            "/channels/{id}",
            Door::Needs(Action::ChangeSettings),
            delete(delete_channel),
        ),
        (
            Method::POST,
            "/channels/{id}/test",
            Door::Needs(Action::ChangeSettings),
            post(test_channel),
        ),
        (Method::GET, "/channels/{id}/deliveries", view, get(channel_deliveries)),
        (Method::GET, "/settings", view, get(get_settings)),
        (Method::PUT, "/settings", Door::Needs(Action::ChangeSettings), put(put_settings)),
        (Method::GET, "/settings/verdict", view, get(get_thresholds)),
        (
            Method::PUT,
            "/settings/verdict",
            Door::Needs(Action::ChangeSettings),
            put(put_thresholds),
        ),
        (Method::GET, "/audit", Door::Needs(Action::ReadAudit), get(list_audit)),
        (Method::GET, "/stats", view, get(statistics)),
        (Method::GET, "/signing-key", Door::Open, get(signing_key)),
        // Open, like the key: a buyer checks a bundle without an account.
        (Method::POST, "/evidence/verify", Door::Open, post(verify_evidence)),
    ]
}

/// Every route's method, path (under `/api/v1`) and door.
pub fn doors() -> Vec<(Method, String, Door)> {
    table()
        .into_iter()
        .map(|(method, path, door, _)| (method, format!("/api/v1{path}"), door))
        .collect()
}

pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for (_, path, door, handler) in table() {
        router = router.route(
            path,
            handler.route_layer(axum::middleware::from_fn_with_state(door, super::access::require)),
        );
    }
    router.fallback(not_found)
}

/// The signed-in caller, as the gate resolved it.
struct Me(Principal);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Me {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Me, AppError> {
        parts
            .extensions
            .get::<Caller>()
            .and_then(|caller| caller.principal.clone())
            .map(Me)
            .ok_or_else(AppError::unauthenticated)
    }
}

/// The OpenAPI document describing this API.
async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], include_str!("openapi.json"))
        .into_response()
}

async fn not_found() -> AppError {
    AppError::not_found("no such API route; see /api/v1/openapi.json for the routes")
}

#[derive(Debug, Deserialize)]
struct HostQuery {
    archived: Option<bool>,
}

/// Lists every host in service with its status (no secrets); `?archived=true` lists the
/// hosts taken out of service, whose records are kept.
async fn list_hosts(
    State(services): State<Services>,
    Me(caller): Me,
    query: Result<Query<HostQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<HostView>>, AppError> {
    let Query(query) = query.map_err(|r| {
        AppError::bad_request(format!("invalid query: {}. Use archived=true", r.body_text()))
    })?;
    Ok(Json(if query.archived == Some(true) {
        services.archived_hosts(caller).await?
    } else {
        services.list_hosts(caller).await?
    }))
}

fn parse_host_id(text: &str) -> Result<i64, AppError> {
    text.parse()
        .map_err(|_| AppError::bad_request(format!("{text:?} is not a host id; ids are numbers")))
}

const HOST_EXAMPLE: &str = r#"{"name": "nas1", "api_url": "wss://nas1.lan", "api_user": "root", "api_key": "1-…", "ssh_host": "", "ssh_user": "root", "ssh_private_key": "-----BEGIN OPENSSH PRIVATE KEY-----…"}"#;

/// Adds a host. Secrets are write-only: never answered back.
async fn create_host(
    State(services): State<Services>,
    Me(caller): Me,
    body: Result<Json<burnin::host::HostInput>, JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<HostView>), AppError> {
    let input = json_body(body, HOST_EXAMPLE)?;
    Ok((axum::http::StatusCode::CREATED, Json(services.create_host(caller, input).await?)))
}

/// Changes a host; secrets left out keep their stored value. Its API URL and SSH endpoint
/// cannot change while it has active jobs (409).
async fn update_host(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
    body: Result<Json<burnin::host::HostInput>, JsonRejection>,
) -> Result<Json<HostView>, AppError> {
    let input = json_body(body, HOST_EXAMPLE)?;
    Ok(Json(services.update_host(caller, parse_host_id(&id)?, input).await?))
}

async fn get_host(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Json<HostView>, AppError> {
    Ok(Json(services.get_host(caller, parse_host_id(&id)?).await?))
}

/// Takes a host out of service (refused, 409, while it has active jobs). Its drives and
/// burn-ins stay on record; its secrets are dropped.
async fn archive_host(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Json<HostView>, AppError> {
    Ok(Json(services.delete_host(caller, parse_host_id(&id)?).await?))
}

/// Everything recorded for a host: settings (no secrets), drives, jobs with their verdicts.
async fn host_record(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    Ok(Json(services.host_record(&caller, parse_host_id(&id)?).await?))
}

/// Runs the connection test (certificate, API login, drive list, SSH) and reports each step.
/// What it saw that is not trusted yet comes with a one-time reference to trust it by.
async fn test_host(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Json<burnin::host::HostTest>, AppError> {
    Ok(Json(services.test_host(caller, parse_host_id(&id)?).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trust {
    reference: String,
}

/// Pins the certificate or SSH host key a connection test saw, by the reference it answered
/// (`certificate_observation` or `ssh_host_key_observation`); never a typed fingerprint.
async fn trust_host(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
    body: Result<Json<Trust>, JsonRejection>,
) -> Result<Json<HostView>, AppError> {
    let trust = json_body(body, r#"{"reference": "<certificate_observation from the test>"}"#)?;
    Ok(Json(services.trust_observed(caller, parse_host_id(&id)?, &trust.reference).await?))
}

/// A one-time ticket (30 s) to open `/terminal?ticket=…` on the host: admins, in a browser
/// session whose password was entered within the step-up window.
async fn terminal_ticket(
    State(services): State<Services>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<burnin::access::TerminalTicket>, AppError> {
    Ok(Json(Services::terminal_ticket(&services, caller, parse_host_id(&id)?).await?))
}

/// Puts a host back in service: its drives are read again.
async fn enable_host(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Json<HostView>, AppError> {
    Ok(Json(services.set_host_enabled(caller, parse_host_id(&id)?, true).await?))
}

/// Stops reading a host (its jobs keep running; nothing new starts on it).
async fn disable_host(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Json<HostView>, AppError> {
    Ok(Json(services.set_host_enabled(caller, parse_host_id(&id)?, false).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteHistory {
    confirm: String,
}

/// Deletes an archived host's history for good; `{"confirm": "<its name>"}`.
async fn delete_history(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
    body: Result<Json<DeleteHistory>, JsonRejection>,
) -> Result<axum::http::StatusCode, AppError> {
    let request = json_body(body, r#"{"confirm": "nas1 (archived #3)"}"#)?;
    services.delete_host_history(caller, parse_host_id(&id)?, request.confirm).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct DriveQuery {
    host_id: Option<i64>,
    state: Option<String>,
    search: Option<String>,
}

/// Lists drives, filtered as in the UI.
async fn list_drives(
    State(services): State<Services>,
    Me(caller): Me,
    query: Result<Query<DriveQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<DriveRow>>, AppError> {
    let Query(query) = query.map_err(|rejection| {
        AppError::bad_request(format!(
            "invalid query: {}. Use host_id=<number>, state=<state>, search=<text>",
            rejection.body_text()
        ))
    })?;
    let state = match query.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => Some(DriveState::parse(text).ok_or_else(|| {
            let known: Vec<&str> = DriveState::ALL.iter().map(|s| s.as_str()).collect();
            AppError::bad_request(format!(
                "unknown state {text:?}; use one of {}",
                known.join(", ")
            ))
        })?),
        None => None,
    };
    Ok(Json(
        services
            .list_drives(
                caller,
                DriveFilter { host_id: query.host_id, state, search: query.search },
            )
            .await?,
    ))
}

fn parse_id(text: &str) -> Result<i64, AppError> {
    text.parse()
        .map_err(|_| AppError::bad_request(format!("{text:?} is not an id; ids are numbers")))
}

/// One drive.
async fn get_drive(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Json<DriveRow>, AppError> {
    Ok(Json(services.get_drive(caller, parse_id(&id)?).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DrivePatch {
    location: Option<String>,
    notes: Option<String>,
}

/// Sets a drive's location and/or notes.
async fn patch_drive(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
    body: Result<Json<DrivePatch>, JsonRejection>,
) -> Result<Json<DriveRow>, AppError> {
    let id = parse_id(&id)?;
    let Json(patch) = body.map_err(|rejection| {
        AppError::bad_request(format!(
            "invalid body: {}. Send JSON like {{\"location\": \"Bay 3\", \"notes\": \"…\"}} with Content-Type: application/json",
            rejection.body_text()
        ))
    })?;
    let edit = DriveEdit { location: patch.location, notes: patch.notes };
    Ok(Json(services.edit_drive(caller, id, edit).await?))
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>, example: &str) -> Result<T, AppError> {
    body.map(|Json(value)| value).map_err(|rejection| {
        AppError::bad_request(format!(
            "invalid body: {}. Send JSON like {example} with Content-Type: application/json",
            rejection.body_text()
        ))
    })
}

/// The drive's latest smartctl report (404 when none was read yet).
async fn drive_smart(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = parse_id(&id)?;
    services.get_drive(caller.clone(), id).await?;
    let snapshot: SmartSnapshot = services.drive_smart(caller, id).await?.ok_or_else(|| {
        AppError::not_found(
            "no SMART report was read from this drive yet; it is read during a burn-in",
        )
    })?;
    Ok(Json(snapshot).into_response())
}

/// Checks and queues burn-ins for the given drives. With an `Idempotency-Key` header, a
/// repeat of the request returns the first answer and starts nothing.
async fn start_burnin(
    State(services): State<Services>,
    Me(caller): Me,
    headers: HeaderMap,
    body: Result<Json<StartRequest>, JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<Vec<JobView>>), AppError> {
    let mut request = json_body(
        body,
        r#"{"drive_ids": [3], "stages": ["short_test", "long_test", "surface"], "confirm_serial": "ZL2..."}"#,
    )?;
    if let Some(key) = headers.get("idempotency-key") {
        let key = key.to_str().map_err(|_| {
            AppError::bad_request("the Idempotency-Key header must be printable ASCII")
        })?;
        request.idempotency_key = Some(key.to_owned());
    }
    Ok((axum::http::StatusCode::CREATED, Json(services.start_burnin(caller, request).await?)))
}

/// The query string as `T`, or a 400 that names the parameter at fault and the known ones.
fn params<T>(
    query: Result<Query<T>, axum::extract::rejection::QueryRejection>,
    known: &[&str],
) -> Result<T, AppError> {
    query.map(|Query(params)| params).map_err(|rejection| {
        AppError::bad_request(format!(
            "invalid query: {}. The parameters are {}",
            rejection.body_text(),
            known.join(", ")
        ))
    })
}

fn param_error(error: burnin::history::ParamError) -> AppError {
    AppError::bad_request(error.to_string())
}

/// The answer's array, with the next page's cursor in `X-Next-Cursor` and in a `Link` header
/// (`rel="next"`, this query with the cursor replaced).
fn page<T: serde::Serialize>(
    path: &str,
    raw_query: Option<&str>,
    body: T,
    next: Option<String>,
) -> Response {
    let mut response = Json(body).into_response();
    if let Some(next) = next {
        let mut pairs: Vec<&str> = raw_query
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty() && *pair != "cursor" && !pair.starts_with("cursor="))
            .collect();
        let cursor = format!("cursor={next}");
        pairs.push(&cursor);
        let link = format!("<{path}?{}>; rel=\"next\"", pairs.join("&"));
        let headers = response.headers_mut();
        if let Ok(value) = axum::http::HeaderValue::from_str(&link) {
            headers.insert(axum::http::header::LINK, value);
        }
        if let Ok(value) = axum::http::HeaderValue::from_str(&next) {
            headers.insert("x-next-cursor", value);
        }
    }
    response
}

/// Jobs, newest first unless `sort` says otherwise, filtered (`drive_id`, `host_id`, `model`,
/// `serial`, `state`, `verdict`, `operator`, `from`, `to`), a page (`limit`, default 100) at
/// a time; the next page's `cursor` comes in `X-Next-Cursor` and `Link`.
async fn list_jobs(
    State(services): State<Services>,
    Me(caller): Me,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    query: Result<Query<burnin::history::JobParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let query = params(query, &burnin::history::JOB_PARAMS)?.parse().map_err(param_error)?;
    let page_of = services.job_history(caller, query).await?;
    Ok(page("/api/v1/burnin", raw.as_deref(), page_of.jobs, page_of.next_cursor))
}

/// Rows the CSV export reads at a time.
const CSV_BATCH: i64 = 1000;

/// The filtered, sorted history as CSV (RFC 4180, formula cells escaped): the whole set, read
/// in batches and streamed, up to `CSV_MAX_ROWS` rows (past them, a last line says so).
/// `limit` and `cursor` are for pages and have no effect here.
async fn jobs_csv(
    State(services): State<Services>,
    Me(caller): Me,
    query: Result<Query<burnin::history::JobParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    use burnin::history::{CSV_MAX_ROWS, Cursor, JobQuery};
    let mut params = params(query, &burnin::history::JOB_PARAMS)?;
    params.limit = None;
    params.cursor = None;
    let query = params.parse().map_err(param_error)?;
    // The first batch before the answer starts: a refusal is still a clean 403.
    let first = services.history_rows(&caller, &query, None, CSV_BATCH).await?;
    struct Export {
        services: Services,
        caller: Principal,
        query: JobQuery,
        batch: Option<(Vec<burnin::history::HistoryRow>, Option<Cursor>)>,
        sent: i64,
        header: bool,
        done: bool,
    }
    let state =
        Export { services, caller, query, batch: Some(first), sent: 0, header: false, done: false };
    let stream = futures_util::stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        if !state.header {
            state.header = true;
            return Some((Ok::<String, AppError>(burnin::history::csv_header()), state));
        }
        let (rows, next) = match state.batch.take() {
            Some(batch) => batch,
            None => return None,
        };
        let room = i64::from(CSV_MAX_ROWS) - state.sent;
        let mut text = String::new();
        for row in rows.iter().take(usize::try_from(room.max(0)).unwrap_or(0)) {
            text.push_str(&row.csv_record());
        }
        state.sent += (rows.len() as i64).min(room);
        let more = next.is_some() || rows.len() as i64 > room;
        if more && state.sent >= i64::from(CSV_MAX_ROWS) {
            text.push_str(&burnin::history::csv_record(&[&format!(
                "# the export stops at {CSV_MAX_ROWS} rows; narrow it (from, to, host_id, …) for the rest"
            )]));
            state.done = true;
        } else if let Some(cursor) = next {
            let want = CSV_BATCH.min(i64::from(CSV_MAX_ROWS) - state.sent + 1);
            match state
                .services
                .history_rows(&state.caller, &state.query, Some(&cursor), want)
                .await
            {
                Ok(batch) => state.batch = Some(batch),
                Err(error) => {
                    tracing::warn!(error.message = %error.message, "the CSV export stopped");
                    state.done = true;
                    return Some((Err(error), state));
                }
            }
        } else {
            state.done = true;
        }
        Some((Ok(text), state))
    });
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"burnin-history.csv\"",
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// The audit log, newest first: `actor`, `action` (exact, or a prefix ending in `*`),
/// `subject` (part of it), `from`, `to`, a page (`limit`) at a time with `cursor`.
/// Admins only; nothing edits or deletes an event.
async fn list_audit(
    State(services): State<Services>,
    Me(caller): Me,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    query: Result<Query<burnin::history::AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let query = params(query, &burnin::history::AUDIT_PARAMS)?.parse().map_err(param_error)?;
    let page_of = services.audit_log(caller, query).await?;
    Ok(page("/api/v1/audit", raw.as_deref(), page_of.events, page_of.next_cursor))
}

/// One job with its stages and progress.
async fn get_job(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Json<JobView>, AppError> {
    Ok(Json(services.get_job(caller, parse_id(&id)?).await?))
}

/// Cancels one job: a queued one at once; a running one answers `cancel_requested: true` and
/// reads as cancelled once its work on the NAS is confirmed stopped.
async fn cancel_job(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Json<JobView>, AppError> {
    Ok(Json(services.cancel_job(caller, parse_id(&id)?).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelMany {
    host_id: Option<i64>,
}

/// Cancels every active job, or every active job of one host, going on past errors: one
/// result per job, and the count of those cancelled or stopping.
async fn cancel_many(
    State(services): State<Services>,
    Me(caller): Me,
    body: Result<Json<CancelMany>, JsonRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let request = json_body(body, r#"{"host_id": 1} (or {} for every host)"#)?;
    let results = services.cancel_jobs(caller, request.host_id).await?;
    let count =
        results.iter().filter(|r| matches!(r.outcome.as_str(), "cancelled" | "stopping")).count();
    Ok(Json(serde_json::json!({"cancelled": count, "results": results})))
}

/// The job's verdict and evidence as plain text, for an RMA form or a ticket.
async fn job_report(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let job = services.get_job(caller, parse_id(&id)?).await?;
    let verdict = job.verdict.clone().ok_or_else(|| AppError::internal("no verdict"))?;
    let text = burnin::verdict::report_text(&job, &verdict);
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// A finished job's evidence bundle: the job, raw captures, stage outputs, verdict and
/// thresholds with an Ed25519 signature over their digests. The same bytes on every fetch.
async fn job_evidence(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = parse_id(&id)?;
    let bundle = services.evidence(&caller, id).await?;
    let text = serde_json::to_vec_pretty(&bundle)
        .map_err(|e| AppError::internal(format!("cannot write the evidence bundle: {e}")))?;
    let name = format!(
        "burnin-{}-job{id}.evidence.json",
        crate::certificate::file_safe(&bundle.manifest.drive_serial)
    );
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/json".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        text,
    )
        .into_response())
}

/// What a job's certificate shows, as JSON.
async fn job_certificate(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Json<burnin::record::Certificate>, AppError> {
    Ok(Json(services.certificate(&caller, parse_id(&id)?).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaperQuery {
    paper: Option<String>,
}

/// `?paper=` as the certificate routes read it: A4 unless told otherwise.
fn paper_of(text: Option<&str>) -> Result<crate::certificate::Paper, AppError> {
    match text.map(str::trim) {
        None | Some("") => Ok(crate::certificate::Paper::A4),
        Some(text) => crate::certificate::Paper::parse(text).ok_or_else(|| {
            AppError::bad_request(format!("unknown paper {text:?}; use paper=a4 or paper=letter"))
        }),
    }
}

/// The certificates of every finished job the history filters match (those of `/burnin`,
/// without `limit` and `cursor`), one after another in one PDF, `?paper=a4` or `letter`.
async fn batch_certificates_pdf(
    State(services): State<Services>,
    Me(caller): Me,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, AppError> {
    let mut paper = None;
    let mut filters = serde_json::Map::new();
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if key == "paper" {
            paper = Some(value.into_owned());
        } else {
            filters.insert(key.into_owned(), serde_json::Value::String(value.into_owned()));
        }
    }
    let paper = paper_of(paper.as_deref())?;
    let mut params: burnin::history::JobParams =
        serde_json::from_value(serde_json::Value::Object(filters)).map_err(|e| {
            AppError::bad_request(format!(
                "invalid query: {e}. The parameters are {}, paper",
                burnin::history::JOB_PARAMS.join(", ")
            ))
        })?;
    params.limit = None;
    params.cursor = None;
    let query = params.parse().map_err(param_error)?;
    let certificates = services.certificates(&caller, &query).await?;
    let pdf = crate::certificate::batch_pdf(&certificates, paper)
        .map_err(|e| AppError::internal(e.to_string()))?;
    let name = format!("burnin-certificates-{}-jobs.pdf", certificates.len());
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/pdf".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        pdf,
    )
        .into_response())
}

/// A finished job's certificate as a PDF: `?paper=a4` (default) or `letter`.
async fn job_certificate_pdf(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
    query: Result<Query<PaperQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(query) = query.map_err(|r| {
        AppError::bad_request(format!(
            "invalid query: {}. Use paper=a4 or paper=letter",
            r.body_text()
        ))
    })?;
    let paper = paper_of(query.paper.as_deref())?;
    let id = parse_id(&id)?;
    let certificate = services.certificate(&caller, id).await?;
    let pdf = crate::certificate::pdf(&certificate, paper)
        .map_err(|e| AppError::internal(e.to_string()))?;
    let name = crate::certificate::file_name(&certificate);
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/pdf".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, format!("inline; filename=\"{name}\"")),
        ],
        pdf,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteJob {
    /// The job's drive serial, typed again.
    confirm: String,
}

/// Deletes an ended job and its record for good (admins); the body repeats the drive's
/// serial: `{"confirm": "ZL2ABC"}`. Answers what was removed.
async fn delete_job(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
    body: Result<Json<DeleteJob>, JsonRejection>,
) -> Result<Json<burnin::record::Removed>, AppError> {
    let Json(body) = body.map_err(|r| {
        AppError::bad_request(format!(
            "{}. Send {{\"confirm\": \"<the drive's serial>\"}}",
            r.body_text()
        ))
    })?;
    Ok(Json(services.remove_job(&caller, parse_id(&id)?, &body.confirm).await?))
}

/// A drive's record by serial, across every host it has sat in: identity, places, location
/// history, every burn-in and the trend of its watched counters.
async fn drive_record(
    State(services): State<Services>,
    Me(caller): Me,
    Path(serial): Path<String>,
) -> Result<Json<burnin::drive_record::DriveRecord>, AppError> {
    Ok(Json(services.drive_record(&caller, &serial).await?))
}

/// The statistics page's figures over the finished jobs `?host_id=&from=&to=` choose: each
/// with its chart (SVG) and its numbers as rows.
async fn statistics(
    State(services): State<Services>,
    Me(caller): Me,
    query: Result<Query<burnin::history::StatsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<burnin::stats::Statistics>, AppError> {
    let scope = params(query, &burnin::history::STATS_PARAMS)?.parse().map_err(param_error)?;
    Ok(Json(services.statistics(&caller, &scope).await?))
}

/// The public key that signs evidence bundles, and the keys it replaced. Open to anyone: a
/// buyer checks a bundle with it.
async fn signing_key(
    State(services): State<Services>,
) -> Result<Json<burnin::evidence::KeyView>, AppError> {
    Ok(Json(services.key_view().await?))
}

/// Checks an evidence bundle (the request body) against this dashboard's key, naming every
/// part that does not match. Always 200 with the outcome; 400 when the body is no bundle.
async fn verify_evidence(
    State(services): State<Services>,
    body: axum::body::Bytes,
) -> Result<Json<burnin::evidence::Verification>, AppError> {
    Ok(Json(services.verify_bundle(&body).await?))
}

/// A job's SMART snapshot taken `before` or `after` the tests, as smartctl printed it.
async fn job_smart(
    State(services): State<Services>,
    Me(caller): Me,
    Path((id, when)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let raw = services.job_snapshot(&caller, parse_id(&id)?, &when).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], raw).into_response())
}

/// A stage's kept output: `stderr` (badblocks' messages and progress), `stdout` (its bad
/// block list) or `smartctl` (every smartctl call of the stage with its answer).
async fn stage_output(
    State(services): State<Services>,
    Me(caller): Me,
    Path((id, position, stream)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let position: i64 = position.parse().map_err(|_| {
        AppError::bad_request(format!(
            "{position:?} is not a stage position; positions are numbers"
        ))
    })?;
    let bytes = services.stage_output_bytes(&caller, parse_id(&id)?, position, &stream).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertQuery {
    state: Option<String>,
    host_id: Option<i64>,
    kind: Option<String>,
    severity: Option<String>,
}

/// Alerts, newest first: `?state=open|raised|acknowledged|resolved|all` (default open),
/// `host_id`, `kind`, `severity`.
async fn list_alerts(
    State(services): State<Services>,
    Me(caller): Me,
    query: Result<Query<AlertQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<burnin::alert::AlertView>>, AppError> {
    let Query(query) = query.map_err(|r| {
        AppError::bad_request(format!(
            "invalid query: {}. Use state=, host_id=, kind=, severity=",
            r.body_text()
        ))
    })?;
    let kind = match query.kind.as_deref().filter(|k| !k.is_empty()) {
        Some(text) => Some(burnin::alert::AlertKind::parse(text).ok_or_else(|| {
            let known: Vec<&str> =
                burnin::alert::AlertKind::ALL.iter().map(|k| k.as_str()).collect();
            AppError::bad_request(format!("unknown kind {text:?}; use one of {}", known.join(", ")))
        })?),
        None => None,
    };
    let severity = match query.severity.as_deref().filter(|s| !s.is_empty()) {
        Some("info") => Some(burnin::alert::Severity::Info),
        Some("warning") => Some(burnin::alert::Severity::Warning),
        Some("critical") => Some(burnin::alert::Severity::Critical),
        Some(other) => {
            return Err(AppError::bad_request(format!(
                "unknown severity {other:?}; use info, warning or critical"
            )));
        }
        None => None,
    };
    let filter =
        burnin::alert::AlertFilter { state: query.state, host_id: query.host_id, kind, severity };
    Ok(Json(services.list_alerts(&caller, &filter).await?))
}

async fn get_alert(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Json<burnin::alert::AlertView>, AppError> {
    Ok(Json(services.get_alert(&caller, parse_alert_id(&id)?).await?))
}

fn parse_alert_id(text: &str) -> Result<i64, AppError> {
    text.parse()
        .map_err(|_| AppError::bad_request(format!("{text:?} is not an alert id; ids are numbers")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertNote {
    note: Option<String>,
}

/// Acknowledges an open alert (seen, still open; reminders stop): `{"note": "…"}` optional.
async fn acknowledge_alert(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
    body: Option<Json<AlertNote>>,
) -> Result<Json<burnin::alert::AlertView>, AppError> {
    handle_alert(services, caller, id, body, crate::alerts::Handling::Acknowledge).await
}

/// Resolves an open alert by hand: `{"note": "…"}` optional.
async fn resolve_alert(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
    body: Option<Json<AlertNote>>,
) -> Result<Json<burnin::alert::AlertView>, AppError> {
    handle_alert(services, caller, id, body, crate::alerts::Handling::Resolve).await
}

async fn handle_alert(
    services: Services,
    caller: Principal,
    id: String,
    body: Option<Json<AlertNote>>,
    handling: crate::alerts::Handling,
) -> Result<Json<burnin::alert::AlertView>, AppError> {
    let note = body.and_then(|Json(b)| b.note);
    Ok(Json(services.handle_alert(&caller, parse_alert_id(&id)?, handling, note).await?))
}

fn parse_channel_id(text: &str) -> Result<i64, AppError> {
    text.parse().map_err(|_| {
        AppError::bad_request(format!("{text:?} is not a channel id; ids are numbers"))
    })
}

const CHANNEL_EXAMPLE: &str = r#"{"name": "phone", "min_severity": "warning", "config": {"kind": "ntfy", "url": "https://ntfy.sh/my-drives"}}"#;

/// The notification channels; addresses show only their host and last characters, secrets
/// only whether one is set.
async fn list_channels(
    State(services): State<Services>,
    Me(caller): Me,
) -> Result<Json<Vec<burnin::notify::ChannelView>>, AppError> {
    Ok(Json(Backend::channels(&services, caller).await?))
}

async fn get_channel(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Json<burnin::notify::ChannelView>, AppError> {
    let id = parse_channel_id(&id)?;
    Backend::channels(&services, caller)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("there is no channel with id {id}")))
}

/// Creates a channel (201); its settings are checked, each problem named.
async fn create_channel(
    State(services): State<Services>,
    Me(caller): Me,
    body: Result<Json<burnin::notify::ChannelInput>, JsonRejection>,
) -> Result<Response, AppError> {
    let input = json_body(body, CHANNEL_EXAMPLE)?;
    let view = Backend::save_channel(&services, caller, None, input).await?;
    Ok((axum::http::StatusCode::CREATED, Json(view)).into_response())
}

/// Replaces a channel's settings. `secret` left out keeps the stored one, `""` removes it; an
/// address sent back as shown (redacted) keeps the stored one.
async fn update_channel(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
    body: Result<Json<burnin::notify::ChannelInput>, JsonRejection>,
) -> Result<Json<burnin::notify::ChannelView>, AppError> {
    let id = parse_channel_id(&id)?;
    let input = json_body(body, CHANNEL_EXAMPLE)?;
    Ok(Json(Backend::save_channel(&services, caller, Some(id), input).await?))
}

async fn delete_channel(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    Backend::delete_channel(&services, caller, parse_channel_id(&id)?).await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// Sends a test through the channel's real path now; answers the attempt (`ok`, `code`,
/// `detail`), whether it worked or not.
async fn test_channel(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Json<burnin::notify::DeliveryView>, AppError> {
    Ok(Json(Backend::test_channel(&services, caller, parse_channel_id(&id)?).await?))
}

/// The channel's latest delivery attempts, newest first (at most 200).
async fn channel_deliveries(
    State(services): State<Services>,
    Me(caller): Me,
    Path(id): Path<String>,
) -> Result<Json<Vec<burnin::notify::DeliveryView>>, AppError> {
    let id = parse_channel_id(&id)?;
    Ok(Json(Backend::deliveries(&services, caller, Some(id)).await?))
}

/// Every run-time setting and the system card.
async fn get_settings(
    State(services): State<Services>,
    Me(caller): Me,
) -> Result<Json<burnin::settings::SettingsView>, AppError> {
    Ok(Json(services.settings(caller).await?))
}

/// Changes the settings the body names; the others keep their value. Out-of-range values
/// and unknown names are refused (400) with each one named; changes are audited.
async fn put_settings(
    State(services): State<Services>,
    Me(caller): Me,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<burnin::settings::SettingsView>, AppError> {
    let patch = json_body(body, r#"{"jobs_per_host": 8, "verdict": {"max_bad_blocks": 0}}"#)?;
    Ok(Json(Backend::change_settings(&services, caller, patch).await?))
}

async fn get_thresholds(
    State(services): State<Services>,
    Me(caller): Me,
) -> Result<Json<burnin::verdict::Thresholds>, AppError> {
    Ok(Json(services.thresholds(&caller).await?))
}

/// Replaces the verdict's thresholds and the temperature table. Open jobs are judged by
/// them; a finished job keeps the verdict it was judged with.
async fn put_thresholds(
    State(services): State<Services>,
    Me(caller): Me,
    body: Result<Json<burnin::verdict::Thresholds>, JsonRejection>,
) -> Result<Json<burnin::verdict::Thresholds>, AppError> {
    let Json(thresholds) = body.map_err(|e| {
        AppError::bad_request(format!(
            "the body must be the thresholds as JSON ({{\"max_bad_blocks\": 0, \"temperatures\": {{\"hdd\": {{\"warn_c\": 45, \"crit_c\": 50, \"fail_c\": 60}}, \"ssd\": …, \"nvme\": …}}}}): {}",
            e.body_text()
        ))
    })?;
    Ok(Json(services.set_thresholds(&caller, thresholds).await?))
}

#[cfg(test)]
mod tests {
    /// Every route and method the router serves, from the table it is built from.
    fn served() -> Vec<(String, String)> {
        super::doors()
            .into_iter()
            .map(|(method, path, _)| (path, method.as_str().to_ascii_lowercase()))
            .collect()
    }

    #[test]
    fn every_served_route_is_documented_and_every_documented_route_is_served() {
        let document: serde_json::Value =
            serde_json::from_str(include_str!("openapi.json")).expect("openapi.json is JSON");
        let served = served();
        assert!(served.len() >= 20, "the source reader found only {served:?}");
        for (path, method) in &served {
            if path == "/api/v1/openapi.json" {
                continue;
            }
            assert!(
                document["paths"][path][method].is_object(),
                "{} {path} is served but not in openapi.json",
                method.to_uppercase()
            );
        }
        // Each operation states what it needs, and it is what the router enforces.
        for (method, path, door) in super::doors() {
            if path == "/api/v1/openapi.json" {
                continue;
            }
            let needs = match door {
                burnin::access::Door::Open => "open".to_owned(),
                burnin::access::Door::Needs(action) => serde_json::to_value(action)
                    .expect("an action")
                    .as_str()
                    .expect("a name")
                    .to_owned(),
            };
            let method = method.as_str().to_ascii_lowercase();
            assert_eq!(
                document["paths"][&path][&method]["x-burnin-needs"], needs,
                "{method} {path}: openapi.json and the router disagree on what it needs"
            );
        }
        let paths = document["paths"].as_object().expect("paths");
        for (path, item) in paths {
            for method in item.as_object().expect("a path item").keys() {
                if method == "parameters" {
                    continue;
                }
                assert!(
                    served.iter().any(|(p, m)| p == path && m == method),
                    "openapi.json documents {} {path}, which is not served",
                    method.to_uppercase()
                );
            }
        }
    }
}
