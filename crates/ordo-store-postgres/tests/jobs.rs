//! Two nodes on one PostgreSQL database (two stores, two pools) claiming jobs at once, as the
//! workers of `ordo serve` do: every job is claimed exactly once, and neither waits on rows the
//! other is claiming (`FOR UPDATE SKIP LOCKED`).

use std::collections::HashMap;

use chrono::Utc;
use ordo_store::{Job, JobState, JobStore, StoreError};
use ordo_store_postgres::PostgresStore;
use ordo_store_postgres::testing::TestDatabase;

const JOBS: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_nodes_never_claim_the_same_job() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let now = Utc::now();
    let jobs: Vec<Job> = (0..JOBS)
        .map(|i| Job {
            id: uuid::Uuid::now_v7(),
            kind: "test.kind".into(),
            key: i.to_string(),
            payload: serde_json::json!({}),
            state: JobState::Queued,
            run_at: now,
            attempts: 0,
            last_error: None,
            created_at: now,
        })
        .collect();
    ordo_store::write(&db.store, move |tx| {
        Box::pin(async move {
            for j in &jobs {
                tx.enqueue_job(j, now).await?;
            }
            Ok::<_, StoreError>(())
        })
    })
    .await
    .unwrap();

    let other_node = PostgresStore::open(&db.url, 10).await.unwrap();
    let nodes = [db.store.clone(), other_node.clone()];
    let mut workers = Vec::new();
    for w in 0..8 {
        let store = nodes[w % 2].clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            // Bounded: 400 jobs in claims of 7 take at most 58 rounds between all workers.
            for _ in 0..200 {
                let claimed = ordo_store::write(&store, move |tx| {
                    Box::pin(async move {
                        tx.claim_jobs(now, now + chrono::Duration::minutes(5), 7)
                            .await
                    })
                })
                .await
                .unwrap();
                if claimed.is_empty() {
                    break;
                }
                mine.extend(claimed.into_iter().map(|j| j.key));
            }
            mine
        }));
    }
    let mut claims: HashMap<String, usize> = HashMap::new();
    let mut per_node = [0usize; 2];
    for (w, worker) in workers.into_iter().enumerate() {
        let mine = worker.await.unwrap();
        per_node[w % 2] += mine.len();
        for key in mine {
            *claims.entry(key).or_default() += 1;
        }
    }
    assert_eq!(claims.len(), JOBS, "every job was claimed");
    assert!(
        claims.values().all(|&n| n == 1),
        "a job was claimed twice: {:?}",
        claims.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    assert!(
        per_node.iter().all(|&n| n > 0),
        "both nodes did work: {per_node:?}"
    );
    assert_eq!(
        db.store
            .jobs(Some(JobState::Running), None, 1000)
            .await
            .unwrap()
            .len(),
        JOBS
    );
    other_node.close().await;
    db.drop().await;
}
