//! The `heapsnap` binary: see [`heapsnap::cli`].

fn main() {
    std::process::exit(heapsnap::cli::main());
}
