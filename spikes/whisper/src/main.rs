use std::time::Instant;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

/// 16-bit PCM mono WAV → f32 at 16 kHz (linear interpolation; a spike only).
fn read_wav(path: &str) -> Vec<f32> {
    let b = std::fs::read(path).unwrap();
    let mut at = 12;
    let (mut rate, mut data) = (0u32, &b[0..0]);
    while at + 8 <= b.len() {
        let id = &b[at..at + 4];
        let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = &b[at + 8..(at + 8 + len).min(b.len())];
        if id == b"fmt " { rate = u32::from_le_bytes(body[4..8].try_into().unwrap()); }
        if id == b"data" { data = body; }
        at += 8 + len + (len & 1);
    }
    let s: Vec<f32> = data.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]]) as f32 / 32768.0).collect();
    let n = (s.len() as u64 * 16000 / rate as u64) as usize;
    (0..n).map(|i| {
        let x = i as f64 * rate as f64 / 16000.0;
        let j = x as usize;
        let f = (x - j as f64) as f32;
        let a = s[j.min(s.len() - 1)];
        let b = s[(j + 1).min(s.len() - 1)];
        a + (b - a) * f
    }).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Both ggml copies in one process: llama.cpp's backend first, as `pai serve` would.
    let _llama = llama_cpp_2::llama_backend::LlamaBackend::init().expect("llama backend");
    let (model, wav, lang) = (&args[1], &args[2], &args[3]);
    let ctx = WhisperContext::new_with_params(model, WhisperContextParameters::default()).expect("model");
    let mut state = ctx.create_state().expect("state");
    let samples = read_wav(wav);
    let mut p = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
    p.set_n_threads(2);
    p.set_language(Some(lang));
    p.set_print_progress(false);
    p.set_print_realtime(false);
    p.set_print_timestamps(false);
    let t = Instant::now();
    state.full(p, &samples).expect("full");
    let secs = t.elapsed().as_secs_f64();
    let n = state.full_n_segments();
    for i in 0..n {
        let seg = state.get_segment(i).expect("segment");
        println!("[{} - {}] {}", seg.start_timestamp(), seg.end_timestamp(), seg.to_str_lossy().unwrap());
    }
    eprintln!("audio {:.1} s, compute {:.1} s, real-time factor {:.2}", samples.len() as f64 / 16000.0, secs, samples.len() as f64 / 16000.0 / secs);
}
