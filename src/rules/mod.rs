//! The rules, pure: when a password counts as expiring, which balloon is due, when to check
//! and wake next, and how text from outside is made safe to show. No I/O and no clock reads here:
//! `now` is always an argument, so every rule is table-tested.

pub mod expiry;
pub mod schedule;
pub mod untrusted;
