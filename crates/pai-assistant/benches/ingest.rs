//! Document benchmark (issue "Knowledge"):
//! 1. 1,000 generated documents (txt, md, html, pdf; Korean and English)
//!    ingested with the real e5 embedder: documents/s, pages/s, passages/s,
//!    embedding included.
//! 2. Recall latency with 100k passages for one user (vectors from the hashed
//!    fake embedder at 384-d, so the store is measured alone; the e5 query
//!    embedding is timed separately and added).
//!
//! `cargo bench -p pai-assistant --bench ingest` (or `bench/ingest.sh`).
//! PAI_BENCH_DOCS (1000) and PAI_BENCH_CHUNKS (100000) scale it.

use std::time::Instant;

use chrono::Utc;
use pai_assistant::knowledge::{ingest_bytes, sample_pdf};
use pai_assistant::recall::recall;
use pai_core::store::{DocumentFormat, NewChunk, NewDocument, Store};
use pai_core::{EmbedKind, Embedder};
use pai_engine::FakeEmbedder;
use pai_store::SqliteStore;

const EN: &[&str] = &[
    "The lease renews every spring and the deposit is kept by the agency.",
    "Our team meets on Mondays to review the quarterly budget and hiring plan.",
    "The dentist asked me to come back in March for a check-up and cleaning.",
    "Train tickets to Busan are cheaper if you book two weeks in advance.",
    "The recipe needs two onions, garlic, soy sauce and a spoon of sugar.",
    "Insurance covers hospital stays but not dental work or glasses.",
];
const KO: &[&str] = &[
    "임대 계약은 매년 봄에 갱신되며 보증금은 중개업소가 보관합니다.",
    "우리 팀은 월요일마다 분기 예산과 채용 계획을 검토합니다.",
    "치과에서 3월에 정기 검진과 스케일링을 받으러 다시 오라고 했다.",
    "부산행 기차표는 2주 전에 예매하면 더 저렴하다.",
    "이 요리에는 양파 두 개, 마늘, 간장, 설탕 한 숟가락이 필요하다.",
    "보험은 입원비는 보장하지만 치과 치료와 안경은 보장하지 않는다.",
];

fn paragraph(i: usize, sentences: usize) -> String {
    let pool = if i % 2 == 0 { EN } else { KO };
    (0..sentences).map(|j| pool[(i * 7 + j * 3) % pool.len()]).collect::<Vec<_>>().join(" ") + &format!(" ({i})")
}

/// Document `i`: (file name, bytes, pages).
fn document(i: usize) -> (String, Vec<u8>, usize) {
    match i % 4 {
        0 => (
            format!("note{i}.txt"),
            (0..4).map(|p| paragraph(i + p, 5)).collect::<Vec<_>>().join("\n\n").into_bytes(),
            1,
        ),
        1 => {
            let md = (0..3).map(|p| format!("## Part {p}\n\n{}\n", paragraph(i + p, 6))).collect::<String>();
            (format!("doc{i}.md"), format!("# Document {i}\n\n{md}").into_bytes(), 1)
        }
        2 => {
            let body =
                (0..3).map(|p| format!("<h2>Section {p}</h2><p>{}</p>", paragraph(i + p, 5))).collect::<String>();
            (
                format!("page{i}.html"),
                format!("<html><head><title>Page {i}</title></head><body>{body}</body></html>").into_bytes(),
                1,
            )
        }
        _ => {
            // Latin text only: the sample PDF writer uses a standard font.
            let pages: Vec<String> = (0..3).map(|p| paragraph((i + p) * 2, 4)).collect();
            let refs: Vec<&str> = pages.iter().map(String::as_str).collect();
            (format!("report{i}.pdf"), sample_pdf(&refs), 3)
        }
    }
}

/// A passage of the 100k set: 40 words drawn with a skew (few common, most
/// rare, as in real text) from synthetic Korean and English vocabularies,
/// and now and then a real sentence for the queries to find.
fn archive_passage(i: usize, rng: &mut u64) -> String {
    const EN_SYL: &[&str] =
        &["ka", "ri", "mon", "tel", "sa", "ver", "lo", "den", "mi", "tra", "bel", "cor", "pa", "ne"];
    const KO_SYL: &[&str] =
        &["가", "나", "다", "라", "마", "바", "사", "아", "자", "차", "카", "타", "파", "하", "강", "민"];
    let mut next = || {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    };
    let syl = if i % 2 == 0 { EN_SYL } else { KO_SYL };
    let mut words = Vec::with_capacity(41);
    for _ in 0..40 {
        // Skewed rank in a 4,000-word vocabulary: rank = 4000^u, u uniform.
        let u = (next() % 10_000) as f64 / 10_000.0;
        let rank = 4000f64.powf(u) as u64;
        let word: String = (0..2 + rank % 2).map(|k| syl[((rank * 31 + k * 7) % syl.len() as u64) as usize]).collect();
        words.push(word);
    }
    if i % 10 == 0 {
        words.push(paragraph(i, 1));
    }
    words.join(" ")
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("pai-bench-ingest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let models = std::env::var_os("PAI_MODELS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".local/share/pai/models"));
    // As `pai ingest` runs it: no chat model beside it, so every core embeds.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let config = pai_engine::LocalConfig { embedding_threads: Some(cores), ..Default::default() };
    let e5 = pai_engine::LlamaEmbedder::load(&models.join(pai_engine::catalog::DEFAULT_EMBEDDING_MODEL), &config)
        .expect("e5 installed (make fetch-models)");

    // 1. Ingestion with real embeddings.
    let docs = env("PAI_BENCH_DOCS", 1000);
    let store = SqliteStore::open(&dir.join("ingest.db"), e5.dimension()).await.unwrap();
    let user = store.create_user("bench", "Asia/Seoul").await.unwrap().id;
    let (mut pages, mut chunks) = (0, 0);
    let started = Instant::now();
    for i in 0..docs {
        let (name, bytes, p) = document(i);
        let (doc, _) = ingest_bytes(&store, &e5, user, &name, bytes).await.unwrap();
        pages += p;
        chunks += doc.chunks as usize;
    }
    let took = started.elapsed().as_secs_f64();
    println!(
        "ingest {docs} documents (txt/md/html/pdf, KO/EN), e5 embeddings included: {:.1} documents/s, {:.1} pages/s, {:.1} passages/s ({chunks} passages, {took:.1} s)",
        docs as f64 / took,
        pages as f64 / took,
        chunks as f64 / took
    );

    // 2. Recall among 100k passages for one user.
    let target = env("PAI_BENCH_CHUNKS", 100_000);
    let fake = FakeEmbedder::new(384);
    let big = SqliteStore::open(&dir.join("recall.db"), 384).await.unwrap();
    let user = big.create_user("bench", "Asia/Seoul").await.unwrap().id;
    let started = Instant::now();
    let per_doc = 100;
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for d in 0..target.div_ceil(per_doc) {
        let chunks: Vec<NewChunk> = (0..per_doc)
            .map(|c| {
                let text = archive_passage(d * per_doc + c, &mut rng);
                NewChunk { text, page: Some(1 + c as u32 / 10), heading: None, start: 0, end: 0 }
            })
            .collect();
        let doc = NewDocument {
            title: format!("Archive {d}"),
            source: format!("archive/{d}.txt"),
            format: DocumentFormat::Text,
            content_hash: format!("{d}"),
            bytes: 0,
            pages: Some(10),
            chunks,
        };
        big.put_document(user, doc).await.unwrap();
        while pai_assistant::index::embed_pending(&big, &fake, user, 1000).await.unwrap() > 0 {}
    }
    println!("stored and indexed {target} passages in {:.0} s (fake embedder)", started.elapsed().as_secs_f64());
    let queries = [
        "when is the dentist",
        "부산 기차표",
        "insurance glasses",
        "임대 계약 갱신",
        "budget review",
        "양파 마늘 요리",
    ];
    let mut times = Vec::new();
    for round in 0..40 {
        for q in queries {
            let t = Instant::now();
            let hits = recall(&big, &fake, user, &format!("{q} {}", round % 3), 10, Utc::now()).await.unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(!hits.is_empty());
        }
    }
    // Where the time goes: words and meaning searched alone.
    let (mut text_t, mut vec_t) = (Vec::new(), Vec::new());
    for q in queries.iter().cycle().take(30) {
        let t = Instant::now();
        big.search_text(user, q, 40).await.unwrap();
        text_t.push(t.elapsed().as_secs_f64() * 1000.0);
        let v = fake.embed(vec![q.to_string()], EmbedKind::Query).await.unwrap().remove(0);
        let t = Instant::now();
        big.search_vectors(user, &v, 40).await.unwrap();
        vec_t.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!("  full text p95 {:.1} ms, vectors p95 {:.1} ms", percentile(&text_t, 0.95), percentile(&vec_t, 0.95));
    let mut e5_times = Vec::new();
    for q in queries.iter().cycle().take(60) {
        let t = Instant::now();
        e5.embed(vec![q.to_string()], EmbedKind::Query).await.unwrap();
        e5_times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "recall k=10 among {target} passages (store side): p50 {:.1} ms, p95 {:.1} ms; e5 query p95 {:.1} ms → end-to-end p95 ≈ {:.1} ms",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        percentile(&e5_times, 0.95),
        percentile(&times, 0.95) + percentile(&e5_times, 0.95)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
