//! Cross-crate integration tests of fundalloc live in `tests/tests/`; this library is empty.
