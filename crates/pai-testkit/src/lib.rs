//! What the test suites of several pai crates share. A dev-dependency only.

use std::time::Duration;

use tokio::time::Instant;

/// How long `eventually` waits before it fails: generous, since tests run on
/// busy machines (CI, two cores shared with a llama.cpp build) and only a
/// failing test ever waits this long.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// Waits until `check` gives `Some`, and returns it: for work done in the
/// background (a job, an import, a cancelled generation). Polls every 20 ms;
/// after `PATIENCE` it fails the test, naming `what` it waited for, rather
/// than going on as if it had happened.
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(done) = check().await {
            return done;
        }
        assert!(Instant::now() < deadline, "gave up after {} s waiting for {what}", PATIENCE.as_secs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn returns_what_the_check_gives_once_it_gives_it() {
        let mut tries = 0;
        let got = eventually("the third try", async || {
            tries += 1;
            (tries == 3).then_some(tries)
        })
        .await;
        assert_eq!(got, 3);
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "waiting for a job that never ends")]
    async fn fails_naming_what_never_happened() {
        eventually("a job that never ends", async || None::<()>).await;
    }
}
