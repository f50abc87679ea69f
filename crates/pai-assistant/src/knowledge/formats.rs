//! Turning a file into text sections (heading or page + text): txt, md,
//! html and pdf, Korean and English. Every failure names the file and the
//! reason; nothing here writes anything.

use pai_core::store::DocumentFormat;
use pai_core::{Error, Result};

/// A stretch of a document under one heading, or one PDF page.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub heading: Option<String>,
    pub page: Option<u32>,
    pub text: String,
}

/// What a file holds, as text.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    pub format: DocumentFormat,
    /// From the file (a Markdown H1, the HTML <title>), else the file name.
    pub title: Option<String>,
    pub pages: Option<u32>,
    pub sections: Vec<Section>,
}

/// The format from the file name, else from the first bytes.
pub fn detect(name: &str, bytes: &[u8]) -> Result<DocumentFormat> {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "txt" | "text" => return Ok(DocumentFormat::Text),
        "md" | "markdown" => return Ok(DocumentFormat::Markdown),
        "html" | "htm" => return Ok(DocumentFormat::Html),
        "pdf" => return Ok(DocumentFormat::Pdf),
        _ => {}
    }
    if bytes.starts_with(b"%PDF-") {
        return Ok(DocumentFormat::Pdf);
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    if head.trim_start().starts_with("<!doctype html") || head.contains("<html") {
        return Ok(DocumentFormat::Html);
    }
    if ext.is_empty() && std::str::from_utf8(bytes).is_ok() {
        return Ok(DocumentFormat::Text);
    }
    Err(Error::invalid(format!(
        "{name}: unsupported file type{}; pai reads .txt, .md, .html and .pdf",
        if ext.is_empty() { String::new() } else { format!(" .{ext}") }
    )))
}

/// Text in UTF-8 (with or without BOM), UTF-16 with a BOM, or EUC-KR/CP949
/// (older Korean files).
pub fn decode_text(name: &str, bytes: &[u8]) -> Result<String> {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = enc.decode_without_bom_handling(&bytes[bom..]);
        if !had_errors {
            return Ok(text.into_owned());
        }
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(s.to_string());
    }
    let (text, _, had_errors) = encoding_rs::EUC_KR.decode(bytes);
    if !had_errors {
        return Ok(text.into_owned());
    }
    Err(Error::invalid(format!("{name}: not text in UTF-8, UTF-16 or EUC-KR (a binary file?)")))
}

pub fn extract(name: &str, bytes: &[u8]) -> Result<Extracted> {
    if bytes.is_empty() {
        return Err(Error::invalid(format!("{name}: the file is empty")));
    }
    let format = detect(name, bytes)?;
    let mut out = match format {
        DocumentFormat::Text => {
            let text = decode_text(name, bytes)?;
            Extracted { format, title: None, pages: None, sections: vec![Section { heading: None, page: None, text }] }
        }
        DocumentFormat::Markdown => markdown(&decode_text(name, bytes)?),
        DocumentFormat::Html => html(name, bytes)?,
        DocumentFormat::Pdf => pdf(name, bytes)?,
    };
    // NUL is padding or damage in a document, never text (and PostgreSQL
    // cannot store it): dropped here, refused everywhere else.
    let no_nul = |s: &mut String| s.retain(|c| c != '\0');
    for section in &mut out.sections {
        no_nul(&mut section.text);
        section.heading.as_mut().map(no_nul);
    }
    out.title.as_mut().map(no_nul);
    out.sections.retain(|s| !s.text.trim().is_empty());
    if out.sections.is_empty() {
        let hint = if format == DocumentFormat::Pdf { " (a scanned PDF needs OCR, which pai does not do)" } else { "" };
        return Err(Error::invalid(format!("{name}: no text found{hint}")));
    }
    Ok(out)
}

/// Sections by heading; the first H1 is the title. Formatting marks go,
/// text, lists, code and table cells stay.
fn markdown(text: &str) -> Extracted {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    let mut sections = vec![Section { heading: None, page: None, text: String::new() }];
    let mut title = None;
    let mut heading: Option<(u32, String)> = None;
    for event in Parser::new(text) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => heading = Some((level as u32, String::new())),
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, h)) = heading.take() {
                    let h = h.trim().to_string();
                    if level == 1 && title.is_none() {
                        title = Some(h.clone());
                    }
                    sections.push(Section { heading: Some(h), page: None, text: String::new() });
                }
            }
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => match &mut heading {
                Some((_, h)) => h.push_str(&t),
                None => sections.last_mut().expect("one section").text.push_str(&t),
            },
            Event::SoftBreak | Event::HardBreak => sections.last_mut().expect("one section").text.push(' '),
            Event::End(
                TagEnd::Paragraph | TagEnd::Item | TagEnd::CodeBlock | TagEnd::TableRow | TagEnd::BlockQuote(_),
            ) => sections.last_mut().expect("one section").text.push_str("\n\n"),
            Event::End(TagEnd::TableCell) => sections.last_mut().expect("one section").text.push_str(" | "),
            _ => {}
        }
    }
    Extracted { format: DocumentFormat::Markdown, title, pages: None, sections }
}

fn html(name: &str, bytes: &[u8]) -> Result<Extracted> {
    let (title, sections) = super::html::read(&decode_text(name, bytes)?);
    Ok(Extracted { format: DocumentFormat::Html, title, pages: None, sections })
}

/// Page by page. pdf-extract can panic on malformed files: that is a bad
/// file, not a crash.
fn pdf(name: &str, bytes: &[u8]) -> Result<Extracted> {
    let encrypted = pdf_extract::Document::load_mem(bytes).map(|d| d.is_encrypted()).unwrap_or(false);
    let owned = bytes.to_vec();
    let pages = std::panic::catch_unwind(move || super::pdf::pages(&owned))
        .map_err(|_| Error::invalid(format!("{name}: the PDF is damaged (its text could not be read)")))?
        .map_err(|e| {
            if encrypted {
                Error::invalid(format!("{name}: the PDF is encrypted; pai cannot read password-protected files"))
            } else {
                Error::invalid(format!("{name}: not a readable PDF ({e})"))
            }
        })?;
    let count = pages.len() as u32;
    let sections = pages
        .into_iter()
        .enumerate()
        .map(|(i, text)| Section { heading: None, page: Some(i as u32 + 1), text })
        .collect();
    Ok(Extracted { format: DocumentFormat::Pdf, title: None, pages: Some(count), sections })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected_by_name_then_content() {
        assert_eq!(detect("a.MD", b"x").unwrap(), DocumentFormat::Markdown);
        assert_eq!(detect("upload", b"%PDF-1.4").unwrap(), DocumentFormat::Pdf);
        assert_eq!(detect("page", b"<!DOCTYPE html><html>").unwrap(), DocumentFormat::Html);
        let e = detect("report.docx", b"PK\x03\x04").unwrap_err().to_string();
        assert!(e.contains(".docx") && e.contains(".pdf"), "{e}");
    }

    #[test]
    fn korean_text_in_utf8_utf16_and_euc_kr() {
        let s = "부산 날씨는 맑음";
        assert_eq!(decode_text("a", s.as_bytes()).unwrap(), s);
        let mut utf16 = vec![0xff, 0xfe];
        utf16.extend(s.encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert_eq!(decode_text("a", &utf16).unwrap(), s);
        let (euc, _, _) = encoding_rs::EUC_KR.encode(s);
        assert_eq!(decode_text("a", &euc).unwrap(), s);
        assert!(decode_text("a", &[0xff, 0x00, 0xc3, 0x28, 0xa0, 0xa1, 0xfe]).is_err());
    }

    #[test]
    fn markdown_sections_follow_headings() {
        let md = "# 임대 계약서\n\n서문입니다.\n\n## Pets\n\nNo **pets** allowed.\n\n- cats\n- dogs\n\n## 월세\n\n매달 5일까지.";
        let x = markdown(md);
        assert_eq!(x.title.as_deref(), Some("임대 계약서"));
        let headed: Vec<_> = x.sections.iter().filter_map(|s| s.heading.as_deref()).collect();
        assert_eq!(headed, ["임대 계약서", "Pets", "월세"]);
        let pets = x.sections.iter().find(|s| s.heading.as_deref() == Some("Pets")).unwrap();
        assert!(pets.text.contains("No pets allowed.") && pets.text.contains("cats") && !pets.text.contains("**"));
    }

    #[test]
    fn html_loses_tags_and_scripts_keeps_headings_and_title() {
        let page = b"<html><head><title>Lease</title><script>alert('x')</script></head>
            <body><h1>Rules</h1><p>No <b>pets</b>.</p><h2>\xec\x9b\x94\xec\x84\xb8</h2><p>5th of the month</p></body></html>";
        let x = extract("lease.html", page).unwrap();
        assert_eq!(x.title.as_deref(), Some("Lease"));
        let all: String = x.sections.iter().map(|s| s.text.clone()).collect();
        assert!(all.contains("No") && all.contains("pets") && !all.contains("alert") && !all.contains("<p>"), "{all}");
        assert!(x.sections.iter().any(|s| s.heading.as_deref() == Some("월세")), "{:?}", x.sections);
    }

    #[test]
    fn pdf_text_comes_page_by_page() {
        let x = extract(
            "lease.pdf",
            &super::super::sample_pdf(&["Rent is due on the fifth.", "Pets need written consent."]),
        )
        .unwrap();
        assert_eq!(x.pages, Some(2));
        assert_eq!(x.sections.len(), 2);
        assert!(x.sections[0].text.contains("Rent is due") && x.sections[0].page == Some(1), "{:?}", x.sections);
        assert!(x.sections[1].text.contains("written consent") && x.sections[1].page == Some(2));
        // The same bytes cut short are a damaged file, reported, not a crash.
        let whole = super::super::sample_pdf(&["Rent is due on the fifth."]);
        assert!(extract("cut.pdf", &whole[..whole.len() / 2]).is_err());
    }

    #[test]
    fn korean_pdf_text_comes_through_its_unicode_map() {
        // Korean PDFs carry glyph ids (Identity-H) and a ToUnicode map, not characters.
        let bytes = super::super::sample_pdf(&["월세는 매달 5일에 낸다.", "반려동물은 서면 동의가 필요하다. Pets OK?"]);
        assert!(!String::from_utf8_lossy(&bytes).contains("월세"), "the fixture must not carry the text plainly");
        let x = extract("임대차계약서.pdf", &bytes).unwrap();
        assert_eq!(x.pages, Some(2));
        assert!(x.sections[0].text.contains("월세는 매달 5일에 낸다"), "{:?}", x.sections);
        assert!(x.sections[1].text.contains("반려동물은 서면 동의가") && x.sections[1].text.contains("Pets OK?"));
    }

    #[test]
    fn nul_characters_are_dropped_from_document_text() {
        let e = extract("notes.txt", "Jiwoo\0's school\0 starts at nine.".as_bytes()).unwrap();
        assert_eq!(e.sections[0].text, "Jiwoo's school starts at nine.");
        let e = extract("notes.md", "# Ti\0tle\n\nBody\0 text.".as_bytes()).unwrap();
        assert!(
            e.sections.iter().all(|s| !s.text.contains('\0') && !s.heading.as_deref().unwrap_or("").contains('\0'))
        );
        assert!(extract("nul.txt", b"\0\0\0").is_err(), "nothing but NUL is no text");
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        assert!(extract("empty.txt", b"").unwrap_err().to_string().contains("empty"));
        assert!(extract("blank.md", b"   \n\n").unwrap_err().to_string().contains("no text"));
        assert!(extract("broken.pdf", b"%PDF-1.4\nthis is not a pdf").unwrap_err().to_string().contains("broken.pdf"));
        assert!(extract("x.bin", &[0, 159, 146, 150]).is_err());
    }
}
