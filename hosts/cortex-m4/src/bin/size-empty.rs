//! Code size, empty: the runtime, the heap and semihosting output alone (the baseline the others are measured against).

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
    // Allocates and prints a number, as the others do, so the baseline has the same runtime.
    let v = alloc::vec![1u8; 16];
    hprintln!("size-empty: {}", v.len() as u64);
    debug::exit(debug::EXIT_SUCCESS);
    #[allow(clippy::empty_loop)]
    loop {}
}
