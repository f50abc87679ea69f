//! The integration tests that load no model, in one binary (each test binary
//! links llama.cpp). The tests that load one (e5_reference, local_chat,
//! serving) keep a binary each: their files run one after another, and two
//! llama.cpp contexts decoding at once on two cores crawl.

mod pull;
mod remote;
#[path = "../support/mod.rs"]
mod support;
