//! An uploaded recording, decoded whole to 16 kHz mono f32 samples in
//! [-1, 1], as whisper reads them. Pure Rust: symphonia finds the container
//! from the bytes (the file name only hints) and decodes most codecs; Opus,
//! which symphonia demuxes but cannot decode (voice notes, browsers'
//! recordings), is decoded by opus-decoder, straight to 16 kHz mono.

use std::io::Cursor;

use symphonia::core::codecs::audio::well_known::CODEC_ID_OPUS;
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as Symphonia;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// The rate speech models read.
pub const RATE: u32 = 16_000;

/// Decoded audio: mono at `RATE`.
#[derive(Debug, Clone)]
pub struct Audio {
    pub samples: Vec<f32>,
}

impl Audio {
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / RATE as f64
    }
}

/// Why a recording cannot be read; each says what the user can do.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AudioError {
    #[error("this is not audio pai can read (WAV, MP3, M4A/AAC, FLAC, Ogg Vorbis or Opus, WebM)")]
    NotAudio,
    #[error("{0} audio is not supported yet; convert it to WAV, MP3, M4A or FLAC")]
    Unsupported(String),
    #[error("the recording holds no audio that decodes (empty or damaged)")]
    Empty,
    #[error("the recording is {seconds:.0} s long; the limit is {limit:.0} s")]
    TooLong { seconds: f64, limit: f64 },
}

/// Whether a file is a recording, by its name's extension or its first
/// bytes: the containers `decode` reads (a codec it cannot decode then gets a
/// clear refusal rather than a text parser's).
pub fn looks_like_audio(name: &str, bytes: &[u8]) -> bool {
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    const EXTENSIONS: &[&str] =
        &["wav", "wave", "mp3", "m4a", "aac", "flac", "ogg", "oga", "opus", "webm", "weba", "mka"];
    if EXTENSIONS.contains(&extension.as_str()) {
        return true;
    }
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    (starts(b"RIFF") && bytes.get(8..12) == Some(b"WAVE"))
        || starts(b"ID3")
        || starts(b"fLaC")
        || starts(b"OggS")
        || starts(&[0x1A, 0x45, 0xDF, 0xA3]) // EBML: WebM, Matroska
        || bytes.get(4..8) == Some(b"ftyp") // MP4, M4A
        // An MPEG audio frame's sync bits (MP3, ADTS AAC); FF FE is UTF-16 text.
        || (bytes.len() > 1 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0 && bytes[1] != 0xFE)
}

/// Packets that fail in a row before the stream is given up: random bytes
/// are sometimes taken for MP3, and then every packet fails.
const BAD_PACKETS_IN_A_ROW: u32 = 64;

/// Decodes `bytes` (any supported container; `extension` is a hint only)
/// to mono 16 kHz, refusing more than `limit_seconds` of audio before
/// decoding it all. A file cut short keeps what it holds.
pub fn decode(bytes: Vec<u8>, extension: Option<&str>, limit_seconds: f64) -> Result<Audio, AudioError> {
    let stream = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    if let Some(e) = extension {
        hint.with_extension(e);
    }
    let mut format = symphonia::default::get_probe()
        .probe(&hint, stream, FormatOptions::default(), MetadataOptions::default())
        .map_err(|_| AudioError::NotAudio)?;
    let track = format.default_track(TrackType::Audio).ok_or(AudioError::NotAudio)?;
    let track_id = track.id;
    let params = track.codec_params.as_ref().and_then(|p| p.audio()).cloned().ok_or(AudioError::NotAudio)?;
    let mut decoder = if params.codec == CODEC_ID_OPUS {
        Decoder::Opus(
            opus_decoder::OpusDecoder::new(RATE, 1).expect("16 kHz mono is an Opus output format"),
            vec![0.0; opus_decoder::OpusDecoder::MAX_FRAME_SIZE_48K],
        )
    } else {
        Decoder::Symphonia(
            symphonia::default::get_codecs()
                .make_audio_decoder(&params, &AudioDecoderOptions::default())
                .map_err(|_| AudioError::Unsupported(codec_name(&params)))?,
        )
    };

    let (mut mono, mut interleaved) = (Vec::<f32>::new(), Vec::<f32>::new());
    let mut rate = params.sample_rate.unwrap_or(0);
    let mut bad = 0;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // Cut short (a truncated upload) or a chained stream: what came so far is the recording.
            Err(Symphonia::IoError(_) | Symphonia::ResetRequired) => break,
            Err(_) if !mono.is_empty() => break,
            Err(_) => return Err(AudioError::NotAudio),
        };
        if packet.track_id != track_id {
            continue;
        }
        let decoded = match &mut decoder {
            Decoder::Symphonia(decoder) => match decoder.decode(&packet) {
                Ok(buffer) => {
                    rate = buffer.spec().rate();
                    let channels = buffer.spec().channels().count().max(1);
                    buffer.copy_to_vec_interleaved(&mut interleaved);
                    mono.extend(interleaved.chunks_exact(channels).map(|f| f.iter().sum::<f32>() / channels as f32));
                    true
                }
                Err(Symphonia::DecodeError(_) | Symphonia::IoError(_)) => false,
                Err(_) => return Err(AudioError::Unsupported(codec_name(&params))),
            },
            Decoder::Opus(decoder, frame) => match decoder.decode_float(&packet.data, frame, false) {
                Ok(n) => {
                    rate = RATE;
                    mono.extend_from_slice(&frame[..n]);
                    true
                }
                Err(_) => false,
            },
        };
        if decoded {
            bad = 0;
            if rate > 0 && mono.len() as f64 / rate as f64 > limit_seconds {
                return Err(AudioError::TooLong { seconds: mono.len() as f64 / rate as f64, limit: limit_seconds });
            }
        } else {
            bad += 1;
            if bad > BAD_PACKETS_IN_A_ROW {
                break;
            }
        }
    }
    if mono.is_empty() || rate == 0 {
        return Err(AudioError::Empty);
    }
    let mut samples = crate::resample::to_rate(&mono, rate, RATE);
    for s in &mut samples {
        *s = s.clamp(-1.0, 1.0);
    }
    Ok(Audio { samples })
}

/// The decoder of the recording's codec.
enum Decoder {
    Symphonia(Box<dyn AudioDecoder>),
    /// Decoding to mono at `RATE` (the decoder mixes stereo down), with a
    /// buffer for the longest frame.
    Opus(opus_decoder::OpusDecoder, Vec<f32>),
}

/// The codec's name for a message: the decoder's own, else the common names
/// of codecs pai has no decoder for.
fn codec_name(params: &symphonia::core::codecs::audio::AudioCodecParameters) -> String {
    use symphonia::core::codecs::audio::well_known::*;
    if let Some(d) = symphonia::default::get_codecs().get_audio_decoder(params.codec) {
        return d.codec.info.short_name.to_string();
    }
    let known = [
        (CODEC_ID_AC3, "AC-3"),
        (CODEC_ID_EAC3, "E-AC-3"),
        (CODEC_ID_DCA, "DTS"),
        (CODEC_ID_WMA, "WMA"),
        (CODEC_ID_WAVPACK, "WavPack"),
        (CODEC_ID_MONKEYS_AUDIO, "Monkey's Audio"),
        (CODEC_ID_TTA, "TTA"),
    ];
    known.iter().find(|(id, _)| *id == params.codec).map_or_else(|| "this".to_string(), |(_, n)| n.to_string())
}
