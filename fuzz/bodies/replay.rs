// The replay loop of the crates' `fuzz_replay` integration-test modules: every file of
// `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the body the fuzz target
// runs. `include!`d by those modules only (the fuzz targets take their input from libFuzzer).

/// Feeds every corpus and regression input of `target` to `run`, in file-name order, and names
/// the file that made it panic. Fails when the corpus is missing or empty, so that a lost
/// corpus cannot pass as a clean replay.
fn replay(target: &str, run: impl Fn(&[u8])) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut replayed = [0usize; 2];
    for (count, kind) in replayed.iter_mut().zip(["corpus", "regressions"]) {
        let dir = root.join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            assert!(kind == "regressions", "{} is missing", dir.display());
            continue;
        };
        let mut files: Vec<std::path::PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&data)));
            assert!(
                outcome.is_ok(),
                "{}: the `{target}` fuzz target panics on this input (message above)",
                file.display()
            );
            *count += 1;
        }
    }
    assert!(replayed[0] > 0, "fuzz/corpus/{target}/ is empty");
    eprintln!(
        "{target}: replayed {} corpus and {} regression inputs",
        replayed[0], replayed[1]
    );
}
