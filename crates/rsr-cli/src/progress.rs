//! Progress display for long stages: a bar on a terminal, nothing when
//! stderr is not one (CI logs stay readable).

use indicatif::{ProgressBar, ProgressStyle};

pub fn bar(total: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template("{msg:>12} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, ETA {eta})")
            .expect("valid template"),
    );
    pb.set_message(what.to_string());
    pb
}

/// A spinner for streams of unknown length, showing documents and MB read.
pub fn spinner(what: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg:>12} [{elapsed_precise}] {prefix}").expect("valid template"),
    );
    pb.set_message(what.to_string());
    pb
}

pub fn update_stream(pb: &ProgressBar, docs: u64, bytes: u64) {
    if docs.is_multiple_of(512) {
        let secs = pb.elapsed().as_secs_f64().max(1e-3);
        pb.set_prefix(format!("{docs} docs, {:.1} MB, {:.1} MB/s", bytes as f64 / 1e6, bytes as f64 / 1e6 / secs));
        pb.tick();
    }
}

/// A scaled-out rank: documents, MB and MB/s this run, files done, and an ETA
/// from the on-disk bytes of the files finished so far.
pub fn update_rank(pb: &ProgressBar, p: &rsr_corpus::scale::Progress) {
    if p.docs.is_multiple_of(512) || p.files_done == p.files {
        show_files(pb, p);
    }
}

/// Documents, MB and MB/s so far, files done, and an ETA from the on-disk bytes done (for
/// callers that report in batches; [`update_rank`] throttles per-document reports).
pub fn show_files(pb: &ProgressBar, p: &rsr_corpus::scale::Progress) {
    let secs = pb.elapsed().as_secs_f64().max(1e-3);
    let eta = if p.input_bytes_done > 0 && p.input_bytes_done < p.input_bytes {
        let left = secs * (p.input_bytes - p.input_bytes_done) as f64 / p.input_bytes_done as f64;
        format!(", ETA {}", indicatif::HumanDuration(std::time::Duration::from_secs_f64(left)))
    } else {
        String::new()
    };
    pb.set_prefix(format!(
        "file {}/{}, {} docs, {:.1} MB, {:.1} MB/s{eta}",
        p.files_done,
        p.files,
        p.docs,
        p.bytes as f64 / 1e6,
        p.bytes as f64 / 1e6 / secs
    ));
    pb.tick();
}
