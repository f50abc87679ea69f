//! The user's own documents: read (txt, md, html, pdf; recordings through
//! their transcript, `recording`), cut into passages,
//! stored whole in one transaction, and embedded so recall finds them as
//! kind `chunk`. A file that cannot be read is refused with its reason and
//! changes nothing; the other files go on.

pub mod chunk;
pub mod formats;
mod html;
mod pdf;
pub mod recording;
pub mod summary;

use std::path::{Path, PathBuf};

use pai_core::store::{Document, DocumentChange, DocumentId, NewDocument, Store, UserId};
use pai_core::{Embedder, Error, Result};
use sha2::{Digest, Sha256};

use crate::index::embed_pending;
use chunk::{ChunkSize, chunk};

/// Largest file pai ingests.
pub const MAX_DOCUMENT_BYTES: usize = 32 << 20;

/// Tokens a passage takes for the embedder, estimated like `ChatModel::count_tokens`
/// (a token per 3 bytes: a Korean syllable is 3 bytes and about a token).
fn tokens(s: &str) -> usize {
    s.len().div_ceil(3)
}

/// Reads, cuts and stores one file; embeds its passages. `source` identifies
/// the file (a path, an upload's name): the same source with new content
/// replaces the old document, with the same content changes nothing.
pub async fn ingest_bytes(
    store: &dyn Store,
    embedder: &dyn Embedder,
    user: UserId,
    source: &str,
    bytes: Vec<u8>,
) -> Result<(Document, DocumentChange)> {
    let stored = store_bytes(store, user, source, bytes).await?;
    if stored.1 != DocumentChange::Unchanged {
        // Until embedded, passages are found by their words; a failure here
        // is retried by the next indexing pass.
        while embed_pending(store, embedder, user, 256).await? > 0 {}
    }
    Ok(stored)
}

/// `ingest_bytes` without the embedding, which is left to the caller (the
/// server's background `Indexer`): the document is searchable by its words at
/// once, and by meaning when its `pending` count reaches 0.
pub async fn store_bytes(
    store: &dyn Store,
    user: UserId,
    source: &str,
    bytes: Vec<u8>,
) -> Result<(Document, DocumentChange)> {
    let name = Path::new(source).file_name().map_or(source.to_string(), |n| n.to_string_lossy().into_owned());
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(Error::invalid(format!("{name}: larger than {} MiB", MAX_DOCUMENT_BYTES >> 20)));
    }
    let content_hash = format!("{:x}", Sha256::digest(&bytes));
    let size = bytes.len() as u64;
    // PDF parsing is CPU work: off the async threads.
    let parse_name = name.clone();
    let extracted = tokio::task::spawn_blocking(move || formats::extract(&parse_name, &bytes))
        .await
        .map_err(|e| Error::internal(format!("reading {name}: {e}")))??;
    let chunks = chunk(&extracted.sections, ChunkSize::default(), &tokens);
    let document = NewDocument {
        title: extracted.title.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| name.clone()),
        source: source.to_string(),
        format: extracted.format,
        content_hash,
        bytes: size,
        pages: extracted.pages,
        chunks,
    };
    store.put_document(user, document).await
}

/// The files under `paths` that pai can read: files as given, folders
/// searched recursively for .txt/.md/.html/.pdf (hidden entries skipped).
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| Error::invalid(format!("{}: {e}", p.display())))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::invalid(format!("{}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(),
            Some("txt" | "md" | "markdown" | "html" | "htm" | "pdf")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// What one pass over a watched folder did.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct SyncReport {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub removed: usize,
    /// Files that could not be read, with the reason.
    pub failed: Vec<String>,
}

/// Brings the user's documents from `dir` in line with the folder: new and
/// changed files are ingested (unchanged ones are recognised by their hash
/// without being parsed again), documents whose file is gone are deleted.
pub async fn sync_folder(store: &dyn Store, embedder: &dyn Embedder, user: UserId, dir: &Path) -> Result<SyncReport> {
    let dir = std::fs::canonicalize(dir).map_err(|e| Error::invalid(format!("{}: {e}", dir.display())))?;
    if !dir.is_dir() {
        return Err(Error::invalid(format!("{} is not a folder", dir.display())));
    }
    let files = collect_files(std::slice::from_ref(&dir))?;
    let known: std::collections::HashMap<String, (pai_core::store::DocumentId, String)> =
        store.documents(user).await?.into_iter().map(|d| (d.source.clone(), (d.id, d.content_hash))).collect();
    let mut report = SyncReport::default();
    let mut seen = std::collections::HashSet::new();
    for file in files {
        let source = file.display().to_string();
        seen.insert(source.clone());
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) => {
                report.failed.push(format!("{source}: {e}"));
                continue;
            }
        };
        if known.get(&source).is_some_and(|(_, hash)| *hash == format!("{:x}", Sha256::digest(&bytes))) {
            report.unchanged += 1;
            continue;
        }
        match ingest_bytes(store, embedder, user, &source, bytes).await {
            Ok((_, DocumentChange::Created)) => report.added += 1,
            Ok((_, DocumentChange::Replaced)) => report.updated += 1,
            Ok((_, DocumentChange::Unchanged)) => report.unchanged += 1,
            Err(Error::Invalid { message: reason, .. }) => report.failed.push(reason),
            Err(e) => return Err(e),
        }
    }
    let prefix = format!("{}{}", dir.display(), std::path::MAIN_SEPARATOR);
    for (source, (id, _)) in &known {
        if source.starts_with(&prefix) && !seen.contains(source) {
            delete_document(store, user, *id).await?;
            report.removed += 1;
        }
    }
    Ok(report)
}

/// Deletes a document with everything kept from it: its passages, and for a
/// recording learned from, the conversation of what was said (first, so a
/// crash in between leaves the document to delete again, not its words).
pub async fn delete_document(store: &dyn Store, user: UserId, id: DocumentId) -> Result<()> {
    store.document(user, id).await?;
    recording::forget_learned(store, user, id).await?;
    store.delete_document(user, id).await
}

/// A stored passage of document 1 for unit tests: `ordinal`, its heading, its text.
#[cfg(test)]
pub(crate) fn passage_fixture(ordinal: u32, heading: Option<&str>, text: &str) -> pai_core::store::Chunk {
    pai_core::store::Chunk {
        id: pai_core::store::ChunkId(ordinal as i64 + 1),
        document: DocumentId(1),
        ordinal,
        text: text.into(),
        page: None,
        heading: heading.map(str::to_string),
        start: 0,
        end: 0,
    }
}

/// A PDF with one line of text per page, made with lopdf, for tests and
/// benchmarks. ASCII text is set in Helvetica; any other text the way Korean
/// PDFs from word processors carry it: a Type0 font, Identity-H (two-byte
/// glyph ids) and a ToUnicode map from those ids back to characters, which is
/// all a text extractor has to go on.
#[doc(hidden)]
pub fn sample_pdf(pages: &[&str]) -> Vec<u8> {
    use pdf_extract::content::{Content, Operation};
    use pdf_extract::{Document, Object, Stream, StringFormat, dictionary};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let ascii = pages.iter().all(|p| p.is_ascii());
    // Glyph ids in order of first use, from 1.
    let mut glyphs: Vec<char> = Vec::new();
    for c in pages.iter().flat_map(|p| p.chars()) {
        if !glyphs.contains(&c) {
            glyphs.push(c);
        }
    }
    let font = if ascii {
        doc.add_object(dictionary! {"Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica"})
    } else {
        let mut cmap = String::from(
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo << /Registry (Adobe) \
             /Ordering (UCS) /Supplement 0 >> def\n/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
             1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
        );
        for block in glyphs.chunks(100) {
            cmap.push_str(&format!("{} beginbfchar\n", block.len()));
            for c in block {
                let id = glyphs.iter().position(|g| g == c).unwrap() + 1;
                let utf16: String = c.encode_utf16(&mut [0; 2]).iter().map(|u| format!("{u:04X}")).collect();
                cmap.push_str(&format!("<{id:04X}> <{utf16}>\n"));
            }
            cmap.push_str("endbfchar\n");
        }
        cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
        let to_unicode = doc.add_object(Stream::new(dictionary! {}, cmap.into_bytes()));
        let descriptor = doc.add_object(dictionary! {"Type" => "FontDescriptor", "FontName" => "NanumGothic",
        "Flags" => 4, "FontBBox" => vec![0.into(), (-200).into(), 1000.into(), 800.into()], "ItalicAngle" => 0,
        "Ascent" => 800, "Descent" => -200, "CapHeight" => 700, "StemV" => 80});
        let cid_font = doc.add_object(dictionary! {"Type" => "Font", "Subtype" => "CIDFontType2",
        "BaseFont" => "NanumGothic", "CIDToGIDMap" => "Identity", "DW" => 1000, "FontDescriptor" => descriptor,
        "CIDSystemInfo" => dictionary! {"Registry" => Object::string_literal("Adobe"),
            "Ordering" => Object::string_literal("Identity"), "Supplement" => 0}});
        doc.add_object(dictionary! {"Type" => "Font", "Subtype" => "Type0", "BaseFont" => "NanumGothic",
        "Encoding" => "Identity-H", "DescendantFonts" => vec![cid_font.into()], "ToUnicode" => to_unicode})
    };
    let resources = doc.add_object(dictionary! {"Font" => dictionary! {"F1" => font}});
    let mut kids = Vec::new();
    for text in pages {
        let shown = if ascii {
            Object::string_literal(*text)
        } else {
            let ids = text.chars().flat_map(|c| {
                let id = (glyphs.iter().position(|g| *g == c).unwrap() + 1) as u16;
                id.to_be_bytes()
            });
            Object::String(ids.collect(), StringFormat::Hexadecimal)
        };
        let content = Content {
            operations: vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 12.into()]),
                Operation::new("Td", vec![72.into(), 700.into()]),
                Operation::new("Tj", vec![shown]),
                Operation::new("ET", vec![]),
            ],
        };
        let content = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
        let page = doc.add_object(dictionary! {"Type" => "Page", "Parent" => pages_id, "Contents" => content});
        kids.push(Object::from(page));
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {"Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()]}),
    );
    let catalog = doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages_id});
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}
