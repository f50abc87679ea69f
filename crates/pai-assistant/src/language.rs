//! Which of pai's two languages a message is written in. pai's own replies
//! and the model's instructions follow it, so a Korean message gets a Korean
//! answer even when it names "Seoul" or "KTX", and an English one that names
//! 민지 stays English.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Korean,
    English,
}

impl Language {
    /// Korean when Hangul carries at least as much of the message as Latin
    /// letters do (a syllable block holds about two letters' worth).
    pub fn of(text: &str) -> Language {
        let hangul = text.chars().filter(|c| ('\u{AC00}'..='\u{D7A3}').contains(c)).count();
        let latin = text.chars().filter(|c| c.is_ascii_alphabetic()).count();
        if hangul > 0 && hangul * 2 >= latin { Language::Korean } else { Language::English }
    }

    pub fn name(self) -> &'static str {
        match self {
            Language::Korean => "Korean",
            Language::English => "English",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_script_that_carries_the_message() {
        assert_eq!(Language::of("내일 KTX 타고 Seoul 가"), Language::Korean);
        assert_eq!(Language::of("My sister 민지 lives in Busan"), Language::English);
        assert_eq!(Language::of("안녕"), Language::Korean);
        assert_eq!(Language::of("ok"), Language::English);
        assert_eq!(Language::of("12:30"), Language::English);
    }
}
