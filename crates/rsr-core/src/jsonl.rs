//! JSONL in and out.
//!
//! Reading: plain, `.gz` or `.zst` by extension; each line is parsed on its own
//! and a bad line becomes an [`Error::Record`] naming the file and line (1-based)
//! that callers count and skip, or stop on with `--strict`. Invalid UTF-8 is a
//! record error too. A truncated or corrupt compressed stream is an I/O error
//! and stops the run.
//!
//! Writing: [`JsonlWriter`] writes through an [`AtomicFile`]; a `.zst` target
//! is zstd-compressed. Nothing appears under the target name until `finish`.

use crate::atomic::AtomicFile;
use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// Open a possibly compressed file for buffered reading.
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    if path.is_dir() {
        return Err(Error::input(
            path,
            "is a directory, where a JSONL file was expected",
            "pass the file itself (for a corpus directory, DIR/documents.jsonl)",
        ));
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let name = path.to_string_lossy();
    let inner: Box<dyn Read + Send> = if name.ends_with(".zst") || name.ends_with(".zstd") {
        Box::new(zstd::Decoder::new(file).map_err(|e| Error::io(path, e))?)
    } else if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 20, inner)))
}

/// Iterator over the lines of a JSONL file, parsed as `T`.
/// Yields `(line_number, Result<T>)`; blank lines are skipped.
pub struct JsonlReader<T> {
    path: PathBuf,
    input: Box<dyn BufRead + Send>,
    line: u64,
    buf: Vec<u8>,
    done: bool,
    _t: std::marker::PhantomData<T>,
}

impl<T: DeserializeOwned> JsonlReader<T> {
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let input = open(&path)?;
        Ok(Self { path, input, line: 0, buf: Vec::new(), done: false, _t: std::marker::PhantomData })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The 1-based number of the line last read.
    pub fn line_number(&self) -> u64 {
        self.line
    }

    fn record_error(&self, message: String) -> Error {
        Error::Record { path: self.path.clone(), line: self.line, message }
    }
}

impl<T: DeserializeOwned> Iterator for JsonlReader<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            self.buf.clear();
            match self.input.read_until(b'\n', &mut self.buf) {
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::input(
                        &self.path,
                        format!("read failed after line {}: {e}", self.line),
                        "the file is truncated or corrupt; re-create it or remove it from the input",
                    )));
                }
            }
            self.line += 1;
            let text = match std::str::from_utf8(&self.buf) {
                Ok(t) => t.trim(),
                Err(e) => return Some(Err(self.record_error(format!("invalid UTF-8: {e}")))),
            };
            if text.is_empty() {
                continue;
            }
            return Some(
                serde_json::from_str(text).map_err(|e| self.record_error(format!("invalid JSON record: {e}"))),
            );
        }
    }
}

/// Every record error skipped in this process, for the exit status: a command that finishes
/// having skipped records exits 1, not 0 (see `rsr`'s exit codes).
static SKIPPED_TOTAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Where skipped record errors are reported as they happen (the binary sets one; a library
/// never prints).
static REPORTER: std::sync::OnceLock<fn(&str)> = std::sync::OnceLock::new();

/// Record errors skipped so far in this process.
pub fn skipped_total() -> u64 {
    SKIPPED_TOTAL.load(std::sync::atomic::Ordering::Relaxed)
}

/// Report the first few skipped record errors of each reader through `f` (once per process).
pub fn set_skip_reporter(f: fn(&str)) {
    let _ = REPORTER.set(f);
}

/// Counts record errors and decides whether to go on: with `strict` the first
/// one stops the run; otherwise each is skipped, counted (here, in the manifest, and in the
/// process's [`skipped_total`]) and the first few kept and reported.
#[derive(Debug, Default)]
pub struct SoftErrors {
    pub strict: bool,
    pub count: u64,
    pub first: Vec<String>,
}

impl SoftErrors {
    pub fn new(strict: bool) -> Self {
        Self { strict, ..Default::default() }
    }

    /// Ok(Some(v)) to use, Ok(None) to skip, Err to stop.
    pub fn check<V>(&mut self, r: Result<V>) -> Result<Option<V>> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_record_error() && !self.strict => {
                self.count += 1;
                SKIPPED_TOTAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if self.first.len() < 5 {
                    if let Some(report) = REPORTER.get() {
                        report(&format!("skipped {e} (use --strict to stop instead)"));
                    }
                    self.first.push(e.to_string());
                }
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

enum Sink {
    Plain(AtomicFile),
    Zstd(zstd::Encoder<'static, AtomicFile>),
}

/// Writes one JSON value per line to a file that appears atomically.
pub struct JsonlWriter {
    sink: Sink,
    path: PathBuf,
    pub lines: u64,
}

impl JsonlWriter {
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = AtomicFile::create(&path)?;
        let sink = if path.to_string_lossy().ends_with(".zst") {
            Sink::Zstd(zstd::Encoder::new(file, 3).map_err(|e| Error::io(&path, e))?)
        } else {
            Sink::Plain(file)
        };
        Ok(Self { sink, path, lines: 0 })
    }

    pub fn write<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let w: &mut dyn Write = match &mut self.sink {
            Sink::Plain(f) => f,
            Sink::Zstd(z) => z,
        };
        serde_json::to_writer(&mut *w, value).map_err(|e| Error::io(&self.path, e.into()))?;
        w.write_all(b"\n").map_err(|e| Error::io(&self.path, e))?;
        self.lines += 1;
        Ok(())
    }

    pub fn finish(self) -> Result<()> {
        let file = match self.sink {
            Sink::Plain(f) => f,
            Sink::Zstd(z) => z.finish().map_err(|e| Error::io(&self.path, e))?,
        };
        file.commit()
    }
}

/// Read a whole JSONL file, failing on the first bad record (for small files
/// the toolkit wrote itself, such as prompt sets).
pub fn read_all<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<Vec<T>> {
    JsonlReader::open(path)?.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn round_trip_plain_and_zstd() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.jsonl", "a.jsonl.zst"] {
            let p = dir.path().join(name);
            let mut w = JsonlWriter::create(&p).unwrap();
            for i in 0..3 {
                w.write(&serde_json::json!({ "i": i })).unwrap();
            }
            w.finish().unwrap();
            let back: Vec<Value> = read_all(&p).unwrap();
            assert_eq!(back.len(), 3);
            assert_eq!(back[2]["i"], 2);
        }
    }

    #[test]
    fn bad_lines_name_file_and_line_and_can_be_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.jsonl");
        std::fs::write(&p, b"{\"a\":1}\n\n{oops\n\xff\xfe\n{\"a\":2}\n").unwrap();
        let mut soft = SoftErrors::new(false);
        let mut ok = Vec::new();
        for r in JsonlReader::<Value>::open(&p).unwrap() {
            if let Some(v) = soft.check(r).unwrap() {
                ok.push(v);
            }
        }
        assert_eq!(ok.len(), 2);
        assert_eq!(soft.count, 2);
        assert!(soft.first[0].contains("bad.jsonl:3:"), "{}", soft.first[0]);
        assert!(soft.first[1].contains("bad.jsonl:4: invalid UTF-8"), "{}", soft.first[1]);

        let mut strict = SoftErrors::new(true);
        let err = JsonlReader::<Value>::open(&p).unwrap().map(|r| strict.check(r)).find_map(|r| r.err()).unwrap();
        assert!(err.to_string().contains("bad.jsonl:3:"));
    }

    #[test]
    fn truncated_zstd_is_a_hard_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl.zst");
        let mut w = JsonlWriter::create(&p).unwrap();
        for i in 0..20000 {
            w.write(&serde_json::json!({ "i": i, "pad": "some text to compress" })).unwrap();
        }
        w.finish().unwrap();
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let mut soft = SoftErrors::new(false);
        let err = JsonlReader::<Value>::open(&p).unwrap().map(|r| soft.check(r)).find_map(|r| r.err()).unwrap();
        assert!(err.to_string().contains("HINT"), "{err}");
    }
}
