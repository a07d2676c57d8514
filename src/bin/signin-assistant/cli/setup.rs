//! `signin-assistant setup`: the command-line face of [`signin_assistant::setup`], then the two
//! offers that finish a first run: sign in now, and start at login.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use url::Url;

use signin_assistant::setup::ask::{Ask, Console};
use signin_assistant::setup::{self, Kind, Options, SetupError};
use signin_assistant::system::autostart::LoginItem;
use signin_assistant::work::entra_sign_in::InteractiveMethod;

use crate::commands::Commands;
use crate::exit::{NotDetermined, UsageError};

/// Which directory (`--kind`).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    /// Microsoft Entra ID / Microsoft 365.
    Entra,
    /// Active Directory (on-premises, or Samba AD).
    Ad,
    /// OpenLDAP or another LDAP directory with password policy.
    Openldap,
}

#[derive(clap::Args)]
pub struct Args {
    /// Your work e-mail address (the rest is worked out from its domain where possible).
    #[arg(long, value_name = "ADDRESS")]
    email: Option<String>,
    /// Which directory holds your password (default: found from the e-mail's domain).
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
    /// Entra ID: the tenant id or domain (default: from the domain's discovery document).
    #[arg(long, value_name = "TENANT")]
    tenant: Option<String>,
    /// Entra ID: the application (client) id your IT desk registered.
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// LDAP/AD: the directory server, ldaps://host or ldap://host (AD default: from DNS).
    #[arg(long, value_name = "URL")]
    ldap_url: Option<Url>,
    /// LDAP/AD: the base DN (default: from the server's root DSE).
    #[arg(long, value_name = "DN")]
    base_dn: Option<String>,
    /// LDAP: how accounts are named, with {username} (AD default: the UPN).
    #[arg(long, value_name = "TEMPLATE")]
    bind: Option<String>,
    /// The account to watch (default: the e-mail address; OpenLDAP: the part before the @).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// LDAP/AD: a PEM file with your organisation's certificate authority.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Ask this DNS server (IP[:PORT]) for the domain controllers instead of the system's.
    #[arg(long, value_name = "ADDRESS")]
    dns_server: Option<String>,
    /// Ask nothing: take what is found and the defaults (no sign-in unless --sign-in).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Replace an existing configuration file without asking (it is kept as .bak).
    #[arg(long)]
    force: bool,
    /// Write without testing the connection to the directory first.
    #[arg(long)]
    no_test: bool,
    /// Sign in once the configuration is written.
    #[arg(long, conflicts_with = "no_sign_in")]
    sign_in: bool,
    /// Do not offer to sign in.
    #[arg(long)]
    no_sign_in: bool,
    /// Start the agent at login (the default answer).
    #[arg(long, conflicts_with = "no_autostart")]
    autostart: bool,
    /// Do not start the agent at login.
    #[arg(long)]
    no_autostart: bool,
}

impl Args {
    fn options(&self) -> anyhow::Result<Options> {
        let dns_server = self
            .dns_server
            .as_deref()
            .map(parse_dns_server)
            .transpose()
            .map_err(UsageError)?;
        Ok(Options {
            email: self.email.clone(),
            kind: self.kind.map(|k| match k {
                KindArg::Entra => Kind::Entra,
                KindArg::Ad => Kind::ActiveDirectory,
                KindArg::Openldap => Kind::Openldap,
            }),
            tenant: self.tenant.clone(),
            client_id: self.client_id.clone(),
            ldap_url: self.ldap_url.clone(),
            base_dn: self.base_dn.clone(),
            bind: self.bind.clone(),
            user: self.user.clone(),
            ca_file: self.ca_file.clone(),
            dns_server,
            force: self.force,
            no_test: self.no_test,
        })
    }
}

/// `IP` or `IP:PORT` (port 53 by default; `[v6]:PORT` for IPv6 with a port).
fn parse_dns_server(text: &str) -> Result<SocketAddr, String> {
    text.parse::<SocketAddr>()
        .or_else(|_| {
            text.parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .map_err(|_| format!("--dns-server `{text}` is not an IP address (with an optional :port)"))
}

/// Runs the setup, then offers sign-in and start at login.
pub async fn run(explicit: Option<&Path>, args: Args) -> anyhow::Result<()> {
    let options = args.options()?;
    let console = Console::new(args.yes);
    let written = match setup::run(&options, explicit, &console).await {
        Ok(written) => written,
        Err(e @ (SetupError::TestFailed | SetupError::Provider(_))) => {
            eprintln!("signin-assistant: {e}");
            return Err(NotDetermined.into());
        }
        Err(SetupError::Cancelled) => {
            eprintln!("signin-assistant: {}", SetupError::Cancelled);
            return Err(NotDetermined.into());
        }
        Err(e) => return Err(UsageError(e.to_string()).into()),
    };
    let autostart = if args.autostart || args.no_autostart {
        args.autostart
    } else {
        console.yes_no("Start Sign-in Assistant at every login?", true)?
    };
    if autostart {
        match LoginItem::for_this_program().and_then(|item| item.set(true)) {
            Ok(status) => println!("Start at login: {status}."),
            Err(e) => eprintln!("signin-assistant: could not set up start at login: {e}"),
        }
    }
    let sign_in = if args.sign_in || args.no_sign_in {
        args.sign_in
    } else {
        console.interactive() && console.yes_no("Sign in now?", true)?
    };
    if !sign_in {
        println!(
            "Next: `signin-assistant{} sign-in --user {}`.",
            explicit
                .map(|p| format!(" --config {}", p.display()))
                .unwrap_or_default(),
            written.account
        );
        return Ok(());
    }
    let commands = Commands::new(written.config)?;
    match InteractiveMethod::choose(commands.config(), false, false, false).map_err(UsageError)? {
        Some(method) => {
            commands
                .sign_in_interactively(Some(written.account), method)
                .await
        }
        None => commands.sign_in(Some(written.account), false).await,
    }
}
