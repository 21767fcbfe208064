//! Code size, empty: the runtime, the heap and semihosting output alone, with one small
//! allocation (the baseline the others are measured against).

#![no_std]
#![no_main]

extern crate alloc;

use panic_semihosting as _;

pop3_cortex_m4_host::size_program!("size-empty", alloc::vec![1u8; 16].len() as u64);
