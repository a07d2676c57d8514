//! Fuzz target: see `signin_assistant::fuzzing::jwt_claims`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    signin_assistant::fuzzing::jwt_claims(data);
});
