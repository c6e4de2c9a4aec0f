//! The `keyward` command: a thin adapter over the library.

#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = <cli::Args as clap::Parser>::parse();
    let code = cli::run(args, &mut std::io::stdout().lock());
    ExitCode::from(code as u8)
}
