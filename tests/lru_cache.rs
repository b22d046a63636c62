//! Objects that C code holds where `gc.get_referents` sees them but a plain scan does not: the
//! results of a bounded `functools.lru_cache` live in entries of a linked list inside the
//! wrapper. They are found, in gc mode too, and their chain names the fields (`price_for.cache`,
//! `price_for.cache[…]`), not offsets.

#[macro_use]
mod common;

use common::{diff_json, dump_to, Build, Target};

fn cached_results_hang_from_the_cache(b: &Build) {
    let mut target = Target::start(
        &b.python,
        &[
            "-c",
            "import functools, sys\n\
             class Price(object):\n    def __init__(self, n): self.n = n\n\
             @functools.lru_cache(maxsize=128)\n\
             def price_for(item):\n    return Price(item)\n\
             print('ready'); sys.stdout.flush()\n\
             for line in iter(sys.stdin.readline, ''):\n\
             \x20   for i in range(50): price_for(i)\n\
             \x20   print('ok'); sys.stdout.flush()",
        ],
    );
    let dir = std::env::temp_dir().join(format!("heapsnap-lru-{}-{}", b.name, std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, bb, gc) = (dir.join("a.json"), dir.join("b.json"), dir.join("gc.json"));
    dump_to(target.pid(), &a);
    target.send("fill\n");
    assert_eq!(target.read_line().trim(), "ok");
    dump_to(target.pid(), &bb);
    let d = diff_json(
        &[&a, &bb],
        &["--type", "__main__.Price", "--per-type", "50"],
    );
    let paths: Vec<&str> = d["chains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 50, "{}: {paths:?}", b.name);
    for p in &paths {
        assert_eq!(
            *p, "sys.modules['__main__'].price_for.cache[…]",
            "{}",
            b.name
        );
    }
    // gc mode (gc.get_referents' closure) finds them too.
    let out = common::heapsnap()
        .args([
            "dump",
            &target.pid().to_string(),
            "--mode",
            "gc",
            "-q",
            "-o",
        ])
        .arg(&gc)
        .output()
        .unwrap();
    common::assert_succeeded(&out);
    let snap: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&gc).unwrap()).unwrap();
    let prices = snap["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "__main__.Price")
        .map_or(0, |t| t["count"].as_u64().unwrap());
    assert_eq!(prices, 50, "{}: gc mode", b.name);
    let _ = std::fs::remove_dir_all(&dir);
}

per_build! {
    cached_results_hang_from_the_cache:
    lru_cache_3_6_15 => "3.6.15",
    lru_cache_3_8_18 => "3.8.18",
    lru_cache_3_10_13 => "3.10.13",
    lru_cache_3_12_1 => "3.12.1",
    lru_cache_sid_3_14 => "sid-3.14",
    lru_cache_sid_3_15 => "sid-3.15",
}
