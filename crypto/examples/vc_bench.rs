//! Groth16 proving of a MiMC-5 chain circuit, single-threaded `ark-groth16` (its own prover on a
//! one-thread rayon pool) beside the accelerator's default backend (`Cpu::multi`: the prover built
//! from the backend's MSMs, on every core), and verification time with the gas
//! `platon_groth16_verify` charges. Run through `scripts/bench-vc.sh`.
//!
//! Arguments: the circuit sizes as powers of two (default `16 18`).

use platon_crypto::vc::backend::{Backend, Cpu};
use platon_crypto::vc::{self, MimcChain, Model};
use std::time::Instant;

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

fn main() {
    let logs: Vec<u32> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a power of two"))
        .collect();
    let logs = if logs.is_empty() { vec![16, 18] } else { logs };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("cores: {cores}");
    println!("| constraints | setup | prove, 1 thread | prove, {cores} threads | ratio | verify | verify gas |");
    println!("|---|---|---|---|---|---|---|");
    for log in logs {
        // A third as many rounds as constraints, less the task's input constraints.
        let model = MimcChain::with_constraints((1usize << log) - 4);
        let t = Instant::now();
        let keys = pool(cores)
            .install(|| vc::setup(&model, b"bench"))
            .expect("setup");
        let setup = t.elapsed();
        let mut input = [0u8; 32];
        input[31] = 42;
        let a = model.compute(&input).expect("compute");
        let task = vc::Scalar::from(7u64);
        let single = pool(1);
        let multi = Cpu::multi().expect("backend");
        let t = Instant::now();
        let p1 = single
            .install(|| vc::prove(&keys.pk, &model, task, &a, [1; 32]))
            .expect("prove");
        let one = t.elapsed();
        let t = Instant::now();
        let pn = multi
            .groth16_prove(&keys.pk, &model, task, &a, [2; 32])
            .expect("prove");
        let many = t.elapsed();
        let words = vc::public_words(&task, &a);
        let t = Instant::now();
        let ok = vc::verify(&keys.vk, &p1, &words).expect("verify")
            && vc::verify(&keys.vk, &pn, &words).expect("verify");
        let verify = t.elapsed() / 2;
        assert!(ok, "both proofs verify");
        println!(
            "| 2^{log} | {:.1} s | {:.2} s | {:.2} s | {:.2}× | {:.2} ms | {} |",
            setup.as_secs_f64(),
            one.as_secs_f64(),
            many.as_secs_f64(),
            one.as_secs_f64() / many.as_secs_f64(),
            verify.as_secs_f64() * 1e3,
            181_000 + 6_150 * words.len() as u64,
        );
    }
}
