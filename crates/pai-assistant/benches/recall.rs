//! Recall benchmark (issue "Personal memory"): one user with 100k memories and
//! 200k messages among 1,000 users, synthetic Korean and English text. Reports
//! recall latency p50/p95/p99 for k = 10 and indexing throughput.
//!
//! Vectors come from the hashed fake embedder at e5's dimension (384), so the
//! store's work (BM25, KNN, loads, fusion) is measured alone; the real e5
//! query embedding is timed separately and added for the end-to-end figure.
//!
//! The same data and queries run on SQLite and on PostgreSQL, one after the
//! other in one run, and the figures are printed side by side with their
//! ratio. PostgreSQL is a private cluster started by `scripts/postgres.sh`
//! (PAI_BENCH_BACKENDS=sqlite for SQLite alone).
//!
//! `cargo bench -p pai-assistant --bench recall` (or `bench/recall.sh`);
//! PAI_BENCH_SCALE=0.1 for a quick run at a tenth of the size.

use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use pai_assistant::index::embed_pending;
use pai_assistant::recall::recall;
use pai_core::store::{MemoryKind, NewMemory, NewMessage, Store, UserId};
use pai_core::{EmbedKind, Embedder, Role};
use pai_engine::FakeEmbedder;
use pai_store::Database;

const DIM: usize = 384;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
}

/// Vocabularies of a few thousand words per language, used with a skewed
/// (Zipf-like) draw: a few words are common, most are rare, as in real text.
struct Vocab {
    en: Vec<String>,
    ko: Vec<String>,
}

impl Vocab {
    fn new(rng: &mut Rng) -> Self {
        const EN_SYL: &[&str] = &[
            "ka", "ri", "mon", "tel", "sa", "ver", "lo", "den", "mi", "tra", "bel", "cor", "pa", "ne", "sun", "vo",
            "gra", "li", "dor", "fen",
        ];
        const KO_SYL: &[&str] = &[
            "가", "나", "다", "라", "마", "바", "사", "아", "자", "차", "카", "타", "파", "하", "강", "민", "서", "준",
            "지", "우", "현", "도", "윤", "수", "영", "진", "호", "연", "석", "희",
        ];
        let word = |rng: &mut Rng, syl: &[&str], n: usize| {
            (0..n).map(|_| syl[(rng.next() % syl.len() as u64) as usize]).collect::<String>()
        };
        let en = (0..4000).map(|i| word(rng, EN_SYL, 2 + i % 2)).collect();
        let ko = (0..4000).map(|i| word(rng, KO_SYL, 2 + i % 2)).collect();
        Vocab { en, ko }
    }

    fn draw<'a>(words: &'a [String], rng: &mut Rng) -> &'a str {
        let u = (rng.next() % 1_000_000) as f64 / 1_000_000.0;
        &words[((u * u * u) * words.len() as f64) as usize]
    }

    fn text(&self, rng: &mut Rng, words: usize) -> String {
        let korean = rng.next() % 2 == 0;
        let list = if korean { &self.ko } else { &self.en };
        let mut out: Vec<String> = (0..words).map(|_| Self::draw(list, rng).to_string()).collect();
        if korean {
            // Particles glued on, as Korean writes them.
            for w in out.iter_mut() {
                w.push_str(["은", "를", "에서", "로", "", "와"][(rng.next() % 6) as usize]);
            }
        }
        out.join(" ")
    }
}

fn sentence(vocab: &Vocab, rng: &mut Rng) -> String {
    let n = 6 + (rng.next() % 8) as usize;
    vocab.text(rng, n)
}

fn query(vocab: &Vocab, rng: &mut Rng) -> String {
    let n = 2 + (rng.next() % 3) as usize;
    vocab.text(rng, n)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

async fn fill(
    store: &dyn Store,
    embedder: &dyn Embedder,
    user: UserId,
    messages: usize,
    memories: usize,
    vocab: &Vocab,
    rng: &mut Rng,
) {
    let conv = store.create_conversation(user, "history").await.unwrap().id;
    let start = Utc::now() - Days::days(720);
    let mut first = None;
    for batch in 0..messages.div_ceil(1000) {
        let n = (messages - batch * 1000).min(1000);
        let new: Vec<NewMessage> = (0..n)
            .map(|i| NewMessage {
                role: if i % 2 == 0 { Role::User } else { Role::Assistant },
                speaker: None,
                content: sentence(vocab, rng),
                created_at: start + Days::minutes(((batch * 1000 + i) * 3) as i64),
                external_id: None,
            })
            .collect();
        let stored = store.add_messages(user, conv, new).await.unwrap();
        first.get_or_insert(stored[0].id);
    }
    for i in 0..memories {
        let m = NewMemory {
            text: sentence(vocab, rng),
            kind: [MemoryKind::Fact, MemoryKind::Preference, MemoryKind::Event][i % 3],
            subject: None,
            importance: (i % 10) as f32 / 10.0,
            valid_from: Some(start + Days::minutes(i as i64 * 5)),
            sources: first.into_iter().collect(),
        };
        store.add_memory(user, m).await.unwrap();
    }
    while embed_pending(store, embedder, user, 4096).await.unwrap() > 0 {}
}

/// What one backend measured.
#[derive(Default)]
struct Figures {
    build_secs: f64,
    index_rate: f64,
    /// Bytes on disk per stored item (messages and memories of all users, with their indexes and vectors).
    bytes_per_item: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    text_ms: f64,
    vector_ms: f64,
}

/// Builds the data set in `database` and measures recall on it.
async fn measure(database: &Database, scale: f64) -> Figures {
    let (big_messages, big_memories) = ((200_000.0 * scale) as usize, (100_000.0 * scale) as usize);
    let (others, other_messages) = (999, (100.0 * scale).max(10.0) as usize);
    let store = database.open(DIM).await.unwrap();
    let store: &dyn Store = &*store;
    let fake = FakeEmbedder::new(DIM);
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let vocab = Vocab::new(&mut rng);
    let mut f = Figures::default();

    let t = Instant::now();
    for i in 0..others {
        let u = store.create_user(&format!("user{i}"), "Asia/Seoul").await.unwrap().id;
        fill(store, &fake, u, other_messages, other_messages / 4, &vocab, &mut rng).await;
    }
    let big = store.create_user("bench", "Asia/Seoul").await.unwrap().id;
    let t_big = Instant::now();
    fill(store, &fake, big, big_messages, big_memories, &vocab, &mut rng).await;
    let big_secs = t_big.elapsed().as_secs_f64();
    f.build_secs = t.elapsed().as_secs_f64();
    f.index_rate = (big_messages + big_memories) as f64 / big_secs;
    let items = big_messages + big_memories + others * (other_messages + other_messages / 4);
    f.bytes_per_item = database_bytes(database) as f64 / items as f64;
    println!(
        "  {}: 1 user with {big_messages} messages + {big_memories} memories, {others} others with {other_messages} messages each; built in {:.0} s",
        database.display(),
        f.build_secs
    );

    let now = Utc::now();
    for _ in 0..20 {
        recall(store, &fake, big, &query(&vocab, &mut rng), 10, now).await.unwrap(); // warm the caches
    }
    let (mut ft, mut vt) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..50 {
        let q = query(&vocab, &mut rng);
        let t = Instant::now();
        store.search_text(big, &q, 40).await.unwrap();
        ft += t.elapsed();
        let v = fake.vector(&q);
        let t = Instant::now();
        store.search_vectors(big, &v, 40).await.unwrap();
        vt += t.elapsed();
    }
    f.text_ms = ft.as_secs_f64() * 20.0;
    f.vector_ms = vt.as_secs_f64() * 20.0;
    let mut times = Vec::new();
    for _ in 0..300 {
        let q = query(&vocab, &mut rng);
        let t = Instant::now();
        let got = recall(store, &fake, big, &q, 10, now).await.unwrap();
        times.push(t.elapsed());
        assert!(!got.is_empty());
    }
    times.sort();
    (f.p50, f.p95, f.p99) = (percentile(&times, 0.5), percentile(&times, 0.95), percentile(&times, 0.99));
    f
}

/// The database's size on disk: SQLite's file with its WAL, PostgreSQL's pg_database_size.
fn database_bytes(database: &Database) -> u64 {
    match database {
        Database::Sqlite(path) => ["", "-wal"]
            .iter()
            .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
            .map(|m| m.len())
            .sum(),
        Database::Postgres(url) => {
            let port = url.rsplit(':').next().unwrap().split('/').next().unwrap();
            let out = std::process::Command::new("/usr/lib/postgresql/15/bin/psql")
                .args(["-h", "127.0.0.1", "-p", port, "-U", "pai", "-d", "pai", "-qAt", "-c"])
                .arg("CHECKPOINT; SELECT pg_database_size('pai')")
                .output()
                .expect("psql");
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
        }
    }
}

/// A fresh database in a private PostgreSQL cluster (stopped when this process ends).
fn postgres() -> Database {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh");
    let dir = std::env::temp_dir().join(format!("pai-bench-pg-{}", std::process::id()));
    let out = std::process::Command::new("bash")
        .arg(script)
        .args(["start".as_ref(), dir.as_os_str(), std::process::id().to_string().as_ref()])
        .output()
        .expect("scripts/postgres.sh");
    assert!(out.status.success(), "PostgreSQL did not start: {}", String::from_utf8_lossy(&out.stderr));
    Database::parse(String::from_utf8_lossy(&out.stdout).trim()).unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let scale: f64 = std::env::var("PAI_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let backends = std::env::var("PAI_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let dir = std::env::temp_dir().join(format!("pai-bench-recall-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut results: Vec<(&str, Figures)> = Vec::new();
    for backend in backends.split(',') {
        let database = match backend {
            "sqlite" => Database::Sqlite(dir.join("pai.db")),
            "postgres" => postgres(),
            other => panic!("PAI_BENCH_BACKENDS: unknown backend {other}"),
        };
        println!("building and measuring on {backend}…");
        results.push((if backend == "sqlite" { "SQLite" } else { "PostgreSQL" }, measure(&database, scale).await));
    }
    println!("\nrecall, k=10, store side (fake embedder at 384 dimensions), 300 queries after 20 warm-up:");
    print!("{:<34}", "");
    for (name, _) in &results {
        print!("{name:>12}");
    }
    println!("{}", if results.len() == 2 { "   PG/SQLite" } else { "" });
    let row = |label: &str, get: fn(&Figures) -> f64, unit: &str| {
        print!("{:<34}", format!("{label} ({unit})"));
        for (_, f) in &results {
            print!("{:>12.2}", get(f));
        }
        if let [(_, a), (_, b)] = results.as_slice() {
            print!("{:>12.2}", get(b) / get(a));
        }
        println!();
    };
    row("recall p50", |f| f.p50, "ms");
    row("recall p95", |f| f.p95, "ms");
    row("recall p99", |f| f.p99, "ms");
    row("full-text search, 40 hits", |f| f.text_ms, "ms");
    row("vector search, 40 hits", |f| f.vector_ms, "ms");
    row("indexing, big user", |f| f.index_rate, "items/s");
    row("building all data", |f| f.build_secs, "s");
    row("disk per item", |f| f.bytes_per_item, "bytes");
    // The real embedder: query embedding latency, and message indexing throughput.
    let models = std::env::var_os("PAI_MODELS_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("PAI_HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".local/share/pai"));
        home.join("models")
    });
    let path = models.join(pai_engine::catalog::DEFAULT_EMBEDDING_MODEL);
    let Ok(e5) = pai_engine::LlamaEmbedder::load(&path, &Default::default()) else {
        println!("(e5 not installed: run make fetch-models for the end-to-end figures)");
        return;
    };
    let mut rng = Rng(0x5DEECE66D);
    let vocab = Vocab::new(&mut rng);
    let mut q_times = Vec::new();
    for _ in 0..100 {
        let q = query(&vocab, &mut rng);
        let t = Instant::now();
        e5.embed(vec![q], EmbedKind::Query).await.unwrap();
        q_times.push(t.elapsed());
    }
    q_times.sort();
    println!(
        "e5 query embedding: p50 {:.2} ms, p95 {:.2} ms → end-to-end recall p95 ≈ {:.2} ms",
        percentile(&q_times, 0.5),
        percentile(&q_times, 0.95),
        results[0].1.p95 + percentile(&q_times, 0.95)
    );
    let store2 = Database::Sqlite(dir.join("e5.db")).open(384).await.unwrap();
    let store2: &dyn Store = &*store2;
    let u = store2.create_user("e5", "Asia/Seoul").await.unwrap().id;
    let n = (2000.0 * scale.max(0.25)) as usize;
    let t = Instant::now();
    fill(store2, &e5, u, n, 0, &vocab, &mut rng).await;
    println!("indexing with e5 embeddings: {:.0} messages/s ({n} messages)", n as f64 / t.elapsed().as_secs_f64());
    let _ = std::fs::remove_dir_all(&dir);
}
