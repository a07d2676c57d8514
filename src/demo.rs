//! `signin-assistant demo`: the product on a built-in endpoint, without touching anything of the user's.

pub async fn run(_once: bool) -> anyhow::Result<()> {
    anyhow::bail!("the demo needs the emulator")
}
