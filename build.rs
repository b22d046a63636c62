//! Refuses to build heapsnap for anything but x86-64 Linux, with a message saying why: it
//! reads other processes through Linux interfaces (ptrace, process_vm_readv, /proc) and its
//! CPython layouts are those of x86-64 builds.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if arch != "x86_64" || os != "linux" {
        eprintln!(
            "heapsnap builds only for x86-64 Linux (this target: {arch} {os}): it reads other \
             processes with ptrace, process_vm_readv and /proc, and its CPython layouts are \
             those of x86-64 builds"
        );
        std::process::exit(1);
    }
}
