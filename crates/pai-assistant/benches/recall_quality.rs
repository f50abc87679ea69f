//! Recall quality on the hand-written set in `bench/recall-quality/` (issue
//! "Recall that finds what the user said"): long two-person histories in
//! Korean and English with questions whose answers sit in labelled turns.
//!
//! Every user's history is imported as `pai import --no-extract` would
//! (messages only, indexed with the real e5), then each question goes through
//! `recall()` with k = 10, exactly what `POST /api/recall` runs. In the same
//! run, on the same turns and questions, two plain BM25 baselines (Okapi,
//! k1 = 1.2, b = 0.75, pai's analyzer for terms: lowercase words and CJK
//! bigrams, no stop list) and e5 cosine alone are ranked.
//!
//! A hit counts the turns its provenance names, in order: recall@k is the
//! share of a question's evidence turns among the first k turns named, so an
//! item naming two turns uses up two of the k.
//!
//! Users marked held out (a third of the set) are never looked at while
//! tuning; both parts are printed.
//!
//! `bench/recall-quality.sh` builds the set and runs this. Environment:
//! PAI_RECALL_SET (the set's JSON, required), PAI_RECALL_DB (a database to
//! keep between runs: imported once, reused after), PAI_RECALL_OUT (one JSON
//! line per question with the rankings, for reading failures),
//! PAI_RECALL_TUNE (other weights than recall's defaults, e.g.
//! "text=1,vector=0.4,speaker=0.2,recency=0.1").

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pai_assistant::import::{Format, ParseOptions, import, parse};
use pai_assistant::recall::{Tuning, recall_tuned};
use pai_core::analyzer::{query_terms, terms};
use pai_core::store::{ItemRef, Store, UserId};
use pai_core::{EmbedKind, Embedder};
use pai_store::SqliteStore;
use serde::Deserialize;

const K: usize = 10;

#[derive(Deserialize)]
struct Set {
    users: Vec<SetUser>,
}

#[derive(Deserialize)]
struct SetUser {
    user: String,
    timezone: String,
    held_out: bool,
    conversations: serde_json::Value,
    questions: Vec<Question>,
}

#[derive(Deserialize, Clone)]
struct Question {
    id: String,
    kind: String,
    lang: String,
    cross_lingual: bool,
    question: String,
    evidence: Vec<String>,
}

/// A turn as the baselines see it.
struct Turn {
    external_id: String,
    speaker: String,
    text: String,
}

/// Okapi BM25 over one user's turns.
struct Bm25 {
    docs: Vec<(String, HashMap<String, u32>, usize)>,
    df: HashMap<String, u32>,
    avgdl: f64,
}

impl Bm25 {
    fn new(turns: &[Turn], with_speaker: bool) -> Self {
        let mut df: HashMap<String, u32> = HashMap::new();
        let docs: Vec<_> = turns
            .iter()
            .map(|t| {
                let text = if with_speaker { format!("{}: {}", t.speaker, t.text) } else { t.text.clone() };
                let ts = terms(&text);
                let mut tf: HashMap<String, u32> = HashMap::new();
                for term in &ts {
                    *tf.entry(term.clone()).or_default() += 1;
                }
                for term in tf.keys() {
                    *df.entry(term.clone()).or_default() += 1;
                }
                (t.external_id.clone(), tf, ts.len())
            })
            .collect();
        let avgdl = docs.iter().map(|d| d.2 as f64).sum::<f64>() / docs.len().max(1) as f64;
        Bm25 { docs, df, avgdl }
    }

    fn rank(&self, query: &str, k: usize) -> Vec<String> {
        let (k1, b) = (1.2, 0.75);
        let n = self.docs.len() as f64;
        let q = query_terms(query);
        let mut scored: Vec<(f64, usize)> = self
            .docs
            .iter()
            .enumerate()
            .map(|(i, (_, tf, len))| {
                let s = q
                    .iter()
                    .filter_map(|t| {
                        let f = *tf.get(t)? as f64;
                        let df = *self.df.get(t)? as f64;
                        let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
                        Some(idf * f * (k1 + 1.0) / (f + k1 * (1.0 - b + b * *len as f64 / self.avgdl)))
                    })
                    .sum();
                (s, i)
            })
            .filter(|(s, _)| *s > 0.0)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().take(k).map(|(_, i)| self.docs[i].0.clone()).collect()
    }
}

const METHODS: [&str; 4] = ["BM25 text", "BM25 speaker: text", "e5 alone", "pai recall"];
/// The baseline the target is measured against: the stronger BM25 on the benchmark.
const BASELINE: usize = 1;
const PAI: usize = 3;

/// recall@1, @5, @10 of one ranking (turn ids, best first).
fn recall_at(ranked: &[String], evidence: &[String]) -> [f64; 3] {
    let found = |k: usize| {
        evidence.iter().filter(|e| ranked.iter().take(k).any(|r| r == *e)).count() as f64 / evidence.len() as f64
    };
    [found(1), found(5), found(10)]
}

#[derive(Default, Clone)]
struct Sum {
    n: usize,
    at: [[f64; 3]; METHODS.len()],
}

impl Sum {
    fn add(&mut self, scores: &[[f64; 3]; METHODS.len()]) {
        self.n += 1;
        for (m, s) in scores.iter().enumerate() {
            for i in 0..3 {
                self.at[m][i] += s[i];
            }
        }
    }

    fn mean(&self, m: usize, i: usize) -> f64 {
        self.at[m][i] / self.n.max(1) as f64
    }
}

fn models_dir() -> PathBuf {
    std::env::var_os("PAI_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("PAI_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".local/share/pai"));
        home.join("models")
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

/// Turn ids named by a list of recalled items, in order, each once.
fn turns_named(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// Recall's default weights, with any PAI_RECALL_TUNE overrides.
fn tuning_from_env() -> Tuning {
    let mut t = Tuning::default();
    let spec = std::env::var("PAI_RECALL_TUNE").unwrap_or_default();
    for pair in spec.split(',').filter(|p| !p.trim().is_empty()) {
        let (name, value) = pair.split_once('=').expect("PAI_RECALL_TUNE: name=value,…");
        let value: f32 = value.trim().parse().expect("PAI_RECALL_TUNE: a number");
        match name.trim() {
            "text" => t.text = value,
            "vector" => t.vector = value,
            "speaker" => t.speaker = value,
            "recency" => t.recency = value,
            "after" => t.after = value,
            "before" => t.before = value,
            "translated" => t.translated = value,
            "when" => t.when = value,
            "memory" => t.memory = value,
            "assistant" => t.assistant = value,
            other => panic!("PAI_RECALL_TUNE: unknown weight {other}"),
        }
    }
    t
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(set_path) = std::env::var_os("PAI_RECALL_SET") else {
        eprintln!("PAI_RECALL_SET is not set: run bench/recall-quality.sh");
        std::process::exit(2);
    };
    let set: Set = serde_json::from_slice(&std::fs::read(&set_path).expect("read the set")).expect("parse the set");
    let e5_path = models_dir().join(pai_engine::catalog::DEFAULT_EMBEDDING_MODEL);
    let e5 = match pai_engine::LlamaEmbedder::load(&e5_path, &Default::default()) {
        Ok(e5) => e5,
        Err(e) => {
            eprintln!("{e}: run make fetch-models");
            std::process::exit(2);
        }
    };
    let db = std::env::var_os("PAI_RECALL_DB").map(PathBuf::from).unwrap_or_else(|| {
        std::env::temp_dir().join(format!("pai-recall-quality-{}", std::process::id())).join("pai.db")
    });
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let store = SqliteStore::open(&db, e5.dimension()).await.expect("open the store");

    // Import each user once (a kept database is reused as it is).
    let mut users: Vec<(UserId, DateTime<Utc>, Vec<Turn>)> = Vec::new();
    let started = Instant::now();
    let mut imported_turns = 0;
    for u in &set.users {
        let bytes = serde_json::to_vec(&u.conversations).unwrap();
        let (_, conversations) =
            parse(&bytes, &ParseOptions { format: Some(Format::Pai), ..Default::default() }).expect("the set imports");
        let turns: Vec<Turn> = conversations
            .iter()
            .flat_map(|c| &c.messages)
            .map(|m| Turn {
                external_id: m.external_id.clone().unwrap(),
                speaker: m.speaker.clone().unwrap_or_else(|| u.user.clone()),
                text: m.content.clone(),
            })
            .collect();
        let last = conversations.iter().flat_map(|c| &c.messages).map(|m| m.created_at).max().unwrap();
        let id = match store.user_by_name(&u.user).await.unwrap() {
            Some(existing) => existing.id,
            None => {
                let id = store.create_user(&u.user, &u.timezone).await.unwrap().id;
                let report = import(&store, &e5, id, conversations, &mut |_| {}).await.expect("import");
                imported_turns += report.messages;
                id
            }
        };
        // Asked a month after the last session, as a user asks later.
        users.push((id, last + chrono::Duration::days(30), turns));
    }
    if imported_turns > 0 {
        println!(
            "imported {imported_turns} turns of {} users in {:.1} s (e5 indexing included)",
            set.users.len(),
            started.elapsed().as_secs_f64()
        );
    }

    let tuning = tuning_from_env();
    println!("{tuning:?}");
    let mut out = std::env::var_os("PAI_RECALL_OUT").map(|p| std::fs::File::create(p).expect("create PAI_RECALL_OUT"));
    let mut groups: BTreeMap<String, Sum> = BTreeMap::new();
    let mut latencies = Vec::new();
    for (u, (user, now, turns)) in set.users.iter().zip(&users) {
        let bm25 = [Bm25::new(turns, false), Bm25::new(turns, true)];
        let part = if u.held_out { "held-out" } else { "dev" };
        for q in &u.questions {
            let t = Instant::now();
            let recalled = recall_tuned(&store, &e5, *user, &q.question, K, *now, tuning).await.expect("recall");
            latencies.push(t.elapsed());
            let pai = turns_named(recalled.into_iter().flat_map(|r| r.provenance.external_ids));
            let qv = e5.embed(vec![q.question.clone()], EmbedKind::Query).await.unwrap().pop().unwrap();
            let hits = store.search_vectors(*user, &qv, K).await.unwrap();
            let ids: Vec<_> =
                hits.iter().filter_map(|h| if let ItemRef::Message(id) = h.item { Some(id) } else { None }).collect();
            let by_id = store.messages_by_id(*user, &ids).await.unwrap();
            let e5_alone =
                turns_named(ids.iter().filter_map(|id| by_id.iter().find(|m| m.id == *id)?.external_id.clone()));
            let rankings = [bm25[0].rank(&q.question, K), bm25[1].rank(&q.question, K), e5_alone, pai];
            let scores: [[f64; 3]; METHODS.len()] = std::array::from_fn(|m| recall_at(&rankings[m], &q.evidence));
            let mut keys = vec![
                format!("{part} all"),
                format!("{part} kind {}", q.kind),
                format!("{part} question {}", q.lang),
                format!("{part} question {} kind {}", q.lang, q.kind),
                format!("all"),
            ];
            if q.cross_lingual {
                keys.push(format!("{part} cross-lingual"));
            }
            for key in keys {
                groups.entry(key).or_default().add(&scores);
            }
            if let Some(f) = out.as_mut() {
                let line = serde_json::json!({
                    "id": q.id, "kind": q.kind, "lang": q.lang, "question": q.question, "evidence": q.evidence,
                    "scores": scores, "rankings": rankings,
                });
                writeln!(f, "{line}").unwrap();
            }
        }
    }

    println!("\nrecall@1/5/10 of evidence turns (k = {K}); baseline = {}; Δ = pai − baseline at 10", METHODS[BASELINE]);
    print!("{:<38} {:>4}", "questions", "n");
    for m in METHODS {
        print!(" | {m:^20}");
    }
    println!(" |   Δ@10");
    let order = |k: &String| {
        let part = if k.starts_with("dev") {
            0
        } else if k.starts_with("held-out") {
            1
        } else {
            2
        };
        (part, !k.ends_with(" all"), k.clone())
    };
    let mut keys: Vec<&String> = groups.keys().collect();
    keys.sort_by_key(|k| order(k));
    for key in keys {
        let s = &groups[key];
        print!("{key:<38} {:>4}", s.n);
        for m in 0..METHODS.len() {
            print!(" | {:.3}  {:.3}  {:.3}", s.mean(m, 0), s.mean(m, 1), s.mean(m, 2));
        }
        println!(" | {:+.3}", s.mean(PAI, 2) - s.mean(BASELINE, 2));
    }
    latencies.sort();
    println!(
        "\npai recall latency over {} questions: p50 {:.1} ms, p95 {:.1} ms (e5 query embedding included)",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95)
    );
    std::io::stdout().flush().unwrap();
}
