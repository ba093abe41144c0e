//! Mutation test: hundreds of damaged copies of the shipped experiments (truncations,
//! deletions, duplicated or swapped spans, junk bytes) never panic, never pass silently broken
//! input through without a location, and every rejection points at a place in a file.

use std::panic::{catch_unwind, AssertUnwindSafe};

use heist::diagnostics::render;
use heist::sema::check_file;

use crate::scratch::Scratch;
use crate::support::shipped_experiments;

/// A tiny deterministic generator, so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() as usize) % n.max(1)
    }
}

const JUNK: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"(",
    b")",
    b"\"",
    b"=",
    b"..",
    b"$",
    b"1e999",
    b"%",
    b"\0",
    b"\xff\xfe",
    b"include \"",
    b"let",
    b"extends",
    b"victim",
    b"99999999999999999999",
    b"-",
    b"#",
    b"\n",
    b"::",
];

fn mutate(source: &[u8], rng: &mut Lcg) -> Vec<u8> {
    let mut bytes = source.to_vec();
    let len = bytes.len();
    match rng.below(6) {
        0 => bytes.truncate(rng.below(len)),
        1 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(40)).min(len);
            bytes.drain(start..end);
        }
        2 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(80)).min(len);
            let copy = bytes[start..end].to_vec();
            let at = rng.below(len);
            bytes.splice(at..at, copy);
        }
        3 => {
            let a = rng.below(len / 2);
            let b = len / 2 + rng.below(len / 2);
            let n = (1 + rng.below(30)).min(len / 2 - a).min(len - b);
            let left = bytes[a..a + n].to_vec();
            let right = bytes[b..b + n].to_vec();
            bytes[a..a + n].copy_from_slice(&right);
            bytes[b..b + n].copy_from_slice(&left);
        }
        4 => {
            let junk = JUNK[rng.below(JUNK.len())];
            let at = rng.below(len);
            bytes.splice(at..at, junk.iter().copied());
        }
        _ => {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(len);
                bytes[at] = rng.next() as u8;
            }
        }
    }
    bytes
}

#[test]
fn damaged_experiments_never_panic_and_always_say_where() {
    let experiments = shipped_experiments();
    let scratch = Scratch::new(&[]);
    // Includes of the shipped experiments resolve next to the mutant.
    for path in &experiments {
        let name = path.file_name().unwrap().to_str().unwrap();
        scratch.write(name, &std::fs::read(path).unwrap());
    }
    let mut rng = Lcg(0x5eed);
    let mut rejected = 0;
    let mutants = 400;
    for i in 0..mutants {
        let original = &experiments[i % experiments.len()];
        let source = std::fs::read(original).unwrap();
        let mutant = mutate(&source, &mut rng);
        let path = scratch.write(&format!("mutant_{i}.exp"), &mutant);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let checked = check_file(&path, &[]).expect("mutant is readable");
            let all: Vec<_> = checked.diagnostics.iter().cloned().collect();
            let _ = render(&all, &checked.sources, false);
            checked
        }));
        let checked = outcome.unwrap_or_else(|_| {
            panic!(
                "heist panicked on a mutant of {} (kept at {})",
                original.display(),
                path.display()
            )
        });
        if checked.program.is_none() {
            rejected += 1;
            for d in checked.diagnostics.iter().filter(|d| d.is_error()) {
                assert!(
                    d.primary.is_some(),
                    "a rejection of {} has no location: {}",
                    path.display(),
                    d.message
                );
            }
        }
        let _ = std::fs::remove_file(&path);
    }
    assert!(
        rejected > mutants / 3,
        "only {rejected} of {mutants} mutants were rejected"
    );
}
