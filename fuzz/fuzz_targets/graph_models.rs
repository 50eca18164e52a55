//! Any bytes as a Graph collection page: parsing never panics, and every item converts.
#![no_main]
use libfuzzer_sys::fuzz_target;
use securescore_exporter::source::model::{ControlProfile, Page, SecureScoreRecord};

fuzz_target!(|data: &[u8]| {
    if let Ok(page) = Page::parse(data) {
        for item in &page.items {
            let _ = SecureScoreRecord::from_json(item);
            let _ = ControlProfile::from_json(item);
        }
    }
});
