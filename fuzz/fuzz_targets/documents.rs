//! Document readers (txt in UTF-8/16 or EUC-KR, markdown, HTML, PDF) and the
//! chunker behind them: the first byte picks the format, the rest is the file.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pai_assistant::knowledge::chunk::{ChunkSize, chunk};
use pai_assistant::knowledge::formats::extract;

fuzz_target!(init: {
    // pdf-extract panics on some damaged files and pai catches that
    // (catch_unwind: "the PDF is damaged"); libfuzzer-sys's panic hook would
    // abort on the caught panic too. A panic nobody catches still aborts.
    let _ = std::panic::take_hook();
}, |data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else { return };
    let name = ["a.txt", "a.md", "a.html", "a.pdf"][pick as usize % 4];
    let Ok(extracted) = extract(name, file) else { return };
    let count = |s: &str| s.len().div_ceil(4);
    let size = ChunkSize { tokens: 32, overlap: 6 };
    for passage in chunk(&extracted.sections, size, &count) {
        assert!(!passage.text.contains('\0'), "a NUL reached a passage");
    }
});
