//! whisper.cpp, built against llama.cpp's ggml (see build.rs), with the few
//! calls pai makes. The parameter structs are filled in `shim.cpp`.

use std::ffi::{c_char, c_int, c_void};

// Linked for its ggml, which whisper.cpp's object calls: without a use, the
// crate (and with it the ggml libraries) would be left out of the link.
extern crate llama_cpp_sys_2 as _;

#[repr(C)]
pub struct WhisperContext {
    _private: [u8; 0],
}

#[repr(C)]
pub struct WhisperState {
    _private: [u8; 0],
}

/// Receives a log line: ggml's level (3 warning, 4 error) and the text.
pub type Log = unsafe extern "C" fn(level: c_int, text: *const c_char);

pub type Progress = unsafe extern "C" fn(percent: c_int, user_data: *mut c_void);

unsafe extern "C" {
    pub fn pai_whisper_open(path: *const c_char) -> *mut WhisperContext;
    /// Warnings and errors of whisper.cpp and of ggml (shared with llama.cpp) go to `log`; the rest is dropped.
    pub fn pai_whisper_logs_to(log: Log);
    #[allow(clippy::too_many_arguments)]
    pub fn pai_whisper_run(
        ctx: *mut WhisperContext,
        state: *mut WhisperState,
        language: *const c_char,
        prompt: *const c_char,
        temperature: f32,
        threads: c_int,
        abort_flag: *mut c_void,
        progress: Option<Progress>,
        progress_data: *mut c_void,
        samples: *const f32,
        n: c_int,
    ) -> c_int;
    pub fn whisper_free(ctx: *mut WhisperContext);
    pub fn whisper_init_state(ctx: *mut WhisperContext) -> *mut WhisperState;
    pub fn whisper_free_state(state: *mut WhisperState);
    pub fn whisper_lang_id(lang: *const c_char) -> c_int;
    pub fn whisper_lang_str(id: c_int) -> *const c_char;
    pub fn whisper_full_n_segments_from_state(state: *mut WhisperState) -> c_int;
    pub fn whisper_full_lang_id_from_state(state: *mut WhisperState) -> c_int;
    pub fn whisper_full_get_segment_t0_from_state(state: *mut WhisperState, i: c_int) -> i64;
    pub fn whisper_full_get_segment_t1_from_state(state: *mut WhisperState, i: c_int) -> i64;
    pub fn whisper_full_get_segment_text_from_state(state: *mut WhisperState, i: c_int) -> *const c_char;
    pub fn whisper_full_get_segment_no_speech_prob_from_state(state: *mut WhisperState, i: c_int) -> f32;
    pub fn whisper_full_n_tokens_from_state(state: *mut WhisperState, i: c_int) -> c_int;
    pub fn whisper_full_get_token_id_from_state(state: *mut WhisperState, i: c_int, token: c_int) -> c_int;
    pub fn whisper_full_get_token_p_from_state(state: *mut WhisperState, i: c_int, token: c_int) -> f32;
    /// The first id past the text tokens: end of text, then the special tokens.
    pub fn whisper_token_eot(ctx: *mut WhisperContext) -> c_int;
    /// A language's English name ("korean") by id.
    pub fn whisper_lang_str_full(id: c_int) -> *const c_char;
}
