//! `/v1/audio/transcriptions` on the real default speech model: OpenAI's
//! answer shapes, and every refusal clear and with nothing kept.

use std::sync::Arc;

use pai_server::ServerSettings;

use crate::common::{App, form};

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
    // Opus is named, so the user knows what to convert.
    let opus = recording("speech-en.opus");
    let r = app.send(form("/v1/audio/transcriptions", &key, &[("memo.opus", &opus)], &[("model", "whisper-1")])).await;
    let v = r.assert_error(400);
    assert!(v["error"]["message"].as_str().unwrap().contains("Opus"), "{v}");
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
