//! Code size, server: the baseline plus one client session against pop3-proto's server role (both roles).

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
    let result = pop3_transcript::stream::fetch_from_server_role(2048, 4, || {});
    hprintln!("size-server: {}", result.unwrap_or(0));
    debug::exit(debug::EXIT_SUCCESS);
    #[allow(clippy::empty_loop)]
    loop {}
}
