//! Local embeddings: any GGUF embedding model (e5, bge-m3, nomic...) through
//! llama.cpp, with pooling from the model file. Texts longer than the model's
//! window are split into windows whose pooled vectors are averaged, weighted by
//! their token counts, before the final L2 normalisation.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::mpsc as std_mpsc;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use pai_core::model::l2_normalize;
use pai_core::{EmbedFuture, EmbedKind, Embedder, Error};
use tokio::sync::oneshot;

use super::{LocalConfig, internal, load_model, model_id, spawn_worker};
use crate::gguf::{GgufInfo, ModelKind};

/// Tokens one decode call takes; several short texts share it.
const BATCH_TOKENS: u32 = 2048;
/// Sequences (windows) one decode call takes.
const BATCH_SEQS: u32 = 16;
/// Texts of queued requests embedded together at most.
const GROUP_TEXTS: usize = 64;

struct Job {
    texts: Vec<String>,
    kind: EmbedKind,
    reply: oneshot::Sender<Result<Vec<Vec<f32>>, Error>>,
}

/// Text preparation that the GGUF tokenizer does not do itself; stored in the
/// file by pai's converter (see scripts/e5s1_to_gguf.py), absent elsewhere.
#[derive(Debug, Clone, Default)]
struct TextPrep {
    query_prefix: String,
    passage_prefix: String,
    /// Per-character replacement (NFKC-style folding; control characters
    /// removed), then SentencePiece-style spacing. Empty: leave text to llama.cpp.
    normalizer: HashMap<char, String>,
}

impl TextPrep {
    fn from_info(info: &GgufInfo) -> Self {
        let normalizer = info.str("pai.tokenizer.normalizer").map(parse_normalizer).unwrap_or_default();
        TextPrep {
            query_prefix: info.str("pai.embedding.query_prefix").unwrap_or_default().to_string(),
            passage_prefix: info.str("pai.embedding.passage_prefix").unwrap_or_default().to_string(),
            normalizer,
        }
    }

    fn apply(&self, text: &str, kind: EmbedKind) -> String {
        let prefix = match kind {
            EmbedKind::Query => &self.query_prefix,
            EmbedKind::Passage => &self.passage_prefix,
        };
        let mut out = String::with_capacity(prefix.len() + text.len());
        if self.normalizer.is_empty() {
            out.push_str(prefix);
            out.push_str(text);
            return out;
        }
        for c in prefix.chars().chain(text.chars()) {
            match self.normalizer.get(&c) {
                Some(replacement) => {
                    for r in replacement.chars() {
                        push_collapsing_spaces(&mut out, r);
                    }
                }
                None => push_collapsing_spaces(&mut out, c),
            }
        }
        // The tokenizer adds the "▁" word prefix itself; a leading space would double it.
        if out.starts_with(' ') {
            out.remove(0);
        }
        out
    }
}

/// Runs of spaces become one space (after normalisation, as e5's tokenizer does).
fn push_collapsing_spaces(out: &mut String, c: char) {
    if !(c == ' ' && out.ends_with(' ')) {
        out.push(c);
    }
}

/// Lines of `FROM<TAB>TO TO ...`, codepoints in hex; an empty TO deletes.
fn parse_normalizer(spec: &str) -> HashMap<char, String> {
    let cp = |hex: &str| u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
    spec.lines()
        .filter_map(|line| {
            let (from, to) = line.split_once('\t')?;
            let to: Option<String> = to.split_whitespace().map(cp).collect();
            Some((cp(from)?, to?))
        })
        .collect()
}

/// A GGUF embedding model running in this process.
pub struct LlamaEmbedder {
    id: String,
    dimension: usize,
    window: u32,
    jobs: std_mpsc::Sender<Job>,
}

impl LlamaEmbedder {
    pub fn load(path: &Path, config: &LocalConfig) -> Result<Self, Error> {
        let (model, info) = load_model(path, ModelKind::Embedding)?;
        let prep = TextPrep::from_info(&info);
        let window = model.n_ctx_train().min(BATCH_TOKENS);
        let dimension = model.n_embd() as usize;
        let threads = config.embedding_threads();
        let params = move || {
            LlamaContextParams::default()
                .with_embeddings(true)
                .with_pooling_type(LlamaPoolingType::Unspecified) // the model file decides (e5: mean)
                .with_n_ctx(NonZeroU32::new(BATCH_TOKENS))
                .with_n_batch(BATCH_TOKENS)
                .with_n_ubatch(BATCH_TOKENS) // non-causal attention needs each window whole in one ubatch
                .with_n_seq_max(BATCH_SEQS)
                .with_n_threads(threads)
                .with_n_threads_batch(threads)
        };
        let jobs = spawn_worker("pai-embed", model, params, move |model, ctx, jobs: std_mpsc::Receiver<Job>| {
            let encoder = Encoder { model, prep, window: window as usize };
            while let Ok(first) = jobs.recv() {
                // Requests that queued up meanwhile (concurrent recalls) share
                // the decode calls: one batch of many short texts costs little
                // more than one text.
                let mut group = vec![first];
                let mut texts = group[0].texts.len();
                while texts < GROUP_TEXTS {
                    let Ok(next) = jobs.try_recv() else { break };
                    texts += next.texts.len();
                    group.push(next);
                }
                let parts: Vec<(&[String], EmbedKind)> = group.iter().map(|j| (j.texts.as_slice(), j.kind)).collect();
                match encoder.embed_groups(ctx, &parts) {
                    Ok(results) => {
                        for (job, result) in group.into_iter().zip(results) {
                            let _ = job.reply.send(Ok(result));
                        }
                    }
                    Err(e) => {
                        for job in group {
                            let _ = job.reply.send(Err(e.clone()));
                        }
                    }
                }
            }
        })?;
        Ok(LlamaEmbedder { id: model_id(path), dimension, window, jobs })
    }
}

impl Embedder for LlamaEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn max_input_tokens(&self) -> u32 {
        self.window
    }

    fn embed(&self, texts: Vec<String>, kind: EmbedKind) -> EmbedFuture<'_> {
        let (reply, rx) = oneshot::channel();
        let sent = self.jobs.send(Job { texts, kind, reply });
        Box::pin(async move {
            sent.map_err(|_| Error::internal("the embedding thread has stopped"))?;
            rx.await.map_err(|_| Error::internal("the embedding thread dropped a request"))?
        })
    }
}

struct Encoder<'m> {
    model: &'m LlamaModel,
    prep: TextPrep,
    window: usize,
}

/// One window of one text: its tokens with the model's special tokens around them.
struct Window {
    text: usize,
    tokens: Vec<LlamaToken>,
    weight: f32,
}

impl Encoder<'_> {
    fn windows(&self, texts: &[String], kind: EmbedKind) -> Vec<Window> {
        let vocab = self.model.vocab();
        let lead: Vec<LlamaToken> = vocab.should_add_bos().then(|| vocab.bos()).into_iter().collect();
        let trail: Vec<LlamaToken> = if vocab.should_add_eos() {
            vec![vocab.eos()]
        } else if vocab.should_add_sep() {
            vec![vocab.sep()]
        } else {
            vec![]
        };
        let room = self.window.saturating_sub(lead.len() + trail.len()).max(1);
        let mut out = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let content = vocab.tokenize(self.prep.apply(text, kind).as_bytes(), false, false);
            let chunks: Vec<&[LlamaToken]> =
                if content.is_empty() { vec![&[]] } else { content.chunks(room).collect() };
            for chunk in chunks {
                let tokens = [lead.as_slice(), chunk, trail.as_slice()].concat();
                out.push(Window { text: i, tokens, weight: chunk.len().max(1) as f32 });
            }
        }
        out
    }

    /// Embeds several requests' texts together; one result per request, in order.
    fn embed_groups(
        &self,
        ctx: &mut LlamaContext,
        groups: &[(&[String], EmbedKind)],
    ) -> Result<Vec<Vec<Vec<f32>>>, Error> {
        let mut windows = Vec::new();
        let mut offset = 0;
        for (texts, kind) in groups {
            windows.extend(self.windows(texts, *kind).into_iter().map(|w| Window { text: w.text + offset, ..w }));
            offset += texts.len();
        }
        let mut sums = self.embed_windows(ctx, &windows, offset)?.into_iter();
        Ok(groups.iter().map(|(texts, _)| sums.by_ref().take(texts.len()).collect()).collect())
    }

    fn embed_windows(&self, ctx: &mut LlamaContext, windows: &[Window], texts: usize) -> Result<Vec<Vec<f32>>, Error> {
        let dim = self.model.n_embd() as usize;
        let mut sums = vec![vec![0f32; dim]; texts];
        let mut batch = LlamaBatch::new(BATCH_TOKENS as usize, BATCH_SEQS as i32);
        let mut start = 0;
        while start < windows.len() {
            // Pack as many whole windows as fit into one decode call.
            let mut end = start;
            let mut used = 0;
            while end < windows.len()
                && end - start < BATCH_SEQS as usize
                && used + windows[end].tokens.len() <= BATCH_TOKENS as usize
            {
                used += windows[end].tokens.len();
                end += 1;
            }
            batch.clear();
            for (seq, w) in windows[start..end].iter().enumerate() {
                for (pos, &tok) in w.tokens.iter().enumerate() {
                    batch.add(tok, pos as i32, &[seq as i32], true).map_err(internal)?;
                }
            }
            ctx.clear_kv_cache();
            if ctx.decode(&mut batch).is_err() {
                ctx.encode(&mut batch).map_err(internal)?;
            }
            for (seq, w) in windows[start..end].iter().enumerate() {
                let pooled = ctx.embeddings_seq_ith(seq as i32).map_err(|_| {
                    Error::invalid("this model does not produce pooled sentence embeddings (pooling type none)")
                })?;
                for (acc, x) in sums[w.text].iter_mut().zip(pooled) {
                    *acc += w.weight * x;
                }
            }
            start = end;
        }
        sums.iter_mut().for_each(|v| l2_normalize(v));
        Ok(sums)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizer_spec_round_trip() {
        let map = parse_normalizer("ff21\t41\n1\t\nfb01\t66 69\nbad line");
        assert_eq!(map.get(&'\u{ff21}').map(String::as_str), Some("A"));
        assert_eq!(map.get(&'\u{1}').map(String::as_str), Some(""));
        assert_eq!(map.get(&'\u{fb01}').map(String::as_str), Some("fi"));
        assert_eq!(map.len(), 3);
        let prep = TextPrep { query_prefix: "query: ".into(), passage_prefix: "passage: ".into(), normalizer: map };
        assert_eq!(prep.apply("\u{ff21}\u{1}b", EmbedKind::Query), "query: Ab");
        assert_eq!(prep.apply("x", EmbedKind::Passage), "passage: x");
        let prep = TextPrep { normalizer: parse_normalizer("9\t20"), ..prep };
        assert_eq!(prep.apply("  a \t\t b  ", EmbedKind::Query), "query: a b ");
        let prep = TextPrep { query_prefix: String::new(), ..prep };
        assert_eq!(prep.apply("  a", EmbedKind::Query), "a");
    }
}
