//! "Remember that …", "forget …", "기억해 줘", "잊어 줘": explicit memory
//! requests, recognised by rules rather than by a model, so that obeying them
//! never depends on a model's judgement.

/// What the user explicitly asked for, with the content it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Explicit {
    Remember(String),
    Forget(String),
}

/// English openings, lowercase, longest first within each group. The content follows.
const EN_REMEMBER: &[&str] = &[
    "please remember this: ",
    "please remember that ",
    "please remember ",
    "remember this: ",
    "remember that ",
    "remember: ",
    "remember ",
    "don't forget that ",
    "do not forget that ",
    "keep in mind that ",
    "note that ",
    "make a note that ",
];
const EN_FORGET: &[&str] = &[
    "please forget that ",
    "please forget about ",
    "please forget ",
    "forget that ",
    "forget about ",
    "forget ",
    "stop remembering that ",
    "stop remembering ",
    "delete the memory that ",
    "delete the memory about ",
    "don't remember that ",
    "do not remember that ",
    "don't keep ",
    "do not keep ",
    "don't store ",
    "do not store ",
    "don't save ",
    "do not save ",
    "stop storing ",
    "erase ",
];
/// Whole sentences that forget what was just said ("I don't want that stored.").
const EN_FORGET_THAT: &[&str] = &[
    "i don't want that stored",
    "i do not want that stored",
    "i don't want that saved",
    "i don't want you to remember that",
    "i don't want you to store that",
    "don't store that",
    "don't save that",
    "don't keep that",
    "don't remember that",
    "never mind that",
    "scratch that",
];
/// Fillers before a request ("Actually, forget …", "Oh and remember …").
const EN_LEAD_INS: &[&str] = &[
    "actually, ",
    "actually ",
    "oh, ",
    "oh and ",
    "oh ",
    "and ",
    "also, ",
    "also ",
    "so ",
    "ok, ",
    "okay, ",
    "wait, ",
    "please ",
];
/// Polite question forms that are requests all the same ("Can you forget my …?").
const EN_ASKS: &[&str] = &["can you ", "could you ", "would you ", "will you ", "please can you "];
/// Korean endings (after spaces are removed at the end). The content precedes.
const KO_REMEMBER: &[&str] = &[
    "기억해주세요",
    "기억해줘",
    "기억해둬",
    "기억해놔",
    "기억해두세요",
    "기억해",
    "잊지마세요",
    "잊지마",
    "메모해줘",
    "메모해둬",
];
const KO_FORGET: &[&str] = &[
    "잊어주세요",
    "잊어줘",
    "잊어버려",
    "잊어버려줘",
    "잊어",
    "지워줘",
    "지워주세요",
    "삭제해줘",
    "저장하지마",
    "저장하지마세요",
    "저장하지말아줘",
    "저장하지말아주세요",
    "기억하지마",
    "기억하지마세요",
    "기억하지말아줘",
    "기억하지말아주세요",
    "저장안해도돼",
];
/// What points back at something said before the content proper ("아까 말한 여권
/// 번호는 잊어 줘" → "여권 번호").
const KO_BACK_REFERENCES: &[&str] =
    &["아까 말한 ", "방금 말한 ", "전에 말한 ", "내가 말한 ", "아까 얘기한 ", "방금 얘기한 ", "예전에 말한 "];
/// Korean topic endings left before a forget verb ("여권 번호는 잊어 줘").
const KO_TOPIC: &[&str] = &["은", "는"];
/// Korean endings left before the verb that are not part of the content:
/// "보리라는 걸 기억해" → "보리", "주소를 잊어" → "주소". Only after a noun
/// ("…라는"); "…다는" follows a verb stem and stays ("산다는 건").
const KO_TRAILERS: &[&str] =
    &["이라는 것을", "이라는것을", "이라는 걸", "이라는걸", "라는 것을", "라는것을", "라는 걸", "라는걸", "을", "를"];

/// Recognises an explicit request in one user message; `None` for anything else,
/// including questions ("do you remember …?") and empty content.
pub fn detect(message: &str) -> Option<Explicit> {
    let text = message.trim().trim_start_matches(['"', '\'']).trim();
    let mut text = strip_address(text);
    // Lead-ins and polite question forms ("Actually, forget…", "Can you forget…?").
    let mut asked = false;
    loop {
        let lower = text.to_lowercase();
        if let Some(o) = EN_ASKS.iter().find(|o| lower.starts_with(*o)) {
            asked = true;
            text = text[o.len()..].trim_start(); // ASCII openings keep their length when lowercased
        } else if let Some(o) = EN_LEAD_INS.iter().find(|o| lower.starts_with(*o)) {
            text = text[o.len()..].trim_start();
        } else {
            break;
        }
    }
    let bare = text.trim_end_matches(['.', '!', '?', ' ']).to_lowercase();
    if EN_FORGET_THAT.contains(&bare.as_str()) {
        return Some(Explicit::Forget("that".into()));
    }
    if (text.ends_with('?') || text.ends_with('？')) && !asked {
        return None;
    }
    let text = text.trim_end_matches(['?', '？']);
    let lower = text.to_lowercase();
    for (openings, make) in [(EN_REMEMBER, Explicit::Remember as fn(String) -> Explicit), (EN_FORGET, Explicit::Forget)]
    {
        if let Some(opening) = openings.iter().find(|o| lower.starts_with(*o)) {
            // Byte offsets agree: lowercasing the ASCII opening keeps its length.
            return content(&text[opening.len()..]).map(make);
        }
    }
    korean(text)
}

/// Drops a leading "pai," / "hey pai" so "Pai, remember that …" works.
fn strip_address(text: &str) -> &str {
    let lower = text.to_lowercase();
    for prefix in ["hey pai,", "hey pai ", "pai,", "pai "] {
        if lower.starts_with(prefix) {
            return text[prefix.len()..].trim_start();
        }
    }
    text
}

fn korean(text: &str) -> Option<Explicit> {
    let body = text.trim_end_matches(['.', '!', '。', '~', ' ']);
    // Compare with spaces removed ("기억해 줘" == "기억해줘"), then map back.
    let squashed: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let (ending, forget) = KO_REMEMBER
        .iter()
        .map(|e| (*e, false))
        .chain(KO_FORGET.iter().map(|e| (*e, true)))
        .filter(|(e, _)| squashed.ends_with(e))
        .max_by_key(|(e, _)| e.len())?;
    // Walk back over `ending`'s characters, skipping spaces, to find where it starts in `body`.
    let mut remaining = ending.chars().count();
    let mut cut = body.len();
    for (i, c) in body.char_indices().rev() {
        if remaining == 0 {
            break;
        }
        if !c.is_whitespace() {
            remaining -= 1;
        }
        cut = i;
    }
    let mut content_part = body[..cut].trim_end();
    // "…이야. 그거 기억해 줘": the pointer goes, what it points at stays.
    for r in REFERENCES.iter().filter(|r| r.chars().all(|c| !c.is_ascii())) {
        if let Some(before) = content_part.strip_suffix(r) {
            let before = before.trim_end();
            if before.ends_with(['.', '!', ',', '~', '。']) {
                content_part = before.trim_end_matches(['.', '!', ',', '~', '。']).trim_end();
                break;
            }
        }
    }
    if let Some(rest) = KO_BACK_REFERENCES.iter().find_map(|r| content_part.strip_prefix(r)) {
        content_part = rest.trim_start();
    }
    if let Some(stripped) = KO_TRAILERS.iter().find_map(|t| content_part.strip_suffix(t)) {
        // A particle glued to a word, never a whole word on its own.
        if !stripped.is_empty() && !stripped.ends_with(' ') {
            content_part = stripped;
        }
    }
    if forget {
        // "여권 번호는 잊어 줘": the topic particle goes too.
        if let Some(stripped) = KO_TOPIC.iter().find_map(|t| content_part.strip_suffix(t))
            && stripped.chars().count() >= 2
            && !stripped.ends_with(' ')
        {
            content_part = stripped;
        }
        // "저장하지 마." alone: what was just said.
        if content_part.trim().is_empty() {
            return Some(Explicit::Forget("그거".into()));
        }
        return content(content_part).map(Explicit::Forget);
    }
    content(content_part).map(Explicit::Remember)
}

/// Words that point back at what was just said instead of saying it:
/// "Remember that.", "그거 기억해 줘". The content is then the preceding
/// sentences (or the user's previous message), never the pointer itself.
const REFERENCES: &[&str] = &[
    "that",
    "this",
    "it",
    "that for me",
    "this for me",
    "it for me",
    "all that",
    "all of that",
    "all of this",
    "that one",
    "this one",
    "those",
    "these",
    "them",
    "what i said",
    "what i just said",
    "everything i said",
    "그거",
    "이거",
    "그걸",
    "이걸",
    "그것",
    "이것",
    "그것을",
    "이것을",
    "저거",
    "저걸",
    "그 내용",
    "이 내용",
    "그 얘기",
    "이 얘기",
    "방금 말한 거",
    "방금 말한 것",
    "내가 말한 거",
    "위에 거",
    "다",
    "전부",
];

/// True when a forget request means every match ("forget all my addresses",
/// "주소 전부 잊어 줘"), not one to be asked about.
pub fn means_all(content: &str) -> bool {
    let lower = format!(" {} ", content.to_lowercase());
    [" all ", " every ", " everything ", " both "].iter().any(|w| lower.contains(w))
        || ["전부", "모두", "다 ", "모든"].iter().any(|w| lower.contains(w))
}

/// True when a request's content only points back at something said before.
pub fn is_reference(content: &str) -> bool {
    let c = content.trim().trim_end_matches(['.', '!', ',', '~']).trim().to_lowercase();
    REFERENCES.contains(&c.as_str())
}

fn content(text: &str) -> Option<String> {
    let t = text.trim().trim_end_matches(['.', '!', ',']).trim();
    (!t.is_empty()).then(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remember(s: &str) -> Option<Explicit> {
        Some(Explicit::Remember(s.into()))
    }
    fn forget(s: &str) -> Option<Explicit> {
        Some(Explicit::Forget(s.into()))
    }

    #[test]
    fn table() {
        let cases: &[(&str, Option<Explicit>)] = &[
            ("Remember that my daughter is Jiwoo.", remember("my daughter is Jiwoo")),
            ("please remember I take my coffee black", remember("I take my coffee black")),
            ("Pai, remember: the wifi password is on the fridge", remember("the wifi password is on the fridge")),
            ("Don't forget that Minji's birthday is May 3", remember("Minji's birthday is May 3")),
            ("Forget that I live in Seoul", forget("I live in Seoul")),
            ("please forget about my old address!", forget("my old address")),
            ("Do you remember my daughter's name?", None),
            ("remember when we went to Jeju?", None),
            ("I forgot my keys", None),
            ("remember", None),
            ("Remember that.", remember("that")),
            ("Please remember this: the spare key is under the mat", remember("the spare key is under the mat")),
            ("지우는 7살이야. 그거 기억해 줘", remember("지우는 7살이야")),
            ("그거 기억해 줘", remember("그거")),
            ("내 딸 이름은 지우야. 기억해 줘", remember("내 딸 이름은 지우야")),
            ("우리 강아지 이름이 보리라는 걸 기억해줘!", remember("우리 강아지 이름이 보리")),
            ("나 땅콩 알레르기 있는 거 기억해 둬", remember("나 땅콩 알레르기 있는 거")),
            ("엄마 생신은 5월 3일이야 잊지 마", remember("엄마 생신은 5월 3일이야")),
            ("내가 서울에 산다는 건 잊어 줘", forget("내가 서울에 산다는 건")),
            ("예전 주소를 잊어버려", forget("예전 주소")),
            ("옛날 전화번호 지워 줘.", forget("옛날 전화번호")),
            ("내 딸 이름 기억해?", None),
            // Issue 18: the ways people ask to forget.
            ("Actually, forget my passport number.", forget("my passport number")),
            ("I don't want that stored.", forget("that")),
            ("Don't keep my address.", forget("my address")),
            ("Can you forget my old phone number?", forget("my old phone number")),
            ("Please don't store my bank PIN", forget("my bank PIN")),
            ("아까 말한 비밀번호는 잊어 줘", forget("비밀번호")),
            ("그 번호는 저장하지 마.", forget("그 번호")),
            ("저장하지 마.", forget("그거")),
            ("기억하지 말아 줘", forget("그거")),
            ("Can you recommend a book?", None),
            ("Actually, I live in Busan now.", None),
            ("기억해 줘", None),
            ("오늘 날씨 어때", None),
        ];
        for (input, want) in cases {
            assert_eq!(&detect(input), want, "{input}");
        }
    }

    #[test]
    fn references_point_back() {
        for r in ["that", "That.", "this for me", "it", "그거", "이걸", "방금 말한 거"] {
            assert!(is_reference(r), "{r}");
        }
        for r in ["that my wifi password is on the fridge", "my daughter is 7", "지우는 7살", "thatcher"] {
            assert!(!is_reference(r), "{r}");
        }
    }
}
