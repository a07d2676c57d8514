//! Runs the Entra ID / Microsoft Graph emulator on its own, for manual trials and benchmarks.
//!
//! `cargo run --example emulator -- [DAYS]` serves an account whose password expires in DAYS days
//! (default 10) and prints, on its first line, the base URL to use as `[entra] authority` and
//! `graph`; then the tenant, client id, account and its password, one `key=value` a line. Ctrl-C
//! stops it.

use emulator::{Emulator, Scenario};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let days: i64 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "DAYS must be a whole number",
            )
        })?,
        None => 10,
    };
    let scenario = Scenario::expires_in_days(days);
    let emulator = Emulator::start(scenario.clone()).await?;
    println!("{}", emulator.base_url());
    println!("tenant={}", scenario.tenant);
    println!("client_id={}", scenario.client_id);
    println!("username={}", scenario.username);
    println!("password={}", scenario.password);
    tokio::signal::ctrl_c().await?;
    emulator.shutdown().await;
    Ok(())
}
