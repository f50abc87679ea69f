//! Indexing and hybrid recall over a real SQLite store, with the fake embedder
//! (deterministic) and with the default e5 embedder (semantic, cross-lingual).

use std::path::PathBuf;

use chrono::{Duration, Utc};
use pai_assistant::index::embed_pending;
use pai_assistant::recall::{RecalledKind, recall};
use pai_core::Role;
use pai_core::store::{ItemRef, MemoryKind, NewMemory, NewMessage, Store, UserId};
use pai_core::{Embedder, Error};
use pai_engine::FakeEmbedder;
use pai_store::SqliteStore;

fn db_path() -> PathBuf {
    pai_testkit::scratch_dir("recall").join("pai.db")
}

fn memory(text: &str, importance: f32, sources: Vec<pai_core::store::MessageId>) -> NewMemory {
    NewMemory { text: text.into(), kind: MemoryKind::Fact, subject: None, importance, valid_from: None, sources }
}

/// A user with one imported conversation and a memory learned from it.
async fn seeded(store: &dyn Store, name: &str) -> UserId {
    let user = store.create_user(name, "Asia/Seoul").await.unwrap().id;
    let conv = store.create_conversation(user, "imported").await.unwrap().id;
    let msgs = store
        .add_messages(
            user,
            conv,
            vec![
                NewMessage {
                    role: Role::User,
                    speaker: None,
                    content: "We finally moved to Busan, near Haeundae beach".into(),
                    created_at: Utc::now() - Duration::days(200),
                    external_id: Some(format!("{name}-msg-1")),
                },
                NewMessage {
                    role: Role::User,
                    speaker: None,
                    content: "My favourite drink is green tea".into(),
                    created_at: Utc::now() - Duration::days(3),
                    external_id: None,
                },
            ],
        )
        .await
        .unwrap();
    store.add_memory(user, memory("Lives in Busan (moved there this year)", 0.9, vec![msgs[0].id])).await.unwrap();
    store.add_memory(user, memory("Prefers green tea to coffee", 0.6, vec![msgs[1].id])).await.unwrap();
    user
}

#[tokio::test]
async fn pending_items_are_embedded_once() {
    let embedder = FakeEmbedder::new(64);
    let store = SqliteStore::open(&db_path(), 64).await.unwrap();
    let user = seeded(&store, "minji").await;
    assert_eq!(embed_pending(&store, &embedder, user, 100).await.unwrap(), 4);
    assert_eq!(embed_pending(&store, &embedder, user, 100).await.unwrap(), 0);
    let wrong = SqliteStore::open(&db_path(), 32).await.unwrap();
    let err = embed_pending(&wrong, &embedder, user, 10).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
}

#[tokio::test]
async fn the_background_indexer_finishes_what_a_stopped_one_left() {
    let embedder: std::sync::Arc<dyn Embedder> = std::sync::Arc::new(FakeEmbedder::new(64));
    let path = db_path();
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(SqliteStore::open(&path, 64).await.unwrap());
    let minji = seeded(&*store, "minji").await;
    let tom = seeded(&*store, "tom").await;
    let done = store.create_user("done", "UTC").await.unwrap().id;
    assert_eq!(store.users_with_unembedded_items(10).await.unwrap(), vec![minji, tom]);
    // Stopped from the start, the first indexer ends after one pass, as a killed server would.
    let first = pai_assistant::index::Indexer::new(store.clone(), embedder.clone());
    first.run(async {}).await;
    // A new one (a restart) finds both users in the store and embeds their items.
    let second = std::sync::Arc::new(pai_assistant::index::Indexer::new(store.clone(), embedder.clone()));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn({
        let second = second.clone();
        async move { second.run(async { rx.await.unwrap_or(()) }).await }
    });
    pai_testkit::eventually("the worker to embed every user's items", async || {
        store.users_with_unembedded_items(10).await.unwrap().is_empty().then_some(())
    })
    .await;
    assert_eq!(embed_pending(&*store, &*embedder, minji, 100).await.unwrap(), 0);
    let _ = tx.send(());
    worker.await.unwrap();
    assert!(!second.run_one().await && store.items_without_vectors(done, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn recall_fuses_text_and_vectors_with_provenance_and_stays_per_user() {
    let embedder = FakeEmbedder::new(64);
    let store = SqliteStore::open(&db_path(), 64).await.unwrap();
    let minji = seeded(&store, "minji").await;
    let tom = seeded(&store, "tom").await;
    for user in [minji, tom] {
        embed_pending(&store, &embedder, user, 100).await.unwrap();
    }
    let hits = recall(&store, &embedder, minji, "where does she live? Busan?", 3, Utc::now()).await.unwrap();
    assert!(!hits.is_empty());
    let top = &hits[0];
    assert_eq!(top.kind, RecalledKind::Memory, "{hits:#?}");
    assert!(top.text.contains("Busan"));
    assert_eq!(top.provenance.external_ids, vec!["minji-msg-1".to_string()]);
    assert!(top.provenance.conversation.is_some() && top.provenance.messages.len() == 1);
    // Both the memory and the message it came from are found; none of Tom's.
    assert!(hits.iter().any(|h| h.kind == RecalledKind::Message && h.text.contains("Haeundae")));
    let toms: Vec<ItemRef> =
        recall(&store, &embedder, tom, "Busan", 10, Utc::now()).await.unwrap().iter().map(|h| h.item).collect();
    assert!(hits.iter().all(|h| !toms.contains(&h.item)));
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(recall(&store, &embedder, minji, "  ", 5, Utc::now()).await.unwrap().is_empty());
}

#[tokio::test]
async fn superseded_memories_are_not_recalled() {
    let embedder = FakeEmbedder::new(64);
    let store = SqliteStore::open(&db_path(), 64).await.unwrap();
    let user = store.create_user("u", "Asia/Seoul").await.unwrap().id;
    let seoul = store.add_memory(user, memory("Lives in Seoul", 0.9, vec![])).await.unwrap();
    embed_pending(&store, &embedder, user, 10).await.unwrap();
    store.supersede_memory(user, seoul.id, memory("Lives in Busan", 0.9, vec![]), Utc::now()).await.unwrap();
    embed_pending(&store, &embedder, user, 10).await.unwrap();
    let hits = recall(&store, &embedder, user, "Lives in Seoul", 5, Utc::now()).await.unwrap();
    assert!(hits.iter().all(|h| h.item != ItemRef::Memory(seoul.id)), "{hits:#?}");
    assert_eq!(hits[0].text, "Lives in Busan");
}

/// A two-person chat as an import stores it: the user's turns, and the
/// friend's as "other" with their name; one minute apart from `start` days ago.
async fn chat(
    store: &dyn Store,
    user: UserId,
    turns: &[(&str, &str)],
    days_ago: i64,
) -> Vec<pai_core::store::MessageId> {
    let start = Utc::now() - Duration::days(days_ago);
    let messages = turns
        .iter()
        .enumerate()
        .map(|(i, (who, text))| NewMessage {
            role: Role::User,
            speaker: (*who != "me").then(|| who.to_string()),
            content: text.to_string(),
            created_at: start + Duration::minutes(i as i64),
            external_id: Some(format!("t{days_ago}-{i}")),
        })
        .collect();
    let (_, stored) = store.import_conversation(user, "chat", messages, &[]).await.unwrap();
    stored.iter().map(|m| m.id).collect()
}

async fn top(store: &dyn Store, embedder: &dyn Embedder, user: UserId, q: &str, k: usize) -> Vec<String> {
    recall(store, embedder, user, q, k, Utc::now()).await.unwrap().into_iter().map(|h| h.text).collect()
}

/// What the user said about herself is found when the question names her;
/// her friend's turns that only call her by name are not.
#[tokio::test]
async fn a_question_naming_the_user_finds_her_own_turns() {
    let embedder = FakeEmbedder::new(64);
    let store = SqliteStore::open(&db_path(), 64).await.unwrap();
    let user = store.create_user("Minji", "Asia/Seoul").await.unwrap().id;
    chat(
        &store,
        user,
        &[
            ("Jisoo", "Minji! Minji! are you coming to class tonight, Minji?"),
            ("me", "not tonight, I went to pottery class yesterday"),
            ("Jisoo", "Minji you and your class, Minji"),
            ("Jisoo", "Minji, Minji, pottery class photos please Minji"),
        ],
        40,
    )
    .await;
    embed_pending(&store, &embedder, user, 100).await.unwrap();
    let got = top(&store, &embedder, user, "When did Minji go to pottery class?", 1).await;
    assert_eq!(got, ["not tonight, I went to pottery class yesterday"]);
}

/// "Who made it?" → "Hannah!": the answer to a matching question comes with it.
#[tokio::test]
async fn the_answer_after_a_matching_question_is_recalled() {
    let embedder = FakeEmbedder::new(64);
    let store = SqliteStore::open(&db_path(), 64).await.unwrap();
    let user = store.create_user("Marcus", "Europe/London").await.unwrap().id;
    chat(
        &store,
        user,
        &[
            ("Priya", "that dinosaur birthday cake looks amazing, who baked the cake?"),
            ("me", "Hannah! she was up all night"),
            ("Priya", "she's a legend"),
        ],
        30,
    )
    .await;
    for d in 0..6 {
        chat(&store, user, &[("Priya", "any cake left?"), ("me", "a birthday is a birthday haha")], 20 - d).await;
    }
    embed_pending(&store, &embedder, user, 100).await.unwrap();
    let got = top(&store, &embedder, user, "Who baked Leo's birthday cake?", 3).await;
    assert!(got.iter().any(|t| t.starts_with("Hannah!")), "{got:#?}");
}

/// An English question finds a Korean turn by its words (the lexicon), with
/// an embedder that knows no meaning at all.
#[tokio::test]
async fn a_question_in_one_language_finds_turns_in_the_other() {
    let embedder = FakeEmbedder::new(64);
    let store = SqliteStore::open(&db_path(), 64).await.unwrap();
    let user = store.create_user("준호", "Asia/Seoul").await.unwrap().id;
    chat(
        &store,
        user,
        &[("태현", "주말에 뭐 했노"), ("me", "어제 중고차 샀다 ㅋㅋ 2020년식 쏘렌토"), ("태현", "오 축하한다")],
        30,
    )
    .await;
    embed_pending(&store, &embedder, user, 100).await.unwrap();
    let got = top(&store, &embedder, user, "When did I buy a used car?", 1).await;
    assert_eq!(got, ["어제 중고차 샀다 ㅋㅋ 2020년식 쏘렌토"]);
    let got = top(&store, &embedder, user, "차 언제 샀어?", 1).await;
    assert_eq!(got, ["어제 중고차 샀다 ㅋㅋ 2020년식 쏘렌토"]);
}

/// "When did…?" finds the turn that says when, not a later mention that
/// matches as well (and is fresher).
#[tokio::test]
async fn a_when_question_prefers_the_turn_that_dates_the_event() {
    // Wide enough that hashed features seldom collide: the two turns are as close to the question.
    let embedder = FakeEmbedder::new(384);
    let store = SqliteStore::open(&db_path(), 384).await.unwrap();
    let user = store.create_user("Emma", "America/Los_Angeles").await.unwrap().id;
    chat(&store, user, &[("me", "my kitten Mochi came home yesterday")], 90).await;
    chat(&store, user, &[("me", "my kitten Mochi came home drenched")], 10).await;
    embed_pending(&store, &embedder, user, 100).await.unwrap();
    let got = top(&store, &embedder, user, "When did Mochi come home?", 1).await;
    assert_eq!(got, ["my kitten Mochi came home yesterday"]);
}

/// The real default embedder: a Korean question finds an English memory
/// with no word in common, through the vectors alone.
#[tokio::test]
async fn cross_lingual_recall_with_the_default_embedder() {
    let models = std::env::var_os("PAI_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("PAI_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".local/share/pai"));
        home.join("models")
    });
    let path = models.join(pai_engine::catalog::DEFAULT_EMBEDDING_MODEL);
    assert!(path.exists(), "{} missing: run make fetch-models", path.display());
    let embedder = pai_engine::LlamaEmbedder::load(&path, &Default::default()).unwrap();
    let store = SqliteStore::open(&db_path(), embedder.dimension()).await.unwrap();
    let user = store.create_user("u", "Asia/Seoul").await.unwrap().id;
    let texts = [
        "My daughter Jiwoo is seven years old",
        "Allergic to peanuts",
        "Works as a nurse at a hospital in Seoul",
        "The dog is called Bori",
        "Plays the piano every evening",
    ];
    let mut ids = Vec::new();
    for t in texts {
        ids.push(store.add_memory(user, memory(t, 0.5, vec![])).await.unwrap().id);
    }
    embed_pending(&store, &embedder, user, 100).await.unwrap();
    for (query, want) in [("우리 딸 몇 살이야?", 0), ("땅콩 먹어도 돼?", 1), ("강아지 이름", 3)] {
        let hits = recall(&store, &embedder, user, query, 3, Utc::now()).await.unwrap();
        assert_eq!(hits[0].item, ItemRef::Memory(ids[want]), "{query}: {hits:#?}");
    }
}

#[tokio::test]
async fn a_watched_folder_is_kept_in_sync() {
    use pai_assistant::knowledge::{SyncReport, sync_folder};
    let store = pai_store::SqliteStore::open(&pai_testkit::scratch_dir("sync").join("pai.db"), 64).await.unwrap();
    let embedder = pai_engine::FakeEmbedder::new(64);
    let user = store.create_user("u", "Asia/Seoul").await.unwrap().id;
    let dir = pai_testkit::scratch_dir("sync-docs");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("a.md"), "# A\n\nApples grow in Daegu.").unwrap();
    std::fs::write(dir.join("sub/b.txt"), "Bananas are yellow.").unwrap();
    std::fs::write(dir.join("c.bin"), [0u8, 1, 2]).unwrap();
    std::fs::write(dir.join("bad.txt"), "").unwrap();
    let r = sync_folder(&store, &embedder, user, &dir).await.unwrap();
    assert_eq!((r.added, r.updated, r.unchanged, r.removed, r.failed.len()), (2, 0, 0, 0, 1), "{r:?}");
    assert_eq!(
        sync_folder(&store, &embedder, user, &dir).await.unwrap(),
        SyncReport { unchanged: 2, failed: r.failed.clone(), ..Default::default() }
    );
    std::fs::write(dir.join("a.md"), "# A\n\nApples grow in Yeongju now.").unwrap();
    std::fs::remove_file(dir.join("sub/b.txt")).unwrap();
    let r = sync_folder(&store, &embedder, user, &dir).await.unwrap();
    assert_eq!((r.added, r.updated, r.removed), (0, 1, 1), "{r:?}");
    let docs = store.documents(user).await.unwrap();
    assert_eq!(docs.len(), 1);
    let hits = store.search_text(user, "Yeongju", 5).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert!(store.search_text(user, "Bananas", 5).await.unwrap().is_empty());
    // Every passage got its vector.
    assert!(store.items_without_vectors(user, 10).await.unwrap().is_empty());
}
