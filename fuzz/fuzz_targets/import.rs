//! Chat-history imports (pai JSON, ChatGPT's conversations.json, KakaoTalk
//! text): any bytes are parsed or refused with an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pai_assistant::import::{ParseOptions, parse};

fuzz_target!(|data: &[u8]| {
    let options = ParseOptions { zone: Some(chrono_tz::Asia::Seoul), ..Default::default() };
    if let Ok((_, conversations)) = parse(data, &options) {
        for c in conversations {
            for m in c.messages {
                assert!(!m.content.contains('\0'), "a NUL reached a stored message");
            }
        }
    }
});
