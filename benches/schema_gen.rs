//! Generate AND validate 100,000 valid Complete requests; compare with validating the same
//! 100,000 pre-generated values alone. Prints times, per-instance cost and the ratio
//! measured in this one run. `cargo bench --bench schema_gen`

use std::time::Instant;

use gws_conform::schema::Schemas;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

const N: usize = 100_000;

fn main() {
    let schemas = Schemas::embedded().expect("embedded schemas");
    let strategy = schemas
        .valid_strategy("complete-request")
        .expect("complete-request strategy");
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[42; 32]),
    );

    // 1. Generate and validate, one instance at a time.
    let start = Instant::now();
    let mut values = Vec::with_capacity(N);
    let mut valid = 0usize;
    for _ in 0..N {
        let v = strategy.new_tree(&mut runner).expect("generate").current();
        if schemas.is_valid("complete-request", &v) {
            valid += 1;
        }
        values.push(v);
    }
    let both = start.elapsed();
    assert_eq!(valid, N, "every generated instance must be valid");

    // 2. Validate the same values alone.
    let start = Instant::now();
    let mut again = 0usize;
    for v in &values {
        if schemas.is_valid("complete-request", v) {
            again += 1;
        }
    }
    let alone = start.elapsed();
    assert_eq!(again, N);

    // 3. Full validation with issue collection (what `validate` does on a failure path is
    //    not exercised: all are valid), for reference.
    let start = Instant::now();
    let ok = values
        .iter()
        .filter(|v| schemas.validate("complete-request", v).is_ok())
        .count();
    let full = start.elapsed();
    assert_eq!(ok, N);

    let per = |d: std::time::Duration| d.as_nanos() as f64 / N as f64;
    println!("schema_gen: {N} valid complete-request instances");
    println!(
        "  generate + validate : {:>10.3} ms  ({:>8.0} ns/instance)",
        both.as_secs_f64() * 1e3,
        per(both)
    );
    println!(
        "  validate alone      : {:>10.3} ms  ({:>8.0} ns/instance)",
        alone.as_secs_f64() * 1e3,
        per(alone)
    );
    println!(
        "  validate() (Result) : {:>10.3} ms  ({:>8.0} ns/instance)",
        full.as_secs_f64() * 1e3,
        per(full)
    );
    println!(
        "  ratio (generate+validate) / (validate alone): {:.1}x",
        both.as_secs_f64() / alone.as_secs_f64()
    );
}
