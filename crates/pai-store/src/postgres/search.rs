//! Full text on PostgreSQL: pai's analyzer (CJK bigrams, lowercased words)
//! does the tokenising on both backends, so Korean is found the same way.
//! Its terms are written as a `tsvector` literal with positions, never passed
//! through a text search parser that could split them differently, and
//! queries are `tsquery` literals of the same terms joined by OR. The GIN
//! index on (user_id, terms) (btree_gin) reads only the user's rows; ranking
//! is `ts_rank` (term frequency; PostgreSQL has no BM25).

use std::collections::BTreeMap;
use std::fmt::Write;

use pai_core::Result;
use pai_core::store::{ChunkId, ConversationId, DocumentId, MemoryId, MessageId, TextHit, UserId};
use sqlx::{AssertSqlSafe, PgPool};

use crate::errors::SqlxResult;

/// Highest position a tsvector keeps, and positions kept per lexeme.
const MAX_POSITION: usize = 16_383;
const MAX_POSITIONS_PER_TERM: usize = 255;

fn quoted(term: &str, out: &mut String) {
    out.push('\'');
    for c in term.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

/// The `tsvector` literal of analyzed text (space-separated terms): each
/// term with its positions, so repeated terms rank higher.
pub(crate) fn tsvector(analyzed: &str) -> String {
    let mut positions: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, term) in analyzed.split_whitespace().enumerate() {
        let at = positions.entry(term).or_default();
        if at.len() < MAX_POSITIONS_PER_TERM {
            at.push((i + 1).min(MAX_POSITION));
        }
    }
    let mut out = String::with_capacity(analyzed.len() * 2);
    for (term, at) in positions {
        if !out.is_empty() {
            out.push(' ');
        }
        quoted(term, &mut out);
        out.push(':');
        let mut last = 0;
        let mut first = true;
        for p in at {
            // Positions past the limit collapse into one; a tsvector wants them distinct.
            if p == last {
                continue;
            }
            if !first {
                out.push(',');
            }
            let _ = write!(out, "{p}");
            last = p;
            first = false;
        }
    }
    out
}

/// The `tsquery` literal matching any of `terms`; `None` when there are none.
fn tsquery(terms: &[String]) -> Option<String> {
    (!terms.is_empty()).then(|| {
        let mut out = String::new();
        for (i, t) in terms.iter().enumerate() {
            if i > 0 {
                out.push_str(" | ");
            }
            quoted(t, &mut out);
        }
        out
    })
}

pub(super) async fn text(pool: &PgPool, user: UserId, query: &str, limit: usize) -> Result<Vec<TextHit>> {
    let Some(q) = tsquery(&pai_core::analyzer::search_terms(query)) else { return Ok(Vec::new()) };
    let limit = limit.min(1000) as i64;
    // Three tables, three connections: searched at once.
    let ranked = |table: &'static str, parent: &'static str, filter: &'static str| {
        // table, parent and filter are our own literals.
        sqlx::query_as::<_, (i64, i64, f32)>(AssertSqlSafe(format!(
            "SELECT id, {parent}, ts_rank(terms, q) AS rank FROM {table}, CAST($2 AS tsquery) q
             WHERE user_id = $1 AND terms @@ q {filter} ORDER BY rank DESC, id DESC LIMIT $3"
        )))
        .bind(user.0)
        .bind(q.clone())
        .bind(limit)
        .fetch_all(pool)
    };
    let (memories, messages, chunks) = futures_util::join!(
        ranked("memories", "0::bigint", "AND valid_to IS NULL"),
        ranked("messages", "conversation_id", ""),
        ranked("chunks", "document_id", "")
    );
    let mut hits: Vec<TextHit> = memories
        .db()?
        .into_iter()
        .map(|(id, _, score)| TextHit::Memory { id: MemoryId(id), score })
        .chain(messages.db()?.into_iter().map(|(id, conv, score)| TextHit::Message {
            id: MessageId(id),
            conversation: ConversationId(conv),
            score,
        }))
        .chain(chunks.db()?.into_iter().map(|(id, doc, score)| TextHit::Chunk {
            id: ChunkId(id),
            document: DocumentId(doc),
            score,
        }))
        .collect();
    let score = TextHit::score;
    hits.sort_by(|a, b| score(b).total_cmp(&score(a)));
    hits.truncate(limit as usize);
    Ok(hits)
}

/// Superseded memories only (questions about the past), best first.
pub(super) async fn history(pool: &PgPool, user: UserId, query: &str, limit: usize) -> Result<Vec<TextHit>> {
    let Some(q) = tsquery(&pai_core::analyzer::search_terms(query)) else { return Ok(Vec::new()) };
    let found: Vec<(i64, f32)> = sqlx::query_as(
        "SELECT id, ts_rank(terms, q) AS rank FROM memories, CAST($2 AS tsquery) q
         WHERE user_id = $1 AND terms @@ q AND valid_to IS NOT NULL ORDER BY rank DESC, id DESC LIMIT $3",
    )
    .bind(user.0)
    .bind(q)
    .bind(limit.min(1000) as i64)
    .fetch_all(pool)
    .await
    .db()?;
    Ok(found.into_iter().map(|(id, score)| TextHit::Memory { id: MemoryId(id), score }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_keep_terms_whole_and_quote_what_needs_it() {
        assert_eq!(tsvector("부산 산으 coffee 부산"), "'coffee':3 '부산':1,4 '산으':2");
        assert_eq!(tsvector("it's a\\b"), "'a\\\\b':2 'it''s':1");
        assert_eq!(tsquery(&["지우".into(), "o'neil".into()]).unwrap(), "'지우' | 'o''neil'");
        assert_eq!(tsquery(&[]), None);
    }
}
