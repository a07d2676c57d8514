//! `signin-assistant setup`: from a work e-mail address to a configuration that works, asking
//! only for what cannot be found.
//!
//! - Microsoft Entra ID: the tenant from the domain's OpenID Connect discovery document
//!   ([`discovery`]); the application (client) id an admin registered is asked for unless the
//!   system file has it.
//! - Active Directory: the domain controllers from DNS SRV records ([`dns`]) of the e-mail's
//!   domain or the machine's realm, the base DN from the server's root DSE ([`directory`]).
//!   DNS can be forged, so a domain controller it names is used only when proven (its
//!   certificate chains to the `ca_file` given or set by the administrator) or confirmed by
//!   the person; `--yes` never adopts an unproven one, and when Entra ID is found too it is
//!   the default.
//! - OpenLDAP: the server the person types, the base DN from its root DSE.
//!
//! The result is tested like `doctor` tests the endpoint, written with comments ([`write`](mod@write)),
//! and a running agent is told to read it. Questions go through [`ask::Ask`], so every one has
//! a flag and scripts run the setup without a terminal. Values the system file (the admins')
//! already sets are used and not repeated in the person's file.

pub mod ask;
pub mod directory;
pub mod discovery;
pub mod dns;
pub mod doctor;
mod entra;
mod ldap;
pub mod write;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::providers::{Provider, ProviderError};
use crate::system::config::{
    is_dns_name, user_config_path, Config, LdapFlavor, Origin, ProviderKind,
};
use ask::Ask;
use discovery::Discovered;
use doctor::Level;

/// How long one discovery request may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// The directory kinds a person chooses from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Entra,
    ActiveDirectory,
    Openldap,
}

/// The answers given on the command line; `None` is found or asked.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub email: Option<String>,
    pub kind: Option<Kind>,
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub ldap_url: Option<Url>,
    pub base_dn: Option<String>,
    pub bind: Option<String>,
    pub user: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub dns_server: Option<SocketAddr>,
    /// Replace an existing file without asking.
    pub force: bool,
    /// Skip the endpoint test.
    pub no_test: bool,
}

/// Why the setup stopped.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{what}: not found, and there is no terminal to ask; give it with {flag} ({who})")]
    Needs {
        what: String,
        flag: &'static str,
        who: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(String),
    #[error("{host} is named in DNS as a domain controller of {domain}, but {why}, and DNS answers can be forged; nothing was written. Give the directory server your IT desk names with --ldap-url, or your organisation's certificate authority with --ca-file so that the one found can be proven, or run the setup on a terminal to confirm it")]
    Unproven {
        host: String,
        domain: String,
        why: String,
    },
    #[error("cancelled; nothing was written")]
    Cancelled,
    #[error("the test of the new configuration found a problem (above); nothing was written. Correct it, or write it anyway with --no-test")]
    TestFailed,
    #[error(transparent)]
    Write(#[from] write::WriteError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// Entra values to write (None: the system file has it, or it is not needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraPlan {
    pub tenant: Option<String>,
    pub client_id: Option<String>,
}

/// LDAP values to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapPlan {
    pub url: Url,
    pub starttls: bool,
    pub ca_file: Option<PathBuf>,
    pub base: String,
    pub bind: String,
    pub flavor: LdapFlavor,
}

/// What the setup will write.
#[derive(Debug, Clone)]
pub struct Plan {
    pub account: String,
    pub kind: ProviderKind,
    pub entra: Option<EntraPlan>,
    pub ldap: Option<LdapPlan>,
    /// Where each value came from ("table.key" → words), for the file's comments.
    pub notes: BTreeMap<&'static str, String>,
}

impl Plan {
    pub fn new(account: String, kind: ProviderKind) -> Plan {
        Plan {
            account,
            kind,
            entra: None,
            ldap: None,
            notes: BTreeMap::new(),
        }
    }

    pub fn note(&mut self, key: &'static str, words: impl Into<String>) {
        self.notes.insert(key, words.into());
    }
}

/// What the setup wrote.
#[derive(Debug)]
pub struct Written {
    pub path: PathBuf,
    /// The configuration in effect now (the admins' layers and the new file).
    pub config: Config,
    pub account: String,
}

/// The whole setup: plan, test, write, tell a running agent. `explicit`: `--config FILE`.
pub async fn run(
    options: &Options,
    explicit: Option<&Path>,
    ask: &dyn Ask,
) -> Result<Written, SetupError> {
    // The admins' layers alone: what they set is used and not asked (a broken file of theirs is
    // theirs to fix, and said).
    let base = Config::admin_layers().map_err(|e| SetupError::Invalid(e.to_string()))?;
    let path = explicit
        .map(Path::to_path_buf)
        .or_else(user_config_path)
        .ok_or_else(|| SetupError::Io("cannot find the home directory to write to".into()))?;
    let replace = options.force
        || (path.exists()
            && ask.yes_no(
                &format!(
                    "{} exists already. Replace it (the old one is kept as .bak)?",
                    path.display()
                ),
                false,
            )?);
    if path.exists() && !replace {
        return Err(write::WriteError::Exists(path).into());
    }
    let plan = plan(options, &base, ask).await?;
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let text = write::render(&plan, &today);
    let config =
        Config::with_user_text(&path, &text).map_err(|e| SetupError::Invalid(e.to_string()))?;
    Provider::from_config(&config)?;
    if !options.no_test && !test(&config, ask).await? {
        return Err(SetupError::TestFailed);
    }
    let agent = running_agent().await;
    write::write(&path, &text, replace)?;
    println!("Wrote {}.", path.display());
    tell_the_agent(agent).await;
    Ok(Written {
        path,
        config,
        account: plan.account,
    })
}

/// Whether an agent runs, and whether it waits "not set up"; asked before the file is written
/// (a waiting agent reads the configuration again on every request).
async fn running_agent() -> Option<bool> {
    use crate::agent::control::{ask, Request};
    match ask(&Request::Status).await {
        Ok(Some(answer)) => Some(
            answer
                .report
                .and_then(|r| r.reason)
                .is_some_and(|reason| reason.starts_with("not set up")),
        ),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot ask the running agent");
            None
        }
    }
}

/// A waiting agent is told to start with the new file; one running with an earlier
/// configuration keeps it until it is started again, which is said.
async fn tell_the_agent(waiting: Option<bool>) {
    use crate::agent::control::{ask, Request};
    match waiting {
        None => {}
        Some(false) => println!(
            "An agent is running with the earlier configuration: choose Quit in its menu and start \
             it again (`signin-assistant run`) to use this one."
        ),
        Some(true) => match ask(&Request::Reload).await {
            Ok(Some(_)) => println!("The waiting agent has started with it."),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot tell the running agent"),
        },
    }
}

/// Works out every value: from the flags, the system file, discovery, or a question.
pub async fn plan(options: &Options, base: &Config, ask: &dyn Ask) -> Result<Plan, SetupError> {
    let email = email(options, base, ask)?;
    let domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    let mut found = Found::default();
    let kind = kind(options, base, &domain, &mut found, ask).await?;
    match kind {
        Kind::Entra => entra::questions(options, base, email, &domain, found, ask).await,
        Kind::ActiveDirectory | Kind::Openldap => {
            ldap::questions(options, base, kind, email, &domain, found, ask).await
        }
    }
}

/// What discovery found on the way to the kind.
#[derive(Debug, Default)]
struct Found {
    tenant: Option<Discovered>,
    controllers: Option<(String, Vec<dns::Srv>)>,
    /// The reason the kind was chosen, for the file.
    kind_note: Option<String>,
}

fn email(options: &Options, base: &Config, ask: &dyn Ask) -> Result<String, SetupError> {
    let default = base.account.username.clone().filter(|u| u.contains('@'));
    let email = match &options.email {
        Some(email) => email.clone(),
        None => ask.line(
            "Your work e-mail address",
            default.as_deref(),
            "--email",
            "the address you sign in to work with",
        )?,
    };
    let email = email.trim().to_string();
    match email.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && is_dns_name(domain) => Ok(email),
        _ => Err(SetupError::Invalid(format!(
            "`{}` is not an e-mail address (name@example.com)",
            crate::rules::untrusted::clean(&email, 80)
        ))),
    }
}

/// Which directory tells when the password expires.
async fn kind(
    options: &Options,
    base: &Config,
    domain: &str,
    found: &mut Found,
    ask: &dyn Ask,
) -> Result<Kind, SetupError> {
    if let Some(kind) = options.kind {
        return Ok(kind);
    }
    if options.ldap_url.is_some() {
        // The server's root DSE tells which (see `ldap`).
        return Ok(Kind::Openldap);
    }
    if base.origin("provider.kind") != Origin::Default {
        found.kind_note = Some("Set by your administrator.".into());
        return Ok(match base.provider.kind {
            ProviderKind::Entra => Kind::Entra,
            ProviderKind::Ldap => Kind::ActiveDirectory,
        });
    }
    println!("Looking up {domain}…");
    found.tenant =
        match discovery::entra_tenant(&base.entra.authority, domain, LOOKUP_TIMEOUT).await {
            Ok(discovered) => Some(discovered),
            Err(e) => {
                println!("  Microsoft Entra ID: not known ({e})");
                None
            }
        };
    let mut domains = vec![domain.to_string()];
    domains.extend(directory::machine_domains());
    domains.dedup();
    found.controllers = directory::find_domain_controllers(&domains, options.dns_server).await;
    if let Some(Discovered::Tenant { id }) = &found.tenant {
        println!("  Microsoft Entra ID: tenant {id}");
    }
    if let Some((ad_domain, dcs)) = &found.controllers {
        println!(
            "  Active Directory: domain {ad_domain}, domain controller {} (named in DNS, not yet proven)",
            dcs[0].target
        );
    }
    let has_tenant = matches!(found.tenant, Some(Discovered::Tenant { .. }));
    match (has_tenant, found.controllers.is_some()) {
        (true, false) => {
            found.kind_note = Some(format!(
                "Found: {domain} belongs to a Microsoft Entra ID tenant."
            ));
            Ok(Kind::Entra)
        }
        (false, true) => {
            found.kind_note = Some("Found: Active Directory domain controllers in DNS.".into());
            Ok(Kind::ActiveDirectory)
        }
        (true, true) => Ok(both_found(found, ask)?),
        (false, false) => {
            if matches!(found.tenant, Some(Discovered::PersonalAccounts)) {
                return Err(SetupError::Invalid(format!(
                    "{domain} is a domain of personal Microsoft accounts, which have no directory password to watch; use your work e-mail address"
                )));
            }
            if !ask.interactive() {
                return Err(SetupError::Needs {
                    what: format!("the directory of {domain}"),
                    flag: "--kind entra|ad|openldap (with --ldap-url for a directory server)",
                    who: "ask your IT desk which directory your account is in".into(),
                });
            }
            let chosen = ask.choose(
                &format!("Neither an Entra ID tenant nor Active Directory was found for {domain}. Where is your account?"),
                &["Microsoft Entra ID / Microsoft 365", "Active Directory", "OpenLDAP or another LDAP directory"],
                0,
                "--kind",
            )?;
            Ok([Kind::Entra, Kind::ActiveDirectory, Kind::Openldap][chosen])
        }
    }
}

/// Both an Entra ID tenant and AD domain controllers were found. The default is Entra ID:
/// Microsoft named its tenant over HTTPS, while the domain controllers were named by DNS,
/// which anyone on the path can forge; the person may still choose AD (where passwords synced
/// to Entra usually expire), whose controller is then proven or confirmed in `ldap_url`.
fn both_found(found: &mut Found, ask: &dyn Ask) -> Result<Kind, SetupError> {
    let chosen = ask.choose(
        "Both a Microsoft Entra ID tenant and an Active Directory domain were found. Which one tells when your password expires? \
         The default is Microsoft Entra ID: Microsoft confirmed its tenant over HTTPS, while the domain controllers were only named by DNS, which can be forged.",
        &[
            "Microsoft Entra ID (cloud accounts; the default)",
            "Active Directory (your password is set on-premises and synced)",
        ],
        0,
        "--kind",
    )?;
    found.kind_note = Some(if ask.interactive() {
        "Both AD and Entra ID were found; chosen during setup.".into()
    } else {
        "Both AD (named in DNS) and Entra ID were found; Entra ID is the default, as DNS alone proves no domain controller (--kind ad to choose AD).".into()
    });
    Ok(if chosen == 0 {
        Kind::Entra
    } else {
        Kind::ActiveDirectory
    })
}

/// Tests the configuration like `doctor` tests the endpoint; prints each line and returns
/// whether it may be written (problems: only when the person says so).
fn test_items(items: &[doctor::Item]) -> bool {
    let mut ok = true;
    for item in items {
        println!("  {:<8} {}: {}", item.level, item.check, item.summary);
        if let Some(fix) = &item.fix {
            println!("           {fix}");
        }
        ok &= item.level != Level::Problem;
    }
    ok
}

async fn test(config: &Config, ask: &dyn Ask) -> Result<bool, SetupError> {
    println!("Testing it…");
    let items = doctor::check_endpoint(config).await;
    if test_items(&items) {
        return Ok(true);
    }
    if ask.interactive() {
        return ask.yes_no("Write the configuration anyway?", false);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::ldap::dns_controller;
    use super::*;

    /// A person who answers every yes/no question with `yes` (or nobody, with `--yes`).
    struct Person {
        interactive: bool,
        yes: bool,
    }

    impl Ask for Person {
        fn line(
            &self,
            _: &str,
            _: Option<&str>,
            _: &'static str,
            _: &str,
        ) -> Result<String, SetupError> {
            Err(SetupError::Cancelled)
        }
        fn yes_no(&self, _: &str, default: bool) -> Result<bool, SetupError> {
            Ok(if self.interactive { self.yes } else { default })
        }
        fn choose(
            &self,
            _: &str,
            _: &[&str],
            default: usize,
            _: &'static str,
        ) -> Result<usize, SetupError> {
            Ok(default)
        }
        fn interactive(&self) -> bool {
            self.interactive
        }
    }

    fn named_in_dns() -> Vec<dns::Srv> {
        vec![dns::Srv {
            priority: 0,
            weight: 100,
            // Nothing listens there: a proof cannot succeed.
            port: 1,
            target: "dc1.example.com".into(),
        }]
    }

    fn run<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn without_a_person_an_unproven_domain_controller_is_an_error_that_says_what_to_give() {
        let nobody = Person {
            interactive: false,
            yes: true,
        };
        let missing_ca = Path::new("/nonexistent/ca.pem");
        for ca_file in [None, Some(missing_ca)] {
            let result = run(dns_controller(
                ca_file,
                "example.com",
                &named_in_dns(),
                &nobody,
            ));
            let Err(e @ SetupError::Unproven { .. }) = result else {
                panic!("{ca_file:?}: {result:?}");
            };
            let said = e.to_string();
            assert!(
                said.contains("dc1.example.com")
                    && said.contains("--ldap-url")
                    && said.contains("--ca-file"),
                "{said}"
            );
        }
    }

    #[test]
    fn a_domain_controller_the_person_confirms_is_not_written_as_found() {
        let yes = Person {
            interactive: true,
            yes: true,
        };
        let (url, note) = run(dns_controller(None, "example.com", &named_in_dns(), &yes))
            .unwrap()
            .unwrap();
        assert_eq!(url.as_str(), "ldap://dc1.example.com:1");
        assert!(
            note.contains("confirmed by you") && !note.contains("Found"),
            "{note}"
        );
        let no = Person {
            interactive: true,
            yes: false,
        };
        assert!(
            run(dns_controller(None, "example.com", &named_in_dns(), &no))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn when_both_are_found_the_default_is_entra_id() {
        let mut found = Found::default();
        let nobody = Person {
            interactive: false,
            yes: true,
        };
        assert_eq!(both_found(&mut found, &nobody).unwrap(), Kind::Entra);
        assert!(found.kind_note.unwrap().contains("Entra ID is the default"));
    }
}
