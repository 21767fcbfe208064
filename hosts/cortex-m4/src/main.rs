//! The transcript checks on an emulated Cortex-M4, and the heap one session needs.
//!
//! Replays every transcript compiled into `pop3-transcript` with every cut of the server's
//! bytes, then measures the peak heap of one session (the client alone, then the client with
//! the server role at the other end) streaming a 1 MiB message in 2 KiB reads. Output goes
//! through semihosting; the exit status is 0 only if every transcript matched and the
//! client's peak heap is within 8 KiB.

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;
use pop3_cortex_m4_host::Tracking;
use pop3_transcript::{check, stream, Depth, Transcript, EMBEDDED};

#[global_allocator]
static HEAP: Tracking = Tracking::new();

/// The promise measured here: a session streaming a body in 2 KiB reads fits in 8 KiB.
const HEAP_BUDGET: usize = 8 * 1024;
const READ: usize = 2048;
const REPS: usize = 1024;

#[entry]
fn main() -> ! {
    HEAP.init();
    let mut failed = 0;
    for (name, text) in EMBEDDED {
        match Transcript::parse(name, text) {
            Ok(t) => match check(&t, Depth::Full) {
                Ok(c) => hprintln!("ok    {}: {} replays, {} events", name, c.replays, c.events),
                Err(m) => {
                    failed += 1;
                    hprintln!("FAIL  {}", m);
                }
            },
            Err(e) => {
                failed += 1;
                hprintln!("FAIL  {}", e);
            }
        }
    }
    hprintln!(
        "cortex-m4: {} transcripts, {} failed",
        EMBEDDED.len(),
        failed
    );

    // (who, the session, whether the heap budget applies: the client's own sessions do)
    for (who, run, budgeted) in [
        (
            "client, commands",
            stream::fetch_with_commands as fn(usize, usize, fn()) -> Result<u64, _>,
            true,
        ),
        ("client, procedures", stream::fetch, true),
        (
            "client, procedures + server role",
            stream::fetch_from_server_role,
            false,
        ),
    ] {
        let before = HEAP.reset_peak();
        match run(READ, REPS, || {}) {
            Ok(bytes) => {
                let peak = HEAP.peak() - before;
                hprintln!(
                    "cortex-m4: heap peak {} bytes ({}) streaming {} body bytes in {}-byte \
                     reads; {} in use after",
                    peak,
                    who,
                    bytes,
                    READ,
                    HEAP.used() - before
                );
                if budgeted && peak > HEAP_BUDGET {
                    failed += 1;
                    hprintln!("FAIL  the client's heap peak is over {} bytes", HEAP_BUDGET);
                }
            }
            Err(e) => {
                failed += 1;
                hprintln!("FAIL  streaming ({}): {}", who, e);
            }
        }
    }
    debug::exit(if failed == 0 {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)]
    loop {}
}
