//! Content digests: what the checkpoint seal and the scaled-out parts' markers record, so a file
//! changed after it was written is refused rather than trusted.

use crate::error::{Error, Result};
use std::path::Path;

/// The sha256 of the file at `path`, in lowercase hex (read in a stream, not into memory).
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| Error::io(path, e))?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A sha256 fed in pieces (a split's loss mask, shard after shard).
#[derive(Default, Clone)]
pub struct Sha256Stream(sha2::Sha256);

impl Sha256Stream {
    pub fn update(&mut self, bytes: &[u8]) {
        use sha2::Digest;
        self.0.update(bytes);
    }

    /// The digest, in lowercase hex.
    pub fn hex(self) -> String {
        use sha2::Digest;
        self.0.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_stream_digests_its_pieces_as_one_text() {
        let mut s = super::Sha256Stream::default();
        s.update(b"a");
        s.update(b"bc");
        assert_eq!(s.hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn the_digest_of_a_known_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        // FIPS 180-2's first example.
        assert_eq!(super::sha256_file(&p).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
