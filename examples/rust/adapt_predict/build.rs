// The mamlpp crate found libmamlpp (MAMLPP_LIB_DIR or pkg-config) and passes the folder on as
// DEP_MAMLPP_LIB_DIR; record it as an rpath so the example runs without LD_LIBRARY_PATH.
fn main() {
    println!("cargo:rerun-if-env-changed=MAMLPP_NO_RPATH");
    if let Ok(dir) = std::env::var("DEP_MAMLPP_LIB_DIR") {
        if std::env::var_os("MAMLPP_NO_RPATH").is_none() {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
}
