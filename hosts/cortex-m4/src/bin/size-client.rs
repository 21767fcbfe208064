//! Code size, client: the baseline plus one session with the procedures layer (the login
//! procedure, with every method it can choose, SASL included, and a batch) against a
//! scripted server.

#![no_std]
#![no_main]

use panic_semihosting as _;

pop3_cortex_m4_host::size_program!(
    "size-client",
    pop3_transcript::stream::fetch(2048, 4, || {}).unwrap_or(0)
);
