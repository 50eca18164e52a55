//! Any bytes as a web config: a precise error or a config, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = securescore_exporter::http::web_config::WebConfig::parse(data, std::path::Path::new("fuzz.yml"));
});
