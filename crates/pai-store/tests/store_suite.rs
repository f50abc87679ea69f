//! The store contract. Every backend runs this same suite: each test below
//! runs once on SQLite (a fresh file) and once on PostgreSQL (a fresh
//! database in a private cluster that `scripts/postgres.sh` starts for this
//! test process and stops when it ends).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{TimeZone, Utc};
use pai_core::Error;
use pai_core::Role;
use pai_core::store::{ItemRef, MemoryKind, MessageId, NewMemory, NewMessage, Store, TextHit, UserId};
use pai_store::{Backend, Database};

/// Vector size for the suite: small, so expected neighbours are easy to write.
const DIM: usize = 8;

fn next_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// A fresh, empty database of one backend; `open` may be called again on it.
struct Db(Database);

impl Db {
    fn sqlite() -> Db {
        Db(Database::Sqlite(pai_testkit::scratch_dir("store").join("pai.db")))
    }

    async fn postgres() -> Db {
        let admin = cluster();
        let name = format!("suite_{}", next_name());
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
        Db(Database::Postgres(format!("{}/{name}", admin.rsplit_once('/').unwrap().0)))
    }

    async fn open(&self, dim: usize) -> pai_core::Result<Arc<dyn Backend>> {
        self.0.open(dim).await
    }

    async fn store(&self) -> Arc<dyn Backend> {
        self.open(DIM).await.unwrap()
    }
}

/// The URL of this process's PostgreSQL cluster, started on first use.
fn cluster() -> &'static str {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh");
        let dir = std::env::temp_dir().join(format!("pai-store-pg-{}", std::process::id()));
        let out = std::process::Command::new("bash")
            .arg(&script)
            .arg("start")
            .arg(&dir)
            .arg(std::process::id().to_string())
            .output()
            .expect("run scripts/postgres.sh");
        assert!(
            out.status.success(),
            "cannot start PostgreSQL for the store suite (install it with `sudo scripts/postgres.sh install`): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

/// Each test, once per backend.
macro_rules! suite {
    ($($(#[$($flavor:tt)*])? $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test $(($($flavor)*))?]
                async fn $name() {
                    super::$name(super::Db::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test $(($($flavor)*))?]
                async fn $name() {
                    super::$name(super::Db::postgres().await).await
                }
            )*
        }
    };
}

fn msg(role: Role, content: &str) -> NewMessage {
    NewMessage { role, speaker: None, content: content.into(), created_at: Utc::now(), external_id: None }
}

fn memory(text: &str, sources: Vec<MessageId>) -> NewMemory {
    NewMemory { text: text.into(), kind: MemoryKind::Fact, subject: None, importance: 0.5, valid_from: None, sources }
}

/// Two users, each with a conversation of two messages.
async fn two_users(store: &dyn Store) -> [(UserId, pai_core::store::ConversationId, Vec<MessageId>); 2] {
    let mut out = Vec::new();
    for name in ["Minji", "Tom"] {
        let user = store.create_user(name, "Asia/Seoul").await.unwrap();
        let conv = store.create_conversation(user.id, "first").await.unwrap();
        let msgs = store
            .add_messages(
                user.id,
                conv.id,
                vec![msg(Role::User, "작년에 부산으로 이사했어"), msg(Role::Assistant, "Noted!")],
            )
            .await
            .unwrap();
        out.push((user.id, conv.id, msgs.iter().map(|m| m.id).collect()));
    }
    out.try_into().unwrap()
}

/// A forgotten fact is taken out of the message that said it: the old words
/// are found by neither search, the vector goes (the new text is embedded
/// again), a summary covering it goes; another user's message cannot be touched.
async fn a_redacted_message_is_searched_as_it_now_reads(db: Db) {
    let store = db.store().await;
    let [(minji, conv, ids), (tom, _, tom_ids)] = two_users(&*store).await;
    store.put_vectors(minji, vec![(ItemRef::Message(ids[0]), vec![1.0; DIM])]).await.unwrap();
    store.set_conversation_summary(minji, conv, "moved to Busan last year", ids[1]).await.unwrap();
    assert!(!store.search_text(minji, "부산", 5).await.unwrap().is_empty());
    let m = store.redact_message(minji, ids[0], "작년에 [forgotten]").await.unwrap();
    assert_eq!((m.id, m.content.as_str()), (ids[0], "작년에 [forgotten]"));
    assert!(store.search_text(minji, "부산", 5).await.unwrap().is_empty());
    assert_eq!(store.search_text(minji, "작년", 5).await.unwrap().len(), 1);
    let near = store.search_vectors(minji, &[1.0; DIM], 5).await.unwrap();
    assert!(near.iter().all(|h| h.item != ItemRef::Message(ids[0])), "{near:?}");
    assert!(store.items_without_vectors(minji, 10).await.unwrap().contains(&ItemRef::Message(ids[0])));
    assert!(store.conversation_summary(minji, conv).await.unwrap().is_none());
    assert_eq!(store.messages(minji, conv).await.unwrap()[0].content, "작년에 [forgotten]");
    // Another user's message, or none at all: not found, nothing changed.
    assert!(matches!(store.redact_message(minji, tom_ids[0], "x").await, Err(Error::NotFound(_))));
    assert!(matches!(store.redact_message(minji, MessageId(99_999), "x").await, Err(Error::NotFound(_))));
    assert_eq!(store.messages_by_id(tom, &tom_ids).await.unwrap()[0].content, "작년에 부산으로 이사했어");
    assert!(matches!(store.redact_message(minji, ids[1], "").await, Err(Error::Invalid { .. })));
}

async fn users_are_created_and_validated(db: Db) {
    let store = db.store().await;
    let u = store.create_user(" Minji ", "Asia/Seoul").await.unwrap();
    assert_eq!(store.user(u.id).await.unwrap(), u);
    assert_eq!(u.name, "Minji");
    assert!(matches!(store.user(UserId(999)).await, Err(Error::NotFound(_))));
    assert!(matches!(store.create_user("", "Asia/Seoul").await, Err(Error::Invalid { .. })));
}

async fn messages_round_trip_in_order(db: Db) {
    let store = db.store().await;
    let [(user, conv, ids), _] = two_users(&*store).await;
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
    let extra = NewMessage {
        role: Role::User,
        speaker: Some("엄마".into()),
        content: "내일 오전 9시에 전화해".into(),
        created_at: at,
        external_id: Some("ext-1".into()),
    };
    let stored = store.add_messages(user, conv, vec![extra.clone()]).await.unwrap();
    let all = store.messages(user, conv).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all.iter().map(|m| m.id).take(2).collect::<Vec<_>>(), ids);
    assert_eq!(all[2], stored[0]);
    assert_eq!(
        (all[2].speaker.as_deref(), all[2].created_at, all[2].external_id.as_deref()),
        (Some("엄마"), at, Some("ext-1"))
    );
    assert_eq!(store.conversations(user).await.unwrap().len(), 1);
    let picked = store.messages_by_id(user, &[stored[0].id, ids[0], stored[0].id]).await.unwrap();
    assert_eq!(picked.iter().map(|m| m.id).collect::<Vec<_>>(), vec![ids[0], stored[0].id]);
}

async fn a_bad_batch_writes_nothing(db: Db) {
    let store = db.store().await;
    let [(user, conv, _), _] = two_users(&*store).await;
    let err = store.add_messages(user, conv, vec![msg(Role::User, "fine"), msg(Role::User, "   ")]).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }));
    let huge = "가".repeat(pai_core::store::MAX_TEXT_BYTES);
    assert!(matches!(store.add_messages(user, conv, vec![msg(Role::User, &huge)]).await, Err(Error::Invalid { .. })));
    // NUL: PostgreSQL cannot store it (it was a 500), SQLite stored it and chat broke on it.
    let before = store.messages(user, conv).await.unwrap().len();
    let nul = store.add_messages(user, conv, vec![msg(Role::User, "fine"), msg(Role::User, "hi\0there")]).await;
    assert!(matches!(nul, Err(Error::Invalid { message: ref m, .. }) if m.contains("NUL")), "{nul:?}");
    assert!(matches!(store.add_memory(user, memory("locker\0 42", vec![])).await, Err(Error::Invalid { .. })));
    assert_eq!(store.messages(user, conv).await.unwrap().len(), before, "nothing half-written");
    let dup = |id: &str| NewMessage { external_id: Some(id.into()), ..msg(Role::User, "imported") };
    store.add_messages(user, conv, vec![dup("a")]).await.unwrap();
    let err = store.add_messages(user, conv, vec![dup("b"), dup("a")]).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    // two from two_users + "a": neither "fine" nor "b" was kept
    assert_eq!(store.messages(user, conv).await.unwrap().len(), 3);
    assert!(store.search_text(user, "fine", 10).await.unwrap().is_empty());
}

async fn one_user_never_reaches_anothers_conversations(db: Db) {
    let store = db.store().await;
    let [(minji, minji_conv, _), (tom, tom_conv, _)] = two_users(&*store).await;
    assert!(matches!(store.messages(tom, minji_conv).await, Err(Error::NotFound(_))));
    assert!(matches!(store.add_messages(tom, minji_conv, vec![msg(Role::User, "hi")]).await, Err(Error::NotFound(_))));
    assert!(matches!(store.create_conversation(UserId(999), "x").await, Err(Error::NotFound(_))));
    assert_eq!(store.messages(minji, minji_conv).await.unwrap().len(), 2);
    assert_eq!(store.messages(tom, tom_conv).await.unwrap().len(), 2);
    assert!(store.conversations(tom).await.unwrap().iter().all(|c| c.user == tom));
    let minjis = store.messages(minji, minji_conv).await.unwrap();
    assert!(store.messages_by_id(tom, &[minjis[0].id, minjis[1].id]).await.unwrap().is_empty());
}

async fn memories_keep_their_sources_and_owner(db: Db) {
    let store = db.store().await;
    let [(minji, _, minji_msgs), (tom, _, tom_msgs)] = two_users(&*store).await;
    let m = store.add_memory(minji, memory("Minji moved to Busan last year", vec![minji_msgs[0]])).await.unwrap();
    assert_eq!(m.sources, vec![minji_msgs[0]]);
    assert_eq!(store.memory(minji, m.id).await.unwrap(), m);
    assert!(m.is_current());

    // Another user: cannot see, change, supersede or delete it.
    assert!(matches!(store.memory(tom, m.id).await, Err(Error::NotFound(_))));
    assert!(matches!(store.update_memory(tom, m.id, "hacked", &[]).await, Err(Error::NotFound(_))));
    assert!(matches!(
        store.supersede_memory(tom, m.id, memory("x", vec![]), Utc::now()).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(store.delete_memory(tom, m.id).await, Err(Error::NotFound(_))));
    assert_eq!(store.delete_all_memories(tom).await.unwrap(), 0);
    assert!(store.memories(tom, true).await.unwrap().is_empty());
    assert_eq!(store.memory(minji, m.id).await.unwrap().text, "Minji moved to Busan last year");

    // Nor cite someone else's message as a source; nothing is half-written.
    let err = store.add_memory(minji, memory("stolen", vec![tom_msgs[0]])).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert_eq!(store.memories(minji, true).await.unwrap().len(), 1);
    let bad = NewMemory { importance: 1.5, ..memory("too important", vec![]) };
    assert!(matches!(store.add_memory(minji, bad).await, Err(Error::Invalid { .. })));
    assert!(matches!(store.add_memory(UserId(999), memory("x", vec![])).await, Err(Error::NotFound(_))));
}

async fn superseding_keeps_history(db: Db) {
    let store = db.store().await;
    let [(user, _, msgs), _] = two_users(&*store).await;
    let seoul = store.add_memory(user, memory("lives in Seoul", vec![])).await.unwrap();
    let moved_at = Utc.with_ymd_and_hms(2025, 4, 1, 0, 0, 0).unwrap();
    let busan =
        store.supersede_memory(user, seoul.id, memory("lives in Busan", vec![msgs[0]]), moved_at).await.unwrap();
    let old = store.memory(user, seoul.id).await.unwrap();
    assert_eq!((old.valid_to, old.superseded_by), (Some(moved_at), Some(busan.id)));
    assert!(!old.is_current() && busan.is_current());
    let current: Vec<_> = store.memories(user, false).await.unwrap().into_iter().map(|m| m.text).collect();
    assert_eq!(current, vec!["lives in Busan"]);
    assert_eq!(store.memories(user, true).await.unwrap().len(), 2);
    assert!(matches!(
        store.supersede_memory(user, seoul.id, memory("again", vec![]), Utc::now()).await,
        Err(Error::Conflict(_))
    ));
    // Full text finds the current memory, not the history.
    let hits = store.search_text(user, "Seoul", 10).await.unwrap();
    assert!(hits.iter().all(|h| !matches!(h, TextHit::Memory { .. })), "{hits:?}");
    let hits = store.search_text(user, "Busan", 10).await.unwrap();
    assert!(hits.iter().any(|h| matches!(h, TextHit::Memory { id, .. } if *id == busan.id)));
}

async fn edits_and_deletes_reach_search(db: Db) {
    let store = db.store().await;
    let [(user, _, msgs), _] = two_users(&*store).await;
    let m = store.add_memory(user, memory("likes coffee", vec![])).await.unwrap();
    let edited = store.update_memory(user, m.id, "likes green tea", &[msgs[1]]).await.unwrap();
    assert_eq!((edited.text.as_str(), edited.sources.clone()), ("likes green tea", vec![msgs[1]]));
    assert!(edited.updated_at >= m.updated_at);
    assert!(store.search_text(user, "coffee", 5).await.unwrap().is_empty());
    let hits = store.search_text(user, "tea", 5).await.unwrap();
    assert_eq!(hits, vec![TextHit::Memory { id: m.id, score: score_of(&hits[0]) }]);
    store.delete_memory(user, m.id).await.unwrap();
    assert!(matches!(store.memory(user, m.id).await, Err(Error::NotFound(_))));
    assert!(store.search_text(user, "tea", 5).await.unwrap().is_empty());
    store.add_memory(user, memory("one", vec![])).await.unwrap();
    store.add_memory(user, memory("two", vec![])).await.unwrap();
    assert_eq!(store.delete_all_memories(user).await.unwrap(), 2);
    assert!(store.memories(user, true).await.unwrap().is_empty());
}

async fn korean_and_english_full_text_scoped_by_user(db: Db) {
    let store = db.store().await;
    let [(minji, minji_conv, minji_msgs), (tom, _, _)] = two_users(&*store).await;
    let m = store.add_memory(minji, memory("딸 이름은 지우", vec![])).await.unwrap();
    store.add_memory(minji, memory("prefers tea to coffee", vec![])).await.unwrap();
    // A two-syllable query finds "부산으로" inside a message.
    let hits = store.search_text(minji, "부산", 10).await.unwrap();
    assert_eq!(hits, vec![TextHit::Message { id: minji_msgs[0], conversation: minji_conv, score: score_of(&hits[0]) }]);
    let hits = store.search_text(minji, "지우 이름", 10).await.unwrap();
    assert!(matches!(hits[0], TextHit::Memory { id, .. } if id == m.id));
    assert!(matches!(store.search_text(minji, "TEA", 10).await.unwrap()[0], TextHit::Memory { .. }));
    // Tom has the same message text but never sees Minji's rows.
    let toms = store.search_text(tom, "부산", 10).await.unwrap();
    assert_eq!(toms.len(), 1);
    assert!(matches!(toms[0], TextHit::Message { id, .. } if !minji_msgs.contains(&id)));
    assert!(store.search_text(tom, "지우", 10).await.unwrap().is_empty());
    // Nothing searchable, FTS syntax characters: no error, no hits.
    assert!(store.search_text(minji, "?! ...", 10).await.unwrap().is_empty());
    assert!(store.search_text(minji, "\"OR* NEAR(", 10).await.is_ok());
}

fn score_of(hit: &TextHit) -> f32 {
    hit.score()
}

async fn data_survives_reopening_and_migrations_are_idempotent(db: Db) {
    let user = {
        let store = db.open(DIM).await.unwrap();
        let user = store.create_user("Minji", "Asia/Seoul").await.unwrap();
        store.add_memory(user.id, memory("remember me", vec![])).await.unwrap();
        user
    };
    let store = db.open(DIM).await.unwrap();
    assert_eq!(store.user(user.id).await.unwrap(), user);
    assert_eq!(store.memories(user.id, false).await.unwrap()[0].text, "remember me");
    assert_eq!(store.search_text(user.id, "remember", 5).await.unwrap().len(), 1);
}

/// A unit vector pointing mostly along axis `i`.
fn axis(i: usize) -> Vec<f32> {
    let mut v = vec![0.05; DIM];
    v[i] = 1.0;
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

async fn vectors_are_searched_per_user_closest_first(db: Db) {
    let store = db.store().await;
    let [(minji, _, minji_msgs), (tom, _, tom_msgs)] = two_users(&*store).await;
    let busan = store.add_memory(minji, memory("lives in Busan", vec![])).await.unwrap();
    let tea = store.add_memory(minji, memory("likes tea", vec![])).await.unwrap();
    let missing = store.items_without_vectors(minji, 100).await.unwrap();
    assert_eq!(missing.len(), 4, "{missing:?}"); // 2 memories + 2 messages
    store
        .put_vectors(
            minji,
            vec![
                (ItemRef::Memory(busan.id), axis(0)),
                (ItemRef::Memory(tea.id), axis(1)),
                (ItemRef::Message(minji_msgs[0]), axis(2)),
                (ItemRef::Message(minji_msgs[1]), axis(3)),
            ],
        )
        .await
        .unwrap();
    store.put_vectors(tom, vec![(ItemRef::Message(tom_msgs[0]), axis(0))]).await.unwrap();
    assert!(store.items_without_vectors(minji, 100).await.unwrap().is_empty());

    let hits = store.search_vectors(minji, &axis(0), 3).await.unwrap();
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[0].item, ItemRef::Memory(busan.id));
    assert!((hits[0].similarity - 1.0).abs() < 1e-4 && hits[1].similarity < hits[0].similarity);
    // Tom's identical vector never shows up for Minji, and Tom sees only his own.
    assert!(hits.iter().all(|h| h.item != ItemRef::Message(tom_msgs[0])));
    let toms = store.search_vectors(tom, &axis(0), 10).await.unwrap();
    assert_eq!(toms.iter().map(|h| h.item).collect::<Vec<_>>(), vec![ItemRef::Message(tom_msgs[0])]);
}

async fn bad_vectors_change_nothing(db: Db) {
    let store = db.store().await;
    let [(minji, _, minji_msgs), (_, _, tom_msgs)] = two_users(&*store).await;
    let ok = (ItemRef::Message(minji_msgs[0]), axis(0));
    for bad in
        [(ItemRef::Message(minji_msgs[1]), vec![1.0; DIM + 1]), (ItemRef::Message(minji_msgs[1]), vec![f32::NAN; DIM])]
    {
        let err = store.put_vectors(minji, vec![ok.clone(), bad]).await.unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    }
    let err = store.put_vectors(minji, vec![ok.clone(), (ItemRef::Message(tom_msgs[0]), axis(1))]).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert!(store.search_vectors(minji, &axis(0), 5).await.unwrap().is_empty(), "the good vector was rolled back");
    assert!(matches!(store.search_vectors(minji, &[1.0; 3], 5).await, Err(Error::Invalid { .. })));
}

async fn edited_superseded_and_deleted_memories_leave_the_vector_index(db: Db) {
    let store = db.store().await;
    let [(user, _, _), _] = two_users(&*store).await;
    let a = store.add_memory(user, memory("lives in Seoul", vec![])).await.unwrap();
    let b = store.add_memory(user, memory("likes coffee", vec![])).await.unwrap();
    let c = store.add_memory(user, memory("has a cat", vec![])).await.unwrap();
    let vectors =
        vec![(ItemRef::Memory(a.id), axis(0)), (ItemRef::Memory(b.id), axis(1)), (ItemRef::Memory(c.id), axis(2))];
    store.put_vectors(user, vectors).await.unwrap();

    store.update_memory(user, b.id, "likes tea", &[]).await.unwrap();
    let new = store.supersede_memory(user, a.id, memory("lives in Busan", vec![]), Utc::now()).await.unwrap();
    store.delete_memory(user, c.id).await.unwrap();

    let found: Vec<ItemRef> =
        store.search_vectors(user, &axis(0), 10).await.unwrap().into_iter().map(|h| h.item).collect();
    assert!(!found.iter().any(|i| matches!(i, ItemRef::Memory(_))), "{found:?}");
    let missing = store.items_without_vectors(user, 100).await.unwrap();
    assert!(missing.contains(&ItemRef::Memory(b.id)) && missing.contains(&ItemRef::Memory(new.id)));
    assert!(!missing.contains(&ItemRef::Memory(a.id)), "history is not re-embedded");
    // A superseded memory cannot get a vector again.
    assert!(matches!(store.put_vectors(user, vec![(ItemRef::Memory(a.id), axis(0))]).await, Err(Error::NotFound(_))));
}

async fn a_new_embedding_dimension_rebuilds_the_index(db: Db) {
    let (user, msgs) = {
        let store = db.open(DIM).await.unwrap();
        let [(user, _, msgs), _] = two_users(&*store).await;
        store.put_vectors(user, vec![(ItemRef::Message(msgs[0]), axis(0))]).await.unwrap();
        (user, msgs)
    };
    let store = db.open(16).await.unwrap();
    assert_eq!(store.vector_dimension(), 16);
    assert!(store.items_without_vectors(user, 10).await.unwrap().contains(&ItemRef::Message(msgs[0])));
    let mut v = vec![0.0; 16];
    v[1] = 1.0;
    store.put_vectors(user, vec![(ItemRef::Message(msgs[0]), v.clone())]).await.unwrap();
    assert_eq!(store.search_vectors(user, &v, 1).await.unwrap()[0].item, ItemRef::Message(msgs[0]));
    // Sizes the binary index cannot hold are refused at open, with the reason.
    for bad in [0, 3, 100] {
        assert!(matches!(db.open(bad).await, Err(Error::Invalid { .. })), "{bad}");
    }
}

async fn superseded_memories_are_searchable_only_as_history(db: Db) {
    let store = db.store().await;
    let [(u, _, msgs), (other, _, _)] = two_users(&*store).await;
    let seoul = store.add_memory(u, memory("Lives in Seoul", vec![msgs[0]])).await.unwrap();
    store.supersede_memory(u, seoul.id, memory("Lives in Busan", vec![msgs[0]]), Utc::now()).await.unwrap();
    let current = store.search_text(u, "Seoul", 10).await.unwrap();
    assert!(current.iter().all(|h| !matches!(h, TextHit::Memory { id, .. } if *id == seoul.id)));
    let past = store.search_history(u, "Seoul", 10).await.unwrap();
    assert!(matches!(past.as_slice(), [TextHit::Memory { id, .. }] if *id == seoul.id), "{past:?}");
    assert!(store.search_history(other, "Seoul", 10).await.unwrap().is_empty());
    store.delete_memory(u, seoul.id).await.unwrap();
    assert!(store.search_history(u, "Seoul", 10).await.unwrap().is_empty());
}

async fn extraction_jobs_are_claimed_once_retried_and_failed_visibly(db: Db) {
    use pai_core::store::JobState;
    let store = db.store().await;
    let [(u, conv, msgs), (other, other_conv, other_msgs)] = two_users(&*store).await;
    // Messages must be the user's and in the conversation.
    assert!(matches!(store.enqueue_extraction(u, conv, &other_msgs).await, Err(Error::Invalid { .. })));
    assert!(matches!(store.enqueue_extraction(u, other_conv, &msgs).await, Err(Error::NotFound(_))));
    assert!(store.extraction_jobs(u, None).await.unwrap().is_empty(), "nothing half-written");

    let job = store.enqueue_extraction(u, conv, &msgs).await.unwrap();
    assert_eq!((job.state, job.attempts, job.messages.clone()), (JobState::Pending, 0, msgs.clone()));
    let claimed = store.claim_extraction_job().await.unwrap().unwrap();
    assert_eq!((claimed.id, claimed.state, claimed.attempts), (job.id, JobState::Running, 1));
    assert!(store.claim_extraction_job().await.unwrap().is_none(), "a running job is not claimed twice");
    // Another user can neither fail nor complete it.
    assert!(store.fail_extraction_job(other, job.id, "x", true).await.is_err());

    let retried = store.fail_extraction_job(u, job.id, "model returned garbage", true).await.unwrap();
    assert_eq!((retried.state, retried.last_error.as_deref()), (JobState::Pending, Some("model returned garbage")));
    store.claim_extraction_job().await.unwrap().unwrap();
    let failed = store.fail_extraction_job(u, job.id, "garbage again", false).await.unwrap();
    assert_eq!((failed.state, failed.attempts), (JobState::Failed, 2));
    assert_eq!(store.extraction_jobs(u, Some(JobState::Failed)).await.unwrap().len(), 1);
    assert!(store.extraction_jobs(other, None).await.unwrap().is_empty());
    assert!(store.claim_extraction_job().await.unwrap().is_none(), "failed jobs stay failed");

    assert!(matches!(store.retry_extraction_job(other, job.id).await, Err(Error::NotFound(_))));
    let again = store.retry_extraction_job(u, job.id).await.unwrap();
    assert_eq!((again.state, again.attempts), (JobState::Pending, 0));
    // A worker that dies leaves the job running; start-up puts it back.
    store.claim_extraction_job().await.unwrap().unwrap();
    assert_eq!(store.requeue_interrupted_jobs().await.unwrap(), 1);
    let running = store.claim_extraction_job().await.unwrap().unwrap();
    assert_eq!(running.id, job.id);
    // A server that stops mid-job gives it back without spending the attempt.
    assert!(store.release_extraction_job(other, job.id).await.is_err());
    let released = store.release_extraction_job(u, job.id).await.unwrap();
    assert_eq!((released.state, released.attempts), (JobState::Pending, running.attempts - 1));
    assert!(store.release_extraction_job(u, job.id).await.is_err(), "only a running job");
    assert_eq!(store.claim_extraction_job().await.unwrap().unwrap().attempts, running.attempts);
    let _ = other_conv;
}

async fn a_jobs_decisions_land_together_or_not_at_all(db: Db) {
    use pai_core::store::{Decision, JobState, MemoryChange};
    let store = db.store().await;
    let [(u, conv, msgs), (other, _, other_msgs)] = two_users(&*store).await;
    let seoul = store.add_memory(u, memory("Lives in Seoul", vec![msgs[0]])).await.unwrap();
    let theirs = store.add_memory(other, memory("Likes tea", vec![other_msgs[0]])).await.unwrap();
    let job = store.enqueue_extraction(u, conv, &msgs).await.unwrap();
    store.claim_extraction_job().await.unwrap().unwrap();
    let decide = |change, candidate: &str| Decision { candidate: candidate.into(), change, reason: "test".into() };

    // The second decision names another user's memory: nothing of the unit lands.
    let bad = vec![
        decide(MemoryChange::Add { memory: memory("Has a cat", vec![msgs[0]]) }, "Has a cat"),
        decide(MemoryChange::Delete { id: theirs.id }, "forget tea"),
    ];
    assert!(matches!(store.complete_extraction_job(u, job.id, bad).await, Err(Error::Conflict(_))));
    assert_eq!(store.memories(u, true).await.unwrap().len(), 1);
    assert_eq!(store.memories(other, true).await.unwrap().len(), 1);
    assert_eq!(store.extraction_jobs(u, None).await.unwrap()[0].state, JobState::Running);

    let good = vec![
        decide(MemoryChange::Add { memory: memory("Has a cat", vec![msgs[0]]) }, "Has a cat"),
        decide(
            MemoryChange::Supersede { old: seoul.id, memory: memory("Lives in Busan", vec![msgs[0]]), at: Utc::now() },
            "Moved to Busan",
        ),
        decide(MemoryChange::Noop { existing: None }, "hello"),
    ];
    let records = store.complete_extraction_job(u, job.id, good).await.unwrap();
    assert_eq!(records.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(), ["add", "supersede", "noop"]);
    assert_eq!(store.extraction_jobs(u, None).await.unwrap()[0].state, JobState::Done);
    let current: Vec<String> = store.memories(u, false).await.unwrap().into_iter().map(|m| m.text).collect();
    assert_eq!(current, ["Lives in Busan", "Has a cat"]);
    // The trail says where each memory came from, and is the owner's alone.
    let busan = records[1].memory.unwrap();
    let trail = store.decisions(u, Some(busan)).await.unwrap();
    assert_eq!((trail.len(), trail[0].target), (1, Some(seoul.id)));
    assert!(store.decisions(other, Some(busan)).await.unwrap().is_empty());
    // Deleting a memory deletes what was recorded about it.
    store.delete_memory(u, busan).await.unwrap();
    assert!(store.decisions(u, Some(busan)).await.unwrap().is_empty());
    // A completed job cannot be completed again.
    assert!(store.complete_extraction_job(u, job.id, vec![]).await.is_err());
}

async fn conversation_summaries_are_per_owner(db: Db) {
    let store = db.store().await;
    let [(u, conv, msgs), (other, other_conv, other_msgs)] = two_users(&*store).await;
    assert!(store.conversation_summary(u, conv).await.unwrap().is_none());
    store.set_conversation_summary(u, conv, "Talked about moving.", msgs[1]).await.unwrap();
    store.set_conversation_summary(u, conv, "Talked about moving to Busan.", msgs[1]).await.unwrap();
    let s = store.conversation_summary(u, conv).await.unwrap().unwrap();
    assert_eq!((s.text.as_str(), s.through), ("Talked about moving to Busan.", msgs[1]));
    assert!(store.conversation_summary(other, conv).await.unwrap().is_none());
    assert!(store.set_conversation_summary(other, conv, "x", msgs[1]).await.is_err());
    assert!(store.set_conversation_summary(u, conv, "x", other_msgs[0]).await.is_err());
    assert!(store.set_conversation_summary(u, conv, "  ", msgs[1]).await.is_err());
    let _ = other_conv;
}

async fn an_imported_conversation_lands_whole_or_not_at_all(db: Db) {
    let store = db.store().await;
    let [(u, _, _), (other, _, _)] = two_users(&*store).await;
    let mut bad = vec![msg(Role::User, "first"), msg(Role::User, "   ")];
    bad[0].external_id = Some("chatgpt-1".into());
    assert!(matches!(store.import_conversation(u, "broken", bad, &[vec![0]]).await, Err(Error::Invalid { .. })));
    assert_eq!(store.conversations(u).await.unwrap().len(), 1, "no empty conversation left behind");
    assert!(store.message_by_external_id(u, "chatgpt-1").await.unwrap().is_none());
    // A job that cannot be queued takes the messages with it: never stored
    // without being learned from (a re-upload would skip them).
    let unqueued = vec![msg(Role::User, "first"), msg(Role::Assistant, "second")];
    assert!(matches!(
        store.import_conversation(u, "x", unqueued, &[vec![0], vec![7]]).await,
        Err(Error::Invalid { .. })
    ));
    assert_eq!(store.conversations(u).await.unwrap().len(), 1, "nothing of it left behind");
    assert!(store.extraction_jobs(u, None).await.unwrap().is_empty());

    let mut good = vec![msg(Role::User, "first"), msg(Role::Assistant, "second"), msg(Role::User, "third")];
    good[0].external_id = Some("chatgpt-1".into());
    let (conv, msgs) = store.import_conversation(u, " Trip plans ", good, &[vec![0, 2]]).await.unwrap();
    assert_eq!((conv.title.as_str(), msgs.len()), ("Trip plans", 3));
    let jobs = store.extraction_jobs(u, None).await.unwrap();
    assert_eq!(jobs.len(), 1, "queued with the messages");
    assert_eq!(jobs[0].messages, vec![msgs[0].id, msgs[2].id]);
    assert_eq!(store.message_by_external_id(u, "chatgpt-1").await.unwrap().unwrap().id, msgs[0].id);
    assert!(store.message_by_external_id(other, "chatgpt-1").await.unwrap().is_none());
    assert!(matches!(
        store.import_conversation(UserId(999), "x", vec![msg(Role::User, "x")], &[]).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(store.user_by_name("Tom").await.unwrap().unwrap().id, other);
    assert!(store.user_by_name("nobody").await.unwrap().is_none());
}

async fn a_large_history_still_finds_rare_words_next_to_common_ones(db: Db) {
    let store = db.store().await;
    let [(u, conv, _), (other, _, _)] = two_users(&*store).await;
    // 20k rows that all say "coffee": common enough to be left out of the search.
    for batch in 0..21 {
        let new: Vec<NewMessage> = (0..1000).map(|i| msg(Role::User, &format!("coffee again {batch} {i}"))).collect();
        store.add_messages(u, conv, new).await.unwrap();
    }
    let rare = store.add_messages(u, conv, vec![msg(Role::User, "coffee with Jiwoo at Haeundae")]).await.unwrap()[0].id;
    let hits = store.search_text(u, "coffee Haeundae", 5).await.unwrap();
    assert!(matches!(hits.first(), Some(TextHit::Message { id, .. }) if *id == rare), "{:?}", hits.first());
    // A term that is all there is stays, however common.
    assert_eq!(store.search_text(u, "coffee", 5).await.unwrap().len(), 5);
    assert!(store.search_text(other, "coffee Haeundae", 5).await.unwrap().is_empty());
}

async fn accounts_keys_and_sessions(db: Db) {
    let store = db.store().await;
    let admin = store.create_account("root", "UTC", Some("$argon2id$x"), true).await.unwrap();
    assert!(admin.admin && !admin.disabled);
    assert!(matches!(store.create_account(" root ", "UTC", None, false).await, Err(Error::Conflict(_))));
    assert!(matches!(store.create_account("a\nb", "UTC", None, false).await, Err(Error::Invalid { .. })));
    let tom = store.create_account("tom", "UTC", None, false).await.unwrap();
    assert_eq!(store.count_users().await.unwrap(), 2);
    // No password set: no login.
    assert!(store.login("tom").await.unwrap().is_none());
    assert_eq!(store.login("root").await.unwrap().unwrap().1, "$argon2id$x");

    let key = store.create_api_key(tom.id, "laptop", "pai-abcd", "digest-1").await.unwrap();
    assert_eq!(store.authenticate_key("digest-1").await.unwrap().unwrap(), (tom.clone(), key.id));
    assert!(store.authenticate_key("digest-2").await.unwrap().is_none());
    // Another user's key id cannot be revoked by id guessing.
    assert!(matches!(store.revoke_api_key(admin.id, key.id).await, Err(Error::NotFound(_))));
    assert!(store.authenticate_key("digest-1").await.unwrap().is_some());

    let later = Utc::now() + chrono::TimeDelta::hours(1);
    store.create_session(tom.id, "s1", "csrf1", later).await.unwrap();
    store.create_session(tom.id, "old", "csrf0", Utc::now() - chrono::TimeDelta::seconds(1)).await.unwrap();
    assert_eq!(store.session("s1").await.unwrap().unwrap().csrf, "csrf1");
    assert!(store.session("old").await.unwrap().is_none(), "an expired session is no session");

    // Disabling ends sessions and stops keys; enabling brings keys back, not sessions.
    store.set_disabled(tom.id, true).await.unwrap();
    assert!(store.authenticate_key("digest-1").await.unwrap().is_none());
    assert!(store.session("s1").await.unwrap().is_none());
    store.set_disabled(tom.id, false).await.unwrap();
    assert!(store.authenticate_key("digest-1").await.unwrap().is_some());
    assert!(store.session("s1").await.unwrap().is_none());

    let revoked = store.revoke_api_key(tom.id, key.id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(store.authenticate_key("digest-1").await.unwrap().is_none());
    assert_eq!(store.api_keys(tom.id).await.unwrap().len(), 1);
    assert!(store.api_keys(admin.id).await.unwrap().is_empty());
}

async fn deleting_a_user_deletes_everything_they_own_and_nothing_else(db: Db) {
    let store = db.store().await;
    let [(minji, _, mids), (tom, tconv, tids)] = two_users(&*store).await;
    for (user, ids) in [(minji, &mids), (tom, &tids)] {
        let m = store.add_memory(user, memory("lives in Busan 부산", ids.clone())).await.unwrap();
        let mut v = vec![0.0; DIM];
        v[0] = 1.0;
        store.put_vectors(user, vec![(ItemRef::Memory(m.id), v.clone()), (ItemRef::Message(ids[0]), v)]).await.unwrap();
        store.create_api_key(user, "k", "p", &format!("d{user}")).await.unwrap();
    }
    store.enqueue_extraction(tom, tconv, &tids).await.unwrap();
    store.delete_user(tom).await.unwrap();
    assert!(matches!(store.user(tom).await, Err(Error::NotFound(_))));
    assert!(store.authenticate_key(&format!("d{tom}")).await.unwrap().is_none());
    assert!(matches!(store.delete_user(tom).await, Err(Error::NotFound(_))));
    // Minji's data is whole and still found by words and by meaning.
    assert_eq!(store.memories(minji, true).await.unwrap().len(), 1);
    assert_eq!(store.search_text(minji, "부산", 10).await.unwrap().len(), 2);
    let mut q = vec![0.0; DIM];
    q[0] = 1.0;
    assert_eq!(store.search_vectors(minji, &q, 10).await.unwrap().len(), 2);
    assert!(store.authenticate_key(&format!("d{minji}")).await.unwrap().is_some());
    // A new user gets none of the old rows (ids are not reused into old data).
    let again = store.create_user("Tom", "UTC").await.unwrap();
    assert!(store.search_text(again.id, "부산", 10).await.unwrap().is_empty());
    assert!(store.search_vectors(again.id, &q, 10).await.unwrap().is_empty());
    assert!(store.extraction_jobs(again.id, None).await.unwrap().is_empty());
}

async fn conversations_are_renamed_and_deleted_by_their_owner_only(db: Db) {
    let store = db.store().await;
    let [(minji, mconv, mids), (tom, _, _)] = two_users(&*store).await;
    let m = store.add_memory(minji, memory("moved to Busan", vec![mids[0]])).await.unwrap();
    assert!(matches!(store.rename_conversation(tom, mconv, "mine").await, Err(Error::NotFound(_))));
    assert!(matches!(store.delete_conversation(tom, mconv).await, Err(Error::NotFound(_))));
    assert!(matches!(store.conversation(tom, mconv).await, Err(Error::NotFound(_))));
    assert_eq!(store.rename_conversation(minji, mconv, " Moving ").await.unwrap().title, "Moving");
    assert!(matches!(store.rename_conversation(minji, mconv, "a\u{7}").await, Err(Error::Invalid { .. })));
    store.delete_conversation(minji, mconv).await.unwrap();
    assert!(
        store.search_text(minji, "부산으로", 10).await.unwrap().iter().all(|h| matches!(h, TextHit::Memory { .. }))
    );
    assert!(store.messages_by_id(minji, &mids).await.unwrap().is_empty());
    // The memory stays, without the deleted source.
    let kept = store.memory(minji, m.id).await.unwrap();
    assert!(kept.sources.is_empty());
    assert_eq!(store.search_text(tom, "부산으로", 10).await.unwrap().len(), 1);
}

async fn imports_record_progress_per_owner(db: Db) {
    use pai_core::store::ImportState;
    let store = db.store().await;
    let [(minji, _, _), (tom, _, _)] = two_users(&*store).await;
    let rec = store.create_import(minji, "chat.json", 3).await.unwrap();
    assert_eq!((rec.state, rec.done, rec.total), (ImportState::Running, 0, 3));
    assert!(matches!(store.import_record(tom, rec.id).await, Err(Error::NotFound(_))));
    assert!(matches!(
        store.update_import(tom, rec.id, ImportState::Done, 3, None, None).await,
        Err(Error::NotFound(_))
    ));
    let report = serde_json::json!({"conversations": 3});
    let done = store.update_import(minji, rec.id, ImportState::Done, 3, Some(report.clone()), None).await.unwrap();
    assert_eq!(done.report, Some(report));
    let second = store.create_import(minji, "b.json", 1).await.unwrap();
    assert_eq!(store.fail_interrupted_imports().await.unwrap(), 1);
    let failed = store.import_record(minji, second.id).await.unwrap();
    assert_eq!(failed.state, ImportState::Failed);
    assert!(failed.error.unwrap().contains("upload the file again"));
    assert_eq!(store.imports(minji).await.unwrap().len(), 2);
    assert!(store.imports(tom).await.unwrap().is_empty());
}

fn new_document(source: &str, hash: &str, texts: &[&str]) -> pai_core::store::NewDocument {
    use pai_core::store::{DocumentFormat, NewChunk, NewDocument};
    NewDocument {
        title: format!("{source} title"),
        source: source.into(),
        format: DocumentFormat::Markdown,
        content_hash: hash.into(),
        bytes: 100,
        pages: None,
        chunks: texts
            .iter()
            .enumerate()
            .map(|(i, t)| NewChunk {
                text: t.to_string(),
                page: None,
                heading: Some("Lease".into()),
                start: i as u64 * 10,
                end: i as u64 * 10 + 9,
            })
            .collect(),
    }
}

async fn documents_are_stored_replaced_unchanged_and_deleted_whole(db: Db) {
    use pai_core::store::DocumentChange;
    let store = db.store().await;
    let [(minji, _, _), (tom, _, _)] = two_users(&*store).await;
    let (doc, change) = store
        .put_document(
            minji,
            new_document("lease.md", "h1", &["반려동물은 허용되지 않습니다", "Rent is due on the 5th"]),
        )
        .await
        .unwrap();
    assert_eq!((change, doc.chunks), (DocumentChange::Created, 2));
    let (same, change) = store.put_document(minji, new_document("lease.md", "h1", &["ignored"])).await.unwrap();
    assert_eq!((change, same.id, same.chunks), (DocumentChange::Unchanged, doc.id, 2));
    // A copy under another name is the same document; another user's copy is theirs.
    let (copy, change) = store.put_document(minji, new_document("copy of lease.md", "h1", &["x"])).await.unwrap();
    assert_eq!((change, copy.id), (DocumentChange::Unchanged, doc.id));
    assert_eq!(store.documents(minji).await.unwrap().len(), 1);
    let (theirs, change) = store.put_document(tom, new_document("lease.md", "h1", &["tom's"])).await.unwrap();
    assert_eq!(change, DocumentChange::Created);
    store.delete_document(tom, theirs.id).await.unwrap();
    let hits = store.search_text(minji, "반려동물", 10).await.unwrap();
    assert!(matches!(hits[0], TextHit::Chunk { document, .. } if document == doc.id), "{hits:?}");
    // The heading is searchable with the passage.
    assert!(store.search_text(minji, "lease", 10).await.unwrap().iter().any(|h| matches!(h, TextHit::Chunk { .. })));
    assert!(store.search_text(tom, "반려동물", 10).await.unwrap().is_empty());
    let chunks = store.document_chunks(minji, doc.id).await.unwrap();
    let mut v = vec![0.0; DIM];
    v[1] = 1.0;
    store.put_vectors(minji, vec![(ItemRef::Chunk(chunks[0].id), v.clone())]).await.unwrap();
    assert!(matches!(
        store.put_vectors(tom, vec![(ItemRef::Chunk(chunks[1].id), v.clone())]).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(store.search_vectors(minji, &v, 5).await.unwrap()[0].item, ItemRef::Chunk(chunks[0].id));
    assert!(store.items_without_vectors(minji, 10).await.unwrap().contains(&ItemRef::Chunk(chunks[1].id)));

    // New content replaces every chunk, index row and vector in one go.
    let (again, change) =
        store.put_document(minji, new_document("lease.md", "h2", &["Pets are allowed now"])).await.unwrap();
    assert_eq!((change, again.id, again.chunks), (DocumentChange::Replaced, doc.id, 1));
    assert!(store.search_text(minji, "반려동물", 10).await.unwrap().is_empty());
    assert!(store.search_vectors(minji, &v, 5).await.unwrap().iter().all(|h| !matches!(h.item, ItemRef::Chunk(_))));
    assert!(store.chunks_by_id(minji, &[chunks[0].id]).await.unwrap().is_empty());

    // Another user can neither see nor delete it; the owner can.
    assert!(matches!(store.document(tom, doc.id).await, Err(Error::NotFound(_))));
    assert!(matches!(store.document_chunks(tom, doc.id).await, Err(Error::NotFound(_))));
    assert!(matches!(store.delete_document(tom, doc.id).await, Err(Error::NotFound(_))));
    let new_chunks = store.document_chunks(minji, doc.id).await.unwrap();
    assert!(store.chunks_by_id(tom, &[new_chunks[0].id]).await.unwrap().is_empty());
    store.delete_document(minji, doc.id).await.unwrap();
    assert!(store.documents(minji).await.unwrap().is_empty());
    assert!(store.search_text(minji, "pets", 10).await.unwrap().is_empty());
    // A document with no text is refused and leaves nothing.
    assert!(matches!(store.put_document(minji, new_document("empty.md", "h3", &[])).await, Err(Error::Invalid { .. })));
    assert!(store.documents(minji).await.unwrap().is_empty());
}

/// Two processes on one database file (`pai serve` and a CLI command, or two
/// servers) writing at once: every write waits its turn, none fails busy.
/// A transaction that reads before it writes (storing a document checks for
/// the old version first) is the case SQLite cannot wait out by itself.
async fn two_processes_writing_at_once_both_succeed(db: Db) {
    let a = db.open(DIM).await.unwrap();
    let b = db.open(DIM).await.unwrap();
    let user = a.create_user("Minji", "Asia/Seoul").await.unwrap().id;
    let mut tasks = Vec::new();
    for (name, store) in [("a", a.clone()), ("b", b.clone())] {
        for i in 0..40 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .put_document(user, new_document(&format!("{name}-{i}.md"), &format!("hash-{name}-{i}"), &["text"]))
                    .await
            }));
        }
    }
    let mut failures = Vec::new();
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            failures.push(e.to_string());
        }
    }
    assert!(failures.is_empty(), "{} of 80 writes failed: {:?}", failures.len(), &failures[..failures.len().min(3)]);
    assert_eq!(a.documents(user).await.unwrap().len(), 80);
}

fn until_later() -> chrono::DateTime<Utc> {
    Utc::now() + chrono::TimeDelta::minutes(5)
}

/// Several servers on one database take work from the same queues: every
/// extraction job, item to embed and due reminder goes to exactly one of
/// the workers claiming at once, from two stores.
async fn concurrent_workers_of_two_stores_claim_each_piece_of_work_once(db: Db) {
    let (a, b) = (db.store().await, db.store().await);
    let [(u, conv, _), _] = two_users(&*a).await;
    let new: Vec<NewMessage> = (0..60).map(|i| msg(Role::User, &format!("message {i}"))).collect();
    let ids: Vec<MessageId> = a.add_messages(u, conv, new).await.unwrap().iter().map(|m| m.id).collect();
    for id in &ids[..30] {
        a.enqueue_extraction(u, conv, &[*id]).await.unwrap();
    }
    let due = Utc::now() - chrono::TimeDelta::minutes(1);
    for i in 0..20 {
        let reminder = pai_core::reminders::NewReminder {
            text: format!("reminder {i}"),
            phrase: "now".into(),
            timezone: "UTC".into(),
            rule: None,
            start: None,
            next_at: due,
            conversation: None,
        };
        a.create_reminder(u, reminder).await.unwrap();
    }
    let mut workers = Vec::new();
    for (n, store) in [a.clone(), b.clone(), a.clone(), b.clone(), a.clone(), b.clone()].into_iter().enumerate() {
        workers.push(tokio::spawn(async move {
            let (mut jobs, mut items, mut reminders) = (Vec::new(), Vec::new(), Vec::new());
            let until = Utc::now() + chrono::TimeDelta::minutes(5);
            loop {
                let job = store.claim_extraction_job().await.unwrap();
                let taken = store.claim_items_without_vectors(u, 7, until).await.unwrap();
                let owner = format!("worker-{n}");
                let fired = store.claim_due_reminders(&owner, Utc::now(), until, 3).await.unwrap();
                if job.is_none() && taken.is_empty() && fired.is_empty() {
                    break;
                }
                jobs.extend(job.map(|j| j.id));
                items.extend(taken);
                reminders.extend(fired.into_iter().map(|r| r.id));
                tokio::task::yield_now().await;
            }
            (jobs, items, reminders)
        }));
    }
    let (mut jobs, mut items, mut reminders) = (Vec::new(), Vec::new(), Vec::new());
    for w in workers {
        let (j, i, r) = w.await.unwrap();
        jobs.extend(j);
        items.extend(i);
        reminders.extend(r);
    }
    let count = |mut v: Vec<i64>| {
        let all = v.len();
        v.sort_unstable();
        v.dedup();
        (all, v.len())
    };
    assert_eq!(count(jobs.iter().map(|j| j.0).collect()), (30, 30), "each job claimed once");
    let item_ids = items.iter().map(|i| match i {
        ItemRef::Message(m) => m.0,
        other => panic!("unexpected {other:?}"),
    });
    assert_eq!(count(item_ids.collect()), (62, 62), "each message claimed for embedding once");
    assert_eq!(count(reminders.iter().map(|r| r.0).collect()), (20, 20), "each reminder fired once");
    // Claimed items are off the list until the claim runs out, then back.
    assert!(a.claim_items_without_vectors(u, 100, Utc::now()).await.unwrap().is_empty());
    assert_eq!(a.items_without_vectors(u, 100).await.unwrap().len(), 62, "claimed, not embedded");
    // A memory embedded and then edited is to be embedded again at once, not when its old claim runs out.
    let m = a.add_memory(u, memory("lives in Seoul", vec![])).await.unwrap();
    assert_eq!(a.claim_items_without_vectors(u, 100, until_later()).await.unwrap(), vec![ItemRef::Memory(m.id)]);
    a.put_vectors(u, vec![(ItemRef::Memory(m.id), axis(0))]).await.unwrap();
    a.update_memory(u, m.id, "lives in Busan", &[]).await.unwrap();
    assert_eq!(b.claim_items_without_vectors(u, 100, until_later()).await.unwrap(), vec![ItemRef::Memory(m.id)]);
}

suite!(
    users_are_created_and_validated,
    a_redacted_message_is_searched_as_it_now_reads,
    messages_round_trip_in_order,
    a_bad_batch_writes_nothing,
    one_user_never_reaches_anothers_conversations,
    memories_keep_their_sources_and_owner,
    superseding_keeps_history,
    edits_and_deletes_reach_search,
    korean_and_english_full_text_scoped_by_user,
    data_survives_reopening_and_migrations_are_idempotent,
    vectors_are_searched_per_user_closest_first,
    bad_vectors_change_nothing,
    edited_superseded_and_deleted_memories_leave_the_vector_index,
    a_new_embedding_dimension_rebuilds_the_index,
    superseded_memories_are_searchable_only_as_history,
    extraction_jobs_are_claimed_once_retried_and_failed_visibly,
    a_jobs_decisions_land_together_or_not_at_all,
    conversation_summaries_are_per_owner,
    an_imported_conversation_lands_whole_or_not_at_all,
    a_large_history_still_finds_rare_words_next_to_common_ones,
    accounts_keys_and_sessions,
    deleting_a_user_deletes_everything_they_own_and_nothing_else,
    conversations_are_renamed_and_deleted_by_their_owner_only,
    imports_record_progress_per_owner,
    documents_are_stored_replaced_unchanged_and_deleted_whole,
    #[flavor = "multi_thread", worker_threads = 4] two_processes_writing_at_once_both_succeed,
    #[flavor = "multi_thread", worker_threads = 4] concurrent_workers_of_two_stores_claim_each_piece_of_work_once,
);

/// PostgreSQL only: several servers share the database for good, so work a
/// live server holds is never taken back at another's start-up; the work of
/// a server that died is (SQLite has one server: its start-up takes all back).
#[tokio::test]
async fn postgres_takes_over_only_the_work_of_a_dead_server() {
    use pai_core::store::JobState;
    let db = Db::postgres().await;
    let a = db.store().await;
    let [(u, conv, msgs), _] = two_users(&*a).await;
    let job = a.enqueue_extraction(u, conv, &msgs).await.unwrap();
    assert_eq!(a.claim_extraction_job().await.unwrap().unwrap().id, job.id);
    let import = a.create_import(u, "big.json", 10).await.unwrap();
    // Another server starts: a's job and import are a's, running.
    let b = db.store().await;
    assert_eq!(b.requeue_interrupted_jobs().await.unwrap(), 0);
    assert_eq!(b.fail_interrupted_imports().await.unwrap(), 0);
    assert!(b.claim_extraction_job().await.unwrap().is_none());
    // a dies (its connections close): b takes the job over and fails the import.
    drop(a);
    let taken = pai_testkit::eventually("the dead server's job to be taken over", async || {
        b.claim_extraction_job().await.unwrap()
    })
    .await;
    assert_eq!((taken.id, taken.state, taken.attempts), (job.id, JobState::Running, 2));
    assert_eq!(b.fail_interrupted_imports().await.unwrap(), 1);
    assert_eq!(b.import_record(u, import.id).await.unwrap().state, pai_core::store::ImportState::Failed);
}

/// `pai migrate`: a SQLite database with something in every table arrives
/// in PostgreSQL whole, ids kept, found the same ways; a second run into
/// the now full target, or from a file that is not there, changes nothing.
#[tokio::test]
async fn a_sqlite_database_migrates_to_postgres_whole() {
    use pai_core::store::{Decision, MemoryChange};
    let (from, to) = (Db::sqlite(), Db::postgres().await);
    let (user, memory, chunk, key_user) = {
        let s = from.store().await;
        let [(u, conv, msgs), (tom, _, _)] = two_users(&*s).await;
        let old = s.add_memory(u, memory("lives in Seoul", vec![msgs[0]])).await.unwrap();
        let new =
            s.supersede_memory(u, old.id, memory("작년에 부산으로 이사했어", vec![msgs[0]]), Utc::now()).await.unwrap();
        let job = s.enqueue_extraction(u, conv, &msgs).await.unwrap();
        s.claim_extraction_job().await.unwrap().unwrap();
        let add = MemoryChange::Add { memory: memory("prefers tea", vec![msgs[1]]) };
        let decision = Decision { candidate: "prefers tea".into(), change: add, reason: "new".into() };
        s.complete_extraction_job(u, job.id, vec![decision]).await.unwrap();
        s.set_conversation_summary(u, conv, "moving talk", msgs[1]).await.unwrap();
        s.create_import(u, "chat.json", 2).await.unwrap();
        let (doc, _) =
            s.put_document(u, new_document("lease.md", "h1", &["반려동물은 허용되지 않습니다"])).await.unwrap();
        let chunk = s.document_chunks(u, doc.id).await.unwrap()[0].id;
        s.put_vectors(u, vec![(ItemRef::Memory(new.id), axis(0)), (ItemRef::Chunk(chunk), axis(1))]).await.unwrap();
        s.create_api_key(tom, "laptop", "pai-ab", "digest-tom").await.unwrap();
        s.create_session(tom, "session-tom", "csrf", Utc::now() + chrono::TimeDelta::hours(1)).await.unwrap();
        let due = Utc::now() + chrono::TimeDelta::hours(2);
        let reminder = pai_core::reminders::NewReminder {
            text: "call mom".into(),
            phrase: "in 2 hours".into(),
            timezone: "Asia/Seoul".into(),
            rule: None,
            start: None,
            next_at: due,
            conversation: Some(conv),
        };
        s.create_reminder(u, reminder).await.unwrap();
        (u, new, chunk, tom)
    };
    let mut seen = Vec::new();
    let report =
        pai_store::copy_to_postgres::copy(&from.0, &to.0, |t, done, total| seen.push((t.to_string(), done, total)))
            .await
            .unwrap();
    let rows = |t: &str| report.iter().find(|r| r.table == t).unwrap().rows;
    assert_eq!((rows("users"), rows("messages"), rows("memories"), rows("memory_sources")), (2, 4, 3, 3));
    assert_eq!((rows("memory_decisions"), rows("chunks"), rows("memory_vectors"), rows("chunk_vectors")), (1, 1, 1, 1));
    assert_eq!((rows("api_keys"), rows("sessions"), rows("reminders"), rows("imports")), (1, 1, 1, 1));
    assert!(seen.iter().any(|(t, done, total)| t == "messages" && done == total && *total == 4));

    let pg = to.store().await;
    let moved = pg.memory(user, memory.id).await.unwrap();
    assert_eq!((moved.text.as_str(), moved.sources.len()), (memory.text.as_str(), 1));
    assert_eq!(pg.predecessors(user, memory.id).await.unwrap().len(), 1);
    assert_eq!(pg.memories(user, true).await.unwrap().len(), 3);
    let hits = pg.search_text(user, "부산", 10).await.unwrap();
    assert!(hits.iter().any(|h| matches!(h, TextHit::Memory { id, .. } if *id == memory.id)), "{hits:?}");
    assert_eq!(pg.search_history(user, "Seoul", 10).await.unwrap().len(), 1);
    assert!(matches!(pg.search_text(user, "반려동물", 5).await.unwrap()[0], TextHit::Chunk { id, .. } if id == chunk));
    let near = pg.search_vectors(user, &axis(1), 1).await.unwrap();
    assert_eq!(near[0].item, ItemRef::Chunk(chunk));
    assert!((near[0].similarity - 1.0).abs() < 1e-5);
    assert_eq!(pg.authenticate_key("digest-tom").await.unwrap().unwrap().0.id, key_user);
    assert!(pg.session("session-tom").await.unwrap().is_some());
    assert_eq!(pg.reminders(user).await.unwrap()[0].text, "call mom");
    assert_eq!(pg.decisions(user, None).await.unwrap().len(), 1);
    // New rows get ids after the copied ones.
    let next = pg.create_user("Jiwoo", "Asia/Seoul").await.unwrap();
    assert!(next.id.0 > key_user.0);

    // Into a database that has users: refused, nothing added.
    let again = pai_store::copy_to_postgres::copy(&from.0, &to.0, |_, _, _| {}).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    assert_eq!(pg.count_users().await.unwrap(), 3);
    let missing = Database::Sqlite(pai_testkit::scratch_dir("store").join("absent.db"));
    let empty = Db::postgres().await;
    assert!(matches!(
        pai_store::copy_to_postgres::copy(&missing, &empty.0, |_, _, _| {}).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(missing, Database::Sqlite(ref p) if !p.exists()));
}
