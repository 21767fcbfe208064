//! The native side of the WASM host's speed comparison: the same session as
//! `hosts/wasm/run.mjs` times inside WASM (`stream::fetch`: log in, then one message of
//! `REPS` KiB through `read_space` in 64 KiB reads, every byte checked), best of five.
//!
//! Run: `cargo run --release -p pop3-transcript --example decode_speed`

use std::time::Instant;

const REPS: usize = 256 * 1024;
const READ: usize = 64 * 1024;

fn main() {
    let mut best = f64::MAX;
    let mut bytes = 0;
    for _ in 0..5 {
        let start = Instant::now();
        bytes = pop3_transcript::stream::fetch(READ, REPS, || {}).expect("the session works");
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "native: {bytes} body bytes in {:.1} ms, {:.0} MB/s (best of 5)",
        best * 1e3,
        bytes as f64 / best / 1e6
    );
}
