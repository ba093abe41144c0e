//! Records the versions of the crates that compute results (from Cargo.lock) for run manifests;
//! with the feature `tch`, compiles the libtorch calls tch does not bind (src/engine/torch/ffi.cpp).

fn main() {
    #[cfg(feature = "tch")]
    compile_torch_ffi();
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

/// libtorch's headers lie beside the library directory torch-sys found (`include/` next to
/// `lib/`, in a PyTorch wheel and in a libtorch download alike).
#[cfg(feature = "tch")]
fn compile_torch_ffi() {
    let source = "src/engine/torch/ffi.cpp";
    println!("cargo:rerun-if-changed={source}");
    let lib = std::path::PathBuf::from(
        std::env::var("DEP_TCH_LIBTORCH_LIB")
            .expect("torch-sys reports libtorch's library directory"),
    );
    let include = lib
        .parent()
        .expect("libtorch's lib/ has a parent")
        .join("include");
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        // PyTorch's wheels since 2.7 and libtorch's cxx11 downloads use the C++11 ABI.
        .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
        .file(source)
        .compile("heist_torch_ffi");
}
