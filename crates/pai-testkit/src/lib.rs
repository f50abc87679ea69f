//! What the test suites of several pai crates share. A dev-dependency only.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
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

/// A new, empty directory for a test's files (a database, models,
/// documents), named after `what`. It lies in this test process's own folder
/// in the temporary directory, which is removed with everything in it when
/// the process exits, however its tests ended: a test run leaves no paths
/// behind (only a killed process does).
pub fn scratch_dir(what: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(&format!("{what}-"))
        .tempdir_in(process_folder())
        .expect("a scratch directory in the test process's folder")
        .keep()
}

static FOLDER: OnceLock<PathBuf> = OnceLock::new();

fn process_folder() -> &'static Path {
    FOLDER.get_or_init(|| {
        let folder = tempfile::Builder::new()
            .prefix("pai-tests-")
            .tempdir()
            .expect("a folder in the temporary directory")
            .keep();
        // SAFETY: atexit takes a plain function, called once by libc's exit.
        unsafe { atexit(remove_process_folder) };
        folder
    })
}

unsafe extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

/// Run by `exit` (the test harness ends with it, passed or failed).
extern "C" fn remove_process_folder() {
    if let Some(folder) = FOLDER.get() {
        let _ = std::fs::remove_dir_all(folder);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn scratch_directories_are_new_and_inside_the_process_folder() {
        let (a, b) = (super::scratch_dir("testkit"), super::scratch_dir("testkit"));
        assert!(a.is_dir() && b.is_dir() && a != b);
        assert_eq!(a.parent(), Some(super::process_folder()));
        assert!(a.file_name().unwrap().to_str().unwrap().starts_with("testkit-"));
    }

    /// The folder goes when the process exits: a child process (this test
    /// binary, running only the test below) makes one and prints its path.
    #[test]
    fn the_process_folder_is_removed_at_exit() {
        if std::env::var_os("PAI_TESTKIT_CHILD").is_some() {
            println!("folder={}", super::scratch_dir("child").parent().unwrap().display());
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "tests::the_process_folder_is_removed_at_exit", "--nocapture"])
            .env("PAI_TESTKIT_CHILD", "1")
            .output()
            .unwrap();
        assert!(out.status.success());
        let stdout = String::from_utf8(out.stdout).unwrap();
        let folder = stdout.lines().find_map(|l| l.strip_prefix("folder=")).expect("the child printed its folder");
        assert!(!std::path::Path::new(folder).exists(), "{folder} is left behind");
    }

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

/// The directory `make fetch-models` installs the default models into, by
/// the binary's rules: `PAI_MODELS_DIR`, else `$PAI_HOME/models`, else the
/// XDG data directory's `pai/models`.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PAI_MODELS_DIR") {
        return dir.into();
    }
    let home = std::env::var_os("PAI_HOME").map(PathBuf::from).unwrap_or_else(|| {
        let data = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".local/share"));
        data.join("pai")
    });
    home.join("models")
}
