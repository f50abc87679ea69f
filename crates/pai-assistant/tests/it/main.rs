//! Integration tests in one binary: each test binary links llama.cpp, so one
//! link instead of one a file.

mod quality;
mod recall;
mod reminders;
mod turns;
