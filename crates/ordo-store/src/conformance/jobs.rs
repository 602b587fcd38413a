//! Conformance of the job queue.

use chrono::{TimeZone, Utc};

use super::unit;
use crate::Store;

/// Jobs: one per (kind, key); only due ones are claimed, each by one claim; a failed one comes
/// back at its retry time with its error kept; a running one whose lease ended is taken over;
/// a recurring one starts its attempts afresh; done ones are purged.
pub async fn jobs_are_claimed_once_retried_and_taken_over_after_their_lease(store: &dyn Store) {
    use crate::{Job, JobEnd, JobState, Purge};
    let t0 = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let secs = chrono::Duration::seconds;
    let job = |key: &str, run_at| Job {
        id: uuid::Uuid::now_v7(),
        kind: "test.kind".into(),
        key: key.into(),
        payload: serde_json::json!({ "n": key }),
        state: JobState::Queued,
        run_at,
        attempts: 0,
        last_error: None,
        created_at: t0,
    };
    let (a, b, later) = (job("a", t0), job("b", t0), job("later", t0 + secs(60)));
    let dup = job("a", t0);
    let added = unit(store, move |tx| {
        Box::pin(async move {
            let mut added = Vec::new();
            for j in [&a, &b, &later, &dup] {
                added.push(tx.enqueue_job(j, t0).await?);
            }
            Ok(added)
        })
    })
    .await
    .unwrap();
    assert_eq!(added, [true, true, true, false], "one job per kind and key");

    let claim = |now, limit| {
        unit(store, move |tx| {
            Box::pin(async move { tx.claim_jobs(now, now + secs(300), limit).await })
        })
    };
    let first = claim(t0, 10).await.unwrap();
    let mut keys: Vec<&str> = first.iter().map(|j| j.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["a", "b"], "only due jobs are claimed");
    assert!(
        first
            .iter()
            .all(|j| j.attempts == 1 && j.state == JobState::Running)
    );
    assert_eq!(first[0].payload["n"], first[0].key.as_str());
    assert!(
        claim(t0, 10).await.unwrap().is_empty(),
        "a claimed job is not claimed again"
    );

    let (a_id, b_id) = (
        first.iter().find(|j| j.key == "a").unwrap().id,
        first.iter().find(|j| j.key == "b").unwrap().id,
    );
    unit(store, move |tx| {
        Box::pin(async move {
            tx.finish_job(
                a_id,
                &JobEnd::Retry {
                    run_at: t0 + secs(30),
                    error: "boom".into(),
                },
                t0,
            )
            .await
        })
    })
    .await
    .unwrap();
    assert!(claim(t0 + secs(29), 10).await.unwrap().is_empty());
    let retried = claim(t0 + secs(30), 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(
        (
            retried[0].key.as_str(),
            retried[0].attempts,
            retried[0].last_error.as_deref()
        ),
        ("a", 2, Some("boom"))
    );
    // b's worker died: its lease (300 s from t0) ends, and it is taken over.
    let taken = claim(t0 + secs(301), 1).await.unwrap();
    assert_eq!((taken[0].key.as_str(), taken[0].attempts), ("b", 2));

    let later_id = claim(t0 + secs(900), 10)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.key == "later")
        .unwrap()
        .id;
    unit(store, move |tx| {
        Box::pin(async move {
            tx.finish_job(
                a_id,
                &JobEnd::Dead {
                    error: "gave up".into(),
                },
                t0 + secs(900),
            )
            .await?;
            tx.finish_job(b_id, &JobEnd::Done, t0 + secs(900)).await?;
            tx.finish_job(
                later_id,
                &JobEnd::Again {
                    run_at: t0 + secs(1000),
                },
                t0 + secs(900),
            )
            .await
        })
    })
    .await
    .unwrap();
    let dead = store.jobs(Some(JobState::Dead), None, 10).await.unwrap();
    assert_eq!(
        (dead.len(), dead[0].last_error.as_deref()),
        (1, Some("gave up"))
    );
    let again = store
        .jobs(Some(JobState::Queued), Some("test.kind"), 10)
        .await
        .unwrap();
    assert_eq!(
        (again.len(), again[0].attempts),
        (1, 0),
        "a recurring job starts afresh"
    );
    assert_eq!(again[0].run_at, t0 + secs(1000));
    assert!(
        claim(t0 + secs(5000), 10).await.unwrap().len() == 1,
        "dead and done stay put"
    );

    let purged = unit(store, move |tx| {
        Box::pin(async move { tx.purge(Purge::Jobs, t0 + secs(901), 100).await })
    })
    .await
    .unwrap();
    assert_eq!(purged, 1, "only the done job is purged");
    assert!(
        store
            .jobs(Some(JobState::Done), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A job reads back by id; counts follow its states; a done job is woken again and a waiting one
/// brought forward (by `wake_job`, and for recurring ones by `hurry_job`); a dead job is queued
/// again once with its attempts counted afresh.
pub async fn jobs_are_woken_hurried_retried_and_counted(store: &dyn Store) {
    use crate::{Job, JobCounts, JobEnd, JobState};
    let t0 = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let secs = chrono::Duration::seconds;
    let job = |kind: &str, key: &str, run_at| Job {
        id: uuid::Uuid::now_v7(),
        kind: kind.into(),
        key: key.into(),
        payload: serde_json::json!({ "key": key, "name": "Zoë" }),
        state: JobState::Queued,
        run_at,
        attempts: 0,
        last_error: None,
        created_at: t0,
    };
    let drain = job("test.drain", "endpoint-1", t0);
    let daily = job("test.daily", "test.daily", t0 + secs(3600));
    let doomed = job("test.doomed", "d", t0);
    let (d, y, x) = (drain.clone(), daily.clone(), doomed.clone());
    unit(store, move |tx| {
        Box::pin(async move {
            tx.enqueue_job(&d, t0).await?;
            tx.enqueue_job(&y, t0).await?;
            tx.enqueue_job(&x, t0).await?;
            Ok(())
        })
    })
    .await
    .unwrap();
    assert_eq!(store.job(drain.id).await.unwrap(), Some(drain.clone()));
    assert!(store.job(uuid::Uuid::now_v7()).await.unwrap().is_none());

    // Claim the two due ones: the drain finishes, the doomed one dies.
    let (d, x) = (drain.id, doomed.id);
    let claimed = unit(store, move |tx| {
        Box::pin(async move {
            let claimed = tx.claim_jobs(t0, t0 + secs(60), 10).await?;
            tx.finish_job(d, &JobEnd::Done, t0).await?;
            tx.finish_job(
                x,
                &JobEnd::Dead {
                    error: "gave up «finally»".into(),
                },
                t0,
            )
            .await?;
            Ok(claimed.len())
        })
    })
    .await
    .unwrap();
    assert_eq!(claimed, 2);
    assert_eq!(
        store.job_counts().await.unwrap(),
        JobCounts {
            queued: 1,
            retrying: 0,
            running: 0,
            done: 1,
            dead: 1,
        }
    );

    // Waking the drain's key queues the done job again (no second row); hurrying the daily job
    // brings it forward; retrying the dead one queues it afresh, once.
    let again = job("test.drain", "endpoint-1", t0 + secs(5));
    let retried = unit(store, move |tx| {
        Box::pin(async move {
            tx.wake_job(&again, t0 + secs(5)).await?;
            tx.hurry_job("test.daily", t0 + secs(10)).await?;
            tx.hurry_job("test.absent", t0 + secs(10)).await?;
            Ok((
                tx.retry_job(x, t0 + secs(20)).await?,
                tx.retry_job(x, t0 + secs(20)).await?,
                tx.retry_job(d, t0 + secs(20)).await?,
            ))
        })
    })
    .await
    .unwrap();
    assert_eq!(
        retried,
        (true, false, false),
        "only a dead job is retried, once"
    );
    let drain_now = store.job(drain.id).await.unwrap().unwrap();
    assert_eq!(
        (drain_now.state, drain_now.run_at),
        (JobState::Queued, t0 + secs(5))
    );
    let daily_now = store.job(daily.id).await.unwrap().unwrap();
    assert_eq!(daily_now.run_at, t0 + secs(10), "hurried forward");
    let doomed_now = store.job(doomed.id).await.unwrap().unwrap();
    assert_eq!(
        (doomed_now.state, doomed_now.attempts),
        (JobState::Queued, 0),
        "queued again with its attempts counted afresh"
    );
    let counts = store.job_counts().await.unwrap();
    assert_eq!((counts.queued, counts.done, counts.dead), (3, 0, 0));
    assert_eq!(
        store
            .jobs(Some(JobState::Queued), Some("test.daily"), 10)
            .await
            .unwrap()
            .iter()
            .map(|j| j.id)
            .collect::<Vec<_>>(),
        vec![daily.id]
    );
}
