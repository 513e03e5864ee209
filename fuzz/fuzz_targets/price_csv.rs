//! timeseries-pno's price CSV reader.
#![no_main]
use fundalloc_timeseries_pno::read_csv_column;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read_csv_column(data, "close", "fuzz");
});
