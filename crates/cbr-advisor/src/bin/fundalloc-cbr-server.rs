//! Placeholder (replaced by the server binary).
fn main() {}
