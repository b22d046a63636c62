//! `heapsnap completions SHELL`: the completion script for a shell, generated from the command
//! line's own definition (clap_complete), so it never disagrees with `--help`.

use clap::CommandFactory;

use super::{print_stdout, Cli, CompletionsArgs, Failure};

pub fn run(args: &CompletionsArgs) -> Result<(), Failure> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "heapsnap", &mut script);
    print_stdout(&String::from_utf8_lossy(&script))
}
