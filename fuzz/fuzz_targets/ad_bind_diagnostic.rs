//! Fuzz target: see `signin_assistant::fuzzing::ad_bind_diagnostic`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    signin_assistant::fuzzing::ad_bind_diagnostic(data);
});
