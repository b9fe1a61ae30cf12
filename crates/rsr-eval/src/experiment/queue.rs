//! Models at once: one queue of work items, `jobs` of them in flight, each on its share of the
//! threads, whatever world it belongs to — so no core waits for one world's last model (or its
//! negative control) before the next world's first starts.

use super::Stage;
use crate::results::CorpusRow;
use rsr_core::Result;

/// The threads each of `jobs` models trained at once gets: its share of the worker pool (at
/// least one), recorded as `cost.train_threads`: its speed depends on it, its bits do not
/// (rsr-model's `a_run_is_the_same_bits_on_one_thread_and_on_three`).
pub fn threads_per_job(jobs: usize) -> usize {
    (rayon::current_num_threads() / jobs.max(1)).max(1)
}

/// How many of `n` items run at once when `jobs` are asked for: at least one, at most `n`, and
/// never more than the threads there are to run them on.
pub fn at_once_count(jobs: usize, n: usize) -> usize {
    jobs.clamp(1, n.max(1)).min(rayon::current_num_threads().max(1))
}

/// A [`Stage`] that owns its data, so a worker can send it to the thread that prints it.
enum Owned {
    World(u64, u64),
    Variant(String, u64),
    Corpora(Vec<CorpusRow>),
    Train(String, u64, u64),
    Eval(String, String, usize, usize),
}

impl Owned {
    fn of(s: Stage) -> Self {
        match s {
            Stage::World(d, n) => Owned::World(d, n),
            Stage::Variant(name, d) => Owned::Variant(name.into(), d),
            Stage::Corpora(rows) => Owned::Corpora(rows.to_vec()),
            Stage::Train(name, step, steps) => Owned::Train(name.into(), step, steps),
            Stage::Eval(name, what, k, of) => Owned::Eval(name.into(), what.into(), k, of),
        }
    }

    fn stage(&self) -> Stage<'_> {
        match self {
            Owned::World(d, n) => Stage::World(*d, *n),
            Owned::Variant(name, d) => Stage::Variant(name, *d),
            Owned::Corpora(rows) => Stage::Corpora(rows),
            Owned::Train(name, step, steps) => Stage::Train(name, *step, *steps),
            Owned::Eval(name, what, k, of) => Stage::Eval(name, what, *k, *of),
        }
    }
}

/// What a worker tells the calling thread: a stage of item `i`, or item `i` done.
enum Message<T> {
    Stage(usize, Owned),
    Done(usize, Result<T>),
}

/// Every item below `n`, in index order of starting, `jobs` at a time: `setup(i)` in a pool of
/// as many threads as the caller's (what it computes is what it would compute without the
/// queue), then `work(i, setup's value)` in a rayon pool of the worker's share of the threads
/// (at least one).
/// `progress(i, stage)` and `done(i, result)` are called on the calling thread, as items report
/// and finish. With `jobs` 1 every item runs on the calling thread, in its pool: exactly what a
/// plain loop would do. A failure — an item's error, or `done` returning false — stops the items
/// not yet started; those already started finish.
pub(super) fn at_once<S: Send, T: Send>(
    n: usize,
    jobs: usize,
    setup: impl Fn(usize, &mut dyn FnMut(Stage)) -> Result<S> + Sync,
    work: impl Fn(usize, S, &mut dyn FnMut(Stage)) -> Result<T> + Sync,
    progress: &mut dyn FnMut(usize, Stage),
    done: &mut dyn FnMut(usize, Result<T>) -> bool,
) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let jobs = at_once_count(jobs, n);
    if jobs == 1 {
        for i in 0..n {
            let mut report = |s: Stage| progress(i, s);
            let result = setup(i, &mut report).and_then(|s| work(i, s, &mut report));
            let failed = result.is_err();
            if !done(i, result) || failed {
                return;
            }
        }
        return;
    }
    let threads = threads_per_job(jobs);
    let setup_pool = rayon::ThreadPoolBuilder::new().num_threads(rayon::current_num_threads()).build();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let (tx, rx) = std::sync::mpsc::channel::<Message<T>>();
    let (setup, work) = (&setup, &work);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, failed, setup_pool) = (&next, &failed, &setup_pool);
            scope.spawn(move || {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
                while !failed.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    let mut report = |s: Stage| {
                        let _ = tx.send(Message::Stage(i, Owned::of(s)));
                    };
                    let result = match (setup_pool, &pool) {
                        (Ok(setup_pool), Ok(pool)) => setup_pool
                            .install(|| setup(i, &mut report))
                            .and_then(|s| pool.install(|| work(i, s, &mut report))),
                        (Err(e), _) | (_, Err(e)) => {
                            Err(rsr_core::Error::Invalid(format!("could not start worker threads: {e}")))
                        }
                    };
                    if result.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    let _ = tx.send(Message::Done(i, result));
                }
            });
        }
        // Every sender is a worker's: the loop ends when the last worker is done.
        drop(tx);
        for m in rx {
            match m {
                Message::Stage(i, s) => progress(i, s.stage()),
                Message::Done(i, result) => {
                    if !done(i, result) {
                        failed.store(true, Ordering::SeqCst);
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `at_once` with every result collected in index order (the first error in index order).
    fn collect<S: Send, T: Send>(
        n: usize,
        jobs: usize,
        setup: impl Fn(usize, &mut dyn FnMut(Stage)) -> Result<S> + Sync,
        work: impl Fn(usize, S, &mut dyn FnMut(Stage)) -> Result<T> + Sync,
        progress: &mut dyn FnMut(usize, Stage),
    ) -> Result<Vec<T>> {
        let mut out: Vec<Option<Result<T>>> = (0..n).map(|_| None).collect();
        at_once(n, jobs, setup, work, progress, &mut |i, r| {
            out[i] = Some(r);
            true
        });
        out.into_iter().flatten().collect()
    }

    #[test]
    fn models_at_once_come_back_in_order_each_on_its_share_of_the_threads() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
        let mut seen = Vec::new();
        let out = pool
            .install(|| {
                collect(
                    5,
                    2,
                    // Setup runs outside the worker's share: in the caller's pool.
                    |_, _| Ok(rayon::current_num_threads()),
                    |i, outside, report| {
                        report(Stage::Train(&format!("m{i}"), 1, 1));
                        std::thread::sleep(std::time::Duration::from_millis(((5 - i) * 5) as u64));
                        Ok((i, outside, rayon::current_num_threads()))
                    },
                    &mut |i, s| {
                        if let Stage::Train(name, ..) = s {
                            seen.push((i, name.to_string()))
                        }
                    },
                )
            })
            .unwrap();
        assert_eq!(out, (0..5).map(|i| (i, 4, 2)).collect::<Vec<_>>(), "in order, 4 threads / 2 jobs each");
        seen.sort();
        let expected: Vec<(usize, String)> = (0..5).map(|i| (i, format!("m{i}"))).collect();
        assert_eq!(seen, expected, "every item's progress reaches the caller, with its index");
        // Three jobs on three threads: one thread each; never more at once than threads.
        let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let out =
            three.install(|| collect(3, 3, |_, _| Ok(()), |_, _, _| Ok(rayon::current_num_threads()), &mut |_, _| {}));
        assert_eq!(out.unwrap(), [1, 1, 1]);
        assert_eq!(three.install(|| (at_once_count(5, 2), at_once_count(5, 9), at_once_count(0, 9))), (2, 3, 1));
        // One job: the caller's own pool, on the caller's thread.
        let (out, caller) = pool.install(|| {
            let run = |_, _, _: &mut dyn FnMut(Stage)| Ok((rayon::current_num_threads(), std::thread::current().id()));
            (collect(2, 1, |_, _| Ok(()), run, &mut |_, _| {}), std::thread::current().id())
        });
        assert_eq!(out.unwrap(), [(4, caller), (4, caller)]);
    }

    #[test]
    fn a_slow_item_does_not_hold_the_next_ones_back() {
        // Item 0 is slow; with two jobs the other worker takes every other item meanwhile, so
        // they finish before it (the queue is one, not a round of two at a time).
        let mut order = Vec::new();
        at_once(
            5,
            2,
            |_, _| Ok(()),
            |i, _, _| {
                std::thread::sleep(std::time::Duration::from_millis(if i == 0 { 1000 } else { 5 }));
                Ok(i)
            },
            &mut |_, _| {},
            &mut |i, _| {
                order.push(i);
                true
            },
        );
        assert_eq!(order.len(), 5);
        assert_eq!(order.last(), Some(&0), "finished in {order:?}");
    }

    #[test]
    fn the_caller_can_stop_the_queue_when_an_item_is_done() {
        for jobs in [1, 2] {
            let mut seen = 0;
            at_once(
                50,
                jobs,
                |_, _| Ok(()),
                |i, _, _| {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    Ok(i)
                },
                &mut |_, _| {},
                &mut |_, _| {
                    seen += 1;
                    false
                },
            );
            // Those in flight finish, and each worker may have taken one more before the caller read the first.
            assert!(seen <= 2 * jobs, "{seen} items ran after the first said stop, at {jobs} job(s)");
        }
    }

    #[test]
    fn the_first_failure_stops_what_has_not_started_and_is_the_error() {
        for jobs in [1, 2] {
            let started = std::sync::atomic::AtomicUsize::new(0);
            let err = collect(
                50,
                jobs,
                |i, _| if i == 3 { Err(rsr_core::Error::Invalid("setup 3 failed".into())) } else { Ok(()) },
                |i, _, _| {
                    started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i == 1 {
                        return Err(rsr_core::Error::Invalid("run 1 failed".into()));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    Ok(i)
                },
                &mut |_, _| {},
            )
            .unwrap_err();
            assert!(err.to_string().contains("run 1 failed"), "{err}");
            assert!(started.load(std::sync::atomic::Ordering::SeqCst) < 10, "the rest did not start");
        }
    }
}
