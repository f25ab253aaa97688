//! Finds libmamlpp for linking. No crates: the `pkg-config` binary is run directly.
//!
//! Order of search:
//!  1. `MAMLPP_LIB_DIR` — the folder holding `libmamlpp.so` (a build tree or an install prefix's
//!     `lib`); `MAMLPP_INCLUDE_DIR` is not needed (the declarations are hand-written in `sys.rs`).
//!  2. `pkg-config --variable=libdir mamlpp` (honours `PKG_CONFIG_PATH`).
//!  3. Nothing: `-lmamlpp` alone, for a library in the linker's default path.
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

    let dir = match env::var_os("MAMLPP_LIB_DIR") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => pkg_config_libdir(),
    };
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
