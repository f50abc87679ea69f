//! The search analyzer (Korean and English terms for lexical search).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for term in pai_core::analyzer::terms(text) {
        assert!(!term.is_empty(), "an empty term from {text:?}");
    }
});
