//! The advisor server's message parser (queries `01` and Retains `02`): any bytes give a
//! message or an error answer.
#![no_main]
use fundalloc_cbr_advisor::{Limits, parse_message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_message(data, &Limits::default());
});
