//! The case-base JSON loader: no input may panic or allocate beyond the size limits.
#![no_main]
use fundalloc_cbr_advisor::CaseBase;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = CaseBase::from_json(data);
});
