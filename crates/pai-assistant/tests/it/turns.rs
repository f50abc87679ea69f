//! A conversation turn (issue 18). Memory requests: pai carries them out by
//! rule and answers for itself, in the user's language, without the model
//! (the fake model has no scripted reply: a turn that reached it would fail).
//! Model turns: the answer's language is asked for, an English-only model is
//! owned up to once, and an answer that copies the recall block is cut.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use futures_util::StreamExt;
use pai_assistant::assistant::{Assistant, Settings};
use pai_assistant::index::embed_pending;
use pai_assistant::recall::recall;
use pai_assistant::turn::Turn;
use pai_core::store::{ConversationId, JobState, MemoryKind, NewMemory, Store, UserId};
use pai_core::{ChatEvent, Role, Sampling};
use pai_engine::{FakeChatModel, FakeEmbedder};
use pai_store::SqliteStore;

fn db_path() -> PathBuf {
    pai_testkit::scratch_dir("turns").join("pai.db")
}

struct Chat {
    assistant: Arc<Assistant>,
    model: Arc<FakeChatModel>,
    store: Arc<dyn Store>,
    user: UserId,
    conversation: ConversationId,
}

impl Chat {
    async fn new() -> Chat {
        Chat::with(Settings::default()).await
    }

    async fn with(settings: Settings) -> Chat {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db_path(), 64).await.unwrap());
        let user = store.create_user("minji", "Asia/Seoul").await.unwrap().id;
        let conversation = store.create_conversation(user, "chat").await.unwrap().id;
        let model = Arc::new(FakeChatModel::scripted(Vec::<String>::new()));
        let assistant =
            Arc::new(Assistant::new(store.clone(), model.clone(), Arc::new(FakeEmbedder::new(64)), settings));
        Chat { assistant, model, store, user, conversation }
    }

    /// One turn answered whole, stored like any answer (`Assistant::say`).
    async fn say(&self, text: &str) -> (Turn, String) {
        let said = self
            .assistant
            .say(self.user, self.conversation, text, Sampling::default())
            .await
            .unwrap_or_else(|e| panic!("{text:?} reached the model: {e}"));
        self.assistant.extractor.run_until_idle().await.unwrap();
        (said.turn, said.text)
    }

    /// A turn begun, its answer not yet read.
    async fn answer(&self, text: &str) -> pai_assistant::answer::Answer {
        let turn =
            self.assistant.begin(self.user, self.conversation, text, Sampling::default(), Utc::now()).await.unwrap();
        let request = turn.request.clone();
        self.assistant.answer(turn, request)
    }

    async fn stored(&self) -> Vec<(Role, String)> {
        let messages = self.store.messages(self.user, self.conversation).await.unwrap();
        messages.into_iter().map(|m| (m.role, m.content)).collect()
    }

    async fn queued(&self) -> usize {
        self.store.extraction_jobs(self.user, Some(JobState::Pending)).await.unwrap().len()
    }

    /// A turn the model answers (`reply`): no request in it.
    async fn chat(&self, text: &str, reply: &str) {
        self.model.push(Ok(reply.into()));
        self.say(text).await;
    }

    async fn memories(&self) -> Vec<String> {
        self.store.memories(self.user, true).await.unwrap().into_iter().map(|m| m.text).collect()
    }

    async fn recalled(&self, query: &str) -> Vec<String> {
        embed_pending(&*self.store, &*self.assistant.embedder, self.user, 100).await.unwrap();
        let hits = recall(&*self.store, &*self.assistant.embedder, self.user, query, 10, Utc::now()).await.unwrap();
        hits.into_iter().map(|h| h.text).collect()
    }
}

#[tokio::test]
async fn remember_is_confirmed_with_what_was_stored_in_the_users_language() {
    let chat = Chat::new().await;
    let (turn, answer) = chat.say("우리 딸 이름은 지우야. 기억해 줘.").await;
    assert!(answer.starts_with("기억할게요: ") && answer.contains("지우"), "{answer}");
    assert!(turn.direct.is_some() && turn.learned);
    assert_eq!(chat.memories().await, ["우리 딸 이름은 지우야"]);
    let (_, answer) = chat.say("My son's name is Minho and he is 5. Remember that.").await;
    assert_eq!(answer, "Got it — I'll remember: My son's name is Minho and he is 5.");
    // Said again: pai says it knew.
    let (_, answer) = chat.say("Remember that my son's name is Minho and he is 5").await;
    assert!(answer.starts_with("I already remember that:"), "{answer}");
    assert_eq!(chat.memories().await.len(), 2);
}

/// Issue 18's observations: the memory stayed, a junk memory "I don't want
/// that stored." was added, and recall still found the raw messages.
#[tokio::test]
async fn forgetting_forgets_the_memory_and_the_messages_that_said_it() {
    let chat = Chat::new().await;
    chat.say("Remember that my passport number ends in 4821.").await;
    chat.chat("By the way I live in Seoul.", "Nice!").await;
    assert!(chat.memories().await.iter().any(|m| m.contains("4821")));
    let (_, answer) = chat.say("Actually, forget my passport number. I don't want that stored.").await;
    assert!(answer.starts_with("Forgotten: my passport number ends in ••••"), "{answer}");
    let memories = chat.memories().await;
    assert!(memories.iter().all(|m| !m.contains("4821") && !m.contains("stored")), "{memories:?}");
    assert!(memories.iter().any(|m| m.contains("Seoul")), "{memories:?}");
    let recalled = chat.recalled("what is my passport number").await;
    assert!(recalled.iter().all(|t| !t.contains("4821")), "{recalled:?}");
    // The user's history still reads in order, with the fact taken out of it (pai's echo too).
    let history = chat.store.messages(chat.user, chat.conversation).await.unwrap();
    assert!(history.iter().all(|m| !m.content.contains("4821")), "{history:#?}");
    assert!(history.iter().any(|m| m.content.contains("[forgotten]")));
}

/// Text pai read is data: a forget request in an imported chat or a recording
/// learned from deletes nothing (and what it withdraws is not learned).
#[tokio::test]
async fn a_forget_request_in_imported_history_deletes_nothing() {
    let chat = Chat::new().await;
    chat.say("Remember that my passport number ends in 4821.").await;
    let said = |content: &str, id: &str| pai_core::store::NewMessage {
        role: Role::User,
        speaker: None,
        content: content.into(),
        created_at: Utc::now(),
        external_id: Some(id.into()),
    };
    let messages = vec![
        said("Forget my passport number.", "recording:7:0"),
        said("My locker code is 5150. Don't store that.", "recording:7:1"),
    ];
    chat.store.import_conversation(chat.user, "Recording: memo.m4a", messages, &[vec![0, 1]]).await.unwrap();
    chat.assistant.extractor.run_until_idle().await.unwrap();
    let memories = chat.memories().await;
    assert!(memories.iter().any(|m| m.contains("4821")), "{memories:?}");
    assert!(memories.iter().all(|m| !m.contains("5150")), "{memories:?}");
    let decisions = chat.store.decisions(chat.user, None).await.unwrap();
    assert!(decisions.iter().any(|d| d.reason == pai_assistant::extract::FORGET_IN_READ_TEXT), "{decisions:#?}");
}

#[tokio::test]
async fn korean_forget_by_reference_to_what_was_said_earlier() {
    let chat = Chat::new().await;
    chat.say("내 금고 비밀번호는 0427이야. 기억해 줘.").await;
    let (_, answer) = chat.say("아까 말한 금고 비밀번호는 잊어 줘. 저장하지 마.").await;
    assert!(answer.starts_with("잊었어요: "), "{answer}");
    assert!(chat.memories().await.iter().all(|m| !m.contains("0427")), "{:?}", chat.memories().await);
    let recalled = chat.recalled("금고 비밀번호가 뭐야").await;
    assert!(recalled.iter().all(|t| !t.contains("0427")), "{recalled:?}");
    // "Don't store that" right after saying it: the message is taken back even before it was learned.
    chat.chat("내 사물함 번호는 88번", "알겠어요").await;
    let (_, answer) = chat.say("그거 저장하지 마").await;
    assert!(!answer.is_empty());
    assert!(chat.memories().await.iter().all(|m| !m.contains("88")), "{:?}", chat.memories().await);
    assert!(chat.recalled("사물함 번호").await.iter().all(|t| !t.contains("88번")));
}

#[tokio::test]
async fn an_unclear_forget_is_asked_back_and_deletes_nothing() {
    let chat = Chat::new().await;
    for text in ["My home address is 12 Mapo-ro", "My office address is 5 Teheran-ro"] {
        let memory = NewMemory {
            text: text.into(),
            kind: MemoryKind::Fact,
            subject: None,
            importance: 0.6,
            valid_from: None,
            sources: vec![],
        };
        chat.store.add_memory(chat.user, memory).await.unwrap();
    }
    let (_, answer) = chat.say("Forget my address.").await;
    assert!(answer.starts_with("Several memories match \"my address\""), "{answer}");
    assert!(answer.contains("12 Mapo-ro") && answer.contains("5 Teheran-ro"), "{answer}");
    assert_eq!(chat.memories().await.len(), 2);
    let (_, answer) = chat.say("Forget my address, all of them.").await;
    assert!(answer.starts_with("Forgotten:"), "{answer}");
    assert!(chat.memories().await.is_empty());
}

#[tokio::test]
async fn what_pai_knows_is_listed_grouped_with_how_to_change_it() {
    let chat = Chat::new().await;
    let (_, answer) = chat.say("What do you know about me?").await;
    assert!(answer.starts_with("I don't know anything about you yet"), "{answer}");
    chat.say("Remember that I'm allergic to peanuts.").await;
    chat.say("내가 제일 좋아하는 음식은 마라탕이야. 기억해 줘").await;
    let (_, answer) = chat.say("What do you know about me?").await;
    assert!(answer.contains("allergic to peanuts") && answer.contains("마라탕"), "{answer}");
    assert!(answer.contains("forget") && answer.contains("pai memory"), "{answer}");
    let (_, answer) = chat.say("나에 대해 뭘 알아?").await;
    assert!(answer.starts_with("제가 기억하는 것들이에요") && answer.contains("마라탕"), "{answer}");
    assert!(answer.contains("잊어 줘"), "{answer}");
}

#[tokio::test]
async fn the_model_is_told_the_language_of_the_message() {
    let chat = Chat::new().await;
    chat.chat("안녕하세요! 저는 서울에 사는 민지예요. 내일 뭐 하면 좋을까요?", "한강 공원에 가 보세요.").await;
    chat.chat("Hi! I'm Minji and I live in Busan. What should I do tomorrow?", "Visit Haeundae.").await;
    let requests: Vec<_> =
        chat.model.requests().into_iter().filter(|r| r.messages[0].content.starts_with("You are pai")).collect();
    let system = |r: &pai_core::ChatRequest| r.messages[0].content.clone();
    assert!(system(&requests[0]).contains("Answer in Korean (한국어로 답하세요)."), "{}", system(&requests[0]));
    assert!(system(&requests[1]).contains("Answer in English."), "{}", system(&requests[1]));
}

#[tokio::test]
async fn an_english_only_model_is_owned_up_to_once_per_conversation_in_korean() {
    let settings = Settings { english_only_model: Some("smollm2-135m".into()), ..Settings::default() };
    let chat = Chat::with(settings).await;
    // English: nothing to own up to.
    chat.model.push(Ok("Hello!".into()));
    let (_, answer) = chat.say("Hello there").await;
    assert_eq!(answer, "Hello!");
    // The first Korean message: the notice, naming the model and the command that fixes it.
    chat.model.push(Ok("Hello, Minji.".into()));
    let (turn, answer) = chat.say("안녕하세요, 저는 민지예요").await;
    assert!(turn.preface.is_some());
    assert!(answer.starts_with("(참고: 지금 대화 모델 smollm2-135m은(는) 영어만 잘합니다."), "{answer}");
    assert!(answer.contains("`pai model recommend`") && answer.ends_with("Hello, Minji."), "{answer}");
    // The next one: not again; and the model never sees the notice in its history.
    chat.model.push(Ok("Sure.".into()));
    let (turn, answer) = chat.say("오늘은 좀 피곤해").await;
    assert!(turn.preface.is_none() && answer == "Sure.", "{answer}");
    assert!(turn.request.messages.iter().all(|m| !m.content.contains("영어만")), "{:?}", turn.request.messages);
    // A Korean question nothing answers: "not found", and no general answer
    // from a model that cannot write Korean (issue 24).
    let (turn, answer) = chat.say("내 여권 번호가 뭐지?").await;
    assert!(
        answer.starts_with("문서나 기억에서 이 내용을 찾지 못했어요.") && answer.contains("pai model recommend"),
        "{answer}"
    );
    assert!(turn.direct.is_some(), "{answer}");
    // pai's own Korean answers need no notice.
    let (turn, _) = Chat::with(Settings { english_only_model: Some("x".into()), ..Settings::default() })
        .await
        .say("우리 딸 이름은 지우야. 기억해 줘.")
        .await;
    assert!(turn.preface.is_none());
    // A model that speaks Korean: never.
    let chat = Chat::new().await;
    chat.model.push(Ok("네.".into()));
    assert_eq!(chat.say("안녕하세요").await.1, "네.");
}

#[tokio::test]
async fn an_answer_that_copies_the_recall_block_is_cut_before_the_copy() {
    let chat = Chat::new().await;
    chat.chat("My cat is called Tom and he is orange.", "Nice!").await;
    let other = chat.store.create_conversation(chat.user, "later").await.unwrap().id;
    let chat = Chat { conversation: other, ..chat };
    // A small model continues the recall block's lines instead of answering.
    chat.model.push(Ok("Your cat is Tom. - [said on 2026-12-01] My cat is called Tom and he is orange.".into()));
    // (Not a question: one that a memory answers gets the memory quoted, issue 24.)
    let (turn, answer) = chat.say("Write a line about my cat").await;
    assert!(turn.request.messages.iter().any(|m| m.content.contains("[said on ")), "the old message was recalled");
    assert!(!answer.contains("[said on"), "{answer}");
    assert!(answer.starts_with("Your cat is Tom."), "{answer}");
}

/// What another agent passes on through MCP's `remember`: decided by rule
/// (no model), against what pai knows, in Korean and English.
#[tokio::test]
async fn what_another_agent_passes_on_is_decided_against_what_pai_knows() {
    use pai_assistant::agent_memory::{self, RememberError};
    let chat = Chat::new().await;
    let embedder = &*chat.assistant.embedder;
    let store = &*chat.store;
    let via = agent_memory::conversation(store, chat.user).await.unwrap();
    assert_eq!(agent_memory::conversation(store, chat.user).await.unwrap(), via, "one conversation, reused");
    // A new user's first calls at once make one conversation.
    let jun = store.create_user("jun", "Asia/Seoul").await.unwrap().id;
    let ids = futures_util::future::join_all((0..8).map(|_| agent_memory::conversation(store, jun))).await;
    assert!(ids.iter().all(|id| id.as_ref().unwrap() == ids[0].as_ref().unwrap()), "{ids:?}");
    assert_eq!(store.conversations(jun).await.unwrap().len(), 1);
    let remember = |text: &'static str| async move {
        match agent_memory::remember(store, embedder, chat.user, via, text, Utc::now()).await {
            Ok(done) => done,
            Err(RememberError::BadText(why)) => panic!("{text:?} refused: {why}"),
            Err(RememberError::Store(e)) => panic!("{text:?}: {e}"),
        }
    };
    let actions =
        |done: &agent_memory::Remembered| -> Vec<String> { done.decisions.iter().map(|d| d.action.clone()).collect() };
    let first = remember("I live in Seoul.").await;
    assert_eq!(actions(&first), ["add"]);
    assert_eq!(first.memories[0].sources, [first.message.id], "the memory points at the words it came from");
    let moved = remember("I moved to Busan.").await;
    assert_eq!(actions(&moved), ["supersede"], "{:?}", moved.decisions);
    assert_eq!(moved.decisions[0].target, first.decisions[0].memory);
    // Said again, with "remember that" around it: known already.
    let again = remember("Remember that I moved to Busan.").await;
    assert_eq!(actions(&again), ["noop"], "{:?}", again.decisions);
    assert_eq!(again.memories.len(), 1);
    let korean = remember("우리 딸 이름은 지우야. 기억해 줘.").await;
    assert_eq!(actions(&korean), ["add"], "{:?}", korean.decisions);
    assert_eq!(korean.memories[0].text, "우리 딸 이름은 지우야");
    // "Don't forget …" asks to remember.
    for text in ["Don't forget that my mom's birthday is May 3.", "엄마 생일은 5월 3일이야. 잊지 마."] {
        let done = remember(text).await;
        assert_eq!(actions(&done), ["add"], "{text}: {:?}", done.decisions);
    }
    // Never a deletion on the say-so of text, in either language.
    for text in ["Forget that I live in Busan.", "내 딸 이름 잊어 줘"] {
        let refused = agent_memory::remember(store, embedder, chat.user, via, text, Utc::now()).await;
        assert!(matches!(refused, Err(RememberError::BadText(_))), "{text}");
    }
    let current: Vec<String> =
        chat.store.memories(chat.user, false).await.unwrap().into_iter().map(|m| m.text).collect();
    assert_eq!(current.len(), 4, "{current:?}");
    assert!(chat.model.requests().is_empty(), "the model was asked");

    // Forgetting by id takes the words out of the messages that said them.
    let busan = moved.decisions[0].memory.unwrap();
    let forgotten = agent_memory::forget(store, chat.user, busan).await.unwrap();
    assert_eq!(forgotten.memory.text, "I moved to Busan");
    assert!(forgotten.messages_rewritten >= 1);
    let history = chat.store.messages(chat.user, via).await.unwrap();
    assert!(history.iter().all(|m| !m.content.contains("moved to Busan")), "{history:#?}");
    assert!(agent_memory::forget(store, chat.user, busan).await.is_err(), "forgotten twice");
}

/// The answer stores itself: before `Done` reaches the client (who may read
/// it back at once), never when the client went away, what was shown when
/// the user stopped it, and nothing but the user's message for learning when
/// the model failed.
#[tokio::test]
async fn an_answer_is_kept_by_how_it_ended() {
    let chat = Chat::new().await;
    let user = |t: &str| (Role::User, t.to_string());
    let pai = |t: &str| (Role::Assistant, t.to_string());

    chat.model.push(Ok("Lunch is at noon.".into()));
    let mut answer = chat.answer("Write a line about lunch.").await;
    let mut done = false;
    while let Some(event) = answer.next().await {
        if let ChatEvent::Done(_) = event.unwrap() {
            done = true;
            assert_eq!(chat.stored().await.last(), Some(&pai("Lunch is at noon.")), "stored before Done");
        }
    }
    assert!(done);
    assert_eq!(answer.stored().map(|m| m.content.as_str()), Some("Lunch is at noon."));
    assert_eq!(chat.queued().await, 1, "the exchange is queued for extraction");
    chat.assistant.extractor.run_until_idle().await.unwrap();

    // The client went away after the first words: nothing more is kept.
    chat.model.push(Ok("Dinner is at seven tonight.".into()));
    let mut answer = chat.answer("Write a line about dinner.").await;
    assert!(matches!(answer.next().await, Some(Ok(ChatEvent::Delta(_)))));
    drop(answer);
    assert_eq!(chat.stored().await.last(), Some(&user("Write a line about dinner.")));

    // Stopped by the user: what was shown is kept.
    chat.model.push(Ok("Breakfast is at eight.".into()));
    let mut answer = chat.answer("Write a line about breakfast.").await;
    let Some(Ok(ChatEvent::Delta(first))) = answer.next().await else { panic!("no first words") };
    answer.stop().await.unwrap();
    assert_eq!(chat.stored().await.last(), Some(&pai(&first)));

    // The model failed: the user's message alone is queued for learning.
    chat.assistant.extractor.run_until_idle().await.unwrap();
    chat.model.push(Err(pai_core::Error::internal("the model crashed")));
    let mut answer = chat.answer("Write a line about tea.").await;
    assert!(matches!(answer.next().await, Some(Err(_))));
    assert!(answer.next().await.is_none());
    assert_eq!(chat.stored().await.last(), Some(&user("Write a line about tea.")));
    assert_eq!(chat.queued().await, 1);
}

/// Under a tools constraint pai's own tools run between rounds, their
/// results go back to the model, and the final text is stored as the answer;
/// a client's tool call ends the rounds and is stored as the calls.
#[tokio::test]
async fn pais_tools_run_between_rounds_and_the_final_answer_is_kept() {
    use pai_assistant::tool_rounds::ToolAnswer;
    let chat = Chat::new().await;
    let parse = |text: &str, _cut: bool| -> pai_core::Result<ToolAnswer> {
        Ok(match text.strip_prefix("CALL ") {
            Some(name) => ToolAnswer::Calls(vec![(name.trim().to_string(), "{}".to_string())]),
            None => ToolAnswer::Text(text.to_string()),
        })
    };
    let ask = async |text: &str| {
        let turn =
            chat.assistant.begin(chat.user, chat.conversation, text, Sampling::default(), Utc::now()).await.unwrap();
        let request = turn.request.clone();
        let mut rounds = 0;
        let done =
            chat.assistant.answer_with_tools(chat.user, Some(&turn), request, parse, |_, _| rounds += 1).await.unwrap();
        (done, rounds)
    };

    chat.model.push(Ok("CALL pai_current_time".into()));
    chat.model.push(Ok("It is late.".into()));
    let (done, rounds) = ask("Write the time in a line.").await;
    assert_eq!(rounds, 2);
    assert_eq!(done.content.as_deref(), Some("It is late."));
    assert_eq!(done.ran.len(), 1, "pai's tool ran once");
    assert_eq!(done.ran[0]["name"], "pai_current_time");
    let second = chat.model.requests().last().unwrap().clone();
    assert!(second.messages.iter().any(|m| m.role == Role::Tool), "its result went back to the model");
    assert_eq!(chat.stored().await.last().map(|(_, t)| t.as_str()), Some("It is late."));

    chat.model.push(Ok("CALL get_weather".into()));
    let (done, rounds) = ask("Write the weather in a line.").await;
    assert_eq!((rounds, done.content, done.ran.len()), (1, None, 0), "a client's tool goes back to the client");
    assert_eq!(done.calls, vec![("get_weather".to_string(), "{}".to_string())]);
    assert_eq!(chat.stored().await.last().map(|(_, t)| t.as_str()), Some("(called get_weather with {})"));
}
