//! Code size, server: the baseline plus one client session against pop3-proto's server
//! role (both roles).

#![no_std]
#![no_main]

use panic_semihosting as _;

pop3_cortex_m4_host::size_program!(
    "size-server",
    pop3_transcript::stream::fetch_from_server_role(2048, 4, || {}).unwrap_or(0)
);
