//! Finds libmamlpp for linking. No crates: the `pkg-config` binary is run directly.
//!
//! Order of search:
//!  1. `MAMLPP_LIB_DIR` — the folder holding `libmamlpp.so` (a build tree or an install prefix's
//!     `lib`); `MAMLPP_INCLUDE_DIR` is not needed (the declarations are hand-written in `sys.rs`).
//!     A relative path is taken from the repository root (two folders above this file), the
//!     folder the README's commands run from, since cargo runs this script in bindings/rust.
//!  2. `pkg-config --variable=libdir mamlpp` (honours `PKG_CONFIG_PATH`).
//!  3. The checkout's own build folder, `<repository root>/build/src/capi`, when it holds the
//!     library (the README's build command makes it).
//!  4. Nothing: `-lmamlpp` alone, for a library in the linker's default path.
//!
//! The folder found is also written into the test, example and binary executables of this
//! package as an rpath, and exported to dependents as `DEP_MAMLPP_LIB_DIR` (Cargo's `links`
//! metadata), so their build scripts can add the same rpath. Set `MAMLPP_NO_RPATH=1` to skip it.
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn pkg_config_libdir() -> Option<PathBuf> {
    let out = Command::new(env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into()))
        .args(["--variable=libdir", "mamlpp"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?.trim().to_string();
    if dir.is_empty() {
        None
    } else {
        Some(PathBuf::from(dir))
    }
}

fn main() {
    for var in ["MAMLPP_LIB_DIR", "MAMLPP_NO_RPATH", "PKG_CONFIG_PATH", "PKG_CONFIG"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    // bindings/rust -> the repository root.
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..");
    let build_tree = root.join("build").join("src").join("capi");
    let dir = match env::var_os("MAMLPP_LIB_DIR") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            Some(if d.is_relative() { root.join(d) } else { d })
        }
        _ => pkg_config_libdir().or_else(|| {
            if build_tree.join("libmamlpp.so").exists() {
                Some(build_tree)
            } else {
                None
            }
        }),
    };
    // An absolute, normalised folder: it is also the rpath.
    let dir = dir.map(|d| d.canonicalize().unwrap_or(d));
    match &dir {
        Some(d) => {
            if !d.join("libmamlpp.so").exists() && !d.join("libmamlpp.dylib").exists() {
                println!(
                    "cargo:warning=libmamlpp not found in {} (set MAMLPP_LIB_DIR)",
                    d.display()
                );
            }
            println!("cargo:rustc-link-search=native={}", d.display());
            println!("cargo:lib_dir={}", d.display());
            if env::var_os("MAMLPP_NO_RPATH").is_none() {
                // Applies to this package's tests, examples and binaries (not to dependents).
                println!("cargo:rustc-link-arg=-Wl,-rpath,{}", d.display());
            }
        }
        None => println!(
            "cargo:warning=MAMLPP_LIB_DIR unset and `pkg-config mamlpp` failed; \
             relying on the default linker path"
        ),
    }
    println!("cargo:rustc-link-lib=dylib=mamlpp");
}
