//! Records the versions of the crates that compute results (from Cargo.lock) for run manifests.

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let wanted = ["burn", "faer", "image", "parquet", "pest", "statrs"];
    let mut found = vec![];
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            if wanted.contains(&n.as_str())
                && !found.iter().any(|(f, _): &(String, String)| *f == n)
            {
                found.push((n, v.trim_matches('"').to_string()));
            }
        }
    }
    let text: Vec<String> = found.iter().map(|(n, v)| format!("{n}={v}")).collect();
    println!("cargo:rustc-env=HEIST_CRATE_VERSIONS={}", text.join(","));
}
