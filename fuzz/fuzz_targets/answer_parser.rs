//! The client's Answer parser: any text gives a response or a typed problem.
#![no_main]
use fundalloc_cbr_advisor::parse_response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_response(text);
    }
});
