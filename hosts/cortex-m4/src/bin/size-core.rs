//! Code size, core: the baseline plus one session driven with `Client::send` and events
//! alone (USER, PASS, RETR, QUIT; no procedures layer) against a scripted server.

#![no_std]
#![no_main]

use panic_semihosting as _;

pop3_cortex_m4_host::size_program!(
    "size-core",
    pop3_transcript::stream::fetch_with_commands(2048, 4, || {}).unwrap_or(0)
);
