//! The advisor server's Request parser: any bytes give a request or an error answer.
#![no_main]
use fundalloc_cbr_advisor::{Limits, parse_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_request(data, &Limits::default());
});
