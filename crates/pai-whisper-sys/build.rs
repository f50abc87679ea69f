//! Compiles the vendored whisper.cpp and pai's shim against the ggml that
//! llama-cpp-sys-2 builds and links: one ggml in the program, not two
//! versions whose symbols would collide (the linker keeps one of each, so
//! one library would run on a ggml it was not compiled for).

fn main() {
    let llama = std::env::var("DEP_LLAMA_ROOT").expect("llama-cpp-sys-2 exports its install root");
    let ggml_include = std::path::Path::new(&llama).join("include");
    cc::Build::new()
        .cpp(true)
        .std("c++17")
        .include("whisper.cpp/include")
        .include("whisper.cpp/src")
        .include(&ggml_include)
        .define("WHISPER_VERSION", "\"1.8.3\"")
        .define("NDEBUG", None)
        .opt_level(3)
        .warnings(false)
        .file("whisper.cpp/src/whisper.cpp")
        .file("src/shim.cpp")
        .compile("pai_whisper");
    println!("cargo:rerun-if-changed=whisper.cpp");
    println!("cargo:rerun-if-changed=src/shim.cpp");
}
