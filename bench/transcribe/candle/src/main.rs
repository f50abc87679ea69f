//! candle's whisper (candle-transformers 0.9) on the same 16 kHz WAVs as
//! `pai transcribe` and whisper-cli, for the engine comparison issue 23 asks
//! for: greedy decoding without timestamps, 30-second windows, the language
//! given. Prints one JSON line per file: text, seconds of audio, seconds of
//! compute (model loading excluded, as whisper-cli's "total" minus load).
//!
//!     candle-whisper-bench MODEL.safetensors MEL80.f32 vocabulary.json LANG A.wav [B.wav …]

use std::time::Instant;

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::whisper::{self as w, audio, model::Whisper};

const EOT: u32 = 50257;
const SOT: u32 = 50258;
const TRANSCRIBE: u32 = 50359;
const NO_TIMESTAMPS: u32 = 50363;
const MAX_TOKENS: usize = 224;

fn language_token(lang: &str) -> u32 {
    // Whisper's language tokens follow <|startoftranscript|> in this order.
    const ORDER: [&str; 6] = ["en", "zh", "de", "es", "ru", "ko"];
    50259 + ORDER.iter().position(|l| *l == lang).expect("en or ko") as u32
}

fn byte_decoder() -> std::collections::HashMap<char, u8> {
    let mut bs: Vec<u32> = (u32::from('!')..=u32::from('~')).chain(0xA1..=0xAC).chain(0xAE..=0xFF).collect();
    let mut cs = bs.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bs.contains(&b) {
            bs.push(b);
            cs.push(256 + n);
            n += 1;
        }
    }
    bs.iter().zip(&cs).map(|(b, c)| (char::from_u32(*c).unwrap(), *b as u8)).collect()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model_path, mel_path, vocab_path, lang, wavs) = (&args[0], &args[1], &args[2], &args[3], &args[4..]);
    let device = Device::Cpu;
    let config = w::Config {
        num_mel_bins: 80,
        max_source_positions: 1500,
        d_model: 512,
        encoder_attention_heads: 8,
        encoder_layers: 6,
        vocab_size: 51865,
        max_target_positions: 448,
        decoder_attention_heads: 8,
        decoder_layers: 6,
        suppress_tokens: Vec::new(),
    };
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[model_path], DType::F32, &device)? };
    let mut model = Whisper::load(&vb, config.clone())?;
    let filters: Vec<f32> =
        std::fs::read(mel_path)?.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let vocab: Vec<String> = serde_json::from_str(&std::fs::read_to_string(vocab_path)?)?;
    let bytes_of = byte_decoder();
    let prompt = [SOT, language_token(lang), TRANSCRIBE, NO_TIMESTAMPS];
    for wav in wavs {
        let mut reader = hound::WavReader::open(wav)?;
        let spec = reader.spec();
        anyhow::ensure!(spec.sample_rate == 16_000 && spec.channels == 1, "{wav}: 16 kHz mono WAV expected");
        let pcm: Vec<f32> = reader.samples::<i16>().map(|s| s.map(|s| s as f32 / 32768.0)).collect::<Result<_, _>>()?;
        let started = Instant::now();
        let mut text_bytes = Vec::new();
        for window in pcm.chunks(w::N_SAMPLES) {
            let mut padded = window.to_vec();
            padded.resize(w::N_SAMPLES, 0.0);
            let mel = audio::pcm_to_mel(&config, &padded, &filters);
            let frames = mel.len() / config.num_mel_bins;
            let mel = Tensor::from_vec(mel, (1, config.num_mel_bins, frames), &device)?;
            let mel = mel.narrow(2, 0, frames.min(w::N_FRAMES))?;
            let features = model.encoder.forward(&mel, true)?;
            let mut tokens: Vec<u32> = prompt.to_vec();
            for i in 0..MAX_TOKENS {
                let input = Tensor::new(tokens.as_slice(), &device)?.unsqueeze(0)?;
                let ys = model.decoder.forward(&input, &features, i == 0)?;
                let (_, seq, _) = ys.dims3()?;
                let logits = model.decoder.final_linear(&ys.i((..1, seq - 1..))?)?.i(0)?.i(0)?;
                // Text tokens and the end only (no timestamps, no other specials).
                let logits: Vec<f32> = logits.narrow(0, 0, EOT as usize + 1)?.to_vec1()?;
                let next = logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i as u32).unwrap();
                if next == EOT {
                    break;
                }
                tokens.push(next);
                for c in vocab[next as usize].chars() {
                    text_bytes.push(*bytes_of.get(&c).unwrap_or(&b'?'));
                }
            }
        }
        let compute = started.elapsed().as_secs_f64();
        let line = serde_json::json!({
            "file": wav,
            "text": String::from_utf8_lossy(&text_bytes).trim(),
            "audio_seconds": pcm.len() as f64 / 16_000.0,
            "compute_seconds": compute,
        });
        println!("{line}");
    }
    Ok(())
}
