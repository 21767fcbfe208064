#![no_main]
//! See `fuzz/README.md` and `pop3_fuzz::server` for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pop3_fuzz::server(data));
