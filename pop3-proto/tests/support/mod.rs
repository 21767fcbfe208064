//! Helpers shared by the integration tests: `mod support;` in each test that needs them.
#![allow(dead_code)] // every test binary uses a different part of it

pub mod body;
pub mod session;

/// The streaming unstuffer driver, shared with the unit tests of `src/codec/dot.rs`.
pub mod unstuff {
    use pop3_proto::codec::dot::{Step, Unstuffer};

    include!("unstuff.rs");
}
