//! The `pai` binary as a person uses it: piped and interactive chat (in a
//! pseudo-terminal), model management, embeddings, benchmark, bad input.
//! Runs on the real default models installed by `make fetch-models`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

/// Tests that generate take turns: two llama.cpp instances on two cores crawl.
static GENERATING: Mutex<()> = Mutex::new(());

/// A fresh database per test, never the user's own.
fn temp_db() -> std::path::PathBuf {
    pai_testkit::scratch_dir("cli").join("pai.db")
}

fn pai() -> Command {
    pai_with(&temp_db())
}

fn pai_with(db: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pai"));
    cmd.env_remove("PAI_CHAT_MODEL")
        .env_remove("PAI_REMOTE_URL")
        .env("RUST_LOG", "warn")
        .env("PAI_DATABASE", db)
        .env("PAI_TIMEZONE", "Asia/Seoul");
    cmd
}

fn run(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn piped_prompt_prints_one_answer() {
    let _turn = GENERATING.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = pai();
    cmd.args(["chat", "--temperature", "0", "--max-tokens", "24"]);
    let out = run(cmd, "What is the capital of France?\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).trim().len() > 3, "answer: {:?}", text(&out.stdout));
}

#[test]
fn empty_stdin_is_refused_with_a_hint() {
    // The prompt is checked before any model loads: a bogus model name is not reached.
    let out = run(pai().args(["chat"]).env("PAI_CHAT_MODEL", "never-loaded.gguf").to_owned_cmd(), "  \n");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("no prompt on stdin") && err.contains("echo"), "{err}");
}

#[test]
fn missing_and_wrong_kind_models_name_the_fix() {
    let out = run(pai().args(["chat"]).env("PAI_CHAT_MODEL", "absent.gguf").to_owned_cmd(), "hi");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("absent.gguf") && err.contains("make fetch-models"), "{err}");

    let out = run(pai().args(["chat"]).env("PAI_CHAT_MODEL", "multilingual-e5-small.Q4_0.gguf").to_owned_cmd(), "hi");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("embedding model"), "{}", text(&out.stderr));
}

#[test]
fn model_list_shows_the_defaults_and_their_kind() {
    let out = pai().args(["model", "list"]).output().unwrap();
    assert!(out.status.success());
    let listing = text(&out.stdout);
    let line = |name: &str| {
        listing.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("{name} missing:\n{listing}")).to_string()
    };
    assert!(line("SmolLM2-135M-Instruct.Q4_1.gguf").contains("chat"));
    assert!(line("SmolLM2-135M-Instruct.Q4_1.gguf").contains("default chat"));
    assert!(line("multilingual-e5-small.Q4_0.gguf").contains("embedding"));
    // What each can do: context, template, languages; the default says it speaks English only.
    assert!(listing.contains("context 8192 tokens, template chatml, languages en, licence Apache-2.0"), "{listing}");
    assert!(listing.contains("speaks English only: for Korean, see `pai model recommend`"), "{listing}");
    assert!(listing.contains("languages ko, en + 92 more"), "{listing}");
}

#[test]
fn recommend_proposes_korean_speaking_models_for_the_machine() {
    let out = pai().args(["model", "recommend", "--ram-gib", "24", "--cores", "2"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("24.0 GiB RAM, 2 CPU cores, no GPU"), "{shown}");
    assert!(shown.contains("Recommended: qwen2.5-1.5b"), "{shown}");
    assert!(shown.contains("pai model pull qwen2.5-1.5b && pai model use qwen2.5-1.5b"), "{shown}");
    for name in ["qwen2.5-0.5b", "exaone3.5-2.4b", "gemma3-4b", "exaone3.5-7.8b"] {
        assert!(shown.contains(name), "{name} missing:\n{shown}");
    }
    assert!(shown.contains("non-commercial"), "licences are shown:\n{shown}");
    assert!(!shown.contains("smollm2"), "the English-only default is not proposed:\n{shown}");
    let small = text(&pai().args(["model", "recommend", "--ram-gib", "1"]).output().unwrap().stdout);
    assert!(small.contains("None of them fits"), "{small}");
    assert!(small.contains("needs 2 GiB RAM"), "{small}");
}

/// A stand-in for the model hub: answers `routes` (path → status, body) until
/// the returned flag is set, recording each request line and authorization.
fn mock_hub(routes: Vec<(String, u16, Vec<u8>)>) -> (String, std::sync::Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut auth = String::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if h.to_ascii_lowercase().starts_with("authorization:") {
                    auth = h.trim().to_string();
                }
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("").to_string();
            log.lock().unwrap().push(format!("{} {auth}", request_line.trim()));
            let (status, body) = routes
                .iter()
                .find(|(p, _, _)| *p == path)
                .map(|(_, s, b)| (*s, b.clone()))
                .unwrap_or((404, b"not found".to_vec()));
            let _ =
                write!(stream, "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(&body);
        }
    });
    (base, seen)
}

fn sha256_hex(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    text(&out.stdout).split_whitespace().next().unwrap().to_string()
}

#[test]
fn pull_by_name_is_verified_against_the_hub_and_use_switches_the_chat_model() {
    let home = pai_testkit::scratch_dir("cli-hub");
    std::fs::write(home.join("pai.toml"), "# my settings\nuser = \"minji\"\n").unwrap();
    let file = tiny_gguf();
    let tree = |sha: &str| {
        format!(
            r#"[{{"type":"file","oid":"abc","size":10,"path":"README.md"}},
                {{"type":"file","oid":"def","size":{},"path":"qwen2.5-1.5b-instruct-q4_k_m.gguf","lfs":{{"oid":"{sha}","size":{},"pointerSize":135}}}}]"#,
            file.len(),
            file.len()
        )
        .into_bytes()
    };
    let resolve = "/Qwen/Qwen2.5-1.5B-Instruct-GGUF/resolve/main/qwen2.5-1.5b-instruct-q4_k_m.gguf".to_string();
    let api = "/api/models/Qwen/Qwen2.5-1.5B-Instruct-GGUF/tree/main".to_string();
    let cmd = |hub: &str| {
        let mut c = pai();
        c.arg("--data-dir").arg(&home).env("PAI_HF_ENDPOINT", hub).env_remove("PAI_MODELS_DIR").env_remove("HF_TOKEN");
        c
    };

    // The hub publishes another sha256 than the file it serves: refused, nothing installed.
    let (hub, _) = mock_hub(vec![(api.clone(), 200, tree(&"0".repeat(64))), (resolve.clone(), 200, file.clone())]);
    let out = cmd(&hub).args(["model", "pull", "qwen2.5-1.5b"]).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("checksum mismatch"), "{}", text(&out.stderr));
    assert!(!home.join("models/qwen2.5-1.5b-instruct-q4_k_m.gguf").exists());
    // Not installed yet: `use` says how to get it and leaves the settings alone.
    let out = cmd(&hub).args(["model", "use", "qwen2.5-1.5b"]).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("run `pai model pull qwen2.5-1.5b` first"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(home.join("pai.toml")).unwrap(), "# my settings\nuser = \"minji\"\n");

    // The published sha256 matches: installed from the official repository.
    let (hub, seen) =
        mock_hub(vec![(api.clone(), 200, tree(&sha256_hex(&file))), (resolve.clone(), 200, file.clone())]);
    let out = cmd(&hub).args(["model", "pull", "qwen2.5-1.5b"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Apache-2.0"), "{}", text(&out.stdout));
    assert_eq!(std::fs::read(home.join("models/qwen2.5-1.5b-instruct-q4_k_m.gguf")).unwrap(), file);
    let requests = seen.lock().unwrap().clone();
    assert!(requests[0].starts_with(&format!("GET {api} ")), "{requests:?}");
    assert!(requests[1].starts_with(&format!("GET {resolve} ")), "{requests:?}");

    // `use` points the chat model at it, keeping the rest of pai.toml.
    let out = cmd(&hub).args(["model", "use", "qwen2.5-1.5b"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let settings = std::fs::read_to_string(home.join("pai.toml")).unwrap();
    assert!(settings.contains("# my settings") && settings.contains("user = \"minji\""), "{settings}");
    assert!(settings.contains("chat_model = \"qwen2.5-1.5b-instruct-q4_k_m.gguf\""), "{settings}");
    let list = text(&cmd(&hub).args(["model", "list"]).output().unwrap().stdout);
    let line = list.lines().find(|l| l.contains("qwen2.5-1.5b-instruct-q4_k_m.gguf")).unwrap_or_default();
    assert!(line.contains("default chat"), "{list}");

    // A gated repository gets the token; without one the hub's 401 names the fix.
    let gemma_api = "/api/models/google/gemma-3-4b-it-qat-q4_0-gguf/tree/main".to_string();
    let (hub, seen) = mock_hub(vec![(gemma_api.clone(), 401, b"{}".to_vec())]);
    let out = cmd(&hub).env("HF_TOKEN", "hf_secret").args(["model", "pull", "gemma3-4b"]).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("set hf_token or HF_TOKEN"), "{}", text(&out.stderr));
    assert!(seen.lock().unwrap()[0].ends_with("authorization: Bearer hf_secret"), "{:?}", seen.lock().unwrap());
    std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn embed_prints_unit_vectors() {
    let out = pai().args(["embed", "--query", "부산 날씨", "weather in Busan"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let vectors: Vec<Vec<f32>> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(vectors.len(), 2);
    for v in &vectors {
        assert_eq!(v.len(), 384);
        assert!((v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-3);
    }
}

/// Speech to text in the binary that also links llama.cpp (both on one ggml,
/// pai-whisper-sys), on the real whisper model and espeak-ng recordings.
#[test]
fn transcribe_prints_the_words_subtitles_and_clear_refusals() {
    let _turn = GENERATING.lock().unwrap_or_else(|e| e.into_inner());
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../pai-voice/tests/fixtures");
    let out = pai().args(["transcribe", &format!("{fixtures}/speech-en.mp3")]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let words = text(&out.stdout).to_lowercase();
    assert!(words.contains("friday") && words.contains("morning"), "{words}");

    let out =
        pai().args(["transcribe", "-l", "en", "-f", "srt", &format!("{fixtures}/speech-en.flac")]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("1\n00:00:00,000 --> 00:00:0"), "{}", text(&out.stdout));

    // A voice note in Ogg Opus.
    let out = pai().args(["transcribe", "-l", "en", &format!("{fixtures}/speech-en.opus")]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).to_lowercase().contains("friday"), "{}", text(&out.stdout));
    let out = pai().args(["transcribe", &format!("{fixtures}/../../Cargo.toml")]).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("not audio pai can read"), "{}", text(&out.stderr));
    let out = pai().args(["transcribe", "-l", "xx", &format!("{fixtures}/speech-en.wav")]).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("\"xx\" is not a language"), "{}", text(&out.stderr));
}

#[test]
fn bench_reports_positive_rates() {
    let _turn = GENERATING.lock().unwrap_or_else(|e| e.into_inner());
    let out = pai().args(["bench", "--pp", "32", "--tg", "8", "-r", "1", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["pp_tokens_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["tg_tokens_per_s"].as_f64().unwrap() > 0.0);
}

/// Serves `body` once at any path, recording the request line.
fn serve_once(body: Vec<u8>) -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            if h.trim().is_empty() {
                break;
            }
        }
        write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len()).unwrap();
        stream.write_all(&body).unwrap();
        request_line
    });
    (base, handle)
}

#[test]
fn pull_installs_a_model_with_progress_and_checksum() {
    let head = tiny_gguf(); // a GGUF header is enough for `pull` and `list`
    let sha = {
        let out = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let mut out = out;
        out.stdin.take().unwrap().write_all(&head).unwrap();
        let mut s = String::new();
        out.stdout.take().unwrap().read_to_string(&mut s).unwrap();
        out.wait().unwrap();
        s.split_whitespace().next().unwrap().to_string()
    };
    let dir = pai_testkit::scratch_dir("cli-pull").join("models");
    let (base, server) = serve_once(head.clone());
    let out = pai()
        .env("PAI_MODELS_DIR", &dir)
        .env("PAI_HF_ENDPOINT", &base)
        .args(["model", "pull", "hf:someone/tiny-GGUF/tiny.Q4_1.gguf", "--sha256", &sha])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("installed"));
    assert!(server.join().unwrap().starts_with("GET /someone/tiny-GGUF/resolve/main/tiny.Q4_1.gguf"));
    assert_eq!(std::fs::read(dir.join("tiny.Q4_1.gguf")).unwrap(), head);
    let list = pai().env("PAI_MODELS_DIR", &dir).args(["model", "list"]).output().unwrap();
    assert!(text(&list.stdout).contains("tiny.Q4_1.gguf"));

    let out = pai().env("PAI_MODELS_DIR", &dir).args(["model", "pull", "ftp://example/x.gguf"]).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("neither an http(s):// URL nor hf:"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_whisper_speech_model_is_pulled_checked_and_made_the_speech_model() {
    let home = pai_testkit::scratch_dir("cli-pull-whisper");
    let dir = home.join("models");
    // whisper.cpp's ggml begins with its magic; the rest is not read by `pull`.
    let whisper = [&b"lmgg"[..], &[0u8; 64]].concat();
    let (base, server) = serve_once(whisper.clone());
    let out = pai()
        .env("PAI_MODELS_DIR", &dir)
        .env("PAI_HF_ENDPOINT", &base)
        .args(["model", "pull", "hf:ggerganov/whisper.cpp/ggml-small.bin"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("pai model use ggml-small.bin"), "{}", text(&out.stdout));
    assert!(server.join().unwrap().starts_with("GET /ggerganov/whisper.cpp/resolve/main/ggml-small.bin"));
    assert_eq!(std::fs::read(dir.join("ggml-small.bin")).unwrap(), whisper);
    let used = pai()
        .args(["--data-dir", home.to_str().unwrap(), "model", "use", "ggml-small.bin"])
        .env("PAI_MODELS_DIR", &dir)
        .output()
        .unwrap();
    assert!(used.status.success(), "{}", text(&used.stderr));
    let settings = std::fs::read_to_string(home.join("pai.toml")).unwrap();
    assert!(settings.contains("speech_model = \"ggml-small.bin\""), "{settings}");

    // Anything else under a .bin name is refused and nothing is left behind.
    let (base, server) = serve_once(b"<html>not found</html>".to_vec());
    let out = pai()
        .env("PAI_MODELS_DIR", &dir)
        .env("PAI_HF_ENDPOINT", &base)
        .args(["model", "pull", "hf:someone/x/ggml-medium.bin"])
        .output()
        .unwrap();
    server.join().unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("did not deliver a GGUF model or a whisper.cpp speech model"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.join("ggml-medium.bin").exists() && !dir.join("ggml-medium.bin.part").exists());
    std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn interactive_chat_streams_stops_on_ctrl_c_and_keeps_going() {
    let _turn = GENERATING.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = pai();
    cmd.args(["chat", "--temperature", "0", "--max-tokens", "300"]);
    let mut p = rexpect::session::spawn_command(cmd, Some(60_000)).unwrap();
    p.exp_string("/help for commands").unwrap();
    p.exp_string("you> ").unwrap();
    p.send_line("/help").unwrap();
    p.exp_string("/reset").unwrap();
    p.exp_string("you> ").unwrap();

    p.send_line("Write a very long story about a dragon who learns to bake bread.").unwrap();
    // Wait for the answer to start streaming, then interrupt it.
    p.exp_regex(r"[A-Za-z]{3,}").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    p.send_control('c').unwrap();
    p.exp_string("(stopped)").unwrap();
    p.exp_string("you> ").unwrap();

    // Still alive: a multi-line message, then commands.
    p.send_line("Reply with one word:\\").unwrap();
    p.exp_string("...> ").unwrap();
    p.send_line("hello").unwrap();
    p.exp_string("you> ").unwrap();
    p.send_line("/reset").unwrap();
    p.exp_string("(new conversation").unwrap();
    p.exp_string("you> ").unwrap();
    p.send_line("/memory").unwrap();
    p.exp_string("you> ").unwrap();
    p.send_line("/nonsense").unwrap();
    p.exp_string("unknown command").unwrap();
    p.send_line("/exit").unwrap();
    p.exp_eof().unwrap();
}

/// A GGUF header (version 3, no tensors, `general.architecture = llama`) plus filler.
fn tiny_gguf() -> Vec<u8> {
    let mut out = b"GGUF".to_vec();
    out.extend(3u32.to_le_bytes());
    out.extend(0u64.to_le_bytes());
    out.extend(1u64.to_le_bytes());
    let key = "general.architecture";
    out.extend((key.len() as u64).to_le_bytes());
    out.extend(key.as_bytes());
    out.extend(8u32.to_le_bytes());
    out.extend(5u64.to_le_bytes());
    out.extend(b"llama");
    out.extend(std::iter::repeat_n(7u8, 10_000));
    out
}

trait OwnedCmd {
    fn to_owned_cmd(&mut self) -> Command;
}

impl OwnedCmd for Command {
    /// Moves a configured command out of a `&mut` builder chain.
    fn to_owned_cmd(&mut self) -> Command {
        std::mem::replace(self, Command::new("true"))
    }
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn what_pai_is_told_to_remember_can_be_seen_searched_exported_edited_and_forgotten() {
    let _turn = GENERATING.lock().unwrap_or_else(|e| e.into_inner());
    let db = temp_db();
    let out = run(
        pai_with(&db).args(["chat", "--temperature", "0", "--max-tokens", "8"]).to_owned_cmd(),
        "Remember that my wifi password is on the fridge.\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let list = ok(pai_with(&db).args(["memory", "list"]));
    assert!(list.contains("my wifi password is on the fridge") && list.contains("from message"), "{list}");
    let id = list.split_whitespace().next().unwrap().to_string();

    let found = ok(pai_with(&db).args(["memory", "search", "where is the wifi password?"]));
    assert!(found.lines().next().unwrap_or("").contains(&format!("memory {id}")), "{found}");

    let shown = ok(pai_with(&db).args(["memory", "show", &id]));
    assert!(
        shown.contains("source: message") && shown.contains("decision: add") && shown.contains("explicit request"),
        "{shown}"
    );

    let export: serde_json::Value = serde_json::from_str(&ok(pai_with(&db).args(["memory", "export"]))).unwrap();
    let first = &export["memories"][0];
    assert_eq!(first["memory"]["text"], "my wifi password is on the fridge");
    assert!(first["sources"][0]["content"].as_str().unwrap().contains("Remember that"));

    ok(pai_with(&db).args(["memory", "edit", &id, "The wifi password is on the fridge door"]));
    assert!(ok(pai_with(&db).args(["memory", "list"])).contains("fridge door"));

    // A bad id deletes nothing, not even the good ones named with it.
    let out = pai_with(&db).args(["memory", "forget", &id, "999999"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no memory 999999"), "{}", text(&out.stderr));
    assert!(ok(pai_with(&db).args(["memory", "list"])).contains("fridge door"));
    ok(pai_with(&db).args(["memory", "forget", &id]));
    assert!(ok(pai_with(&db).args(["memory", "list"])).contains("No memories yet"));
    assert!(ok(pai_with(&db).args(["memory", "export"])).contains("\"memories\": []"));
}

#[test]
fn import_stores_indexes_and_skips_what_it_has_seen() {
    let db = temp_db();
    let file = db.with_file_name("history.json");
    std::fs::write(
        &file,
        r#"[{"title": "Moving", "messages": [
              {"role": "user", "content": "We finally moved near Haeundae beach", "created_at": "2026-03-01T10:00:00+09:00", "external_id": "m1"},
              {"role": "assistant", "content": "Congratulations!", "created_at": "2026-03-01T10:00:05+09:00", "external_id": "m2"}]},
            {"title": "Food", "messages": [
              {"role": "other", "speaker": "Mom", "content": "김치찌개 해 놨어", "created_at": "2026-03-02T18:00:00+09:00", "external_id": "m3"}]}]"#,
    )
    .unwrap();
    let out = ok(pai_with(&db).args(["import", file.to_str().unwrap(), "--no-extract"]));
    assert!(
        out.contains("Imported 2 conversation(s), 3 message(s)") && out.contains("1 extraction job(s) queued"),
        "{out}"
    );
    let again = ok(pai_with(&db).args(["import", file.to_str().unwrap(), "--no-extract"]));
    assert!(again.contains("Imported 0 conversation(s)") && again.contains("2 already imported"), "{again}");
    let found = ok(pai_with(&db).args(["memory", "search", "Haeundae"]));
    assert!(found.contains("message") && found.contains("Haeundae"), "{found}");
    let jobs = ok(pai_with(&db).args(["memory", "jobs"]));
    assert!(jobs.contains("pending"), "{jobs}");

    // A malformed file is refused whole: nothing is added.
    std::fs::write(&file, r#"{"title": "x", "messages": [{"role": "user", "content": "new", "created_at": "2026-03-01T10:00:00Z"}, {"role": "robot"}]}"#).unwrap();
    let out = pai_with(&db).args(["import", file.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("was not imported") && text(&out.stderr).contains("message 2"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&file, b"\xff\xfe not utf-8").unwrap();
    let out = pai_with(&db).args(["import", file.to_str().unwrap()]).output().unwrap();
    assert!(text(&out.stderr).contains("not UTF-8"), "{}", text(&out.stderr));
    let found = ok(pai_with(&db).args(["memory", "search", "new"]));
    assert!(!found.contains("] new"), "{found}");
}

#[test]
fn a_kakaotalk_export_imports_with_your_name() {
    let db = temp_db();
    let file = db.with_file_name("KakaoTalk_20240302.txt");
    let export = "Book club KakaoTalk Chats\nDate Saved : 2024-03-02 21:00:00\n\n\
        --------------- Friday, March 1, 2024 ---------------\n\
        [Daniel] [9:58 PM] Minji, which book this month?\n\
        [Minji] [10:01 PM] Pachinko by Min Jin Lee\nit's two volumes\n\
        [Sora] [10:02 PM] Photo\n";
    std::fs::write(&file, export).unwrap();
    // A group chat: whose lines are yours must be said.
    let out = pai_with(&db).args(["import", file.to_str().unwrap(), "--no-extract"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("which name is yours"), "{}", text(&out.stderr));
    let out = ok(pai_with(&db).args(["import", file.to_str().unwrap(), "--me", "Minji", "--no-extract"]));
    assert!(out.contains("Imported 1 conversation(s), 3 message(s)") && out.contains("KakaoTalk"), "{out}");
    let found = ok(pai_with(&db).args(["memory", "search", "which book is Minji reading?"]));
    assert!(found.contains("Pachinko"), "{found}");
    // A damaged line: named, and nothing more is stored.
    std::fs::write(&file, export.replace("[10:01 PM]", "[10:61 PM]").replace("Pachinko", "Demian")).unwrap();
    let out = pai_with(&db).args(["import", file.to_str().unwrap(), "--me", "Minji"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("line 6"), "{}", text(&out.stderr));
    assert!(!ok(pai_with(&db).args(["memory", "search", "Demian"])).contains("Demian"));
}

#[test]
fn an_ingested_recording_is_searchable_by_its_words_and_suggests_without_scheduling() {
    let _turn = GENERATING.lock().unwrap_or_else(|e| e.into_inner());
    let db = temp_db();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../pai-voice/tests/fixtures");
    let out = pai_with(&db).args(["ingest", &format!("{fixtures}/speech-en.opus")]).output().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("added  speech-en.opus (1 passages)") && stdout.contains("heard 2 s of en"), "{stdout}");
    assert!(stdout.contains("suggests a reminder: [00:00:00–00:00:0") && stdout.contains("→ Fri "), "{stdout}");
    assert!(stdout.contains("in a line: Let's meet on Friday"), "{stdout}");
    assert!(!stdout.contains("to learn from"), "not asked to learn: {stdout}");
    let summary = text(&pai_with(&db).args(["docs", "summary", "1"]).output().unwrap().stdout);
    assert!(summary.contains("In a line: Let's meet") && summary.contains("  [00:00:00–00:00:0"), "{summary}");
    let shown = text(&pai_with(&db).args(["docs", "show", "1"]).output().unwrap().stdout);
    assert!(shown.contains("#0 \"00:00:00–00:00:0") && shown.to_lowercase().contains("friday"), "{shown}");
    let hits = text(
        &pai_with(&db).args(["memory", "search", "when do we meet on Friday?", "-k", "1"]).output().unwrap().stdout,
    );
    assert!(hits.contains("document 1"), "{hits}");
    let reminders = text(&pai_with(&db).args(["remind", "list"]).output().unwrap().stdout);
    assert!(reminders.contains("No reminders"), "{reminders}");
}

#[test]
fn a_voice_memo_ingested_to_learn_from_becomes_memories_and_its_words_go_with_it() {
    let _turn = GENERATING.lock().unwrap_or_else(|e| e.into_inner());
    let db = temp_db();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../pai-voice/tests/fixtures");
    // "Note to self. I moved to London last month. I am allergic to cats."
    let out = pai_with(&db).args(["ingest", "--learn", &format!("{fixtures}/memo-en.mp3")]).output().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("kept as conversation 1 (1 messages) to learn from"), "{stdout}");
    assert!(stdout.contains("Learned ") && stdout.contains("from the recordings."), "{stdout}");
    let memories = ok(pai_with(&db).args(["memory", "list"]));
    assert!(memories.contains("London") && memories.contains("allergic to cats"), "{memories}");
    let shown = ok(pai_with(&db).args(["memory", "show", "1"]));
    assert!(shown.contains("in conversation 1") && shown.contains("said in recording 1, passage 0"), "{shown}");
    // Deleting the recording deletes what was said in it; the memories stay.
    ok(pai_with(&db).args(["docs", "delete", "1"]));
    let shown = ok(pai_with(&db).args(["memory", "show", "1"]));
    assert!(!shown.contains("source:"), "{shown}");
    let found = ok(pai_with(&db).args(["memory", "search", "London"]));
    assert!(!found.contains("message"), "the transcript's words are gone: {found}");
    assert!(ok(pai_with(&db).args(["memory", "list"])).contains("London"));
}

#[test]
fn ingest_reports_each_file_and_documents_are_listed_searched_and_deleted() {
    let db = temp_db();
    let dir = db.parent().unwrap().join("docs");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("lease.md"),
        "# Lease\n\n## Pets\n\n반려동물은 집주인의 서면 동의가 있어야 키울 수 있습니다.\n",
    )
    .unwrap();
    std::fs::write(dir.join("sub/empty.txt"), "").unwrap();
    // A Korean PDF as word processors write it (glyph ids + ToUnicode map).
    let pdf = pai_assistant::knowledge::sample_pdf(&[
        "관리비는 매달 10일까지 관리사무소에 냅니다.",
        "주차는 한 세대에 자동차 한 대까지 무료입니다.",
    ]);
    std::fs::write(dir.join("sub/관리규약.pdf"), pdf).unwrap();
    let out = pai_with(&db).args(["ingest"]).arg(&dir).output().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("added  Lease") && stdout.contains("empty.txt: the file is empty"), "{stdout}");
    assert!(stdout.contains("2 added, 0 updated, 0 unchanged, 1 skipped"), "{stdout}");
    let list = text(&pai_with(&db).args(["docs", "list"]).output().unwrap().stdout);
    assert!(list.contains("Lease") && list.contains("markdown"), "{list}");
    let hits = text(&pai_with(&db).args(["memory", "search", "강아지 키워도 돼?", "-k", "1"]).output().unwrap().stdout);
    assert!(hits.contains("document 1") && hits.contains("반려동물"), "{hits}");
    let hits =
        text(&pai_with(&db).args(["memory", "search", "차는 몇 대까지 공짜야?", "-k", "1"]).output().unwrap().stdout);
    assert!(hits.contains("p.2") && hits.contains("주차는 한 세대에"), "{hits}");
    // Nothing readable is a failure; deleting removes it.
    let bad = pai_with(&db).args(["ingest"]).arg(dir.join("sub/empty.txt")).output().unwrap();
    assert!(!bad.status.success());
    assert!(pai_with(&db).args(["docs", "delete", "1"]).output().unwrap().status.success());
    assert!(pai_with(&db).args(["docs", "delete", "2"]).output().unwrap().status.success());
    let list = text(&pai_with(&db).args(["docs", "list"]).output().unwrap().stdout);
    assert!(list.contains("No documents yet"), "{list}");
}

/// Runs `check` until it returns true or `secs` pass.
/// Where the models are when the data directory is moved to a test's folder.
fn models_dir() -> std::path::PathBuf {
    std::env::var_os("PAI_MODELS_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| {
        let data = std::env::var_os("XDG_DATA_HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".local/share"));
        std::env::var_os("PAI_HOME").map_or(data.join("pai"), std::path::PathBuf::from).join("models")
    })
}

fn eventually(secs: u64, mut check: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if check() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    false
}

/// `pai serve --data-dir DIR` exactly as the README shows it, after `make
/// fetch-models`: the database goes to DIR, the installed models are still found.
#[test]
fn serve_with_a_data_dir_finds_the_installed_models() {
    let dir = temp_db().parent().unwrap().join("data");
    let log_path = dir.with_file_name("serve.log");
    let mut server = Command::new(env!("CARGO_BIN_EXE_pai"))
        .env_remove("PAI_DATABASE")
        .env_remove("PAI_MODELS_DIR")
        .env_remove("PAI_DATA_DIR")
        .env_remove("PAI_CHAT_MODEL")
        .env_remove("PAI_REMOTE_URL")
        .env("RUST_LOG", "info")
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir", dir.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let up = eventually(90, || log().contains("pai is serving") || server.try_wait().unwrap().is_some());
    let serving = up && log().contains("pai is serving");
    let _ = server.kill();
    server.wait().unwrap();
    assert!(serving, "{}", log());
    assert!(dir.join("pai.db").exists(), "the database belongs in the data directory");
}

#[test]
fn serve_indexes_a_watched_folder_when_it_changes() {
    let db = temp_db();
    let home = db.parent().unwrap().to_path_buf();
    let notes = home.join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(notes.join("plants.md"), "# Plants\n\nWater the basil every two days.\n").unwrap();
    // Passes only every hour: a change seen within seconds came from the file-system events.
    std::fs::write(
        home.join("pai.toml"),
        format!("watch_interval_secs = 3600\n[[watch]]\npath = {:?}\n", notes.display().to_string()),
    )
    .unwrap();
    // The data directory moves to the test's folder; the models stay where they are.
    let mut server = pai_with(&db)
        .env("PAI_HOME", &home)
        .env("PAI_MODELS_DIR", models_dir())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(home.join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    // No `me` account exists: the folder belongs to the admin made at first start
    // (asked for only once it exists: the CLI would make a plain `admin` itself).
    let log = || std::fs::read_to_string(home.join("serve.log")).unwrap_or_default();
    let up = eventually(60, || log().contains("pai is serving"));
    let docs = || text(&pai_with(&db).env("PAI_USER", "admin").args(["docs", "list"]).output().unwrap().stdout);
    let started = up && eventually(30, || docs().contains("Plants"));
    std::fs::write(notes.join("rent.txt"), "Rent is due on the fifth.\n").unwrap();
    let added = started && eventually(30, || docs().contains("rent.txt"));
    std::fs::remove_file(notes.join("plants.md")).unwrap();
    let removed = added && eventually(30, || !docs().contains("Plants"));
    let listing = docs();
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(started && added && removed, "started {started}, added {added}, removed {removed}: {listing}\n{}", log());
}

#[test]
fn reminders_from_chat_and_from_the_command_line() {
    let db = temp_db();
    // Asked in chat: pai schedules it itself and confirms (the model is not asked).
    let out = run(pai_with(&db).arg("chat").to_owned_cmd(), "내일 오전 9시에 엄마한테 전화하라고 알려줘");
    let answer = text(&out.stdout);
    assert!(out.status.success(), "{answer}{}", text(&out.stderr));
    assert!(answer.contains("엄마한테 전화하기") && answer.contains("오전 9:00"), "{answer}");
    // From the command line, with the question for an ambiguous time.
    let ok = pai_with(&db).args(["remind", "add", "stretch", "--when", "every weekday at 7"]).output().unwrap();
    assert!(
        ok.status.success() && text(&ok.stdout).contains("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
        "{}",
        text(&ok.stdout)
    );
    let ask = pai_with(&db).args(["remind", "add", "약 먹기", "--when", "3시"]).output().unwrap();
    assert!(!ask.status.success() && text(&ask.stderr).contains("오전 3시인가요"), "{}", text(&ask.stderr));
    let past = pai_with(&db).args(["remind", "add", "x", "--when", "2020-01-01 09:00"]).output().unwrap();
    assert!(!past.status.success());
    let list = text(&pai_with(&db).args(["remind", "list"]).output().unwrap().stdout);
    assert!(list.contains("엄마한테 전화하기") && list.contains("09:00") && list.contains("stretch"), "{list}");
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(pai_with(&db).args(["remind", "cancel", "2"]).output().unwrap().status.success());
    let list = text(&pai_with(&db).args(["remind", "list"]).output().unwrap().stdout);
    assert!(list.contains("cancelled"), "{list}");
}

/// A private PostgreSQL cluster for this test process (scripts/postgres.sh
/// stops it when the process ends); returns a fresh database's URL.
fn postgres_database(name: &str) -> String {
    static CLUSTER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let admin = CLUSTER.get_or_init(|| {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh");
        let dir = std::env::temp_dir().join(format!("pai-cli-pg-{}", std::process::id()));
        let out = Command::new("bash")
            .arg(&script)
            .args(["start".as_ref(), dir.as_os_str(), std::process::id().to_string().as_ref()])
            .output()
            .unwrap();
        assert!(out.status.success(), "cannot start PostgreSQL: {}", text(&out.stderr));
        text(&out.stdout).trim().to_string()
    });
    let port = admin.rsplit(':').next().unwrap().split('/').next().unwrap();
    let psql = Command::new("/usr/lib/postgresql/15/bin/psql")
        .args(["-h", "127.0.0.1", "-p", port, "-U", "pai", "-d", "postgres", "-qAt", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .unwrap();
    assert!(psql.status.success(), "{}", text(&psql.stderr));
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

/// `pai serve` on `database`; returns the child and its base URL once it serves.
fn serve_on(database: &str, home: &std::path::Path, log: &str) -> (std::process::Child, String) {
    let log_path = home.join(log);
    let child = pai()
        .args(["--database", database, "serve", "--addr", "127.0.0.1:0"])
        .env("PAI_HOME", home)
        .env("PAI_MODELS_DIR", models_dir())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(eventually(90, || read().contains("pai is serving")), "{}", read());
    let base = read().split("on http://").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    (child, format!("http://{base}"))
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl").args(["-sS", "--max-time", "30"]).args(args).output().unwrap();
    text(&out.stdout)
}

#[test]
fn users_keys_and_two_servers_share_one_postgres_database() {
    let database = postgres_database(&format!("cli_{}", std::process::id()));
    let home = temp_db().parent().unwrap().to_path_buf();
    // Accounts are made with the CLI against the URL: no model is loaded for that.
    let added = run(pai().args(["--database", &database, "user", "add", "minji"]).to_owned_cmd(), "a long password\n");
    assert!(added.status.success(), "{}", text(&added.stderr));
    let key = ok(pai().args(["--database", &database, "key", "create", "--user", "minji"]));
    let key = key.trim();
    assert!(key.starts_with("pai-"), "{key}");
    // A wrong URL fails with the reason, without the password.
    let bad = pai().args(["--database", "postgres://pai:hunter2@127.0.0.1:1/x", "user", "list"]).output().unwrap();
    assert!(!bad.status.success() && !text(&bad.stderr).contains("hunter2"), "{}", text(&bad.stderr));
    assert!(text(&bad.stderr).contains("127.0.0.1:1"), "{}", text(&bad.stderr));

    let (mut a, base_a) = serve_on(&database, &home, "a.log");
    let (mut b, base_b) = serve_on(&database, &home, "b.log");
    let auth = format!("Authorization: Bearer {key}");
    let created = curl(&[
        "-X",
        "POST",
        &format!("{base_a}/api/memories"),
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"text": "딸 이름은 지우, daughter Jiwoo"}"#,
    ]);
    // What one server wrote, the other finds, by words (Korean bigrams included).
    let found = curl(&["-G", &format!("{base_b}/api/memories/search"), "-H", &auth, "--data-urlencode", "q=지우"]);
    let listed = curl(&[&format!("{base_b}/api/memories"), "-H", &auth]);
    for child in [&mut a, &mut b] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(created.contains("Jiwoo"), "{created}");
    assert!(found.contains("Jiwoo"), "{found}");
    assert!(listed.contains("Jiwoo"), "{listed}");
}

#[test]
fn migrate_moves_a_sqlite_database_into_postgres_verified() {
    let db = temp_db();
    let home = db.parent().unwrap().to_path_buf();
    std::fs::write(home.join("lease.md"), "# 관리규약\n\n반려동물은 허용되지 않습니다. Rent is due on the fifth.\n")
        .unwrap();
    ok(pai_with(&db).args(["ingest".as_ref(), home.join("lease.md").as_os_str()]));
    let added = run(pai_with(&db).args(["user", "add", "minji"]).to_owned_cmd(), "a long password\n");
    assert!(added.status.success(), "{}", text(&added.stderr));
    ok(pai_with(&db).args(["key", "create", "--user", "minji", "--name", "laptop"]));

    let target = postgres_database(&format!("migrate_{}", std::process::id()));
    let from = format!("sqlite://{}", db.display());
    let report = ok(pai().args(["migrate", "--from", &from, "--to", &target]));
    assert!(report.contains("counts and checksums match"), "{report}");
    assert!(report.lines().any(|l| l.starts_with("chunks") && l.contains(" 1 ")), "{report}");

    // The same data, found the same ways, through the PostgreSQL URL.
    let on_pg = || {
        let mut cmd = pai();
        cmd.args(["--database", &target]);
        cmd
    };
    assert!(ok(on_pg().args(["docs", "list"])).contains("관리규약"));
    let found = ok(on_pg().args(["memory", "search", "반려동물 키워도 돼?"]));
    assert!(found.contains("반려동물은 허용되지 않습니다"), "{found}");
    assert!(ok(on_pg().args(["key", "list", "--user", "minji"])).contains("laptop"));
    // Into a database that is not empty: refused, with the reason.
    let again = pai().args(["migrate", "--from", &from, "--to", &target]).output().unwrap();
    assert!(!again.status.success() && text(&again.stderr).contains("empty database only"), "{}", text(&again.stderr));
}
