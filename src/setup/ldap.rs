//! `setup` for a directory account (Active Directory, OpenLDAP): the server (given, found in DNS
//! and proven by its certificate or confirmed by the person, or asked), what it says about
//! itself in its root DSE, the base DN, how accounts are named, and the account.

use std::path::Path;

use url::Url;

use super::ask::Ask;
use super::{directory, dns};
use super::{Found, Kind, LdapPlan, Options, Plan, SetupError, LOOKUP_TIMEOUT};
use crate::system::config::{check_ldap_url, Config, LdapFlavor, ProviderKind};

/// The directory values for `email`'s account, with a note on where each came from.
pub(super) async fn questions(
    options: &Options,
    base: &Config,
    kind: Kind,
    email: String,
    domain: &str,
    mut found: Found,
    ask: &dyn Ask,
) -> Result<Plan, SetupError> {
    let (url, url_note) = ldap_url(options, base, kind, domain, &mut found, ask).await?;
    let (starttls, ca_file) = directory::transport(&url, options.ca_file.clone());
    println!("Reading what {url} says about itself…");
    // The administrator's certificate authority counts too (it is not repeated in the file).
    let trusted = ca_file.clone().or_else(|| base.ldap.ca_file.clone());
    let dse = match directory::root_dse(&url, starttls, trusted, LOOKUP_TIMEOUT).await {
        Ok(dse) => dse,
        Err(e) => {
            println!("  not readable ({e})");
            directory::RootDse::default()
        }
    };
    // Unless `--kind` said otherwise, the server says what it is.
    let kind = match (options.kind, dse.flavor) {
        (None, Some(LdapFlavor::ActiveDirectory)) => Kind::ActiveDirectory,
        (None, Some(_)) => Kind::Openldap,
        _ => kind,
    };
    let flavor = match kind {
        Kind::ActiveDirectory => LdapFlavor::ActiveDirectory,
        _ => dse.flavor.unwrap_or(LdapFlavor::Openldap),
    };
    let ad = flavor == LdapFlavor::ActiveDirectory;
    let mut plan = Plan::new(String::new(), ProviderKind::Ldap);
    if let Some(note) = found.kind_note.take() {
        plan.note("provider.kind", note);
    }
    plan.note("ldap.url", url_note);
    let base = base_dn(options, &dse, ad, &mut plan, ask)?;
    let bind = bind_template(options, &base, ad, &mut plan, ask)?;
    let account = account_name(options, email, ad, ask)?;
    plan.account = account;
    plan.note(
        "account.username",
        "Your account; `sign-in --user NAME` signs in another.",
    );
    plan.note(
        "ldap.flavor",
        match (dse.flavor, flavor) {
            (None, _) => "Chosen during setup.",
            (Some(_), LdapFlavor::ActiveDirectory) => {
                "Found: the server says it is Active Directory."
            }
            (Some(_), LdapFlavor::Ds389) => {
                "Found: the server says it is 389 Directory Server (also under FreeIPA)."
            }
            (Some(_), _) => "Found: the server says it is OpenLDAP.",
        },
    );
    plan.ldap = Some(LdapPlan {
        url,
        starttls,
        ca_file,
        base,
        bind,
        flavor,
    });
    Ok(plan)
}

/// The base DN: given, the root DSE's (without asking, for Active Directory or without a
/// person), or asked with the server's naming contexts as the default.
fn base_dn(
    options: &Options,
    dse: &directory::RootDse,
    ad: bool,
    plan: &mut Plan,
    ask: &dyn Ask,
) -> Result<String, SetupError> {
    Ok(match (&options.base_dn, dse.base()) {
        (Some(base), _) => {
            plan.note("ldap.base", "Given with --base-dn.");
            base.clone()
        }
        (None, Some(base)) if !ask.interactive() || ad => {
            plan.note("ldap.base", "Found: the server's root DSE.");
            base
        }
        (None, found_base) => {
            let contexts = dse.account_contexts();
            let default = found_base.or_else(|| contexts.first().cloned());
            plan.note("ldap.base", "Where the accounts are.");
            ask.line(
                "The directory's base DN",
                default.as_deref(),
                "--base-dn",
                crate::providers::words_for("ldap.base").who,
            )?
        }
    })
}

/// The bind template: given, the UPN for Active Directory, or asked; it must name the account.
fn bind_template(
    options: &Options,
    base: &str,
    ad: bool,
    plan: &mut Plan,
    ask: &dyn Ask,
) -> Result<String, SetupError> {
    let bind = match &options.bind {
        Some(bind) => bind.clone(),
        None if ad => "{username}".to_string(),
        None => {
            let default = format!("uid={{username}},ou=people,{base}");
            ask.line(
                "How accounts are named ({username} stands for the account)",
                Some(&default),
                "--bind",
                crate::providers::words_for("ldap.bind").who,
            )?
        }
    };
    if !bind.contains("{username}") {
        return Err(SetupError::Invalid(
            "the bind template must contain {username}".into(),
        ));
    }
    plan.note(
        "ldap.bind",
        if ad {
            "Active Directory: you sign in with your UPN."
        } else {
            "{username} stands for the account."
        },
    );
    Ok(bind)
}

/// The account: given, the e-mail address for Active Directory (its UPN), or asked.
fn account_name(
    options: &Options,
    email: String,
    ad: bool,
    ask: &dyn Ask,
) -> Result<String, SetupError> {
    Ok(match &options.user {
        Some(user) => user.clone(),
        None if ad => email,
        None => {
            let local = email.split('@').next().unwrap_or_default().to_string();
            ask.line(
                "Your user name in the directory",
                Some(&local),
                "--user",
                "usually the part of your e-mail address before the @",
            )?
        }
    })
}

/// The directory server: given, found in DNS (AD) and proven or confirmed, or asked; with a
/// note for the file.
async fn ldap_url(
    options: &Options,
    base: &Config,
    kind: Kind,
    domain: &str,
    found: &mut Found,
    ask: &dyn Ask,
) -> Result<(Url, String), SetupError> {
    if let Some(url) = &options.ldap_url {
        check_ldap_url(url).map_err(SetupError::Invalid)?;
        return Ok((url.clone(), "Given with --ldap-url.".into()));
    }
    if kind == Kind::ActiveDirectory {
        if found.controllers.is_none() {
            let mut domains = vec![domain.to_string()];
            domains.extend(directory::machine_domains());
            domains.dedup();
            found.controllers =
                directory::find_domain_controllers(&domains, options.dns_server).await;
        }
        if let Some((ad_domain, dcs)) = &found.controllers {
            let ca_file = options.ca_file.as_deref().or(base.ldap.ca_file.as_deref());
            if let Some(adopted) = dns_controller(ca_file, ad_domain, dcs, ask).await? {
                return Ok(adopted);
            }
        }
    }
    let typed = ask.line(
        "The directory server, ldaps://host or ldap://host",
        None,
        "--ldap-url",
        crate::providers::words_for("ldap.url").who,
    )?;
    let url = Url::parse(&typed)
        .map_err(|_| SetupError::Invalid(format!("`{typed}` is not an LDAP URL")))?;
    check_ldap_url(&url).map_err(SetupError::Invalid)?;
    Ok((url, "Given during setup.".into()))
}

/// How many of the domain controllers DNS named are tried for a proof.
const PROOF_TRIES: usize = 3;

/// A domain controller DNS named, with the words for the file, when it is proven (its
/// certificate chains to `ca_file`) or the person confirms it; `None` when the person says no
/// (the server is then asked for). Without a person to ask, an unproven one is an error.
pub(super) async fn dns_controller(
    ca_file: Option<&Path>,
    domain: &str,
    dcs: &[dns::Srv],
    ask: &dyn Ask,
) -> Result<Option<(Url, String)>, SetupError> {
    let candidates: Vec<(Url, &dns::Srv)> = dcs
        .iter()
        .filter_map(|dc| Some((directory::url_of(dc)?, dc)))
        .take(PROOF_TRIES)
        .collect();
    let asked = format!("_ldap._tcp.dc._msdcs.{domain}");
    if let Some(ca_file) = ca_file {
        for (url, dc) in &candidates {
            println!(
                "Checking that {} holds a certificate from {}…",
                dc.target,
                ca_file.display()
            );
            match directory::prove(url, ca_file, LOOKUP_TIMEOUT).await {
                Ok(()) => {
                    let note = format!(
                        "Found: a domain controller of {domain} in DNS ({asked}), proven by its certificate, which chains to {}.",
                        ca_file.display()
                    );
                    return Ok(Some((url.clone(), note)));
                }
                Err(e) => println!("  not proven: {e}"),
            }
        }
    }
    let Some((url, dc)) = candidates.first() else {
        return Ok(None);
    };
    let why = match ca_file {
        Some(ca_file) => format!(
            "its certificate could not be shown to chain to {}",
            ca_file.display()
        ),
        None => "no certificate authority was given to prove it with".to_string(),
    };
    if !ask.interactive() {
        return Err(SetupError::Unproven {
            host: dc.target.clone(),
            domain: domain.to_string(),
            why,
        });
    }
    let question = format!(
        "DNS names {host} as a domain controller of {domain}, but {why}, and DNS answers can be forged. \
         Is {host} your organisation's domain controller? Your password will be sent to it.",
        host = dc.target
    );
    if !ask.yes_no(&question, false)? {
        return Ok(None);
    }
    let note = format!(
        "Named in DNS ({asked}) and not proven by a certificate; confirmed by you during setup."
    );
    Ok(Some((url.clone(), note)))
}
