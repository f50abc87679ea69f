//! Decoding recordings: the formats people upload, what is refused and why.

use pai_voice::{AudioError, decode};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const HOUR: f64 = 3600.0;

/// A 16-bit PCM WAV of interleaved `samples`.
fn wav(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
    let data_len = samples.len() as u32 * 2;
    let mut b = Vec::with_capacity(44 + data_len as usize);
    b.extend(b"RIFF");
    b.extend((36 + data_len).to_le_bytes());
    b.extend(b"WAVEfmt ");
    b.extend(16u32.to_le_bytes());
    b.extend(1u16.to_le_bytes());
    b.extend(channels.to_le_bytes());
    b.extend(rate.to_le_bytes());
    b.extend((rate * channels as u32 * 2).to_le_bytes());
    b.extend((channels * 2).to_le_bytes());
    b.extend(16u16.to_le_bytes());
    b.extend(b"data");
    b.extend(data_len.to_le_bytes());
    samples.iter().for_each(|v| b.extend(v.to_le_bytes()));
    b
}

/// A 16-bit PCM WAV of `seconds` of a sine at `hz`, `channels` channels.
fn sine_wav(rate: u32, channels: u16, hz: f64, seconds: f64, amplitude: f64) -> Vec<u8> {
    let frames = (rate as f64 * seconds) as u32;
    let samples: Vec<i16> = (0..frames)
        .flat_map(|i| {
            let v = (amplitude * (2.0 * std::f64::consts::PI * hz * i as f64 / rate as f64).sin() * 32767.0) as i16;
            std::iter::repeat_n(v, channels as usize)
        })
        .collect();
    wav(rate, channels, &samples)
}

/// A WebM (Matroska) file of one audio track in `codec` (a Matroska codec
/// id) with one block of zeros: a container pai demuxes, whatever the codec.
fn webm_with_codec(codec: &str) -> Vec<u8> {
    // An EBML element: its id, its size as an 8-byte vint, its data.
    fn element(id: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = id.to_vec();
        out.push(0x01);
        out.extend(&(data.len() as u64).to_be_bytes()[1..]);
        out.extend(data);
        out
    }
    let header =
        element(&[0x1A, 0x45, 0xDF, 0xA3], &[element(&[0x42, 0x82], b"webm"), element(&[0x42, 0x87], &[4])].concat());
    let audio = element(&[0xE1], &[element(&[0xB5], &48_000f64.to_be_bytes()), element(&[0x9F], &[2])].concat());
    let track = element(
        &[0xAE],
        &[
            element(&[0xD7], &[1]),
            element(&[0x73, 0xC5], &[1]),
            element(&[0x83], &[2]),
            element(&[0x86], codec.as_bytes()),
            audio,
        ]
        .concat(),
    );
    let tracks = element(&[0x16, 0x54, 0xAE, 0x6B], &track);
    let block = [&[0x81, 0, 0, 0x80][..], &[0u8; 64]].concat();
    let cluster = element(&[0x1F, 0x43, 0xB6, 0x75], &[element(&[0xE7], &[0]), element(&[0xA3], &block)].concat());
    let info = element(
        &[0x15, 0x49, 0xA9, 0x66],
        &[
            element(&[0x2A, 0xD7, 0xB1], &1_000_000u32.to_be_bytes()), // timestamp scale: ms
            element(&[0x4D, 0x80], b"pai-test"),                       // muxing app
            element(&[0x57, 0x41], b"pai-test"),                       // writing app
        ]
        .concat(),
    );
    let segment = element(&[0x18, 0x53, 0x80, 0x67], &[info, tracks, cluster].concat());
    [header, segment].concat()
}

fn zero_crossings(s: &[f32]) -> usize {
    s.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count()
}

fn rms(s: &[f32]) -> f64 {
    (s.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
}

#[test]
fn a_stereo_44k_recording_becomes_16k_mono_at_the_same_pitch_and_length() {
    let audio = decode(sine_wav(44_100, 2, 440.0, 2.0, 0.5), Some("wav"), HOUR).unwrap();
    assert!((audio.seconds() - 2.0).abs() < 0.02, "{} s", audio.seconds());
    let crossings = zero_crossings(&audio.samples) as f64;
    assert!((crossings - 1760.0).abs() < 20.0, "{crossings} zero crossings for 440 Hz over 2 s");
    let level = rms(&audio.samples[1000..audio.samples.len() - 1000]);
    assert!((level - 0.5 / 2f64.sqrt()).abs() < 0.02, "rms {level}");
}

#[test]
fn what_16k_cannot_hold_is_filtered_out_not_folded_back() {
    // 12 kHz is above 16 kHz's 8 kHz limit: naive resampling would fold it to 4 kHz at full level.
    let audio = decode(sine_wav(48_000, 1, 12_000.0, 1.0, 0.5), None, HOUR).unwrap();
    let level = rms(&audio.samples[1000..audio.samples.len() - 1000]);
    assert!(level < 0.01, "rms {level} of a tone that 16 kHz cannot carry");
}

#[test]
fn common_formats_decode_to_the_same_length() {
    let wav = decode(std::fs::read(format!("{FIXTURES}/speech-en.wav")).unwrap(), Some("wav"), HOUR).unwrap();
    assert!(wav.seconds() > 2.0, "{} s", wav.seconds());
    for name in ["speech-en.flac", "speech-en.mp3", "speech-en.m4a", "speech-en.ogg", "speech-en.opus"] {
        let bytes = std::fs::read(format!("{FIXTURES}/{name}")).unwrap();
        // No hint: the container is found from the bytes.
        let audio = decode(bytes, None, HOUR).unwrap_or_else(|e| panic!("{name}: {e}"));
        // MP3, Vorbis and Opus pad the start and end by up to a few tens of
        // milliseconds. AAC in MP4 by up to 128 ms: symphonia's MP4 reader
        // does not trim the encoder's priming (1,024 samples) and padding.
        let slack = if name.ends_with(".m4a") { 0.15 } else { 0.1 };
        assert!(
            (audio.seconds() - wav.seconds()).abs() < slack,
            "{name}: {} s against {} s",
            audio.seconds(),
            wav.seconds()
        );
        assert!(rms(&audio.samples) > 0.01, "{name} decoded to silence");
    }
}

#[test]
fn what_is_not_readable_is_refused_by_what_to_do() {
    assert_eq!(decode(Vec::new(), None, HOUR).unwrap_err(), AudioError::NotAudio);
    let text = b"Minutes of the meeting: nothing of note. ".repeat(200);
    assert_eq!(decode(text, Some("mp3"), HOUR).unwrap_err(), AudioError::NotAudio);
    // A container pai reads holding a codec it has no decoder for: named, with what to do.
    match decode(webm_with_codec("A_AC3"), Some("webm"), HOUR).unwrap_err() {
        e @ AudioError::Unsupported(_) => {
            assert!(e.to_string().contains("AC-3") && e.to_string().contains("convert"), "{e}")
        }
        other => panic!("AC-3: {other}"),
    }
    let header_only = sine_wav(16_000, 1, 440.0, 0.0, 0.5);
    assert_eq!(decode(header_only, None, HOUR).unwrap_err(), AudioError::Empty);
}

#[test]
fn a_recording_cut_short_keeps_what_it_holds() {
    let whole = sine_wav(16_000, 1, 440.0, 2.0, 0.5);
    let half = whole[..44 + 32_000].to_vec();
    let audio = decode(half, None, HOUR).unwrap();
    assert!((audio.seconds() - 1.0).abs() < 0.02, "{} s", audio.seconds());
}

#[test]
fn a_recording_over_the_limit_is_refused_before_it_is_decoded_whole() {
    match decode(sine_wav(16_000, 1, 440.0, 3.0, 0.5), None, 1.0).unwrap_err() {
        AudioError::TooLong { limit, .. } => assert_eq!(limit, 1.0),
        other => panic!("{other}"),
    }
}

#[test]
fn recordings_are_told_from_documents_by_name_or_by_their_first_bytes() {
    use pai_voice::audio::looks_like_audio;
    for name in ["speech-en.wav", "speech-en.flac", "speech-en.mp3", "speech-en.m4a", "speech-en.ogg", "speech-en.opus"]
    {
        let bytes = std::fs::read(format!("{FIXTURES}/{name}")).unwrap();
        assert!(looks_like_audio("upload", &bytes), "{name} by its bytes");
        assert!(looks_like_audio(name, b""), "{name} by its name");
    }
    assert!(looks_like_audio("voice.M4A", b""));
    let utf16 = [0xFF, 0xFE, b'h', 0, b'i', 0];
    for (name, bytes) in [("notes.md", &b"# Notes"[..]), ("a.pdf", b"%PDF-1.7"), ("b.txt", &utf16), ("c", b"")] {
        assert!(!looks_like_audio(name, bytes), "{name}");
    }
}

mod transcription {
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex, OnceLock};

    use pai_voice::{DEFAULT_SPEECH_MODEL, Options, Speech, SpeechError, TranscribeError, Transcriber, decode};

    use super::{FIXTURES, HOUR};

    /// The default model, loaded once for the tests.
    fn whisper() -> &'static Transcriber {
        static ONE: OnceLock<Transcriber> = OnceLock::new();
        ONE.get_or_init(|| {
            let path = pai_testkit::models_dir().join(DEFAULT_SPEECH_MODEL);
            assert!(path.exists(), "{} is missing: run `make fetch-models`", path.display());
            Transcriber::open(&path).unwrap()
        })
    }

    fn speaking(language: Option<&str>) -> Options {
        Options { language: language.map(str::to_string), threads: 2, ..Options::default() }
    }

    fn fixture(name: &str) -> pai_voice::Audio {
        decode(std::fs::read(format!("{FIXTURES}/{name}")).unwrap(), None, HOUR).unwrap()
    }

    #[test]
    fn english_speech_is_transcribed_with_times_in_order() {
        let audio = fixture("speech-en.mp3");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let progress = seen.clone();
        let t = whisper()
            .transcribe(
                &audio,
                &speaking(Some("en")),
                move |p| progress.lock().unwrap().push(p),
                Arc::new(AtomicBool::new(false)),
            )
            .unwrap();
        let text = t.text().to_lowercase();
        for word in ["meet", "friday", "morning"] {
            assert!(text.contains(word), "{word:?} not in {text:?}");
        }
        assert!(text.contains("10") || text.contains("ten"), "{text:?}");
        assert_eq!(t.language, "en");
        let mut last = 0.0;
        for s in &t.segments {
            assert!(s.start >= last && s.end >= s.start && s.end <= audio.seconds() + 0.01, "{:?}", t.segments);
            last = s.start;
        }
        assert!(!seen.lock().unwrap().is_empty(), "no progress was reported");
    }

    #[test]
    fn the_language_is_detected_when_not_given_and_followed_when_given() {
        let none = Arc::new(AtomicBool::new(false));
        let en = whisper().transcribe(&fixture("speech-en.ogg"), &speaking(None), |_| {}, none.clone()).unwrap();
        assert_eq!(en.language, "en", "{:?}", en.segments);
        // espeak-ng's Korean voice is robotic: whisper base takes it for Chinese when left to
        // guess (a real Korean voice is needed to test detection), but told "ko" it writes Hangul.
        let ko = whisper().transcribe(&fixture("speech-ko.wav"), &speaking(Some("ko")), |_| {}, none).unwrap();
        assert_eq!(ko.language, "ko");
        assert!(ko.text().chars().any(|c| ('\u{ac00}'..='\u{d7a3}').contains(&c)), "{:?}", ko.text());
    }

    #[test]
    fn a_stopped_transcription_says_so_and_a_bad_language_is_refused() {
        let audio = fixture("speech-en.wav");
        let stopped = whisper().transcribe(&audio, &speaking(Some("en")), |_| {}, Arc::new(AtomicBool::new(true)));
        assert!(matches!(stopped, Err(TranscribeError::Cancelled)), "{stopped:?}");
        let bad = whisper().transcribe(&audio, &speaking(Some("klingon")), |_| {}, Arc::new(AtomicBool::new(false)));
        assert!(matches!(bad, Err(TranscribeError::Language(_))), "{bad:?}");
    }

    #[test]
    fn a_missing_model_says_how_to_get_it() {
        let err = Transcriber::open(std::path::Path::new("/nonexistent/ggml-whisper-base.bin")).err().unwrap();
        assert!(err.to_string().contains("make fetch-models"), "{err}");
    }

    #[test]
    fn silence_and_hiss_give_no_words() {
        // Whisper writes "[BLANK_AUDIO]" for silence: a note, not speech.
        let silence = pai_voice::Audio { samples: vec![0.0; 16_000 * 8] };
        let mut seed = 7u32;
        let hiss = pai_voice::Audio {
            samples: (0..16_000 * 8)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (seed >> 8) as f32 / (1u32 << 24) as f32 * 0.04 - 0.02
                })
                .collect(),
        };
        for (name, audio) in [("silence", silence), ("hiss", hiss)] {
            let t =
                whisper().transcribe(&audio, &speaking(Some("en")), |_| {}, Arc::new(AtomicBool::new(false))).unwrap();
            assert_eq!(t.text(), "", "{name}: {:?}", t.segments);
        }
    }

    #[test]
    fn segments_carry_tokens_and_confidence() {
        let t = whisper()
            .transcribe(&fixture("speech-en.flac"), &speaking(Some("en")), |_| {}, Arc::new(AtomicBool::new(false)))
            .unwrap();
        assert_eq!(t.language_name, "english");
        for s in &t.segments {
            assert!(!s.tokens.is_empty() && s.avg_logprob < 0.0 && s.avg_logprob > -3.0, "{s:?}");
            assert!((0.0..=1.0).contains(&s.no_speech_prob), "{s:?}");
        }
    }

    /// A 16 kHz WAV of `seconds` of the English fixture, repeated.
    fn long_wav(seconds: usize) -> Vec<u8> {
        let speech = fixture("speech-en.wav").samples;
        let samples: Vec<i16> = speech.iter().cycle().take(16_000 * seconds).map(|x| (x * 32767.0) as i16).collect();
        super::wav(16_000, 1, &samples)
    }

    #[test]
    fn a_dropped_request_stops_its_transcription_and_frees_the_slot() {
        let speech = Arc::new(Speech::new(pai_testkit::models_dir().join(DEFAULT_SPEECH_MODEL), 2, 1));
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let heard = runtime.block_on(async {
            // Half an hour of speech: minutes of work on this machine, were it not stopped.
            let long = long_wav(30 * 60);
            let running = {
                let speech = speech.clone();
                tokio::spawn(
                    async move { speech.transcribe(long, Some("wav".into()), speaking(Some("en")), 3600.0).await },
                )
            };
            // Wait until it holds the one slot (it has started), then drop it, as a client that hangs up.
            while speech.available() > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            running.abort();
            // A short recording then gets the slot; were the long one not stopped, it would
            // wait for minutes of work, and this limit (generous for a stop at whisper's
            // next step) would end the test.
            let short = std::fs::read(format!("{FIXTURES}/speech-en.wav")).unwrap();
            tokio::time::timeout(
                std::time::Duration::from_secs(120),
                speech.transcribe(short, Some("wav".into()), speaking(Some("en")), 3600.0),
            )
            .await
        });
        // Not waiting for blocking work: had the long transcription not stopped, it still runs.
        runtime.shutdown_background();
        let heard = heard.expect("the dropped transcription still holds the slot").unwrap();
        assert!(heard.transcript.text().to_lowercase().contains("friday"), "{:?}", heard.transcript.text());
        assert!((heard.duration - fixture("speech-en.wav").seconds()).abs() < 0.01);
    }

    #[tokio::test]
    async fn the_service_refuses_bad_audio_and_says_when_the_model_is_missing() {
        let speech = Speech::new(pai_testkit::models_dir().join(DEFAULT_SPEECH_MODEL), 2, 1);
        let bad = speech.transcribe(b"not audio".to_vec(), Some("mp3".into()), speaking(None), 60.0).await;
        assert!(matches!(bad, Err(SpeechError::Audio(pai_voice::AudioError::NotAudio))), "{:?}", bad.err());
        let missing = Speech::new("/nonexistent/ggml-whisper-base.bin".into(), 2, 1);
        assert_eq!(missing.id(), "whisper-base");
        let err = missing
            .transcribe(super::sine_wav(16_000, 1, 440.0, 1.0, 0.5), None, speaking(None), 60.0)
            .await
            .err()
            .unwrap();
        assert!(matches!(err, SpeechError::Model(_)) && err.to_string().contains("make fetch-models"), "{err}");
    }
}
