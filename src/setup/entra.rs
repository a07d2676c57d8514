//! `setup` for an Entra ID account: the tenant (given, found in the domain's OpenID Connect
//! discovery document, or asked) and the application (client) id the organisation registered.

use super::ask::Ask;
use super::discovery::{self, Discovered};
use super::{EntraPlan, Found, Options, Plan, SetupError, LOOKUP_TIMEOUT};
use crate::system::config::{check_tenant, Config, ProviderKind};

/// The Entra values for `email`'s account, with a note on where each came from.
pub(super) async fn questions(
    options: &Options,
    base: &Config,
    email: String,
    domain: &str,
    mut found: Found,
    ask: &dyn Ask,
) -> Result<Plan, SetupError> {
    let mut plan = Plan::new(email, ProviderKind::Entra);
    plan.note(
        "account.username",
        "Your work account (its UPN); `sign-in --user NAME` signs in another.",
    );
    if let Some(note) = found.kind_note.take() {
        plan.note("provider.kind", note);
    }
    let tenant = if let Some(tenant) = &options.tenant {
        plan.note("entra.tenant", "Given with --tenant.");
        Some(tenant.clone())
    } else if base.entra.tenant.is_some() {
        None
    } else {
        if found.tenant.is_none() {
            found.tenant = discovery::entra_tenant(&base.entra.authority, domain, LOOKUP_TIMEOUT)
                .await
                .ok();
        }
        match found.tenant {
            Some(Discovered::Tenant { id }) => {
                plan.note(
                    "entra.tenant",
                    format!("Found: the OpenID Connect discovery document of {domain} names this tenant."),
                );
                Some(id)
            }
            _ => Some(ask.line(
                "Your organisation's Entra tenant (its id or domain)",
                None,
                "--tenant",
                crate::providers::words_for("entra.tenant").who,
            )?),
        }
    };
    if let Some(tenant) = &tenant {
        check_tenant(tenant).map_err(SetupError::Invalid)?;
    }
    let client_id = if let Some(id) = &options.client_id {
        plan.note(
            "entra.client_id",
            "Given with --client-id: the application your IT desk registered.",
        );
        Some(id.clone())
    } else if base.entra.client_id.is_some() {
        println!("Application (client) id: set by your administrator.");
        None
    } else {
        plan.note(
            "entra.client_id",
            "The application your IT desk registered for Sign-in Assistant.",
        );
        Some(ask.line(
            "The application (client) id",
            None,
            "--client-id",
            crate::providers::words_for("entra.client_id").who,
        )?)
    };
    if let Some(id) = &client_id {
        if id.is_empty() || id.contains(char::is_whitespace) || id.len() > 100 {
            return Err(SetupError::Invalid(format!(
                "`{}` is not an application (client) id",
                crate::rules::untrusted::clean(id, 100)
            )));
        }
    }
    plan.entra = Some(EntraPlan { tenant, client_id });
    Ok(plan)
}
