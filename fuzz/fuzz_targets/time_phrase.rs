//! Korean and English time phrases: read, refused or asked back, never a
//! panic or an overflow; a schedule read is never in the past.
#![no_main]
use chrono::TimeZone;
use libfuzzer_sys::fuzz_target;
use pai_core::reminder_times::{find_in, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(phrase) = std::str::from_utf8(data) else { return };
    let now = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 1, 0, 0).unwrap();
    for tz in [chrono_tz::Asia::Seoul, chrono_tz::America::New_York] {
        if let Ok(schedule) = parse(phrase, now, tz) {
            assert!(schedule.first() >= now - chrono::Duration::minutes(1), "{phrase:?}: {schedule:?}");
        }
        let _ = find_in(phrase, now, tz);
    }
});
