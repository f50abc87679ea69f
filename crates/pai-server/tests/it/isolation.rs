//! Adversarial isolation: an attacker with valid credentials of their own
//! goes after a victim's conversations, messages, memories, jobs, imports,
//! keys and documents through every endpoint, by real and by guessed ids. Every attempt is
//! a 404 (or 403 for admin-only routes), no response carries the victim's
//! data, and the victim's data is byte-for-byte unchanged afterwards.

use crate::common;

use common::App;
use pai_core::store::{JobState, UserId};
use serde_json::{Value, json};

const SECRET: &str = "victim-secret-zebra";

struct Victim {
    id: UserId,
    key: String,
    conversation: i64,
    message: i64,
    memory: i64,
    job: i64,
    import: i64,
    key_id: i64,
    document: i64,
    reminder: i64,
    notification: i64,
}

async fn victim(app: &App) -> Victim {
    let (user, key) = app.user("victim", false).await;
    app.model.push(Ok(format!("Noted, {SECRET} reply")));
    let mut body =
        json!({"model": "pai", "messages": [{"role": "user", "content": format!("My password hint is {SECRET}")}]});
    body["conversation"] = json!("new");
    let r = app.call("POST", "/v1/chat/completions", Some(&key), Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let conversation = r.json()["pai"]["conversation"].as_i64().unwrap();
    let message = app.store().messages(user.id, pai_core::store::ConversationId(conversation)).await.unwrap()[0].id.0;
    let memory =
        app.call("POST", "/api/memories", Some(&key), Some(json!({"text": format!("Hint is {SECRET}")}))).await;
    let memory = memory.json()["id"].as_i64().unwrap();
    let job = app.store().extraction_jobs(user.id, Some(JobState::Pending)).await.unwrap()[0].id;
    // A failed job, so "retry" would really change something.
    app.store().claim_extraction_job().await.unwrap();
    app.store().fail_extraction_job(user.id, job, "model down", false).await.unwrap();
    let file = json!({"title": SECRET, "messages": [{"role": "user", "content": format!("imported {SECRET}"),
                      "created_at": "2026-01-01T00:00:00Z", "external_id": "v1"}]});
    let import = app.call("POST", "/api/imports", Some(&key), Some(file)).await.json()["id"].as_i64().unwrap();
    pai_testkit::eventually("the import to end", async || {
        let r = app.call("GET", &format!("/api/imports/{import}"), Some(&key), None).await.json();
        (r["state"] != "running").then_some(())
    })
    .await;
    let key_id = app.call("GET", "/api/keys", Some(&key), None).await.json()["data"][0]["id"].as_i64().unwrap();
    let doc = format!("# Diary\n\nMy diary hint is {SECRET}, kept in the drawer.");
    let r = app.send(common::upload("/api/documents", &key, &[("diary.md", doc.as_bytes())])).await;
    let document = r.json()["data"][0]["document"]["id"].as_i64().unwrap();
    let remind = json!({"text": format!("Say {SECRET}"), "when": "in 10 minutes", "conversation": conversation});
    let reminder = app.call("POST", "/api/reminders", Some(&key), Some(remind)).await.json()["id"].as_i64().unwrap();
    let fired = json!({"text": format!("Fired {SECRET}"), "when": "in 5 minutes"});
    app.call("POST", "/api/reminders", Some(&key), Some(fired)).await;
    let notes = app.state.assistant.scheduler.tick(chrono::Utc::now() + chrono::Duration::minutes(6)).await.unwrap();
    let notification = notes[0].id.0;
    Victim {
        id: user.id,
        key,
        conversation,
        message,
        memory,
        job: job.0,
        import,
        key_id,
        document,
        reminder,
        notification,
    }
}

/// Everything the victim can see of their own data, as text.
async fn snapshot(app: &App, v: &Victim) -> String {
    let mut parts = Vec::new();
    for path in [
        "/api/me",
        "/api/conversations",
        &format!("/api/conversations/{}", v.conversation),
        "/api/memories?history=true",
        &format!("/api/memories/{}", v.memory),
        "/api/jobs",
        "/api/imports",
        "/api/keys",
        "/api/documents",
        &format!("/api/documents/{}", v.document),
        "/api/reminders",
        &format!("/api/reminders/{}", v.reminder),
        "/api/notifications",
    ] {
        let r = app.call("GET", path, Some(&v.key), None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        parts.push(r.text());
    }
    let mut export = app.call("GET", "/api/memories/export", Some(&v.key), None).await.json();
    export["exported_at"] = Value::Null;
    parts.push(export.to_string());
    parts.push(format!("{:?}", app.store().extraction_jobs(v.id, None).await.unwrap()));
    parts.join("\n")
}

#[tokio::test]
async fn an_attacker_never_reaches_the_victims_data() {
    let app = App::new().await;
    let v = victim(&app).await;
    let (attacker, akey) = app.user("attacker", false).await;
    // The attacker has data of their own, so "empty" answers prove nothing by accident.
    app.call("POST", "/api/memories", Some(&akey), Some(json!({"text": "I like tea"}))).await;
    let before = snapshot(&app, &v).await;

    // Real ids, ids nobody has, and ids that are not numbers (the attacker's
    // own ids are left out: those rightly work).
    let guessed = |real: i64| -> Vec<String> {
        vec![
            real.to_string(),
            (real + 500).to_string(),
            (real + 1000).to_string(),
            "0".into(),
            "-1".into(),
            "abc".into(),
            "1e3".into(),
            "9223372036854775807".into(),
            "99999999999999999999".into(),
            format!("{real}%20OR%201=1"),
        ]
    };
    let routes: Vec<(&str, String, i64, Option<Value>)> = vec![
        ("GET", "/api/conversations/{}".into(), v.conversation, None),
        ("PATCH", "/api/conversations/{}".into(), v.conversation, Some(json!({"title": "pwned"}))),
        ("DELETE", "/api/conversations/{}".into(), v.conversation, None),
        ("GET", "/api/conversations/{}/messages".into(), v.conversation, None),
        ("POST", "/api/conversations/{}/messages".into(), v.conversation, Some(json!({"content": "pwned"}))),
        ("GET", "/api/memories/{}".into(), v.memory, None),
        ("PATCH", "/api/memories/{}".into(), v.memory, Some(json!({"text": "pwned"}))),
        ("DELETE", "/api/memories/{}".into(), v.memory, None),
        ("POST", "/api/jobs/{}/retry".into(), v.job, None),
        ("GET", "/api/imports/{}".into(), v.import, None),
        ("DELETE", "/api/keys/{}".into(), v.key_id, None),
        ("GET", "/api/documents/{}".into(), v.document, None),
        ("DELETE", "/api/documents/{}".into(), v.document, None),
        ("GET", "/api/reminders/{}".into(), v.reminder, None),
        ("DELETE", "/api/reminders/{}".into(), v.reminder, None),
        ("POST", "/api/notifications/{}/read".into(), v.notification, None),
    ];
    let mut attempts = 0;
    for (method, template, real, body) in &routes {
        for id in guessed(*real) {
            let path = template.replace("{}", &id);
            let r = app.call(method, &path, Some(&akey), body.clone()).await;
            assert_eq!(r.status, 404, "{method} {path} answered {}: {}", r.status, r.text());
            assert!(!r.text().contains(SECRET));
            attempts += 1;
        }
    }
    // Admin routes are closed to a non-admin whatever the id.
    for method in ["PATCH", "DELETE"] {
        let r =
            app.call(method, &format!("/api/admin/users/{}", v.id), Some(&akey), Some(json!({"disabled": true}))).await;
        assert_eq!(r.status, 403);
    }
    app.call("GET", "/api/admin/users", Some(&akey), None).await.assert_error(403);

    // Ids in bodies: the conversation extension and the header.
    for c in [json!(v.conversation), json!(v.conversation.to_string())] {
        let body =
            json!({"model": "pai", "conversation": c, "messages": [{"role": "user", "content": "what did I say?"}]});
        app.call("POST", "/v1/chat/completions", Some(&akey), Some(body)).await.assert_error(404);
        attempts += 1;
    }
    // A reminder placed in the victim's conversation.
    let plant = json!({"text": "pwned", "when": "in 1 hour", "conversation": v.conversation});
    app.call("POST", "/api/reminders", Some(&akey), Some(plant)).await.assert_error(404);
    attempts += 1;
    // An owner named in a body is refused, never used.
    for (path, body) in [
        ("/api/memories", json!({"text": "pwned", "user": v.id})),
        ("/api/memories", json!({"text": "pwned", "user_id": v.id})),
        ("/api/keys", json!({"name": "mine", "user": v.id})),
        ("/api/conversations", json!({"title": "x", "user": v.id})),
        ("/api/recall", json!({"query": SECRET, "user": v.id})),
        ("/api/reminders", json!({"text": "pwned", "when": "in 1 hour", "user": v.id})),
    ] {
        app.call("POST", path, Some(&akey), Some(body)).await.assert_error(400);
        attempts += 1;
    }
    // Searches and listings show the attacker only their own data.
    app.model.push(Ok("I do not know.".into()));
    for (method, path, body) in [
        ("GET", "/api/conversations".to_string(), None),
        ("GET", "/api/memories?history=true".into(), None),
        ("GET", format!("/api/memories/search?q={SECRET}"), None),
        ("POST", "/api/recall".into(), Some(json!({"query": format!("password hint {SECRET}"), "k": 50}))),
        ("GET", "/api/memories/export".into(), None),
        ("GET", "/api/jobs".into(), None),
        ("GET", "/api/imports".into(), None),
        ("GET", "/api/keys".into(), None),
        ("GET", "/api/documents".into(), None),
        ("GET", "/api/reminders".into(), None),
        ("GET", "/api/notifications".into(), None),
        (
            "POST",
            "/v1/chat/completions".into(),
            Some(
                json!({"model": "pai", "messages": [{"role": "user", "content": format!("What is my password hint {SECRET}?")}]}),
            ),
        ),
    ] {
        let r = app.call(method, &path, Some(&akey), body).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let text = r.text();
        // The attacker typed the secret into the last two queries themselves;
        // only the victim's own sentences would betray a leak.
        for leak in ["password hint is", "Hint is", "imported victim", "Noted, victim", "diary hint", "drawer"] {
            assert!(!text.contains(leak), "{path} leaked {leak:?}: {text}");
        }
    }
    // The prompt the model saw for the attacker holds none of the victim's words.
    let last = app.model.requests().last().unwrap().clone();
    assert!(
        last.messages
            .iter()
            .all(|m| !m.content.contains("Hint is") && !m.content.contains("hint is") && !m.content.contains("drawer")),
        "{last:?}"
    );

    let after = snapshot(&app, &v).await;
    assert_eq!(before, after, "the victim's data changed");
    assert!(attempts > 100, "{attempts}");
    // And the attacker's own things still work, so the 404s above were not a broken server.
    let own = app.call("GET", "/api/memories", Some(&akey), None).await.json();
    assert_eq!(own["data"][0]["text"], "I like tea");
    let _ = attacker;
}

#[tokio::test]
async fn a_session_cookie_reaches_no_more_than_a_key() {
    let app = App::new().await;
    let v = victim(&app).await;
    app.user("attacker", false).await;
    let r = app
        .call("POST", "/api/session", None, Some(json!({"name": "attacker", "password": "password-attacker"})))
        .await;
    let cookie = r.headers[axum::http::header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    let csrf = r.json()["csrf_token"].as_str().unwrap().to_string();
    let before = snapshot(&app, &v).await;
    for (method, path) in [
        ("GET", format!("/api/memories/{}", v.memory)),
        ("DELETE", format!("/api/memories/{}", v.memory)),
        ("DELETE", format!("/api/conversations/{}", v.conversation)),
        ("GET", format!("/api/conversations/{}/messages", v.conversation)),
        ("GET", format!("/api/imports/{}", v.import)),
        ("DELETE", format!("/api/keys/{}", v.key_id)),
        ("GET", format!("/api/documents/{}", v.document)),
        ("DELETE", format!("/api/documents/{}", v.document)),
    ] {
        let mut r = common::request(method, &path, None, None);
        r.headers_mut().insert(axum::http::header::COOKIE, cookie.parse().unwrap());
        r.headers_mut().insert("x-csrf-token", csrf.parse().unwrap());
        let r = app.send(r).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text());
    }
    assert_eq!(before, snapshot(&app, &v).await);
    let _ = v.message;
}

/// The same attack through MCP (`/mcp`): every tool, resource and the prompt
/// answer with the key's user's data only, destructive tools refuse the
/// victim's ids, and a session cookie does not open `/mcp` at all.
#[tokio::test]
async fn mcp_reaches_no_more_than_a_key() {
    let app = App::new().await;
    let v = victim(&app).await;
    let (_, akey) = app.user("attacker", false).await;
    let own = app.tool(&akey, "remember", json!({"text": "I like tea."})).await;
    let own = own["structuredContent"]["memories"][0]["id"].as_i64().unwrap();
    let before = snapshot(&app, &v).await;
    let leaks =
        ["password hint is", "Hint is", "imported victim", "Noted, victim", "diary hint", "drawer", "Say victim"];
    let no_leak = |what: &str, text: &str| {
        for leak in leaks {
            assert!(!text.contains(leak), "{what} leaked {leak:?}: {text}");
        }
    };
    let mut attempts = 0;
    for (tool, arguments) in [
        // (The queries echo in the answer: they hold none of the leak markers.)
        ("recall", json!({"query": format!("password hint {SECRET} diary where kept"), "k": 50})),
        ("search_documents", json!({"query": format!("my diary {SECRET} where kept"), "k": 50})),
        ("list_memories", json!({"history": true, "limit": 200})),
        ("list_memories", json!({"history": true, "before": v.memory + 1})),
        ("list_reminders", json!({})),
    ] {
        let r = app.tool(&akey, tool, arguments).await;
        no_leak(tool, &r.to_string());
        attempts += 1;
    }
    // Real ids, their neighbours and nonsense (the attacker's own left out: those rightly work).
    let id_guesses = |real: i64| [real, real + 1, real - 1, 0, -1, i64::MAX, i64::MIN];
    for id in id_guesses(v.memory).into_iter().filter(|id| *id != own) {
        let r = app.tool(&akey, "forget", json!({"id": id})).await;
        assert_eq!(r["isError"], true, "forget {id}: {r}");
        no_leak("forget", &r.to_string());
        attempts += 1;
    }
    for id in id_guesses(v.reminder) {
        let r = app.tool(&akey, "cancel_reminder", json!({"id": id})).await;
        assert_eq!(r["isError"], true, "cancel_reminder {id}: {r}");
        no_leak("cancel_reminder", &r.to_string());
        attempts += 1;
    }
    let r = app.mcp(Some(&akey), "resources/list", json!({})).await;
    assert!(!r.text().contains(&format!("pai://documents/{}", v.document)), "{}", r.text());
    no_leak("resources/list", &r.text());
    for uri in [
        format!("pai://documents/{}", v.document),
        format!("pai://documents/{}", v.document + 1),
        "pai://documents/-1".into(),
        "pai://documents/../memories/export".into(),
    ] {
        let r = app.mcp(Some(&akey), "resources/read", json!({"uri": uri})).await;
        assert!(r.json()["error"]["code"].is_i64(), "{uri}: {}", r.text());
        no_leak(&uri, &r.text());
        attempts += 1;
    }
    let r = app.mcp(Some(&akey), "resources/read", json!({"uri": "pai://memories/export"})).await;
    let export = r.json()["result"]["contents"][0]["text"].as_str().unwrap().to_string();
    assert!(export.contains("I like tea"), "{export}");
    no_leak("the export", &export);
    let question =
        json!({"name": "what_pai_knows", "arguments": {"question": format!("What is my password hint {SECRET}?")}});
    let r = app.mcp(Some(&akey), "prompts/get", question).await;
    assert_eq!(r.status, 200, "{}", r.text());
    no_leak("the prompt", &r.text());

    // A session cookie is not a key: /mcp refuses it before any tool runs.
    let login = app
        .call("POST", "/api/session", None, Some(json!({"name": "attacker", "password": "password-attacker"})))
        .await;
    let cookie = login.headers[axum::http::header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    let csrf = login.json()["csrf_token"].as_str().unwrap().to_string();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "list_memories", "arguments": {}}});
    let mut r = common::request("POST", "/mcp", None, Some(body.to_string()));
    r.headers_mut().insert(axum::http::header::COOKIE, cookie.parse().unwrap());
    r.headers_mut().insert("x-csrf-token", csrf.parse().unwrap());
    r.headers_mut().insert(axum::http::header::HOST, "pai.example".parse().unwrap());
    r.headers_mut().insert(axum::http::header::ACCEPT, "application/json, text/event-stream".parse().unwrap());
    app.send(r).await.assert_error(401);

    assert_eq!(before, snapshot(&app, &v).await, "the victim's data changed");
    assert!(attempts >= 22, "{attempts}");
}
