// pai's calls into whisper.cpp with plain arguments: the parameter structs
// are filled here, in C++, so that Rust never mirrors their layout.
#include <atomic>
#include "whisper.h"

extern "C" {

struct whisper_context * pai_whisper_open(const char * path) {
    struct whisper_context_params params = whisper_context_default_params();
    params.use_gpu = false;
    return whisper_init_from_file_with_params(path, params);
}

typedef void (*pai_whisper_progress)(int percent, void * user_data);

static bool pai_whisper_aborted(void * flag) {
    return reinterpret_cast<std::atomic<bool> *>(flag)->load(std::memory_order_relaxed);
}

struct pai_whisper_progress_call {
    pai_whisper_progress call;
    void * user_data;
};

static void pai_whisper_on_progress(struct whisper_context *, struct whisper_state *, int progress, void * data) {
    auto * p = reinterpret_cast<pai_whisper_progress_call *>(data);
    if (p->call) p->call(progress, p->user_data);
}

// Transcribes `n` samples (16 kHz mono) into `state`. `language` is a code or "auto";
// `prompt` (or null) is text the recording continues, which steers spelling and names;
// `temperature` is the first one tried (whisper.cpp raises it when decoding fails).
// `abort_flag` is a std::atomic<bool> (Rust's AtomicBool has the same layout) checked
// between steps. Returns whisper_full's code: 0 when done.
int pai_whisper_run(struct whisper_context * ctx, struct whisper_state * state, const char * language,
                    const char * prompt, float temperature, int threads, void * abort_flag,
                    pai_whisper_progress progress, void * progress_data, const float * samples, int n) {
    struct whisper_full_params params = whisper_full_default_params(WHISPER_SAMPLING_GREEDY);
    params.n_threads = threads;
    params.language = language;
    params.initial_prompt = prompt;
    params.temperature = temperature;
    params.translate = false;
    params.print_progress = false;
    params.print_realtime = false;
    params.print_special = false;
    params.print_timestamps = false;
    params.abort_callback = pai_whisper_aborted;
    params.abort_callback_user_data = abort_flag;
    pai_whisper_progress_call call = {progress, progress_data};
    params.progress_callback = pai_whisper_on_progress;
    params.progress_callback_user_data = &call;
    return whisper_full_with_state(ctx, state, params, samples, n);
}

typedef void (*pai_whisper_log)(int level, const char * text);
static pai_whisper_log pai_whisper_log_to = nullptr;

static void pai_whisper_forward(enum ggml_log_level level, const char * text, void *) {
    if (pai_whisper_log_to && (level == GGML_LOG_LEVEL_WARN || level == GGML_LOG_LEVEL_ERROR)) {
        pai_whisper_log_to(level, text);
    }
}

// whisper.cpp's log lines (model loading, timings) are not pai's output, but its
// warnings and errors are kept. whisper_log_set sets ggml's hook too, which
// llama.cpp shares: so ggml's warnings and errors go to `log` as well, never nowhere.
void pai_whisper_logs_to(pai_whisper_log log) {
    pai_whisper_log_to = log;
    whisper_log_set(pai_whisper_forward, nullptr);
}

}
