//! The rsr shard format, version 2: tokens, one loss-mask byte per token, and
//! a document index, in one little-endian file, with a checksum over all three.
//!
//! ```text
//! offset  size          field
//! 0       8             magic  b"RSRSHARD"
//! 8       4   u32       version (2; version 1 files, without the checksum, are still read)
//! 12      4   u32       token width in bytes: 2 (uint16) or 4 (uint32)
//! 16      8   u64       n_tokens
//! 24      8   u64       n_docs
//! 32      4   u32       vocab_size
//! 36      4   u32       CRC-32 (IEEE) of every byte after the header: tokens, mask, index
//! 40      24            reserved, zero
//! 64      n_tokens*w    tokens
//! ...     n_tokens      loss mask: 1 = the token is a training target, 0 = masked
//! ...     (n_docs+1)*8  u64 document start offsets, in tokens; the last is n_tokens
//! ```
//! Each document ends with `<|endoftext|>` (trainable). Read it with numpy:
//! ```python
//! b = np.fromfile(p, np.uint8); n, w = int(b[16:24].view(np.uint64)[0]), int(b[12:16].view(np.uint32)[0]); tokens = b[64:64+n*w].view(np.uint16 if w == 2 else np.uint32); mask = b[64+n*w:64+n*w+n]
//! ```

use rsr_core::atomic::AtomicFile;
use rsr_core::{Error, Result};
use std::io::Write;
use std::path::Path;

pub const MAGIC: &[u8; 8] = b"RSRSHARD";
pub const VERSION: u32 = 2;
pub const HEADER_LEN: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    U16,
    U32,
}

impl Dtype {
    pub fn width(self) -> usize {
        match self {
            Dtype::U16 => 2,
            Dtype::U32 => 4,
        }
    }

    /// The narrowest dtype that holds every id of a vocabulary of `vocab_size`.
    pub fn for_vocab(vocab_size: usize) -> Dtype {
        if vocab_size <= 1 << 16 {
            Dtype::U16
        } else {
            Dtype::U32
        }
    }

    /// Check that ids `0..vocab_size` fit.
    pub fn check(self, vocab_size: usize) -> Result<()> {
        if self == Dtype::U16 && vocab_size > 1 << 16 {
            return Err(Error::Invalid(format!(
                "a vocabulary of {vocab_size} does not fit uint16 tokens (at most 65536)\nHINT: re-run with --dtype u32 (or --dtype auto)"
            )));
        }
        Ok(())
    }
}

/// One shard in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    pub dtype: Dtype,
    pub vocab_size: u32,
    pub tokens: Vec<u32>,
    pub mask: Vec<u8>,
    /// Document start offsets, `n_docs + 1` entries, the last = `tokens.len()`.
    pub doc_offsets: Vec<u64>,
}

impl Shard {
    pub fn new(dtype: Dtype, vocab_size: u32) -> Self {
        Self { dtype, vocab_size, tokens: vec![], mask: vec![], doc_offsets: vec![0] }
    }

    pub fn n_docs(&self) -> usize {
        self.doc_offsets.len() - 1
    }

    /// Append one document (its tokens already end with `<|endoftext|>`).
    pub fn push_doc(&mut self, tokens: &[u32], mask: &[u8]) {
        debug_assert_eq!(tokens.len(), mask.len());
        self.tokens.extend_from_slice(tokens);
        self.mask.extend_from_slice(mask);
        self.doc_offsets.push(self.tokens.len() as u64);
    }

    pub fn doc(&self, i: usize) -> (&[u32], &[u8]) {
        let (s, e) = (self.doc_offsets[i] as usize, self.doc_offsets[i + 1] as usize);
        (&self.tokens[s..e], &self.mask[s..e])
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let mut f = AtomicFile::create(path)?;
        let io = |e| Error::io(path, e);
        let mut header = [0u8; HEADER_LEN];
        header[0..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&VERSION.to_le_bytes());
        header[12..16].copy_from_slice(&(self.dtype.width() as u32).to_le_bytes());
        header[16..24].copy_from_slice(&(self.tokens.len() as u64).to_le_bytes());
        header[24..32].copy_from_slice(&(self.n_docs() as u64).to_le_bytes());
        header[32..36].copy_from_slice(&self.vocab_size.to_le_bytes());
        let mut buf = Vec::with_capacity(self.tokens.len() * (self.dtype.width() + 1) + self.doc_offsets.len() * 8);
        for &t in &self.tokens {
            match self.dtype {
                Dtype::U16 => buf.extend_from_slice(&(t as u16).to_le_bytes()),
                Dtype::U32 => buf.extend_from_slice(&t.to_le_bytes()),
            }
        }
        buf.extend_from_slice(&self.mask);
        buf.extend(self.doc_offsets.iter().flat_map(|o| o.to_le_bytes()));
        header[36..40].copy_from_slice(&crc32fast::hash(&buf).to_le_bytes());
        f.write_all(&header).map_err(io)?;
        f.write_all(&buf).map_err(io)?;
        f.commit()
    }

    /// Read and validate a shard: magic, version, width, sizes, the checksum,
    /// reserved bytes, mask values, offsets and token ids are all checked.
    pub fn read(path: &Path) -> Result<Shard> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let bad = |msg: String| {
            Error::input(path, msg, "the shard is damaged or not an rsr shard: re-run `rsr pack` to rebuild it")
        };
        if bytes.len() < HEADER_LEN {
            return Err(bad(format!("{} bytes is shorter than the {HEADER_LEN}-byte header", bytes.len())));
        }
        if &bytes[0..8] != MAGIC {
            return Err(bad(format!(
                "wrong magic {:?} (expected \"RSRSHARD\")",
                String::from_utf8_lossy(&bytes[0..8])
            )));
        }
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
        let version = u32_at(8);
        if version != VERSION && version != 1 {
            return Err(Error::input(
                path,
                format!("shard format version {version}; this rsr reads versions 1 and {VERSION}"),
                "re-run `rsr pack` with this version of rsr",
            ));
        }
        let reserved_from = if version == 1 { 36 } else { 40 };
        if bytes[reserved_from..HEADER_LEN].iter().any(|&b| b != 0) {
            return Err(bad(format!("reserved header bytes {reserved_from}..{HEADER_LEN} are not zero")));
        }
        let dtype = match u32_at(12) {
            2 => Dtype::U16,
            4 => Dtype::U32,
            w => return Err(bad(format!("token width {w} bytes (expected 2 or 4)"))),
        };
        let (n, docs, vocab) = (u64_at(16) as usize, u64_at(24) as usize, u32_at(32));
        let w = dtype.width();
        let expected = n
            .checked_mul(w + 1)
            .and_then(|x| x.checked_add(HEADER_LEN + (docs + 1) * 8))
            .ok_or_else(|| bad("header counts overflow".into()))?;
        if bytes.len() != expected {
            return Err(bad(format!(
                "file is {} bytes but its header ({n} tokens, {docs} documents) needs {expected} — truncated or corrupt",
                bytes.len()
            )));
        }
        if version >= 2 {
            let (stored, actual) = (u32_at(36), crc32fast::hash(&bytes[HEADER_LEN..]));
            if stored != actual {
                return Err(bad(format!(
                    "checksum mismatch (header {stored:08x}, contents {actual:08x}): tokens, mask or index changed after packing"
                )));
            }
        }
        let tok_end = HEADER_LEN + n * w;
        let tokens: Vec<u32> = match dtype {
            Dtype::U16 => {
                bytes[HEADER_LEN..tok_end].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as u32).collect()
            }
            Dtype::U32 => {
                bytes[HEADER_LEN..tok_end].chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect()
            }
        };
        let mask = bytes[tok_end..tok_end + n].to_vec();
        let doc_offsets: Vec<u64> =
            bytes[tok_end + n..].chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
        if let Some(&v) = mask.iter().find(|&&m| m > 1) {
            return Err(bad(format!("mask byte {v} (expected 0 or 1)")));
        }
        if doc_offsets.first() != Some(&0)
            || doc_offsets.last() != Some(&(n as u64))
            || doc_offsets.windows(2).any(|p| p[0] > p[1])
        {
            return Err(bad("document offsets are not a sorted 0..n_tokens index".into()));
        }
        if let Some(&t) = tokens.iter().find(|&&t| t >= vocab) {
            return Err(bad(format!("token id {t} is outside the vocabulary of {vocab}")));
        }
        Ok(Shard { dtype, vocab_size: vocab, tokens, mask, doc_offsets })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dtype: Dtype) -> Shard {
        let mut s = Shard::new(dtype, 70_000);
        s.push_doc(&[5, 6, 69_999.min(if dtype == Dtype::U16 { 65_535 } else { 69_999 }), 0], &[1, 0, 1, 1]);
        s.push_doc(&[7, 0], &[1, 1]);
        s
    }

    #[test]
    fn round_trip_both_dtypes() {
        let dir = tempfile::tempdir().unwrap();
        for dtype in [Dtype::U16, Dtype::U32] {
            let p = dir.path().join("s.bin");
            let s = sample(dtype);
            s.write(&p).unwrap();
            assert_eq!(Shard::read(&p).unwrap(), s);
            assert_eq!(std::fs::metadata(&p).unwrap().len() as usize, 64 + 6 * dtype.width() + 6 + 3 * 8);
        }
    }

    #[test]
    fn any_changed_byte_fails_the_checksum_and_version_1_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.bin");
        let s = sample(Dtype::U16);
        s.write(&p).unwrap();
        let good = std::fs::read(&p).unwrap();
        // A mask byte set to 1 (unsafe text made trainable), a token id changed, an index entry.
        for at in [64 + 12 + 1, 64 + 2, good.len() - 9] {
            let mut b = good.clone();
            b[at] ^= 1;
            std::fs::write(&p, &b).unwrap();
            let e = Shard::read(&p).unwrap_err().to_string();
            assert!(e.contains("checksum mismatch") && e.contains("HINT"), "byte {at}: {e}");
        }
        let mut b = good.clone();
        b[50] = 1;
        std::fs::write(&p, &b).unwrap();
        assert!(Shard::read(&p).unwrap_err().to_string().contains("reserved header bytes"));
        // A version-1 file (no checksum, bytes 36..64 zero) still reads.
        let mut b = good.clone();
        b[8..12].copy_from_slice(&1u32.to_le_bytes());
        b[36..40].fill(0);
        std::fs::write(&p, &b).unwrap();
        assert_eq!(Shard::read(&p).unwrap(), s);
    }

    #[test]
    fn damaged_shards_are_named_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.bin");
        sample(Dtype::U16).write(&p).unwrap();
        let good = std::fs::read(&p).unwrap();
        let check = |bytes: &[u8], needle: &str| {
            std::fs::write(&p, bytes).unwrap();
            let e = Shard::read(&p).unwrap_err().to_string();
            assert!(e.contains(needle) && e.contains("HINT"), "{e}");
        };
        check(&good[..good.len() - 3], "truncated");
        check(&good[..10], "shorter than");
        let mut b = good.clone();
        b[0] = b'X';
        check(&b, "wrong magic");
        let mut b = good.clone();
        b[8] = 9;
        check(&b, "version 9");
        let mut b = good.clone();
        b[64 + 12 + 1] = 7; // second mask byte
        check(&b, "checksum mismatch");
    }

    #[test]
    fn vocab_must_fit_the_dtype() {
        assert_eq!(Dtype::for_vocab(65_536), Dtype::U16);
        assert_eq!(Dtype::for_vocab(65_537), Dtype::U32);
        let e = Dtype::U16.check(100_000).unwrap_err().to_string();
        assert!(e.contains("--dtype u32"), "{e}");
    }
}
