//! Helpers shared by the CLI's integration tests.

use std::process::Output;

/// The JSON object a successful run printed on stdout (the test fails with stderr otherwise).
pub(crate) fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A `.npy` file (version 1.0) as NumPy writes it, header padded to 64 bytes, written byte by
/// byte so the tests do not depend on the reader they check.
#[allow(dead_code)] // not every test binary writes `.npy` files
pub(crate) fn npy_bytes(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}
