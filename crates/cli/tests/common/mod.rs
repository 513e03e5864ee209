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
