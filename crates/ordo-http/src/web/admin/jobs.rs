//! The admin console's background jobs: counts by state, the relay's progress, dead jobs and
//! replaying them.

use super::*;

/// One job as the jobs page lists it.
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub key: String,
    pub state: crate::web::Tag,
    pub attempts: i32,
    pub run_at: String,
    pub last_error: String,
    pub dead: bool,
}

#[derive(Template)]
#[template(path = "web/admin/jobs.html")]
struct JobsPage {
    page: Page,
    errors: Errors,
    counts: Vec<(&'static str, i64)>,
    jobs: Vec<JobRow>,
    state: String,
}

#[derive(Deserialize, Default)]
pub struct JobsQuery {
    pub state: Option<String>,
}

/// `GET /admin/jobs`: how much background work is in each state; the dead first.
pub async fn jobs(
    State(app): State<App>,
    visitor: Visitor,
    Flash(flash): Flash,
    Query(q): Query<JobsQuery>,
) -> Response {
    let state = q
        .state
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "dead".into());
    jobs_page(&app, &visitor, &state, Errors::default(), flash).await
}

async fn jobs_page(
    app: &App,
    visitor: &Visitor,
    state: &str,
    errors: Errors,
    flash: Option<String>,
) -> Response {
    let signed = match admin_only(app, visitor, "/admin/jobs", true) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let overview = match app
        .jobs_overview(&signed.principal.actor, Some(state), None, Some(100))
        .await
    {
        Ok(o) => o,
        Err(e) => return failure(app, visitor, e),
    };
    let page = Page::new(app, visitor, "Background jobs")
        .with_errors(&errors)
        .with_flash(flash);
    let c = &overview.counts;
    let body = JobsPage {
        counts: vec![
            ("queued", c.queued),
            ("retrying", c.retrying),
            ("running", c.running),
            ("done", c.done),
            ("dead", c.dead),
        ],
        jobs: overview
            .jobs
            .iter()
            .map(|j| JobRow {
                id: j.id.to_string(),
                kind: j.kind.clone(),
                key: j.key.clone(),
                state: crate::web::Tag {
                    text: j.state.to_string(),
                    class: if j.state.to_string() == "dead" {
                        "tag-stop"
                    } else {
                        "tag-info"
                    },
                },
                attempts: j.attempts,
                run_at: page.date(&j.run_at),
                last_error: j.last_error.clone().unwrap_or_default(),
                dead: j.state.to_string() == "dead",
            })
            .collect(),
        state: state.to_owned(),
        page,
        errors,
    };
    render_form(&body, &body.errors)
}

/// `POST /admin/jobs/{id}/retry`: queues a dead job again now.
pub async fn retry_job(
    State(app): State<App>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let signed = match admin_only(&app, &visitor, "/admin/jobs", true) {
        Ok(s) => s,
        Err(to) => return *to,
    };
    let Ok(job) = id.parse::<uuid::Uuid>() else {
        return failure(&app, &visitor, AppError::NotFound("job"));
    };
    match app.retry_job(&signed.principal.actor, job).await {
        Ok(()) => see_other("/admin/jobs", Some("job_retried")),
        Err(e) => jobs_page(&app, &visitor, "dead", Errors::of(e, ""), None).await,
    }
}
