//! `/v1/audio/transcriptions` on the real default speech model: OpenAI's
//! answer shapes, and every refusal clear and with nothing kept.

use std::sync::Arc;

use pai_server::ServerSettings;

use crate::common::{App, form, upload};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../pai-voice/tests/fixtures");

fn recording(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

#[tokio::test]
async fn a_recording_comes_back_in_each_of_openais_formats() {
    let app = App::new().await;
    let (_, key) = app.user("minji", false).await;
    let wav = recording("speech-en.wav");
    let send = |fields: Vec<(&'static str, &'static str)>| {
        let request = form("/v1/audio/transcriptions", &key, &[("memo.wav", &wav)], &fields);
        app.send(request)
    };

    let json = send(vec![("model", "whisper-1")]).await;
    assert_eq!(json.status, 200, "{}", json.text());
    let v = json.json();
    let text = v["text"].as_str().unwrap().to_lowercase();
    assert!(text.contains("friday") && text.contains("meet"), "{v}");
    assert_eq!(v["usage"]["type"], "duration");
    assert!(v["usage"]["seconds"].as_u64().unwrap() >= 2, "{v}");

    let verbose = send(vec![("model", "whisper-base"), ("response_format", "verbose_json"), ("language", "en")]).await;
    let v = verbose.json();
    assert_eq!((v["task"].as_str(), v["language"].as_str()), (Some("transcribe"), Some("english")), "{v}");
    let duration = v["duration"].as_f64().unwrap();
    let segments = v["segments"].as_array().unwrap();
    assert!(!segments.is_empty(), "{v}");
    let mut last = 0.0;
    for (i, s) in segments.iter().enumerate() {
        let (start, end) = (s["start"].as_f64().unwrap(), s["end"].as_f64().unwrap());
        assert!(start >= last && end >= start && end <= duration + 0.01, "{v}");
        last = start;
        assert_eq!(s["id"], i);
        assert!(!s["tokens"].as_array().unwrap().is_empty(), "{s}");
        for field in ["seek", "temperature", "avg_logprob", "compression_ratio", "no_speech_prob"] {
            assert!(s[field].is_number(), "{field}: {s}");
        }
    }

    for (format, starts) in [("text", ""), ("srt", "1\n00:00:0"), ("vtt", "WEBVTT\n\n00:00:0")] {
        let r = send(vec![("model", "whisper-1"), ("response_format", format)]).await;
        assert_eq!(r.status, 200, "{format}: {}", r.text());
        assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/plain"), "{format}");
        assert!(r.text().starts_with(starts) && r.text().to_lowercase().contains("friday"), "{format}: {}", r.text());
    }
}

#[tokio::test]
async fn bad_requests_are_refused_by_what_to_fix() {
    let app = App::new().await;
    let (_, key) = app.user("minji", false).await;
    let wav = recording("speech-en.wav");
    let with_wav: &[(&str, &[u8])] = &[("memo.wav", &wav)];
    let cases: Vec<(&[(&str, &[u8])], Vec<(&str, &str)>, u16, &str)> = vec![
        (with_wav, vec![], 400, "model"),
        (&[], vec![("model", "whisper-1")], 400, "file"),
        (&[("memo.mp3", b"this is a text file, not audio")], vec![("model", "whisper-1")], 400, "file"),
        (with_wav, vec![("model", "gpt-4o-transcribe")], 404, "model"),
        (with_wav, vec![("model", "whisper-1"), ("response_format", "xml")], 400, "response_format"),
        (with_wav, vec![("model", "whisper-1"), ("language", "klingon")], 400, "language"),
        (with_wav, vec![("model", "whisper-1"), ("temperature", "3")], 400, "temperature"),
        (with_wav, vec![("model", "whisper-1"), ("timestamp_granularities[]", "word")], 400, "timestamp_granularities"),
        (with_wav, vec![("model", "whisper-1"), ("colour", "blue")], 400, "colour"),
    ];
    for (files, fields, status, param) in cases {
        let r = app.send(form("/v1/audio/transcriptions", &key, files, &fields)).await;
        let v = r.assert_error(status);
        assert_eq!(v["error"]["param"], param, "{fields:?}: {v}");
    }
    // A voice note in Ogg Opus (what messengers and browsers record) is read.
    let opus = recording("speech-en.opus");
    let r = app.send(form("/v1/audio/transcriptions", &key, &[("memo.opus", &opus)], &[("model", "whisper-1")])).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["text"].as_str().unwrap().to_lowercase().contains("friday"), "{}", r.text());
    // Nothing of a recording is kept: no document, no conversation.
    let docs = app.call("GET", "/api/documents", Some(&key), None).await.json();
    assert_eq!(docs["data"].as_array().map(Vec::len), Some(0), "{docs}");
}

#[tokio::test]
async fn a_server_without_the_speech_model_says_how_to_get_it_and_lists_none() {
    let app = App::with_speech(
        ServerSettings::default(),
        Arc::new(pai_voice::Speech::new("/nonexistent/ggml-whisper-base.bin".into(), 2, 1)),
    )
    .await;
    let (_, key) = app.user("minji", false).await;
    let models = app.call("GET", "/v1/models", Some(&key), None).await.json();
    let ids: Vec<&str> = models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(!ids.contains(&"whisper-1"), "{ids:?}");
    let wav = recording("speech-en.wav");
    let r = app.send(form("/v1/audio/transcriptions", &key, &[("memo.wav", &wav)], &[("model", "whisper-1")])).await;
    let v = r.assert_error(503);
    assert!(v["error"]["message"].as_str().unwrap().contains("make fetch-models"), "{v}");

    let with = App::new().await;
    let (_, key) = with.user("minji", false).await;
    let models = with.call("GET", "/v1/models", Some(&key), None).await.json();
    let ids: Vec<&str> = models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"whisper-1") && ids.contains(&"whisper-base"), "{ids:?}");
}

#[tokio::test]
async fn a_recording_becomes_a_document_of_timed_passages_with_reminders_to_confirm() {
    let app = App::new().await;
    let (_, key) = app.user("minji", false).await;
    let mp3 = recording("speech-en.mp3");
    let r = app.send(upload("/api/documents", &key, &[("call.mp3", &mp3)])).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let file = &r.json()["data"][0];
    assert_eq!(file["recording"]["language"], "en", "{file}");
    assert!(file["recording"]["seconds"].as_f64().unwrap() > 1.0, "{file}");
    let id = file["document"]["id"].as_i64().unwrap();
    let doc = app.call("GET", &format!("/api/documents/{id}"), Some(&key), None).await.json();
    let passage = &doc["passages"][0];
    assert!(passage["text"].as_str().unwrap().to_lowercase().contains("friday"), "{doc}");
    assert!(passage["heading"].as_str().unwrap().starts_with("00:00:00–00:00:0"), "{doc}");

    // "Let's meet on Friday at 10 in the morning": offered, not scheduled.
    let suggestions = file["recording"]["suggestions"].as_array().unwrap().clone();
    assert_eq!(suggestions.len(), 1, "{file}");
    let s = &suggestions[0];
    assert!(s["phrase"].as_str().unwrap().to_lowercase().contains("friday"), "{s}");
    assert!(s["when"].is_string() && s["question"].is_null(), "{s}");
    let reminders = app.call("GET", "/api/reminders", Some(&key), None).await.json();
    assert_eq!(reminders["data"].as_array().map(Vec::len), Some(0), "{reminders}");
    // The same suggestions later, from the stored passages.
    let again = app.call("GET", &format!("/api/documents/{id}/suggestions"), Some(&key), None).await.json();
    assert_eq!(again["data"].as_array().unwrap(), &suggestions);
    // Confirming is creating the reminder with the suggestion's words.
    let body = serde_json::json!({"text": s["text"], "when": s["when"]});
    let made = app.call("POST", "/api/reminders", Some(&key), Some(body)).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let time = |v: &serde_json::Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert_eq!(time(&made.json()["next_at"]), time(&s["at"]), "{}", made.text());
    // Offered since as confirmed, so it is not made twice.
    assert_eq!(s["confirmed"], false, "{s}");
    let after = app.call("GET", &format!("/api/documents/{id}/suggestions"), Some(&key), None).await.json();
    assert_eq!(after["data"][0]["confirmed"], true, "{after}");

    // Summed up in its own words, at upload and later.
    let summary = &file["recording"]["summary"];
    assert!(summary["line"]["text"].as_str().unwrap().to_lowercase().contains("friday"), "{summary}");
    assert!(summary["parts"][0]["heading"].as_str().unwrap().starts_with("00:00:00–00:00:0"), "{summary}");
    let again = app.call("GET", &format!("/api/documents/{id}/summary"), Some(&key), None).await.json();
    assert_eq!(&again, summary);
    // Not asked to learn: no conversation.
    assert!(file["recording"].get("learned").is_none(), "{file}");
    let conversations = app.call("GET", "/api/conversations", Some(&key), None).await.json();
    assert_eq!(conversations["data"].as_array().map(Vec::len), Some(0), "{conversations}");

    // Another user sees neither the document nor its suggestions nor its summary.
    let (_, other) = app.user("jisoo", false).await;
    app.call("GET", &format!("/api/documents/{id}/suggestions"), Some(&other), None).await.assert_error(404);
    app.call("GET", &format!("/api/documents/{id}/summary"), Some(&other), None).await.assert_error(404);
}

#[tokio::test]
async fn a_voice_memo_learned_from_teaches_memories_marked_as_from_it_and_goes_with_it() {
    // The model finds nothing more than the rules do.
    let model = Arc::new(pai_engine::FakeChatModel::scripted([r#"{"memories": []}"#; 4]));
    let app = App::with_model(ServerSettings::default(), model).await;
    let (minji, key) = app.user("minji", false).await;
    let memo = recording("memo-en.mp3"); // "Note to self. I moved to London last month. I am allergic to cats."
    let r = app.send(upload("/api/documents?learn=true", &key, &[("memo.mp3", &memo)])).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let file = &r.json()["data"][0];
    let id = file["document"]["id"].as_i64().unwrap();
    let learned = &file["recording"]["learned"];
    assert_eq!((learned["messages"].as_u64(), learned["jobs"].as_u64()), (Some(1), Some(1)), "{file}");
    let conversation = learned["conversation"].as_i64().unwrap();
    let c = app.call("GET", &format!("/api/conversations/{conversation}"), Some(&key), None).await.json();
    assert_eq!(c["title"], "Recording: memo.mp3", "{c}");

    // Learned from as the owner's own words; the sources say where from.
    let outcomes = app.state.assistant.extractor.run_until_idle().await.unwrap();
    assert_eq!(outcomes.len(), 1);
    let memories = app.call("GET", "/api/memories", Some(&key), None).await.json();
    let texts: Vec<&str> = memories["data"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert!(texts.iter().any(|t| t.contains("London")), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("allergic to cats")), "{texts:?}");
    let first = memories["data"][0]["id"].as_i64().unwrap();
    let details = app.call("GET", &format!("/api/memories/{first}"), Some(&key), None).await.json();
    assert_eq!(details["sources"][0]["external_id"], format!("recording:{id}:0"), "{details}");
    assert_eq!(details["sources"][0]["conversation"], conversation, "{details}");

    // The same recording again: stored already, learned from already.
    let r = app.send(upload("/api/documents?learn=true", &key, &[("memo.mp3", &memo)])).await;
    let again = &r.json()["data"][0];
    assert_eq!(again["status"], "unchanged", "{again}");
    assert_eq!(again["recording"]["learned"]["jobs"], 0, "{again}");
    assert_eq!(again["recording"]["learned"]["conversation"], conversation, "{again}");

    // Deleting the recording deletes its words everywhere; the memories stay, as an import's do.
    assert_eq!(app.call("DELETE", &format!("/api/documents/{id}"), Some(&key), None).await.status, 204);
    app.call("GET", &format!("/api/conversations/{conversation}"), Some(&key), None).await.assert_error(404);
    let hits = app.store().search_text(minji.id, "London", 10).await.unwrap();
    assert!(hits.iter().all(|h| !matches!(h, pai_core::store::TextHit::Message { .. })), "{hits:?}");
    let memories = app.call("GET", "/api/memories", Some(&key), None).await.json();
    assert_eq!(memories["data"].as_array().map(Vec::len), Some(texts.len()), "{memories}");

    // A bad flag is refused before anything is transcribed.
    let r = app.send(upload("/api/documents?learn=maybe", &key, &[("memo.mp3", &memo)])).await;
    r.assert_error(400);
}

#[tokio::test]
async fn a_silent_or_unreadable_recording_is_refused_and_nothing_is_stored() {
    let app = App::new().await;
    let (_, key) = app.user("minji", false).await;
    let mut silent = b"RIFF\x24\xe2\x04\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00data\x00\xe2\x04\x00".to_vec();
    silent.resize(44 + 16_000 * 2 * 10, 0); // ten seconds of silence
    let truncated = recording("speech-en.mp3")[..200].to_vec();
    let r = app
        .send(upload(
            "/api/documents",
            &key,
            &[("quiet.wav", &silent), ("cut.mp3", &truncated), ("voice.m4a", b"a text file named like a recording")],
        ))
        .await;
    let v = r.assert_error(400);
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("quiet.wav: no speech was heard"), "{message}");
    assert!(message.contains("cut.mp3: "), "{message}");
    assert!(message.contains("voice.m4a: this is not audio pai can read"), "{message}");
    let docs = app.call("GET", "/api/documents", Some(&key), None).await.json();
    assert_eq!(docs["data"].as_array().map(Vec::len), Some(0), "{docs}");
}
