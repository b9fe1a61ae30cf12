//! The corpus directory: the unit every corpus stage reads and writes.
//!
//! ```text
//! DIR/
//!   documents.jsonl[.zst|.gz]   one document per line: {"id", "text", ...}
//!   annotations/NAME.jsonl      labels per annotator, keyed by id (see `annotation`)
//!   prompts/SET.jsonl           evaluation prompt sets (SafetyWorld only)
//!   world.json                  the world the judge works from (SafetyWorld only)
//!   manifest.json               what wrote this directory, with which knobs
//! ```
//! `rsr transform` writes the same layout; its documents also carry `masked`
//! and `inserted` byte ranges (see `rsr_corpus::transform`).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

pub const DOCUMENT_NAMES: [&str; 3] = ["documents.jsonl", "documents.jsonl.zst", "documents.jsonl.gz"];

#[derive(Debug, Clone)]
pub struct CorpusDir {
    pub root: PathBuf,
}

impl CorpusDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The documents file of an existing corpus directory, or of a single
    /// JSONL file given directly.
    pub fn documents(&self) -> Result<PathBuf> {
        if self.root.is_file() {
            return Ok(self.root.clone());
        }
        if !self.root.is_dir() {
            return Err(Error::input(
                &self.root,
                "no such corpus directory or file",
                "pass a directory written by `rsr gym`/`rsr transform`, or a documents JSONL file",
            ));
        }
        DOCUMENT_NAMES.iter().map(|n| self.root.join(n)).find(|p| p.is_file()).ok_or_else(|| {
            Error::input(
                &self.root,
                format!("no documents file (looked for {})", DOCUMENT_NAMES.join(", ")),
                "generate one with `rsr gym --out DIR`, or put your JSONL there as documents.jsonl",
            )
        })
    }

    /// Every documents file, in order: `parts/part-*.jsonl*` when a scaled-out
    /// transform wrote parts (see `rsr_corpus::scale`), else [`Self::documents`].
    pub fn document_files(&self) -> Result<Vec<PathBuf>> {
        let parts = self.root.join("parts");
        if parts.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&parts)
                .map_err(|e| Error::io(&parts, e))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    n.starts_with("part-") && (n.ends_with(".jsonl") || n.ends_with(".jsonl.zst"))
                })
                .collect();
            files.sort();
            if !files.is_empty() {
                return Ok(files);
            }
        }
        Ok(vec![self.documents()?])
    }

    /// Directory that holds the annotations: beside the documents.
    fn base(&self) -> &Path {
        if self.root.is_file() {
            self.root.parent().unwrap_or(Path::new("."))
        } else {
            &self.root
        }
    }

    pub fn annotations_dir(&self) -> PathBuf {
        self.base().join("annotations")
    }

    pub fn annotation(&self, name: &str) -> PathBuf {
        self.annotations_dir().join(format!("{name}.jsonl"))
    }

    /// Names of the annotation files present.
    pub fn annotation_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.annotations_dir())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".jsonl").map(str::to_string))
            .collect();
        names.sort();
        names
    }

    pub fn prompts_dir(&self) -> PathBuf {
        self.base().join("prompts")
    }

    pub fn world(&self) -> PathBuf {
        self.base().join("world.json")
    }
}
