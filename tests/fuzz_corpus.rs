//! Replays the fuzzers' kept corpora (`fuzz/corpus/<target>/`) through the same entry points the
//! fuzz targets call, so every input a fuzzer once found interesting (and every crash it found,
//! once fixed) is checked by an ordinary `cargo test`, without a nightly compiler. (The entry
//! points exist with the cargo feature `fuzzing`; the package's dev-dependency on itself turns it
//! on for every test.)

use std::path::Path;

use signin_assistant::fuzzing;

/// The entry point a fuzz target calls.
type Entry = fn(&[u8]);

/// Each target and the entry point its fuzz target calls.
const TARGETS: [(&str, Entry); 8] = [
    ("token_response", fuzzing::token_response),
    ("graph_json", fuzzing::graph_json),
    ("jwt_claims", fuzzing::jwt_claims),
    ("ppolicy_control", fuzzing::ppolicy_control),
    ("ad_bind_diagnostic", fuzzing::ad_bind_diagnostic),
    ("config_file", fuzzing::config_file),
    ("state_file", fuzzing::state_file),
    ("assuan_line", fuzzing::assuan_line),
];

#[test]
fn every_kept_input_runs_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (target, entry) in TARGETS {
        let dir = root.join(target);
        let mut count = 0;
        for file in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = file.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| entry(&data));
            assert!(outcome.is_ok(), "{target}: {} fails", path.display());
            count += 1;
        }
        // An emptied corpus directory fails instead of passing silently.
        assert!(
            count >= 3,
            "{target}: only {count} inputs in {}",
            dir.display()
        );
    }
}

#[test]
fn every_fuzz_target_is_replayed() {
    let targets = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(targets)
        .unwrap()
        .map(|f| {
            f.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    let mut replayed: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    replayed.sort();
    assert_eq!(names, replayed);
}
