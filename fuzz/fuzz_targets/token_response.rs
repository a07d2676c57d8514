//! Fuzz target: see `signin_assistant::fuzzing::token_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    signin_assistant::fuzzing::token_response(data);
});
