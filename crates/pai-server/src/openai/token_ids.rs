//! Token ids as input: OpenAI clients may send `/v1/embeddings` text already
//! tokenized for OpenAI's models (LangChain's `OpenAIEmbeddings` does by
//! default, splitting long texts into chunks of 8,191 tokens). pai's embedder
//! has its own tokenizer, so the ids are turned back into the text they
//! encode with the vocabulary the client assumed.

use tiktoken_rs::CoreBPE;

use crate::error::{ApiError, ApiResult};

/// The vocabulary a client tokenized with, from the model name it asked
/// for: OpenAI's embedding models and GPT-3.5/4 use cl100k, GPT-4o and
/// later chat models o200k. A name pai made up (an alias, "pai") gets
/// cl100k, which is what embedding clients assume.
fn vocabulary(model: &str) -> &'static CoreBPE {
    let model = model.rsplit('/').next().unwrap_or(model);
    let o200k = ["gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o", "o1", "o3", "o4"]
        .iter()
        .any(|prefix| model.starts_with(prefix));
    if o200k { tiktoken_rs::o200k_base_singleton() } else { tiktoken_rs::cl100k_base_singleton() }
}

/// The text `ids` encode for a client that asked for `model`.
pub fn decode(model: &str, ids: &[u32]) -> ApiResult<String> {
    let bytes = vocabulary(model).decode_bytes(ids).map_err(|e| {
        ApiError::bad_request(format!("token id {} is not in the vocabulary of `{model}`", e.token)).param("input")
    })?;
    // A chunk may end inside a character the next chunk finishes.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_decode_with_the_vocabulary_the_client_assumed() {
        // tiktoken's cl100k "hello world", as LangChain sends it for text-embedding-3-small.
        assert_eq!(decode("text-embedding-3-small", &[15339, 1917]).unwrap(), "hello world");
        let korean = tiktoken_rs::o200k_base_singleton().encode_ordinary("우리 딸 이름은 지우야");
        assert_eq!(decode("gpt-4o-mini", &korean).unwrap(), "우리 딸 이름은 지우야");
        assert_eq!(decode("pai", &tiktoken_rs::cl100k_base_singleton().encode_ordinary("tea")).unwrap(), "tea");
        assert_eq!(decode("pai", &[4_000_000]).unwrap_err().status, 400);
    }
}
