//! The `keyward` command: a thin adapter over the library.

#![forbid(unsafe_code)]

mod cli;

/// mimalloc: the service allocates many small, short-lived buffers per
/// request (JSON, audit records); glibc malloc was a fifth of server time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod load;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = <cli::Args as clap::Parser>::parse();
    let code = cli::run(args, &mut std::io::stdout().lock());
    ExitCode::from(code as u8)
}
