//! The `pai` binary as a person uses it: piped and interactive chat (in a
//! pseudo-terminal), model management, embeddings, benchmark, bad input.
//! Runs on the real default models installed by `make fetch-models`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

/// Tests that generate take turns: two llama.cpp instances on two cores crawl.
static GENERATING: Mutex<()> = Mutex::new(());

fn pai() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pai"));
    cmd.env_remove("PAI_CHAT_MODEL").env_remove("PAI_REMOTE_URL").env("RUST_LOG", "warn");
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
    let dir = std::env::temp_dir().join(format!("pai-cli-pull-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
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
    p.exp_string("(conversation cleared)").unwrap();
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
