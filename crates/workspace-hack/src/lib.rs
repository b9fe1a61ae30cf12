//! No code. See this crate's Cargo.toml: it unifies the features of dependencies shared by
//! `rsr-cli` and `rsr-py`, so building one after the other reuses the first build.
