//! Subtitles from a transcript's segments: SubRip (`.srt`) and WebVTT
//! (`.vtt`), as `pai transcribe` and `/v1/audio/transcriptions` give them.

use crate::Segment;

/// SubRip: numbered cues, times as `00:00:01,500`.
pub fn srt(segments: &[Segment]) -> String {
    cues(segments, Kind::Srt)
}

/// WebVTT: a header, then cues with times as `00:00:01.500`.
pub fn vtt(segments: &[Segment]) -> String {
    cues(segments, Kind::Vtt)
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Srt,
    Vtt,
}

fn cues(segments: &[Segment], kind: Kind) -> String {
    let mark = if kind == Kind::Srt { ',' } else { '.' };
    let mut out = if kind == Kind::Vtt { String::from("WEBVTT\n\n") } else { String::new() };
    for (i, s) in segments.iter().filter(|s| !s.text.trim().is_empty()).enumerate() {
        if kind == Kind::Srt {
            out.push_str(&format!("{}\n", i + 1));
        }
        out.push_str(&format!("{} --> {}\n{}\n\n", clock(s.start, mark), clock(s.end, mark), s.text.trim()));
    }
    out
}

/// `hh:mm:ss` and milliseconds after `mark`.
pub fn clock(seconds: f64, mark: char) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!("{:02}:{:02}:{:02}{mark}{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(start: f64, end: f64, text: &str) -> Segment {
        Segment { start, end, text: text.into(), tokens: Vec::new(), avg_logprob: 0.0, no_speech_prob: 0.0 }
    }

    #[test]
    fn srt_numbers_its_cues_and_vtt_has_a_header() {
        let segments = vec![segment(0.0, 1.5, " Hello."), segment(3.0, 3.5, "  "), segment(3661.25, 3662.0, " Bye.")];
        assert_eq!(
            srt(&segments),
            "1\n00:00:00,000 --> 00:00:01,500\nHello.\n\n2\n01:01:01,250 --> 01:01:02,000\nBye.\n\n"
        );
        assert!(vtt(&segments).starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello.\n\n01:01:01.250"));
    }
}
