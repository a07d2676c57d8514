//! Fuzz target: see `signin_assistant::fuzzing::ppolicy_control`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    signin_assistant::fuzzing::ppolicy_control(data);
});
