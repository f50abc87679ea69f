//! Whole-recording sample-rate conversion (rubato's FFT resampler, which
//! filters out what the lower rate cannot hold instead of folding it back).

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

pub(crate) fn to_rate(mono: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || mono.is_empty() {
        return mono.to_vec();
    }
    let mut resampler =
        Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Both).expect("rates are positive");
    let input = InterleavedSlice::new(mono, 1, mono.len()).expect("one channel of mono.len() frames");
    resampler.process_all(&input, mono.len(), None).expect("the input fits").take_data()
}
