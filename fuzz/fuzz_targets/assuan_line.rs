//! Fuzz target: see `signin_assistant::fuzzing::assuan_line`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    signin_assistant::fuzzing::assuan_line(data);
});
