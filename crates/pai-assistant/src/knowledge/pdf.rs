//! PDF text page by page, in one walk over the pages. pdf-extract's own
//! by-page reader looks the page tree up again for every page, so a PDF
//! cost the square of its page count (4 MB: 0.39 s per MB against 0.20 for
//! 1 MB); `output_doc` walks it once and this splits its output at page ends.

use std::cell::RefCell;
use std::rc::Rc;

use std::collections::HashSet;

use pdf_extract::content::Content;
use pdf_extract::{
    ConvertToFmt, Dictionary, Document, MediaBox, Object, ObjectId, OutputDev, OutputError, PlainTextOutput, Transform,
};

/// Each page's text, in order. Errors as pdf-extract gives them; it may also panic on
/// malformed files, which the caller catches.
pub fn pages(bytes: &[u8]) -> Result<Vec<String>, OutputError> {
    let mut doc = Document::load_mem(bytes)?;
    if doc.is_encrypted() {
        // Encrypted with an empty user password: readable, as pdf-extract does.
        doc.decrypt("")?;
    }
    refuse_cycles(&doc).map_err(|what| OutputError::PdfError(pdf_extract::Error::InvalidStream(what)))?;
    let mut splitter = Pages::default();
    pdf_extract::output_doc(&doc, &mut splitter)?;
    Ok(splitter.done)
}

/// Deepest chain of pages' parents, or of forms drawing forms, that is read.
const MAX_DEPTH: usize = 64;
/// Forms drawn per page, all nestings together: forms that draw each other
/// twice at every level would otherwise cost 2^depth.
const MAX_DRAWN_FORMS: usize = 10_000;

/// pdf-extract follows a page's `/Parent` chain for inherited attributes and
/// draws a form XObject (`Do`) by recursing into it, neither with a guard:
/// a page that is its own parent spun forever, and a form that draws itself
/// would overflow the stack, which no `catch_unwind` survives (found by
/// fuzzing). The same walks are made here first, with limits.
fn refuse_cycles(doc: &Document) -> Result<(), String> {
    let has_forms = doc.objects.values().any(|o| {
        o.as_stream().is_ok_and(|s| s.dict.get(b"Subtype").and_then(Object::as_name).is_ok_and(|n| n == b"Form"))
    });
    for page in doc.page_iter() {
        let dict = doc.get_dictionary(page).map_err(|e| e.to_string())?;
        let resources = inherited_resources(doc, dict)?;
        if has_forms {
            let content = doc.get_page_content(page).unwrap_or_default();
            forms_end(doc, &content, resources, &mut Vec::new(), &mut { MAX_DRAWN_FORMS })?;
        }
    }
    Ok(())
}

/// The page's resources, found up its parents as pdf-extract looks for them
/// (and for `MediaBox`, so the whole chain is walked).
fn inherited_resources<'a>(doc: &'a Document, page: &'a Dictionary) -> Result<Option<&'a Dictionary>, String> {
    let mut seen = HashSet::new();
    let mut resources = None;
    let mut dict = page;
    for _ in 0..MAX_DEPTH {
        if let (None, Ok(r)) = (resources, dict.get(b"Resources")) {
            resources = Some(deref(doc, r).as_dict().ok());
        }
        let Ok(parent) = dict.get(b"Parent").and_then(Object::as_reference) else { return Ok(resources.flatten()) };
        if !seen.insert(parent) {
            return Err("the page tree loops back on itself".into());
        }
        let Ok(next) = doc.get_dictionary(parent) else { return Ok(resources.flatten()) };
        dict = next;
    }
    Err("the page tree is nested too deep".into())
}

/// Follows every `Do` of `content` into the forms it draws; a form on its own
/// drawing path, a path deeper than `MAX_DEPTH` or more than
/// `MAX_DRAWN_FORMS` forms in all are refused.
fn forms_end(
    doc: &Document,
    content: &[u8],
    resources: Option<&Dictionary>,
    path: &mut Vec<ObjectId>,
    budget: &mut usize,
) -> Result<(), String> {
    if path.len() >= MAX_DEPTH {
        return Err("forms drawing forms nest too deep".into());
    }
    let Some(resources) = resources else { return Ok(()) };
    let Ok(operations) = Content::decode(content) else { return Ok(()) };
    let xobjects = resources.get(b"XObject").map(|x| deref(doc, x)).ok().and_then(|x| x.as_dict().ok());
    for op in operations.operations.iter().filter(|op| op.operator == "Do") {
        let Some(name) = op.operands.first().and_then(|n| n.as_name().ok()) else { continue };
        let Some(Ok(id)) = xobjects.and_then(|x| x.get(name).ok()).map(Object::as_reference) else { continue };
        let Ok(form) = doc.get_object(id).and_then(Object::as_stream) else { continue };
        if path.contains(&id) {
            return Err("a form draws itself".into());
        }
        *budget = budget.checked_sub(1).ok_or("a page draws too many forms")?;
        let own = form.dict.get(b"Resources").ok().map(|r| deref(doc, r)).and_then(|r| r.as_dict().ok());
        let inner = form.decompressed_content().unwrap_or_else(|_| form.content.clone());
        path.push(id);
        forms_end(doc, &inner, own.or(Some(resources)), path, budget)?;
        path.pop();
    }
    Ok(())
}

fn deref<'a>(doc: &'a Document, o: &'a Object) -> &'a Object {
    match o {
        Object::Reference(id) => doc.get_object(*id).unwrap_or(o),
        _ => o,
    }
}

/// Where a page's text is written.
#[derive(Clone, Default)]
struct PageText(Rc<RefCell<String>>);

impl std::fmt::Write for PageText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.borrow_mut().push_str(s);
        Ok(())
    }
}

impl ConvertToFmt for PageText {
    type Writer = PageText;
    fn convert(self) -> PageText {
        self
    }
}

/// pdf-extract's plain text layout, started afresh on every page as its
/// by-page reader does.
#[derive(Default)]
struct Pages {
    current: Option<(PlainTextOutput<PageText>, PageText)>,
    done: Vec<String>,
}

impl Pages {
    fn page(&mut self) -> Result<&mut PlainTextOutput<PageText>, OutputError> {
        self.current.as_mut().map(|(o, _)| o).ok_or_else(|| OutputError::FormatError(std::fmt::Error))
    }
}

impl OutputDev for Pages {
    fn begin_page(
        &mut self,
        page_num: u32,
        media_box: &MediaBox,
        art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        let text = PageText::default();
        let mut output = PlainTextOutput::new(text.clone());
        output.begin_page(page_num, media_box, art_box)?;
        self.current = Some((output, text));
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        if let Some((mut output, text)) = self.current.take() {
            output.end_page()?;
            drop(output);
            self.done.push(Rc::try_unwrap(text.0).map(RefCell::into_inner).unwrap_or_else(|rc| rc.borrow().clone()));
        }
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), OutputError> {
        self.page()?.output_character(trm, width, spacing, font_size, char)
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        self.page()?.begin_word()
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        self.page()?.end_word()
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        self.page()?.end_line()
    }
}

#[cfg(test)]
mod tests {
    use pdf_extract::{Document, Object, Stream, dictionary};

    /// Found by fuzzing: page 1's `/Parent` is page 1 (pdf-extract spun for ever).
    #[test]
    fn a_page_that_is_its_own_parent_is_refused() {
        let bytes = super::super::sample_pdf(&["Rent is due on the fifth."]);
        let mut doc = Document::load_mem(&bytes).unwrap();
        let page = *doc.get_pages().get(&1).unwrap();
        // Resources on the page, but no MediaBox: looked for up the parents.
        let dict = doc.get_dictionary_mut(page).unwrap();
        dict.remove(b"MediaBox");
        dict.set("Parent", page);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        let err = super::pages(&out).unwrap_err();
        assert!(err.to_string().contains("loops back"), "{err}");
    }

    /// A form XObject that draws itself would recurse until the stack overflows.
    #[test]
    fn a_form_that_draws_itself_is_refused() {
        let bytes = super::super::sample_pdf(&["Rent is due on the fifth."]);
        let mut doc = Document::load_mem(&bytes).unwrap();
        let form = doc.new_object_id();
        let resources = dictionary! {"XObject" => dictionary! {"X1" => form}};
        let stream = Stream::new(
            dictionary! {"Type" => "XObject", "Subtype" => "Form",
            "BBox" => vec![0.into(), 0.into(), 10.into(), 10.into()], "Resources" => resources.clone()},
            b"/X1 Do".to_vec(),
        );
        doc.objects.insert(form, Object::Stream(stream));
        let page = *doc.get_pages().get(&1).unwrap();
        let contents = doc.get_page_contents(page)[0];
        doc.get_dictionary_mut(page).unwrap().set("Resources", resources);
        doc.get_object_mut(contents).unwrap().as_stream_mut().unwrap().set_plain_content(b"/X1 Do".to_vec());
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        let err = super::pages(&out).unwrap_err();
        assert!(err.to_string().contains("draws itself"), "{err}");
    }

    #[test]
    fn the_same_pages_as_pdf_extracts_own_reader() {
        let bytes = super::super::sample_pdf(&["Rent is due on the fifth.", "Pets need written consent.", "월세"]);
        let ours = super::pages(&bytes).unwrap();
        assert_eq!(ours, pdf_extract::extract_text_from_mem_by_pages(&bytes).unwrap());
        assert_eq!(ours.len(), 3);
    }
}
