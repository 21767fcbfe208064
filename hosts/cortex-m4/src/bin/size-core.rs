//! Code size, core: the baseline plus one session driven with Client::send and events alone (USER, PASS, RETR, QUIT; no procedures layer) against a scripted server.

#![no_std]
#![no_main]

extern crate alloc;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;
use pop3_cortex_m4_host::Tracking;

#[global_allocator]
static HEAP: Tracking = Tracking::new();

#[entry]
fn main() -> ! {
    HEAP.init();
    let result = pop3_transcript::stream::fetch_with_commands(2048, 4, || {});
    hprintln!("size-core: {}", result.unwrap_or(0));
    debug::exit(debug::EXIT_SUCCESS);
    #[allow(clippy::empty_loop)]
    loop {}
}
