//! The pipelines that make pai personal, written against pai-core's traits
//! (`Store`, `Embedder`, `ChatModel`) so the server and the CLI share them and
//! tests can run them on fakes. No SQL, no HTTP, no model code here.

pub mod agent_memory;
pub mod answer;
pub mod answer_check;
pub mod assistant;
pub mod export;
pub mod extract;
pub mod grounded;
pub mod import;
pub mod index;
pub mod knowledge;
pub mod language;
pub mod memory_requests;
pub mod prompt;
pub mod recall;
pub mod redact;
pub mod reminders;
pub mod sentences;
pub mod suggestions;
pub mod tool_rounds;
pub mod tools;
pub mod turn;
