//! Fuzz target: see `signin_assistant::fuzzing::state_file`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    signin_assistant::fuzzing::state_file(data);
});
