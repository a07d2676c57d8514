//! Fuzz target: see `signin_assistant::fuzzing::graph_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    signin_assistant::fuzzing::graph_json(data);
});
