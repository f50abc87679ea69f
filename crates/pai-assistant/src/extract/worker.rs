//! The background worker: claims queued jobs one at a time, decides, applies,
//! and on failure retries once before leaving the job failed and visible.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use pai_core::store::MemoryChange;
use pai_core::store::{DecisionRecord, ExtractionJob, Store};
use pai_core::{ChatModel, Embedder, Result};
use tokio::sync::Notify;

use super::Pipeline;
use crate::index::embed_pending;

/// Tries per job: the first, and one retry.
pub const MAX_ATTEMPTS: u32 = 2;
/// How often an idle worker looks for jobs queued by another process.
const POLL: Duration = Duration::from_secs(30);

/// What became of one job.
#[derive(Debug)]
pub enum Outcome {
    Done {
        job: ExtractionJob,
        decisions: Vec<DecisionRecord>,
    },
    /// Failed this time; queued again.
    Retrying {
        job: ExtractionJob,
        error: String,
    },
    /// Failed on its last try; kept with the error, visible to the user.
    Failed {
        job: ExtractionJob,
        error: String,
    },
    /// Told to stop while the model was deciding: given back to the queue
    /// unfinished, its attempt not counted.
    Released {
        job: ExtractionJob,
    },
}

pub struct Extractor {
    store: Arc<dyn Store>,
    model: Arc<dyn ChatModel>,
    embedder: Arc<dyn Embedder>,
    wake: Notify,
}

impl Extractor {
    pub fn new(store: Arc<dyn Store>, model: Arc<dyn ChatModel>, embedder: Arc<dyn Embedder>) -> Self {
        Extractor { store, model, embedder, wake: Notify::new() }
    }

    /// Tells a waiting `run` that a job was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Claims and processes one job; `None` when the queue is empty.
    pub async fn run_one(&self) -> Result<Option<Outcome>> {
        self.run_one_unless(std::future::pending()).await
    }

    /// Like `run_one`, but when `stop` completes while the model is still
    /// deciding (the long part: a small CPU model takes minutes over a long
    /// exchange), the job goes back to the queue and `Released` comes back:
    /// a server told to stop exits in seconds, and the job runs at the next
    /// start. Once decided, the job is finished: applying it is quick.
    pub async fn run_one_unless(&self, stop: impl Future<Output = ()>) -> Result<Option<Outcome>> {
        let Some(job) = self.store.claim_extraction_job().await? else { return Ok(None) };
        let pipeline = Pipeline { store: &*self.store, model: Some(&*self.model), embedder: &*self.embedder };
        let decided = tokio::select! {
            decided = pipeline.decide(&job) => decided,
            () = stop => {
                let job = self.store.release_extraction_job(job.user, job.id).await?;
                tracing::info!(job = %job.id, "stopping: the memory job in progress goes back to the queue");
                return Ok(Some(Outcome::Released { job }));
            }
        };
        let mut forgotten: Vec<String> = Vec::new();
        let result = match decided {
            Ok(decisions) => {
                // What a forget request deletes is read first: its words then leave the history too.
                let ids: Vec<_> = decisions
                    .iter()
                    .filter_map(|d| if let MemoryChange::Delete { id } = d.change { Some(id) } else { None })
                    .collect();
                forgotten = self.store.memories_by_id(job.user, &ids).await?.into_iter().map(|m| m.text).collect();
                self.store.complete_extraction_job(job.user, job.id, decisions).await
            }
            Err(e) => Err(e),
        };
        if result.is_ok()
            && !forgotten.is_empty()
            && let Err(e) = crate::redact::forgotten(&*self.store, job.user, &forgotten, None).await
        {
            tracing::warn!(error = %e, "taking forgotten facts out of the history failed");
        }
        Ok(Some(match result {
            Ok(decisions) => {
                // New memories are searchable by meaning at once, not at the next job.
                if let Err(e) = embed_pending(&*self.store, &*self.embedder, job.user, 512).await {
                    tracing::warn!(error = %e, "embedding new memories failed; they will be embedded later");
                }
                Outcome::Done { job, decisions }
            }
            Err(e) => {
                let error = e.to_string();
                let retry = job.attempts < MAX_ATTEMPTS;
                tracing::warn!(job = %job.id, attempt = job.attempts, retry, error, "memory extraction failed");
                let job = self.store.fail_extraction_job(job.user, job.id, &error, retry).await?;
                if retry { Outcome::Retrying { job, error } } else { Outcome::Failed { job, error } }
            }
        }))
    }

    /// Processes jobs until none is pending; returns what became of each.
    pub async fn run_until_idle(&self) -> Result<Vec<Outcome>> {
        let mut out = Vec::new();
        while let Some(outcome) = self.run_one().await? {
            out.push(outcome);
        }
        Ok(out)
    }

    /// Runs until `stop` completes, sleeping while the queue is empty. A job
    /// the model is still deciding when `stop` fires goes back to the queue
    /// (see `run_one_unless`); queued ones stay queued.
    pub async fn run(&self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            match self.run_one_unless(&mut stop).await {
                Ok(Some(Outcome::Released { .. })) => return,
                Ok(Some(_)) => {
                    // Let a stop requested during the job take effect between jobs.
                    if futures_util::poll!(&mut stop).is_ready() {
                        return;
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "extraction worker: store error"),
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }
}
