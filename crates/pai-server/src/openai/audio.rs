//! `POST /v1/audio/transcriptions`: a recording to text, as OpenAI's
//! (whisper-1) answers it, so OpenAI clients and Open WebUI's voice input
//! can point at pai. The recording is transcribed in memory on this machine
//! and nothing of it is stored.

use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use pai_voice::{Heard, Options, SpeechError, subtitles};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::{ModelRole, SharedState};

/// The form OpenAI's SDKs send, for `/openapi.json`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TranscriptionForm {
    /// The recording: WAV, MP3, M4A/AAC, FLAC, Ogg Vorbis, Opus (by content; the name's extension helps).
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
    /// `whisper-1`, `pai`, the speech model's name (GET /v1/models) or an alias of it.
    model: String,
    /// The language spoken, ISO-639-1 (`ko`, `en`); detected when left out.
    language: Option<String>,
    /// Text the recording follows on from: names and spellings to expect.
    prompt: Option<String>,
    /// json (default), text, srt, vtt or verbose_json.
    response_format: Option<String>,
    /// 0 to 1; 0 (default) decodes greedily.
    temperature: Option<f32>,
    /// `segment` (the only granularity given).
    #[schema(rename = "timestamp_granularities[]")]
    timestamp_granularities: Option<Vec<String>>,
}

/// `response_format: json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Transcription {
    pub text: String,
    pub usage: AudioUsage,
}

/// What was billed, in OpenAI's terms: seconds of audio.
#[derive(Debug, Serialize, ToSchema)]
pub struct AudioUsage {
    /// Always "duration".
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Whole seconds, rounded up.
    pub seconds: u64,
}

/// `response_format: verbose_json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerboseTranscription {
    /// Always "transcribe".
    pub task: &'static str,
    /// The language's English name, lower case ("korean").
    pub language: String,
    /// Seconds of audio.
    pub duration: f64,
    pub text: String,
    pub segments: Vec<TranscriptionSegment>,
    pub usage: AudioUsage,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TranscriptionSegment {
    pub id: usize,
    /// Where it starts, in hundredths of a second (whisper.cpp does not report its window's start).
    pub seek: u64,
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub tokens: Vec<i32>,
    pub temperature: f32,
    pub avg_logprob: f64,
    /// The text's length over its zlib-compressed length: above 2.4, the model repeated itself.
    pub compression_ratio: f64,
    pub no_speech_prob: f64,
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Json,
    Text,
    Srt,
    Vtt,
    VerboseJson,
}

impl Format {
    fn parse(name: &str) -> ApiResult<Self> {
        Ok(match name {
            "json" => Format::Json,
            "text" => Format::Text,
            "srt" => Format::Srt,
            "vtt" => Format::Vtt,
            "verbose_json" => Format::VerboseJson,
            other => {
                return Err(ApiError::bad_request(format!(
                    "response_format {other:?} is not json, text, srt, vtt or verbose_json"
                ))
                .param("response_format"));
            }
        })
    }
}

/// The request, read from the form.
struct Request {
    file: Vec<u8>,
    file_name: String,
    model: Option<String>,
    options: Options,
    format: Format,
}

#[utoipa::path(post, path = "/v1/audio/transcriptions", operation_id = "createTranscription", tag = "OpenAI",
    request_body(content = TranscriptionForm, content_type = "multipart/form-data"),
    summary = "A recording to text (json, text, srt, vtt, verbose_json), transcribed on this machine",
    description = "OpenAI's form: `file`, `model`, `language`, `prompt`, `response_format`, `temperature`, \
                   `timestamp_granularities[]` (segment). The recording is not stored. 503 when the speech \
                   model is not installed (`make fetch-models`).",
    responses((status = 200, body = VerboseTranscription, description = "json: `Transcription`; verbose_json: \
               `VerboseTranscription`; text, srt and vtt: text/plain")))]
pub async fn transcriptions(
    State(state): State<SharedState>,
    _caller: Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Response> {
    let request = read_form(multipart).await?;
    let speech = &state.speech;
    match request.model.as_deref() {
        None => return Err(ApiError::bad_request("`model` is required: whisper-1 works").param("model")),
        Some(m) if !super::serves(&state, ModelRole::Speech, m) => {
            return Err(ApiError::not_found(format!(
                "the speech model `{m}` does not exist here; use whisper-1 or `{}`, or name it in \
                 [server.model_aliases]",
                speech.id()
            ))
            .code("model_not_found")
            .param("model"));
        }
        Some(_) => {}
    }
    let extension =
        std::path::Path::new(&request.file_name).extension().and_then(|e| e.to_str()).map(str::to_lowercase);
    let temperature = request.options.temperature;
    let heard = speech
        .transcribe(request.file, extension, request.options, state.settings.limits.max_audio_seconds)
        .await
        .map_err(speech_error)?;
    Ok(answer(heard, request.format, temperature))
}

async fn read_form(multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>) -> ApiResult<Request> {
    let mut multipart = multipart.map_err(|e| {
        ApiError::bad_request(format!(
            "send the recording as multipart/form-data with the fields `file` and `model` ({})",
            e.body_text()
        ))
    })?;
    let mut file = None;
    let (mut model, mut format) = (None, Format::Json);
    let mut options = Options::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => return Err(ApiError::bad_request(format!("the multipart body is malformed: {e}"))),
        };
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let file_name = field.file_name().unwrap_or("audio").to_string();
            let bytes = field.bytes().await.map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => too_large(),
                _ => ApiError::bad_request(format!("the upload broke off ({e})")).param("file"),
            })?;
            file = Some((bytes.to_vec(), file_name));
            continue;
        }
        let value = field.text().await.map_err(|e| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => too_large(),
            _ => ApiError::bad_request(format!("the field `{name}` is not text ({e})")).param(name.clone()),
        })?;
        match name.as_str() {
            "model" => model = Some(value),
            "language" => options.language = Some(value).filter(|v| !v.trim().is_empty()),
            "prompt" => options.prompt = Some(value),
            "response_format" => format = Format::parse(&value)?,
            "temperature" => {
                options.temperature =
                    value.trim().parse().ok().filter(|t: &f32| (0.0..=1.0).contains(t)).ok_or_else(|| {
                        ApiError::bad_request("temperature is a number from 0 to 1").param("temperature")
                    })?
            }
            "timestamp_granularities[]" | "timestamp_granularities" => {
                if value != "segment" {
                    return Err(ApiError::bad_request(format!(
                        "timestamp granularity {value:?} is not given here; `segment` is"
                    ))
                    .param("timestamp_granularities"));
                }
            }
            "stream" if value == "false" => {}
            "stream" => {
                return Err(
                    ApiError::bad_request("streamed transcription is not offered; leave `stream` out").param("stream")
                );
            }
            other => {
                return Err(ApiError::bad_request(format!("unknown field `{other}`")).param(other.to_string()));
            }
        }
    }
    let Some((file, file_name)) = file else {
        return Err(ApiError::bad_request("no `file`: attach the recording as the field `file`").param("file"));
    };
    Ok(Request { file, file_name, model, options, format })
}

fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "the recording is larger than this server accepts").param("file")
}

/// A transcription's failure as the client sees it: its input, or this server.
pub(crate) fn speech_error(e: SpeechError) -> ApiError {
    match e {
        SpeechError::Audio(e) => ApiError::bad_request(e.to_string()).code("invalid_audio").param("file"),
        SpeechError::Language(e) => ApiError::bad_request(e.to_string()).param("language"),
        SpeechError::Model(e) => {
            tracing::error!(error = %e, "no speech model");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("speech is not set up on this server: {e}"))
                .code("model_not_available")
        }
        SpeechError::Failed(e) => {
            tracing::error!(error = %e, "transcription failed");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "transcription failed; see the server log")
        }
    }
}

fn answer(heard: Heard, format: Format, temperature: f32) -> Response {
    let Heard { transcript, duration } = heard;
    let usage = AudioUsage { kind: "duration", seconds: duration.ceil() as u64 };
    let plain = |body: String| ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response();
    match format {
        Format::Json => axum::Json(Transcription { text: transcript.text(), usage }).into_response(),
        Format::Text => plain(format!("{}\n", transcript.text())),
        Format::Srt => plain(subtitles::srt(&transcript.segments)),
        Format::Vtt => plain(subtitles::vtt(&transcript.segments)),
        Format::VerboseJson => {
            let segments = transcript
                .segments
                .iter()
                .enumerate()
                .map(|(id, s)| TranscriptionSegment {
                    id,
                    seek: (s.start * 100.0).round() as u64,
                    start: s.start,
                    end: s.end,
                    text: s.text.clone(),
                    tokens: s.tokens.clone(),
                    temperature,
                    avg_logprob: s.avg_logprob,
                    compression_ratio: compression_ratio(&s.text),
                    no_speech_prob: s.no_speech_prob,
                })
                .collect();
            axum::Json(VerboseTranscription {
                task: "transcribe",
                language: transcript.language_name.clone(),
                duration,
                text: transcript.text(),
                segments,
                usage,
            })
            .into_response()
        }
    }
}

/// The text's bytes over their zlib-compressed bytes, as OpenAI's whisper
/// computes it to spot a model repeating itself.
fn compression_ratio(text: &str) -> f64 {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = z.write_all(text.as_bytes());
    let compressed = z.finish().map_or(1, |c| c.len().max(1));
    text.len() as f64 / compressed as f64
}
