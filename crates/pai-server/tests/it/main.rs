//! Integration tests in one binary: each test binary links llama.cpp, so one
//! link instead of one a file.

mod api;
mod audio;
mod common;
mod isolation;
