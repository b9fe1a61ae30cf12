// Cargo resolves [build-dependencies] only for a package with a build script: this one exists
// so that the host-side features listed there take part (see Cargo.toml).
fn main() {}
